/**
 * Schema evolution between two versions of a contract, with Confluent Schema Registry's compatibility semantics
 * applied to record contracts:
 *
 * - BACKWARD: consumers using the NEW contract can read data written under the OLD one. Anything the new contract
 *   forbids that the old one allowed breaks it (a required field added without a default, a narrowed range, a removed
 *   enum value, a tighter length, a field that became required, number → integer, …).
 * - FORWARD: consumers using the OLD contract can read data written under the NEW one. Anything the new contract
 *   allows that the old one forbade breaks it (a required field removed without a default, a widened range, an added
 *   enum value, integer → number, a field that became optional, …).
 * - FULL: both. NONE: nothing is breaking.
 *
 * Fields the reader does not know are ignored (as Avro readers ignore them), so adding an optional field or removing
 * one never breaks. Every difference names the directions it breaks; `checkCompatibility` keeps those that matter
 * for the mode. Changes the validator does not act on (descriptions, examples, classification, …) are reported with
 * `breaks: []`.
 */
import type { Bound, Compatibility, Contract, FieldRule, LogicalType } from './contract.ts';
import { ENFORCED_STRING_FORMATS } from './contract.ts';
import { parseTemporalBound } from './temporal.ts';

export type Direction = 'backward' | 'forward';

export interface Difference {
  /** The field name ('' for a contract-level difference). */
  field: string;
  /** A stable code, e.g. `field_removed`, `type_widened`, `range_narrowed`, `enum_value_added`. */
  change: string;
  message: string;
  /** The compatibility directions this difference breaks (empty: compatible either way). */
  breaks: Direction[];
}

export interface CompatibilityReport {
  compatible: boolean;
  mode: Compatibility;
  /** The differences that break `mode` (a subset of `changes`). */
  breaking: Difference[];
  /** Every difference between the two contracts, breaking or not, in field order. */
  changes: Difference[];
}

/** The stable change codes `diffContracts` can produce. */
export const CHANGE_CODES = [
  'field_added_optional', 'field_added_required', 'field_added_required_with_default', 'field_removed',
  'type_changed', 'type_widened', 'type_narrowed', 'became_required', 'became_optional',
  'range_narrowed', 'range_widened', 'enum_added', 'enum_removed', 'enum_value_removed', 'enum_value_added',
  'max_length_decreased', 'max_length_increased', 'min_length_increased', 'min_length_decreased',
  'pattern_added', 'pattern_removed', 'pattern_changed', 'format_added', 'format_removed', 'format_changed',
  'became_unique', 'became_not_unique', 'null_limit_tightened', 'null_limit_relaxed', 'primary_key_changed',
  'default_changed', 'classification_changed', 'event_time_changed', 'compatibility_changed',
] as const;

const BOTH: Direction[] = ['backward', 'forward'];
const BACKWARD: Direction[] = ['backward'];
const FORWARD: Direction[] = ['forward'];
const NEITHER: Direction[] = [];

/** `from` → `to` type changes where every `from` value is a valid `to` value (the validator's view). */
const WIDENINGS: ReadonlySet<string> = new Set([
  'integer>number', 'date>string', 'timestamp>string', 'time>string',
]);

const NUMERIC = new Set<LogicalType>(['integer', 'number']);
const TEMPORAL = new Set<LogicalType>(['date', 'timestamp', 'time']);

function show(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}

/** A bound on one side, normalised to an inclusive-or-exclusive number on a comparable scale. */
interface Edge {
  value: number;
  exclusive: boolean;
  raw: Bound;
}

function comparable(rule: FieldRule, b: Bound): number {
  if (typeof b === 'number') return b;
  if (TEMPORAL.has(rule.logicalType)) return parseTemporalBound(rule.logicalType as 'date', b);
  return Number.NaN;
}

/** The effective (strictest) lower or upper edge of a field's range; undefined = unbounded. */
function edge(rule: FieldRule, side: 'lower' | 'upper'): Edge | undefined {
  const incl = side === 'lower' ? rule.minimum : rule.maximum;
  const excl = side === 'lower' ? rule.exclusiveMinimum : rule.exclusiveMaximum;
  const candidates: Edge[] = [];
  if (incl !== undefined) candidates.push({ value: comparable(rule, incl), exclusive: false, raw: incl });
  if (excl !== undefined) {
    const v = comparable(rule, excl);
    // On integers an exclusive bound is an inclusive one a step further in.
    if (rule.logicalType === 'integer') {
      const inner = side === 'lower' ? Math.floor(v) + 1 : Math.ceil(v) - 1;
      candidates.push({ value: inner, exclusive: false, raw: excl });
    } else {
      candidates.push({ value: v, exclusive: true, raw: excl });
    }
  }
  const valid = candidates.filter((c) => !Number.isNaN(c.value));
  if (valid.length === 0) return undefined;
  // The strictest: the highest lower bound / lowest upper bound; exclusive wins a tie.
  return valid.reduce((a, b) => {
    const sign = side === 'lower' ? 1 : -1;
    const d = sign * (b.value - a.value);
    if (d > 0) return b;
    if (d < 0) return a;
    return b.exclusive ? b : a;
  });
}

/** > 0 when `next` is stricter than `prev`, < 0 when looser, 0 when the same. */
function compareEdges(side: 'lower' | 'upper', prev: Edge | undefined, next: Edge | undefined): number {
  if (prev === undefined && next === undefined) return 0;
  if (prev === undefined) return 1;
  if (next === undefined) return -1;
  const sign = side === 'lower' ? 1 : -1;
  const d = sign * (next.value - prev.value);
  if (d !== 0) return d;
  if (next.exclusive === prev.exclusive) return 0;
  return next.exclusive ? 1 : -1;
}

function edgeText(side: 'lower' | 'upper', e: Edge | undefined): string {
  if (e === undefined) return 'unbounded';
  const op = side === 'lower' ? (e.exclusive ? '>' : '>=') : (e.exclusive ? '<' : '<=');
  return `${op} ${String(e.raw)}`;
}

function enforcedFormat(rule: FieldRule): string | undefined {
  return rule.logicalType === 'string' && rule.format !== undefined && ENFORCED_STRING_FORMATS.includes(rule.format)
    ? rule.format
    : undefined;
}

/** Null limits as a comparable fraction (rows limits are not comparable with fractions; compared only like with like). */
function nullLimit(rule: FieldRule): { kind: 'fraction' | 'rows'; value: number; exclusive: boolean } | undefined {
  const exclusive = rule.nullLimitExclusive === true;
  if (rule.maxNullFraction !== undefined) return { kind: 'fraction', value: rule.maxNullFraction, exclusive };
  if (rule.maxNullRows !== undefined) return { kind: 'rows', value: rule.maxNullRows, exclusive };
  return undefined;
}

function diffField(prev: FieldRule, next: FieldRule, out: Difference[]): void {
  const field = next.name;
  const add = (change: string, message: string, breaks: Direction[]) => out.push({ field, change, message, breaks });

  // type
  const from = prev.logicalType;
  const to = next.logicalType;
  let comparableTypes = true;
  if (from !== to) {
    if (WIDENINGS.has(`${from}>${to}`)) {
      add('type_widened', `type widened from ${from} to ${to}: data written under the new contract may not be a valid ${from}`, FORWARD);
    } else if (WIDENINGS.has(`${to}>${from}`)) {
      add('type_narrowed', `type narrowed from ${from} to ${to}: data written under the old contract may not be a valid ${to}`, BACKWARD);
    } else {
      add('type_changed', `type changed from ${from} to ${to}`, BOTH);
    }
    comparableTypes = (NUMERIC.has(from) && NUMERIC.has(to)) || from === to;
  }

  // required / nullable
  if (!prev.required && next.required) {
    add('became_required', 'became required: data written under the old contract may lack it or hold null', BACKWARD);
  } else if (prev.required && !next.required) {
    add('became_optional', 'became optional: data written under the new contract may lack it or hold null, which the old contract refuses', FORWARD);
  }

  if (comparableTypes) {
    // ranges
    for (const side of ['lower', 'upper'] as const) {
      const a = edge(prev, side);
      const b = edge(next, side);
      const c = compareEdges(side, a, b);
      const what = side === 'lower' ? 'lower bound' : 'upper bound';
      if (c > 0) add('range_narrowed', `${what} narrowed from ${edgeText(side, a)} to ${edgeText(side, b)}`, BACKWARD);
      else if (c < 0) add('range_widened', `${what} widened from ${edgeText(side, a)} to ${edgeText(side, b)}`, FORWARD);
    }

    // enums
    if (prev.validValues === undefined && next.validValues !== undefined) {
      add('enum_added', `values restricted to ${show(next.validValues)}`, BACKWARD);
    } else if (prev.validValues !== undefined && next.validValues === undefined) {
      add('enum_removed', `values no longer restricted (were ${show(prev.validValues)})`, FORWARD);
    } else if (prev.validValues !== undefined && next.validValues !== undefined) {
      const before = new Set<unknown>(prev.validValues);
      const after = new Set<unknown>(next.validValues);
      const removed = prev.validValues.filter((v) => !after.has(v));
      const added = next.validValues.filter((v) => !before.has(v));
      if (removed.length > 0) add('enum_value_removed', `allowed value${removed.length > 1 ? 's' : ''} ${removed.map(show).join(', ')} removed`, BACKWARD);
      if (added.length > 0) add('enum_value_added', `allowed value${added.length > 1 ? 's' : ''} ${added.map(show).join(', ')} added`, FORWARD);
    }

    // string length, pattern, format
    const maxA = prev.maxLength ?? Infinity;
    const maxB = next.maxLength ?? Infinity;
    if (maxB < maxA) add('max_length_decreased', `maxLength decreased from ${prev.maxLength ?? 'none'} to ${next.maxLength ?? 'none'}`, BACKWARD);
    else if (maxB > maxA) add('max_length_increased', `maxLength increased from ${prev.maxLength ?? 'none'} to ${next.maxLength ?? 'none'}`, FORWARD);
    const minA = prev.minLength ?? 0;
    const minB = next.minLength ?? 0;
    if (minB > minA) add('min_length_increased', `minLength increased from ${minA} to ${minB}`, BACKWARD);
    else if (minB < minA) add('min_length_decreased', `minLength decreased from ${minA} to ${minB}`, FORWARD);

    if (prev.pattern === undefined && next.pattern !== undefined) {
      add('pattern_added', `pattern /${next.pattern}/ added`, BACKWARD);
    } else if (prev.pattern !== undefined && next.pattern === undefined) {
      add('pattern_removed', `pattern /${prev.pattern}/ removed`, FORWARD);
    } else if (prev.pattern !== next.pattern) {
      // Regular-expression containment is not decided: any change may break either way.
      add('pattern_changed', `pattern changed from /${String(prev.pattern)}/ to /${String(next.pattern)}/`, BOTH);
    }

    const fa = enforcedFormat(prev);
    const fb = enforcedFormat(next);
    if (fa === undefined && fb !== undefined) add('format_added', `format ${fb} added`, BACKWARD);
    else if (fa !== undefined && fb === undefined) add('format_removed', `format ${fa} removed`, FORWARD);
    else if (fa !== fb) add('format_changed', `format changed from ${String(fa)} to ${String(fb)}`, BOTH);
  }

  // dataset-level rules
  if (!prev.unique && next.unique) add('became_unique', 'became unique: data written under the old contract may hold duplicates', BACKWARD);
  else if (prev.unique && !next.unique) add('became_not_unique', 'no longer unique: data written under the new contract may hold duplicates', FORWARD);

  const na = nullLimit(prev);
  const nb = nullLimit(next);
  if (na !== undefined || nb !== undefined) {
    const fmt = (l: typeof na) => (l === undefined
      ? 'none'
      : `${l.exclusive ? '<' : '<='} ${l.kind === 'fraction' ? `${+(l.value * 100).toFixed(6)}%` : `${l.value} rows`}`);
    let c: number; // > 0: next stricter
    if (na === undefined) c = 1;
    else if (nb === undefined) c = -1;
    else if (na.kind !== nb.kind) c = Number.NaN;
    else c = na.value - nb.value || (nb.exclusive === na.exclusive ? 0 : nb.exclusive ? 1 : -1);
    if (Number.isNaN(c)) add('null_limit_tightened', `null limit changed from ${fmt(na)} to ${fmt(nb)} (not comparable)`, BOTH);
    else if (c > 0) add('null_limit_tightened', `null limit tightened from ${fmt(na)} to ${fmt(nb)}`, BACKWARD);
    else if (c < 0) add('null_limit_relaxed', `null limit relaxed from ${fmt(na)} to ${fmt(nb)}`, FORWARD);
  }

  // informational
  if (show(prev.defaultValue) !== show(next.defaultValue)) {
    add('default_changed', `default changed from ${show(prev.defaultValue)} to ${show(next.defaultValue)}`, NEITHER);
  }
  if (prev.classification !== next.classification || prev.pii !== next.pii) {
    add('classification_changed', `classification changed from ${prev.classification ?? 'none'}${prev.pii ? ' (PII)' : ''} to ${next.classification ?? 'none'}${next.pii ? ' (PII)' : ''}`, NEITHER);
  }
}

/**
 * Every difference from `previous` to `next`, field by field (fields of `next` in order, then removed fields), then
 * contract-level ones. A renamed field is a removal plus an addition.
 */
export function diffContracts(previous: Contract, next: Contract): Difference[] {
  const out: Difference[] = [];
  const before = new Map(previous.fields.map((f) => [f.name, f]));
  const after = new Map(next.fields.map((f) => [f.name, f]));
  for (const f of next.fields) {
    const p = before.get(f.name);
    if (p !== undefined) {
      diffField(p, f, out);
    } else if (!f.required) {
      out.push({ field: f.name, change: 'field_added_optional', message: 'optional field added', breaks: NEITHER });
    } else if (f.defaultValue !== undefined) {
      out.push({
        field: f.name, change: 'field_added_required_with_default',
        message: `required field added with default ${show(f.defaultValue)}: old data is read with the default`, breaks: NEITHER,
      });
    } else {
      out.push({
        field: f.name, change: 'field_added_required',
        message: 'required field added without a default: data written under the old contract lacks it', breaks: BACKWARD,
      });
    }
  }
  for (const p of previous.fields) {
    if (after.has(p.name)) continue;
    const breaks = p.required && p.defaultValue === undefined ? FORWARD : NEITHER;
    const why = breaks.length > 0
      ? 'the old contract requires it (without a default), so data written under the new one is refused'
      : p.required ? 'the old contract has a default for it' : 'it was optional';
    out.push({ field: p.name, change: 'field_removed', message: `field removed: ${why}`, breaks });
  }

  if (previous.primaryKey.join('\u0000') !== next.primaryKey.join('\u0000')) {
    out.push({
      field: '', change: 'primary_key_changed',
      message: `primary key changed from [${previous.primaryKey.join(', ')}] to [${next.primaryKey.join(', ')}]: de-duplication changes meaning`,
      breaks: BOTH,
    });
  }
  if (previous.eventTimeField !== next.eventTimeField) {
    out.push({
      field: '', change: 'event_time_changed',
      message: `event-time field changed from ${previous.eventTimeField ?? 'none'} to ${next.eventTimeField ?? 'none'}`, breaks: NEITHER,
    });
  }
  if (previous.compatibility !== next.compatibility) {
    out.push({
      field: '', change: 'compatibility_changed',
      message: `compatibility mode changed from ${previous.compatibility} to ${next.compatibility}`, breaks: NEITHER,
    });
  }
  return out;
}

/** The directions a mode requires. */
export function directionsOf(mode: Compatibility): Direction[] {
  switch (mode) {
    case 'backward': return BACKWARD;
    case 'forward': return FORWARD;
    case 'full': return BOTH;
    case 'none': return NEITHER;
  }
}

/**
 * Check `next` against `previous` under `mode` (default: the mode `next` declares). `compatible` is false when any
 * difference breaks a direction the mode requires; each such difference is in `breaking`.
 */
export function checkCompatibility(previous: Contract, next: Contract, mode: Compatibility = next.compatibility): CompatibilityReport {
  const changes = diffContracts(previous, next);
  const required = directionsOf(mode);
  const breaking = changes.filter((d) => d.breaks.some((b) => required.includes(b)));
  return { compatible: breaking.length === 0, mode, breaking, changes };
}
