/**
 * Record validation compiled once per contract: every field's checks are closures built up front (regexes compiled,
 * bounds parsed), so validating a record touches no YAML or ODCS object and allocates nothing when it passes
 * beyond the returned empty array.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Contract, FieldRule } from './contract.ts';
import { parseDate, parseTemporalBound, parseTime, parseTimestamp } from './temporal.ts';

export type ViolationRule =
  | 'required' | 'type' | 'minimum' | 'maximum' | 'exclusive_minimum' | 'exclusive_maximum' | 'min_length'
  | 'max_length' | 'pattern' | 'format' | 'enum' | 'unknown_field' | 'not_object';

export interface FieldViolation {
  /** JSON pointer to the offending value, e.g. `/records/3/income`. */
  field: string;
  /** The field name as written in the contract (or the unknown key; '' for `not_object`). */
  name: string;
  rule: ViolationRule;
  message: string;
  value?: unknown;
}

export interface RecordValidator {
  validate(record: unknown, rowPointer: string): FieldViolation[];
  /** The contract's field names, in contract order. */
  readonly fields: string[];
}

export interface ValidatorOptions {
  /** Accept keys the contract does not declare (default false: each is an `unknown_field` violation). */
  allowUnknown?: boolean;
}

type Check = (value: unknown, pointer: string, name: string, out: FieldViolation[]) => void;

const EMAIL_RE =
  /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;
const UUID_RE = /^(?:urn:uuid:)?[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$/i;
const URI_RE = /^[a-z][a-z0-9+\-.]*:[^\s]*$/i;
const HOSTNAME_RE =
  /^(?=.{1,253}\.?$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[-0-9a-z]{0,61}[0-9a-z])?)*\.?$/i;

/** Predicates for the string formats Tarmac enforces (see ENFORCED_STRING_FORMATS). */
export const STRING_FORMATS: Readonly<Record<string, (s: string) => boolean>> = {
  email: (s) => EMAIL_RE.test(s),
  uuid: (s) => UUID_RE.test(s),
  uri: (s) => URI_RE.test(s),
  ipv4: (s) => isIPv4(s),
  ipv6: (s) => isIPv6(s),
  hostname: (s) => HOSTNAME_RE.test(s),
  date: (s) => !Number.isNaN(parseDate(s)),
  'date-time': (s) => !Number.isNaN(parseTimestamp(s, true)),
};

/** Length in Unicode code points (a surrogate pair counts once). */
export function codePointLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** Escape a key for use as one JSON-pointer segment (RFC 6901). */
export function pointerSegment(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function describe(value: unknown): string {
  if (typeof value === 'string') {
    const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
    return `"${shown}"`;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

function shownValue(value: unknown): unknown {
  if (typeof value === 'string' && value.length > 200) return `${value.slice(0, 200)}…`;
  if (typeof value === 'object' && value !== null) return undefined;
  return value;
}

function push(out: FieldViolation[], field: string, name: string, rule: ViolationRule, message: string, value: unknown) {
  const v: FieldViolation = { field, name, rule, message };
  const shown = shownValue(value);
  if (shown !== undefined) v.value = shown;
  out.push(v);
}

/** Checks that run after the type check passed, on the comparable form (number, string or epoch). */
type Sub = (original: unknown, comparable: number | string, pointer: string, name: string, out: FieldViolation[]) => void;

function boundChecks(rule: FieldRule, toComparable: (b: number | string) => number): Sub[] {
  const subs: Sub[] = [];
  const add = (raw: number | string | undefined, violationRule: ViolationRule, fails: (v: number, b: number) => boolean, op: string) => {
    if (raw === undefined) return;
    const b = toComparable(raw);
    if (Number.isNaN(b)) return; // parse refuses unparseable bounds; a hand-built contract just skips them
    subs.push((original, c, pointer, name, out) => {
      if (fails(c as number, b)) push(out, pointer, name, violationRule, `${describe(original)} must be ${op} ${String(raw)}`, original);
    });
  };
  add(rule.minimum, 'minimum', (v, b) => v < b, '>=');
  add(rule.maximum, 'maximum', (v, b) => v > b, '<=');
  add(rule.exclusiveMinimum, 'exclusive_minimum', (v, b) => v <= b, '>');
  add(rule.exclusiveMaximum, 'exclusive_maximum', (v, b) => v >= b, '<');
  return subs;
}

function stringChecks(rule: FieldRule): Sub[] {
  const subs: Sub[] = [];
  const { minLength, maxLength } = rule;
  if (minLength !== undefined && minLength > 0) {
    subs.push((original, c, pointer, name, out) => {
      const s = c as string;
      if (s.length >= 2 * minLength) return;
      if (s.length < minLength || codePointLength(s) < minLength) {
        push(out, pointer, name, 'min_length', `must be at least ${minLength} characters long`, original);
      }
    });
  }
  if (maxLength !== undefined) {
    subs.push((original, c, pointer, name, out) => {
      const s = c as string;
      if (s.length <= maxLength) return;
      if (s.length > 2 * maxLength || codePointLength(s) > maxLength) {
        push(out, pointer, name, 'max_length', `must be at most ${maxLength} characters long (is ${codePointLength(s)})`, original);
      }
    });
  }
  if (rule.pattern !== undefined) {
    const re = compilePattern(rule.pattern);
    if (re !== undefined) {
      const source = rule.pattern;
      subs.push((original, c, pointer, name, out) => {
        if (!re.test(c as string)) push(out, pointer, name, 'pattern', `${describe(original)} does not match /${source}/`, original);
      });
    }
  }
  if (rule.format !== undefined && rule.logicalType === 'string') {
    const test = STRING_FORMATS[rule.format];
    if (test !== undefined) {
      const format = rule.format;
      subs.push((original, c, pointer, name, out) => {
        if (!test(c as string)) push(out, pointer, name, 'format', `${describe(original)} is not a valid ${format}`, original);
      });
    }
  }
  return subs;
}

/** Compile an ODCS (ECMA-262) pattern: with the `u` flag when it accepts it, else without; undefined if neither. */
export function compilePattern(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern, 'u');
  } catch {
    try {
      return new RegExp(pattern);
    } catch {
      return undefined;
    }
  }
}

function enumCheck(rule: FieldRule): Sub[] {
  if (rule.validValues === undefined) return [];
  const allowed = new Set<unknown>(rule.validValues);
  const list = rule.validValues.map((v) => JSON.stringify(v)).join(', ');
  return [(original, _c, pointer, name, out) => {
    if (!allowed.has(original)) push(out, pointer, name, 'enum', `${describe(original)} is not one of ${list}`, original);
  }];
}

function runSubs(subs: Sub[]): (original: unknown, c: number | string, pointer: string, name: string, out: FieldViolation[]) => void {
  if (subs.length === 0) return () => undefined;
  if (subs.length === 1) return subs[0]!;
  return (original, c, pointer, name, out) => {
    for (let i = 0; i < subs.length; i++) subs[i]!(original, c, pointer, name, out);
  };
}

function typeViolation(out: FieldViolation[], pointer: string, name: string, expected: string, value: unknown): void {
  push(out, pointer, name, 'type', `expected ${expected}, got ${describe(value)}`, value);
}

function compileField(rule: FieldRule): Check {
  const t = rule.logicalType;
  switch (t) {
    case 'string': {
      const subs = runSubs([...stringChecks(rule), ...enumCheck(rule)]);
      return (v, p, n, out) => {
        if (typeof v !== 'string') return typeViolation(out, p, n, 'a string', v);
        subs(v, v, p, n, out);
      };
    }
    case 'number': {
      const subs = runSubs([...boundChecks(rule, Number), ...enumCheck(rule)]);
      return (v, p, n, out) => {
        if (typeof v !== 'number' || !Number.isFinite(v)) return typeViolation(out, p, n, 'a finite number', v);
        subs(v, v, p, n, out);
      };
    }
    case 'integer': {
      const subs = runSubs([...boundChecks(rule, Number), ...enumCheck(rule)]);
      return (v, p, n, out) => {
        if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
          return typeViolation(out, p, n, 'an integer within ±(2^53−1)', v);
        }
        subs(v, v, p, n, out);
      };
    }
    case 'boolean': {
      const subs = runSubs(enumCheck(rule));
      return (v, p, n, out) => {
        if (typeof v !== 'boolean') return typeViolation(out, p, n, 'a boolean', v);
        subs(v, 0, p, n, out);
      };
    }
    case 'date':
    case 'timestamp':
    case 'time': {
      const toComparable = (b: number | string) => (typeof b === 'string' ? parseTemporalBound(t, b) : NaN);
      const subs = runSubs([...boundChecks(rule, toComparable), ...enumCheck(rule)]);
      const parse = t === 'date' ? parseDate : t === 'time' ? parseTime : (s: string) => parseTimestamp(s, true);
      const expected = t === 'date'
        ? 'a calendar date YYYY-MM-DD'
        : t === 'time' ? 'a time HH:mm:ss' : 'an RFC 3339 timestamp with a timezone';
      return (v, p, n, out) => {
        if (typeof v !== 'string') return typeViolation(out, p, n, `a string holding ${expected}`, v);
        const c = parse(v);
        if (Number.isNaN(c)) return push(out, p, n, 'format', `${describe(v)} is not ${expected}`, v);
        subs(v, c, p, n, out);
      };
    }
    case 'object':
      return (v, p, n, out) => {
        if (typeof v !== 'object' || v === null || Array.isArray(v)) typeViolation(out, p, n, 'an object', v);
      };
    case 'array':
      return (v, p, n, out) => {
        if (!Array.isArray(v)) typeViolation(out, p, n, 'an array', v);
      };
  }
}

interface CompiledField {
  name: string;
  segment: string;
  required: boolean;
  check: Check;
}

/** Compile a contract's field rules into a record validator. Call once per contract version and keep it. */
export function compileValidator(contract: Contract, options: ValidatorOptions = {}): RecordValidator {
  const allowUnknown = options.allowUnknown ?? false;
  const compiled: CompiledField[] = contract.fields.map((f) => ({
    name: f.name,
    segment: '/' + pointerSegment(f.name),
    required: f.required,
    check: compileField(f),
  }));
  const known = new Set(compiled.map((f) => f.name));
  const hasOwn = Object.prototype.hasOwnProperty;
  const count = compiled.length;

  return {
    fields: compiled.map((f) => f.name),
    validate(record: unknown, rowPointer: string): FieldViolation[] {
      const out: FieldViolation[] = [];
      if (typeof record !== 'object' || record === null || Array.isArray(record)) {
        push(out, rowPointer, '', 'not_object', `a record must be an object, got ${record === null ? 'null' : describe(record)}`, record);
        return out;
      }
      const rec = record as Record<string, unknown>;
      for (let i = 0; i < count; i++) {
        const f = compiled[i]!;
        const v = hasOwn.call(rec, f.name) ? rec[f.name] : undefined;
        if (v === undefined || v === null) {
          if (f.required) {
            push(out, rowPointer + f.segment, f.name, 'required', v === null ? 'is required and must not be null' : 'is required', v);
          }
          continue;
        }
        f.check(v, rowPointer + f.segment, f.name, out);
      }
      if (!allowUnknown) {
        for (const key in rec) {
          if (!known.has(key) && hasOwn.call(rec, key)) {
            push(out, rowPointer + '/' + pointerSegment(key), key, 'unknown_field', 'is not a field of the contract', undefined);
          }
        }
      }
      return out;
    },
  };
}
