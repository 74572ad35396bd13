/**
 * Propose an ODCS v3.1 contract from a sample of rows (`tarmac contracts infer`). The sample is the first
 * `sampleSize` rows (streaming: nothing beyond the sample is read). Per column:
 *
 * - logicalType: integer if every non-null value is a safe integer, number if every one is a finite number, boolean,
 *   date if every one is `YYYY-MM-DD`, timestamp if every one is RFC 3339 with a zone, object/array if every one is;
 *   else string (mixed types are noted in the description and in the stats).
 * - required: no null, missing or empty-string value in the sample.
 * - numeric and date/timestamp ranges: minimum = the 0.1 % quantile, maximum = the 99.9 % quantile, rounded outward
 *   to a step of about 1/100 of the spread (whole units for integers, whole days for dates, seconds for timestamps);
 *   the exact min/max seen are written in the property's description.
 * - enums: a string column with at most `enumMaxDistinct` distinct values, each seen at least twice, gets a quality
 *   `invalidValues` rule with `validValues`.
 * - maxLength: the longest string seen (code points).
 * - nullValues: when nulls occur, a `mustBeLessThan` percent limit a bit above the observed rate.
 */
import { Document, isScalar, visit } from 'yaml';
import type { Contract, LogicalType } from './contract.ts';
import { parseContract } from './parse.ts';
import { parseDate, parseTimestamp } from './temporal.ts';
import { codePointLength } from './validator.ts';

export interface InferOptions {
  /** The contract name (also its id, slugged, and the schema object's name). */
  name: string;
  /** How many rows to read at most (default 100 000). */
  sampleSize?: number;
  /** The most distinct values a string column may have to become an enum (default 20). */
  enumMaxDistinct?: number;
}

export interface ColumnStats {
  logicalType: LogicalType;
  /** Rows where the column is present and not null. */
  present: number;
  /** Rows where the column is null or missing. */
  nulls: number;
  /** Rows where the column is an empty string. */
  empties: number;
  /** JavaScript types seen among present values (more than one: the column is typed string). */
  typesSeen: string[];
  /** Exact extremes and the quantiles used (numbers, or ISO strings for dates/timestamps). */
  min?: number | string;
  max?: number | string;
  q001?: number | string;
  q999?: number | string;
  /** Distinct values, when at most enumMaxDistinct (string columns). */
  distinct?: number;
  maxLength?: number;
}

export interface InferStats {
  rowsRead: number;
  /** True when the input had more rows than the sample size (only the first ones were read). */
  truncated: boolean;
  columns: Record<string, ColumnStats>;
}

export interface InferResult {
  yaml: string;
  contract: Contract;
  stats: InferStats;
}

type Kind = 'integer' | 'number' | 'boolean' | 'date' | 'timestamp' | 'string' | 'object' | 'array';

class Column {
  present = 0;
  nulls = 0;
  empties = 0;
  // every present value so far is …
  allInteger = true;
  allNumber = true;
  allBoolean = true;
  allDate = true;
  allTimestamp = true;
  allString = true;
  allObject = true;
  allArray = true;
  types = new Set<string>();
  /** Numeric values, or epoch milliseconds of dates/timestamps. */
  values: number[] = [];
  temporal: number[] = [];
  counts: Map<string, number> | undefined = new Map();
  maxLength = 0;

  constructor(readonly name: string, readonly enumMax: number) {}

  add(v: unknown): void {
    if (v === null || v === undefined) {
      this.nulls++;
      return;
    }
    this.present++;
    const t = Array.isArray(v) ? 'array' : typeof v;
    this.types.add(t);
    if (typeof v !== 'number' || !Number.isFinite(v)) this.allNumber = false;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) this.allInteger = false;
    if (typeof v !== 'boolean') this.allBoolean = false;
    if (t !== 'object') this.allObject = false;
    if (t !== 'array') this.allArray = false;
    if (typeof v === 'number' && Number.isFinite(v)) this.values.push(v);
    if (typeof v === 'string') {
      if (v === '') this.empties++;
      const len = codePointLength(v);
      if (len > this.maxLength) this.maxLength = len;
      if (this.counts !== undefined) {
        this.counts.set(v, (this.counts.get(v) ?? 0) + 1);
        if (this.counts.size > this.enumMax) this.counts = undefined;
      }
      if (this.allDate) {
        const d = v.length === 10 ? parseDate(v) : Number.NaN;
        if (Number.isNaN(d)) this.allDate = false;
        else this.temporal.push(d);
      }
      if (this.allTimestamp) {
        const ts = parseTimestamp(v, true);
        if (Number.isNaN(ts)) this.allTimestamp = false;
        else if (!this.allDate) this.temporal.push(ts);
      }
      if (!this.allDate && !this.allTimestamp) this.temporal = [];
    } else {
      this.allString = false;
      this.allDate = false;
      this.allTimestamp = false;
      this.counts = undefined;
      this.temporal = [];
    }
  }

  kind(): Kind {
    if (this.present === 0) return 'string';
    if (this.allInteger) return 'integer';
    if (this.allNumber) return 'number';
    if (this.allBoolean) return 'boolean';
    if (this.allString && this.allDate) return 'date';
    if (this.allString && this.allTimestamp) return 'timestamp';
    if (this.allObject) return 'object';
    if (this.allArray) return 'array';
    return 'string';
  }
}

/** The q-quantile of sorted values: the lower one for q < 0.5, the upper one for q ≥ 0.5 (so bounds stay outward). */
function quantile(sorted: number[], q: number): number {
  const pos = q * (sorted.length - 1);
  return sorted[q < 0.5 ? Math.floor(pos) : Math.ceil(pos)]!;
}

/** Round `lo` down and `hi` up to a step of about 1/100 of their spread (at least `minStep`). */
function roundOutward(lo: number, hi: number, minStep: number): [number, number] {
  const spread = hi - lo || Math.abs(hi) || 1;
  let step = 10 ** (Math.floor(Math.log10(spread)) - 2);
  if (step < minStep) step = minStep;
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  const fix = (x: number) => Number(x.toFixed(decimals));
  let a = fix(Math.floor(lo / step) * step);
  let b = fix(Math.ceil(hi / step) * step);
  // guard against floating-point rounding back inward
  if (a > lo) a = fix(a - step);
  if (b < hi) b = fix(b + step);
  return [a, b];
}

const DAY = 86_400_000;

const YAML11_AMBIGUOUS = /^(?:\d{4}-\d\d?-\d\d?(?:[Tt ].*)?|y|n|yes|no|on|off)$/i;

function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function isoTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'contract';
}

/** A limit a bit above the observed null percent: ×1.25 + 0.5 points, rounded up to 0.1, at most 100. */
function nullLimitPercent(pct: number): number {
  return Math.min(100, Math.ceil((pct * 1.25 + 0.5) * 10) / 10);
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : String(+x.toPrecision(12));
}

/** Propose a contract from a sample of rows. The YAML parses with `parseContract` into the returned contract. */
export async function inferContract(
  rows: AsyncIterable<Record<string, unknown>> | Iterable<Record<string, unknown>>,
  options: InferOptions,
): Promise<InferResult> {
  const sampleSize = options.sampleSize ?? 100_000;
  const enumMax = options.enumMaxDistinct ?? 20;
  const columns = new Map<string, Column>();
  let rowsRead = 0;
  let truncated = false;

  for await (const row of rows) {
    if (rowsRead >= sampleSize) {
      truncated = true;
      break;
    }
    // columns seen for the first time now were missing (null) in every earlier row
    for (const key of Object.keys(row)) {
      if (!columns.has(key)) {
        const c = new Column(key, enumMax);
        c.nulls = rowsRead;
        columns.set(key, c);
      }
    }
    for (const c of columns.values()) c.add(Object.prototype.hasOwnProperty.call(row, c.name) ? row[c.name] : undefined);
    rowsRead++;
  }

  const stats: InferStats = { rowsRead, truncated, columns: {} };
  const properties: Record<string, unknown>[] = [];

  for (const c of columns.values()) {
    const kind = c.kind();
    const s: ColumnStats = {
      logicalType: kind, present: c.present, nulls: c.nulls, empties: c.empties, typesSeen: [...c.types].sort(),
    };
    stats.columns[c.name] = s;
    const p: Record<string, unknown> = { name: c.name, logicalType: kind, required: c.nulls === 0 && c.empties === 0 };
    const notes: string[] = [];
    const lto: Record<string, unknown> = {};
    const quality: Record<string, unknown>[] = [];

    if (kind === 'integer' || kind === 'number') {
      const sorted = Float64Array.from(c.values).sort();
      const arr = Array.from(sorted);
      const q1 = quantile(arr, 0.001);
      const q9 = quantile(arr, 0.999);
      const [lo, hi] = roundOutward(q1, q9, kind === 'integer' ? 1 : 0);
      Object.assign(s, { min: arr[0], max: arr[arr.length - 1], q001: q1, q999: q9 });
      lto.minimum = lo;
      lto.maximum = hi;
      notes.push(`min ${fmt(arr[0]!)}, max ${fmt(arr[arr.length - 1]!)}; bounds from the 0.1%/99.9% quantiles ${fmt(q1)} / ${fmt(q9)}`);
    } else if (kind === 'date' || kind === 'timestamp') {
      const arr = Array.from(Float64Array.from(c.temporal).sort());
      const q1 = quantile(arr, 0.001);
      const q9 = quantile(arr, 0.999);
      const unit = kind === 'date' ? DAY : 1000;
      const lo = Math.floor(q1 / unit) * unit;
      const hi = Math.ceil(q9 / unit) * unit;
      const iso = kind === 'date' ? isoDate : isoTimestamp;
      Object.assign(s, { min: iso(arr[0]!), max: iso(arr[arr.length - 1]!), q001: iso(q1), q999: iso(q9) });
      lto.minimum = iso(lo);
      lto.maximum = iso(hi);
      notes.push(`min ${iso(arr[0]!)}, max ${iso(arr[arr.length - 1]!)}; bounds from the 0.1%/99.9% quantiles`);
    } else if (kind === 'string') {
      if (c.types.size > 1) notes.push(`mixed types in the sample (${[...c.types].sort().join(', ')}): review the type`);
      if (c.present > 0 && c.allString) {
        s.maxLength = c.maxLength;
        lto.maxLength = c.maxLength;
        const counts = c.counts;
        if (counts !== undefined) {
          s.distinct = counts.size;
          const values = [...counts.keys()];
          if (values.length > 0 && [...counts.values()].every((n) => n >= 2)) {
            quality.push({ metric: 'invalidValues', mustBe: 0, arguments: { validValues: values.sort() } });
          }
        }
      }
      if (c.present === 0) notes.push('no value in the sample: type unknown');
    }

    if (c.nulls > 0 && c.nulls < rowsRead) {
      const pct = (c.nulls / rowsRead) * 100;
      quality.push({ metric: 'nullValues', mustBeLessThan: nullLimitPercent(pct), unit: 'percent' });
      notes.push(`${c.nulls} null (${+pct.toFixed(3)}%)`);
    }
    if (c.empties > 0) notes.push(`${c.empties} empty strings`);

    p.description = `Observed in ${rowsRead} sampled rows: ${notes.length > 0 ? notes.join('; ') : `${c.present} values`}.`;
    if (Object.keys(lto).length > 0) p.logicalTypeOptions = lto;
    if (quality.length > 0) p.quality = quality;
    properties.push(p);
  }

  const doc = {
    apiVersion: 'v3.1.0',
    kind: 'DataContract',
    id: slug(options.name),
    name: options.name,
    version: '1.0.0',
    status: 'draft',
    description: {
      purpose: `Proposed by tarmac contracts infer from the first ${rowsRead} rows${truncated ? ' (the input has more)' : ''}; review before registering.`,
    },
    customProperties: [{ property: 'tarmac.compatibility', value: 'backward' }],
    schema: [{ name: options.name, logicalType: 'object', properties }],
  };
  const yamlDoc = new Document(doc);
  yamlDoc.commentBefore = ` Data contract proposed by \`tarmac contracts infer\` (ODCS v3.1). Review types, ranges and enums.`;
  // Quote strings a YAML 1.1 reader would take for a timestamp or a boolean (2024-03-01, yes, off, …).
  visit(yamlDoc, {
    Scalar(_key, node) {
      if (isScalar(node) && typeof node.value === 'string' && YAML11_AMBIGUOUS.test(node.value)) node.type = 'QUOTE_DOUBLE';
    },
  });
  const yaml = yamlDoc.toString({ lineWidth: 0 });
  const contract = parseContract(yaml);
  return { yaml, contract, stats };
}
