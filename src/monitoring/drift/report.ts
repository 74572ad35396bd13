/**
 * Data drift between a reference and a current sample, per column and for the dataset, with the method chosen the
 * way Evidently chooses it by default (by column type, reference size and the number of distinct values) unless the
 * caller names one. Pure: columns in, report out.
 */
import { TarmacError } from '../../shared/errors.ts';
import { binIndex, quantileBinEdges } from '../profile/index.ts';
import { chi2Contingency, jensenShannonDistance, ks2samp, proportionsZTest, psi, wassersteinDistance } from '../stats/index.ts';

/** A drift method, by its CLI name. */
export type DriftMethod = 'ks' | 'wasserstein' | 'jensenshannon' | 'psi' | 'chisquare' | 'z';

/** Every method, for validation and help. */
export const DRIFT_METHODS: readonly DriftMethod[] = ['ks', 'wasserstein', 'jensenshannon', 'psi', 'chisquare', 'z'];

/** How a column is compared. */
export type ColumnKind = 'numeric' | 'categorical';

/** One column's values on both sides (nulls allowed; they are left out, as Evidently does). */
export interface ColumnSamples {
  name: string;
  kind: ColumnKind;
  reference: readonly unknown[];
  current: readonly unknown[];
}

/** One column's verdict; `statistic` is the method's headline value, `p_value` present for the tests that have one. */
export interface ColumnDrift {
  column: string;
  type: ColumnKind;
  method: DriftMethod;
  statistic: number;
  p_value?: number;
  threshold: number;
  drift: boolean;
  reference_size: number;
  current_size: number;
}

/** The dataset-level report, in the shape `tarmac drift --json` prints. */
export interface DriftReport {
  columns: ColumnDrift[];
  /** Drifted columns ÷ columns compared. */
  drift_share: number;
  /** True when drift_share ≥ the dataset threshold (default 0.5, Evidently's). */
  dataset_drift: boolean;
}

/** Options of a drift report. */
export interface DriftOptions {
  /** A method for every column, or `auto` (default) to choose per column. */
  method?: DriftMethod | 'auto';
  /** A threshold for every column (default: the method's own). */
  threshold?: number;
  /** Per-column overrides of method and threshold. */
  perColumn?: Record<string, { method?: DriftMethod; threshold?: number }>;
  /** The share of drifted columns at which the dataset counts as drifted (default 0.5). */
  datasetDriftShare?: number;
  /** Bins for numeric columns under Jensen–Shannon and PSI (default 10, from the reference's quantiles). */
  bins?: number;
}

/** Each method's default threshold, and whether drift means the score is below it (p-values) or at/above it (distances). */
export const METHOD_DEFAULTS: Readonly<Record<DriftMethod, { threshold: number; pValue: boolean; kinds: readonly ColumnKind[] }>> = {
  ks: { threshold: 0.05, pValue: true, kinds: ['numeric'] },
  wasserstein: { threshold: 0.1, pValue: false, kinds: ['numeric'] },
  jensenshannon: { threshold: 0.1, pValue: false, kinds: ['numeric', 'categorical'] },
  psi: { threshold: 0.1, pValue: false, kinds: ['numeric', 'categorical'] },
  chisquare: { threshold: 0.05, pValue: true, kinds: ['numeric', 'categorical'] },
  z: { threshold: 0.05, pValue: true, kinds: ['numeric', 'categorical'] },
};

/** Evidently's reference-size boundary between the small-sample tests and the distances. */
const SMALL_REFERENCE = 1000;
/** At most this many distinct values, a numeric column is compared like a categorical one (Evidently's rule). */
const FEW_VALUES = 5;
const DEFAULT_BINS = 10;
/** Evidently's floor for the reference std when norming the Wasserstein distance. */
const MIN_STD = 0.001;

/**
 * Evidently's default choice (DataDriftPreset): with at most 1,000 reference values, KS for numeric columns with more
 * than 5 distinct values, else chi-square (more than 2 distinct values) or the two-proportion z-test (2 or fewer); with
 * more, the Wasserstein distance normed by the reference std for numeric columns with more than 5 distinct values,
 * else Jensen–Shannon. Distinct values are counted over reference and current together.
 */
export function chooseMethod(kind: ColumnKind, referenceSize: number, distinctValues: number): DriftMethod {
  if (referenceSize <= SMALL_REFERENCE) {
    if (kind === 'numeric' && distinctValues > FEW_VALUES) return 'ks';
    return distinctValues > 2 ? 'chisquare' : 'z';
  }
  if (kind === 'numeric' && distinctValues > FEW_VALUES) return 'wasserstein';
  return 'jensenshannon';
}

/**
 * Compares every column and summarises. Throws VALIDATION_FAILED when a named method does not apply to a column's
 * type (e.g. KS on text) or a threshold is not a finite number; a column with no values on one side is reported with
 * `NaN` statistic and no drift, never thrown.
 */
export function driftReport(columns: readonly ColumnSamples[], options: DriftOptions = {}): DriftReport {
  const results = columns.map((c) => columnDrift(c, options));
  const compared = results.filter((r) => !Number.isNaN(r.statistic));
  const drifted = compared.filter((r) => r.drift).length;
  const share = compared.length === 0 ? 0 : drifted / compared.length;
  return { columns: results, drift_share: share, dataset_drift: compared.length > 0 && share >= (options.datasetDriftShare ?? 0.5) };
}

/** Compares one column (see driftReport). */
export function columnDrift(column: ColumnSamples, options: DriftOptions = {}): ColumnDrift {
  const override = options.perColumn?.[column.name];
  const requested = override?.method ?? (options.method === 'auto' ? undefined : options.method);
  const numeric = column.kind === 'numeric';
  const ref = numeric ? numbersOf(column.reference) : labelsOf(column.reference);
  const cur = numeric ? numbersOf(column.current) : labelsOf(column.current);
  const distinct = countDistinct(ref, cur);
  const method = requested ?? chooseMethod(column.kind, ref.length, distinct);
  const spec = METHOD_DEFAULTS[method];
  if (!spec.kinds.includes(column.kind)) {
    throw new TarmacError('VALIDATION_FAILED', `method ${method} does not apply to ${column.kind} column ${column.name}`, {
      issues: [{ field: `/columns/${column.name}`, rule: 'method', message: `${method} compares ${spec.kinds.join(' or ')} columns only` }],
    });
  }
  const threshold = override?.threshold ?? options.threshold ?? spec.threshold;
  if (!Number.isFinite(threshold)) {
    throw new TarmacError('VALIDATION_FAILED', `the threshold for ${column.name} must be a number`, {
      issues: [{ field: `/columns/${column.name}/threshold`, rule: 'type', message: 'must be a finite number' }],
    });
  }
  const base = { column: column.name, type: column.kind, method, threshold, reference_size: ref.length, current_size: cur.length };
  if (ref.length === 0 || cur.length === 0) return { ...base, statistic: NaN, drift: false };
  const { statistic, pValue } = score(method, ref, cur, numeric, options.bins ?? DEFAULT_BINS);
  const verdict = spec.pValue ? pValue! < threshold : statistic >= threshold;
  return { ...base, statistic, ...(pValue === undefined ? {} : { p_value: pValue }), drift: verdict };
}

function score(method: DriftMethod, ref: Float64Array | string[], cur: Float64Array | string[], numeric: boolean, bins: number): { statistic: number; pValue?: number } {
  switch (method) {
    case 'ks': {
      const r = ks2samp(ref as Float64Array, cur as Float64Array);
      return { statistic: r.statistic, pValue: r.pvalue };
    }
    case 'wasserstein': {
      const std = Math.max(populationStd(ref as Float64Array), MIN_STD);
      return { statistic: wassersteinDistance(ref as Float64Array, cur as Float64Array) / std };
    }
    case 'jensenshannon': {
      const { refCounts, curCounts } = numeric ? binCounts(ref as Float64Array, cur as Float64Array, bins) : categoryCounts(ref as string[], cur as string[]);
      return { statistic: jensenShannonDistance(refCounts, curCounts, 2) };
    }
    case 'psi': {
      const { refCounts, curCounts } = numeric ? binCounts(ref as Float64Array, cur as Float64Array, bins) : categoryCounts(ref as string[], cur as string[]);
      return { statistic: psi(refCounts, curCounts) };
    }
    case 'chisquare': {
      const { refCounts, curCounts } = categoryCounts(labels(ref), labels(cur));
      if (refCounts.length < 2) return { statistic: 0, pValue: 1 };
      const r = chi2Contingency([Array.from(refCounts), Array.from(curCounts)]);
      return { statistic: r.statistic, pValue: r.pvalue };
    }
    case 'z': {
      const { keys, refCounts, curCounts } = categoryCounts(labels(ref), labels(cur));
      if (keys.length < 2) return { statistic: 0, pValue: 1 };
      if (keys.length > 2) {
        throw new TarmacError('VALIDATION_FAILED', `the z-test compares a binary column; this one has ${keys.length} values`, {
          issues: [{ field: '/method', rule: 'binary', message: 'z compares columns with two values; use chisquare' }],
        });
      }
      const r = proportionsZTest(refCounts[1]!, ref.length, curCounts[1]!, cur.length);
      return { statistic: r.statistic, pValue: r.pvalue };
    }
  }
}

/** Numbers of a column: finite numbers (numeric strings are not coerced: the caller typed the column). */
function numbersOf(values: readonly unknown[]): Float64Array {
  const out = new Float64Array(values.length);
  let n = 0;
  for (const v of values) if (typeof v === 'number' && Number.isFinite(v)) out[n++] = v;
  return n === out.length ? out : out.slice(0, n);
}

/** Category labels of a column: every non-null value as text (so `true` and "true" are one category). */
function labelsOf(values: readonly unknown[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    if (v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v))) continue;
    out.push(typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v));
  }
  return out;
}

function labels(values: Float64Array | string[]): string[] {
  return values instanceof Float64Array ? Array.from(values, String) : values;
}

function countDistinct(ref: Float64Array | string[], cur: Float64Array | string[]): number {
  const seen = new Set<number | string>();
  for (const v of ref) seen.add(v);
  for (const v of cur) seen.add(v);
  return seen.size;
}

function populationStd(values: Float64Array): number {
  let mean = 0;
  let m2 = 0;
  for (let i = 0; i < values.length; i++) {
    const d = values[i]! - mean;
    mean += d / (i + 1);
    m2 += d * (values[i]! - mean);
  }
  return Math.sqrt(m2 / values.length);
}

/** Counts per category over the union of both sides' categories, in a stable (sorted) order. */
function categoryCounts(ref: readonly string[], cur: readonly string[]): { keys: string[]; refCounts: Float64Array; curCounts: Float64Array } {
  const index = new Map<string, number>();
  for (const v of ref) if (!index.has(v)) index.set(v, 0);
  for (const v of cur) if (!index.has(v)) index.set(v, 0);
  const keys = [...index.keys()].sort();
  keys.forEach((k, i) => index.set(k, i));
  const refCounts = new Float64Array(keys.length);
  const curCounts = new Float64Array(keys.length);
  for (const v of ref) refCounts[index.get(v)!]!++;
  for (const v of cur) curCounts[index.get(v)!]!++;
  return { keys, refCounts, curCounts };
}

/**
 * Histogram counts on bins fixed by the reference, by the same rule the live monitor's profiles use
 * (profile/bins.ts): inner edges at the sorted reference's values at positions ⌊i·n/bins⌋, edges equal to the
 * minimum or to the previous edge dropped, bins closed on the left, open outer bins so every current value lands in
 * one. Every reference bin holds at least one value.
 */
export function binCounts(ref: Float64Array, cur: Float64Array, bins: number): { edges: number[]; refCounts: Float64Array; curCounts: Float64Array } {
  const edges = quantileBinEdges(Float64Array.from(ref).sort(), bins);
  const count = (values: Float64Array) => {
    const out = new Float64Array(edges.length + 1);
    for (const v of values) out[binIndex(edges, v)]!++;
    return out;
  };
  return { edges, refCounts: count(ref), curCounts: count(cur) };
}
