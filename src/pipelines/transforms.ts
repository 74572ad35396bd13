/**
 * A dataset's ingestion transforms (rename, cast, derive, drop, mask), validated and compiled once into closures so
 * that every ingestion path (file, HTTP, stream, re-submission) applies the same deterministic pipeline to each row.
 * Derived fields use filtrex expressions, hardened here: regex matching and the deprecated `%`/`?:` forms are refused,
 * every operator and function is replaced by a strict, null-propagating, finite-checking one, and names are only
 * ever looked up as own properties of the row.
 */
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { compileExpression, type Options as FiltrexOptions } from 'filtrex';
import { parseDate, parseTimestamp, pointerSegment } from '../contracts/index.ts';
import { TarmacError, type FieldIssue } from '../shared/errors.ts';
import type { RowReason } from '../store/records.ts';

/** The types a `cast` step converts to. */
export type CastTarget = 'number' | 'integer' | 'string' | 'boolean' | 'timestamp' | 'date';

/** The ways a `mask` step hides a value. */
export type MaskMethod = 'hash' | 'redact';

/** One transformation step as written in a dataset's config, discriminated by its only key. */
export type TransformStep =
  | { rename: { from: string; to: string } }
  | { cast: { field: string; to: CastTarget } }
  | { derive: { field: string; expr: string } }
  | { drop: string[] }
  | { mask: { field: string; method: MaskMethod; salt?: string } };

/** The outcome of applying a pipeline to one row: the transformed copy, or why the row is refused. */
export type TransformResult = { ok: true; row: Record<string, unknown> } | { ok: false; reasons: RowReason[] };

/** A validated pipeline, compiled once and applied to every row of a dataset. */
export interface CompiledTransforms {
  readonly steps: readonly TransformStep[];
  /** Applies every step to a copy (never mutates input). */
  apply(row: Record<string, unknown>): TransformResult;
  /** Given input field names, the output field names (for checking a dataset's contract/key fields at creation). */
  outputFields(inputFields: readonly string[]): string[];
}

/** Options of compileTransforms. */
export interface CompileTransformsOptions {
  /** Default HMAC key for `mask: hash` steps that declare no `salt` of their own. */
  secret?: string;
  /** The input field names when known: derive expressions referring to a field that no step provides then fail to compile. */
  fields?: readonly string[];
}

/** The step kinds, in the order the docs list them. */
export const TRANSFORM_STEP_KINDS = ['rename', 'cast', 'derive', 'drop', 'mask'] as const;
const CAST_TARGETS: readonly CastTarget[] = ['number', 'integer', 'string', 'boolean', 'timestamp', 'date'];
const MASK_METHODS: readonly MaskMethod[] = ['hash', 'redact'];
/** Bounds that keep compilation (and filtrex's generated code) small. */
const MAX_STEPS = 1000;
const MAX_EXPR_LENGTH = 4000;

type Row = Record<string, unknown>;
/** A compiled step: transforms the working copy in place, or returns why the row is refused. */
type Op = (row: Row) => RowReason | undefined;
interface CompiledStep {
  step: TransformStep;
  op: Op;
  fields(names: string[]): string[];
}

/**
 * Validates `steps` (a JSON array of one-key objects) and compiles them; throws DATASET_INVALID with one issue per
 * problem (JSON pointers under `/transforms`). `undefined`, `null` and `[]` give the identity pipeline.
 */
export function compileTransforms(steps: unknown, options: CompileTransformsOptions = {}): CompiledTransforms {
  if (steps === undefined || steps === null) steps = [];
  const issues: FieldIssue[] = [];
  if (!Array.isArray(steps)) {
    throw invalidTransforms([{ field: '/transforms', rule: 'type', message: 'transforms must be an array of steps' }]);
  }
  if (steps.length > MAX_STEPS) {
    throw invalidTransforms([{ field: '/transforms', rule: 'max_items', message: `at most ${MAX_STEPS} steps are allowed` }]);
  }
  const secret = options.secret === undefined || options.secret === '' ? undefined : options.secret;
  const compiled: CompiledStep[] = [];
  // Known only when the caller passes the input fields; tracks what each step can see.
  let available: string[] | undefined = options.fields === undefined ? undefined : [...options.fields];
  for (let i = 0; i < steps.length; i++) {
    const c = compileStep(steps[i], `/transforms/${i}`, secret, available, issues);
    if (c !== undefined) {
      compiled.push(c);
      if (available !== undefined) available = c.fields(available);
    }
  }
  if (issues.length > 0) throw invalidTransforms(issues);

  const ops = compiled.map((c) => c.op);
  const frozenSteps = Object.freeze(compiled.map((c) => c.step));
  const n = ops.length;
  return {
    steps: frozenSteps,
    apply(row: Row): TransformResult {
      const out: Row = { ...row };
      for (let i = 0; i < n; i++) {
        // Later steps usually depend on earlier ones, so the first refusal stops the row.
        const reason = (ops[i] as Op)(out);
        if (reason !== undefined) return { ok: false, reasons: [reason] };
      }
      return { ok: true, row: out };
    },
    outputFields(inputFields: readonly string[]): string[] {
      let names = [...inputFields];
      for (const c of compiled) names = c.fields(names);
      return names;
    },
  };
}

function invalidTransforms(issues: FieldIssue[]): TarmacError {
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return new TarmacError('DATASET_INVALID', `invalid transforms: ${issues[0]?.field}: ${issues[0]?.message}${more}`, { issues });
}

// ---------------------------------------------------------------------------------------------------------------
// Validation

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks a step body's keys: every required key present, nothing unexpected. */
function checkKeys(body: Record<string, unknown>, at: string, required: readonly string[], optional: readonly string[], issues: FieldIssue[]): boolean {
  let ok = true;
  for (const key of required) {
    if (!Object.hasOwn(body, key) || body[key] === undefined) {
      issues.push({ field: `${at}/${key}`, rule: 'required', message: `"${key}" is required` });
      ok = false;
    }
  }
  for (const key of Object.keys(body)) {
    if (!required.includes(key) && !optional.includes(key)) {
      issues.push({ field: `${at}/${pointerSegment(key)}`, rule: 'unknown_key', message: `unexpected key "${key}"` });
      ok = false;
    }
  }
  return ok;
}

/** Validates one field-name setting; `__proto__` is refused because writing it would replace the row's prototype. */
function fieldName(value: unknown, at: string, issues: FieldIssue[]): string | undefined {
  if (value === undefined) return undefined; // reported by checkKeys
  if (typeof value !== 'string') {
    issues.push({ field: at, rule: 'type', message: 'must be a string (a field name)' });
    return undefined;
  }
  if (value === '') {
    issues.push({ field: at, rule: 'empty', message: 'must not be empty' });
    return undefined;
  }
  if (value === '__proto__') {
    issues.push({ field: at, rule: 'reserved', message: '"__proto__" cannot be used as a field name' });
    return undefined;
  }
  return value;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], at: string, issues: FieldIssue[]): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    issues.push({ field: at, rule: 'enum', message: `must be one of ${allowed.join(', ')}` });
    return undefined;
  }
  return value as T;
}

function compileStep(raw: unknown, at: string, secret: string | undefined, available: string[] | undefined, issues: FieldIssue[]): CompiledStep | undefined {
  if (!isPlainObject(raw)) {
    issues.push({ field: at, rule: 'type', message: 'a step must be an object with exactly one key (rename, cast, derive, drop or mask)' });
    return undefined;
  }
  const keys = Object.keys(raw);
  if (keys.length !== 1) {
    const message = keys.length === 0
      ? 'a step must have exactly one key (rename, cast, derive, drop or mask)'
      : `a step must have exactly one key, found ${keys.map((k) => `"${k}"`).join(', ')}`;
    issues.push({ field: at, rule: 'shape', message });
    return undefined;
  }
  const kind = keys[0] as string;
  const body = raw[kind];
  const bodyAt = `${at}/${pointerSegment(kind)}`;
  switch (kind) {
    case 'rename': return compileRename(body, bodyAt, issues);
    case 'cast': return compileCast(body, bodyAt, issues);
    case 'derive': return compileDerive(body, bodyAt, available, issues);
    case 'drop': return compileDrop(body, bodyAt, issues);
    case 'mask': return compileMask(body, bodyAt, secret, issues);
    default:
      issues.push({ field: bodyAt, rule: 'unknown_step', message: `unknown step "${kind}"; expected one of ${TRANSFORM_STEP_KINDS.join(', ')}` });
      return undefined;
  }
}

function bodyObject(body: unknown, at: string, issues: FieldIssue[]): Record<string, unknown> | undefined {
  if (isPlainObject(body)) return body;
  issues.push({ field: at, rule: 'type', message: 'must be an object' });
  return undefined;
}

/** A JSON pointer to a row field, as RowReason.field expects. */
function rowPointer(field: string): string {
  return `/${pointerSegment(field)}`;
}

/** Whether the row holds the field; an own `undefined` counts as missing since JSON cannot carry it. */
function has(row: Row, field: string): boolean {
  return Object.hasOwn(row, field) && row[field] !== undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// rename, drop

function compileRename(raw: unknown, at: string, issues: FieldIssue[]): CompiledStep | undefined {
  const body = bodyObject(raw, at, issues);
  if (body === undefined) return undefined;
  const before = issues.length;
  checkKeys(body, at, ['from', 'to'], [], issues);
  const from = fieldName(body.from, `${at}/from`, issues);
  const to = fieldName(body.to, `${at}/to`, issues);
  if (from !== undefined && to !== undefined && from === to) {
    issues.push({ field: `${at}/to`, rule: 'same_field', message: '"to" must differ from "from"' });
  }
  if (issues.length > before || from === undefined || to === undefined) return undefined;
  const toPointer = rowPointer(to);
  return {
    step: { rename: { from, to } },
    op(row) {
      if (!has(row, from)) return undefined;
      if (has(row, to)) {
        return { field: toPointer, rule: 'rename', message: `cannot rename "${from}" to "${to}": "${to}" already exists` };
      }
      row[to] = row[from];
      delete row[from];
      return undefined;
    },
    fields(names) {
      if (!names.includes(from)) return names;
      const out = names.filter((n) => n !== from && n !== to);
      out.push(to);
      return out;
    },
  };
}

function compileDrop(raw: unknown, at: string, issues: FieldIssue[]): CompiledStep | undefined {
  if (!Array.isArray(raw)) {
    issues.push({ field: at, rule: 'type', message: 'must be an array of field names' });
    return undefined;
  }
  if (raw.length === 0) {
    issues.push({ field: at, rule: 'empty', message: 'must name at least one field' });
    return undefined;
  }
  const before = issues.length;
  const names: string[] = [];
  raw.forEach((v, j) => {
    const name = fieldName(v, `${at}/${j}`, issues);
    if (name !== undefined && !names.includes(name)) names.push(name);
  });
  if (issues.length > before) return undefined;
  return {
    step: { drop: [...names] },
    op(row) {
      for (const name of names) delete row[name];
      return undefined;
    },
    fields(input) {
      return input.filter((n) => !names.includes(n));
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// cast

/** A plain decimal number: no hex, no `Infinity`/`NaN`, no separators (all of which `Number()` would accept or misread). */
const DECIMAL_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const BOOLEAN_STRINGS: Record<string, boolean> = { true: true, false: false, '1': true, '0': false, yes: true, no: false };
/** 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: the range ISO 8601's four-digit years can print. */
const MIN_EPOCH_MS = -62_167_219_200_000;
const MAX_EPOCH_MS = 253_402_300_799_999;
/** Marks a failed conversion; distinct from null, which is a valid result. */
const FAIL = Symbol('cast failed');
type CastFn = (value: unknown) => unknown;

/** Empty and blank strings cast to null for every target but `string`, as CSV writes a missing value that way. */
function isBlank(value: string): boolean {
  return value.trim() === '';
}

function castNumber(value: unknown): number | null | typeof FAIL {
  if (typeof value === 'number') return Number.isFinite(value) ? value : FAIL;
  if (typeof value === 'string') {
    if (isBlank(value)) return null;
    const s = value.trim();
    if (!DECIMAL_RE.test(s)) return FAIL;
    const n = Number(s);
    return Number.isFinite(n) ? n : FAIL;
  }
  if (typeof value === 'bigint') {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : FAIL;
  }
  return FAIL;
}

function castInteger(value: unknown): unknown {
  const n = castNumber(value);
  if (n === null || n === FAIL) return n;
  // Beyond 2^53 a double cannot tell neighbouring integers apart, so accepting would silently change the value.
  return Number.isSafeInteger(n) ? (n === 0 ? 0 : n) : FAIL;
}

function castString(value: unknown): unknown {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : FAIL;
  if (typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? FAIL : value.toISOString();
  return FAIL;
}

function castBoolean(value: unknown): unknown {
  if (typeof value === 'boolean') return value;
  if (value === 1) return true;
  if (value === 0) return false;
  if (typeof value === 'string') {
    if (isBlank(value)) return null;
    const key = value.trim().toLowerCase();
    return Object.hasOwn(BOOLEAN_STRINGS, key) ? BOOLEAN_STRINGS[key] : FAIL;
  }
  return FAIL;
}

/** Epoch milliseconds of a timestamp-like value, null for a blank string, FAIL otherwise. */
function epochOf(value: unknown): number | null | typeof FAIL {
  let ms: number;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return FAIL;
    ms = Math.floor(value);
  } else if (typeof value === 'string') {
    if (isBlank(value)) return null;
    const s = value.trim();
    // contracts' parser hands years 0000-0099 to Date.UTC, which reads them as 1900-1999.
    if (Number(s.slice(0, 4)) < 100) return FAIL;
    let t = parseTimestamp(s, false);
    if (Number.isNaN(t)) t = parseDate(s);
    if (Number.isNaN(t)) return FAIL;
    ms = Math.floor(t);
  } else if (value instanceof Date) {
    ms = value.getTime();
    if (Number.isNaN(ms)) return FAIL;
  } else {
    return FAIL;
  }
  return ms < MIN_EPOCH_MS || ms > MAX_EPOCH_MS ? FAIL : ms;
}

function castTimestamp(value: unknown): unknown {
  const ms = epochOf(value);
  return ms === null || ms === FAIL ? ms : new Date(ms).toISOString();
}

function castDate(value: unknown): unknown {
  const ms = epochOf(value);
  return ms === null || ms === FAIL ? ms : new Date(ms).toISOString().slice(0, 10);
}

const CASTS: Record<CastTarget, CastFn> = {
  number: castNumber, integer: castInteger, string: castString, boolean: castBoolean, timestamp: castTimestamp, date: castDate,
};

/** A short, bounded rendering of a value for messages: long strings are cut so a reason never carries a whole blob. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    let s = value;
    if (s.length > 64) {
      let cut = 64;
      const code = s.charCodeAt(cut - 1);
      if (code >= 0xd800 && code <= 0xdbff) cut--; // keep surrogate pairs whole
      s = `${s.slice(0, cut)}…`;
    }
    return JSON.stringify(s);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === null) return 'null';
  if (value instanceof Date) return 'a date object';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function compileCast(raw: unknown, at: string, issues: FieldIssue[]): CompiledStep | undefined {
  const body = bodyObject(raw, at, issues);
  if (body === undefined) return undefined;
  const before = issues.length;
  checkKeys(body, at, ['field', 'to'], [], issues);
  const field = fieldName(body.field, `${at}/field`, issues);
  const to = oneOf(body.to, CAST_TARGETS, `${at}/to`, issues);
  if (issues.length > before || field === undefined || to === undefined) return undefined;
  const cast = CASTS[to];
  const pointer = rowPointer(field);
  return {
    step: { cast: { field, to } },
    op(row) {
      if (!has(row, field)) return undefined;
      const value = row[field];
      if (value === null) return undefined;
      const result = cast(value);
      if (result === FAIL) return { field: pointer, rule: 'cast', message: `cannot cast ${describeValue(value)} to ${to}` };
      row[field] = result;
      return undefined;
    },
    fields: (names) => names,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// mask

/** The UTF-8 text a hashed value stands for: `12` and `"12"` hash alike so differently typed join keys still match. */
function hashInput(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  return JSON.stringify(value) ?? '';
}

function compileMask(raw: unknown, at: string, secret: string | undefined, issues: FieldIssue[]): CompiledStep | undefined {
  const body = bodyObject(raw, at, issues);
  if (body === undefined) return undefined;
  const before = issues.length;
  checkKeys(body, at, ['field', 'method'], ['salt'], issues);
  const field = fieldName(body.field, `${at}/field`, issues);
  const method = oneOf(body.method, MASK_METHODS, `${at}/method`, issues);
  let salt: string | undefined;
  if (body.salt !== undefined) {
    if (typeof body.salt !== 'string') issues.push({ field: `${at}/salt`, rule: 'type', message: 'must be a string' });
    else if (body.salt === '') issues.push({ field: `${at}/salt`, rule: 'empty', message: 'must not be empty' });
    else salt = body.salt;
  }
  if (method === 'hash' && salt === undefined && secret === undefined && body.salt === undefined) {
    // An unkeyed hash of an email or a phone number is reversed by hashing the guessable candidates.
    issues.push({ field: `${at}/salt`, rule: 'required', message: 'hash masking needs a salt (or a server secret)' });
  }
  if (issues.length > before || field === undefined || method === undefined) return undefined;
  const step: TransformStep = { mask: salt === undefined ? { field, method } : { field, method, salt } };
  if (method === 'redact') {
    return {
      step,
      op(row) {
        if (has(row, field)) row[field] = null;
        return undefined;
      },
      fields: (names) => names,
    };
  }
  const key: KeyObject = createSecretKey(Buffer.from(salt ?? (secret as string), 'utf8'));
  return {
    step,
    op(row) {
      if (!has(row, field)) return undefined;
      const value = row[field];
      if (value === null) return undefined;
      row[field] = createHmac('sha256', key).update(hashInput(value), 'utf8').digest('hex');
      return undefined;
    },
    fields: (names) => names,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// derive: expressions

/** A refusal raised while evaluating an expression; filtrex returns (never throws) whatever an evaluation throws. */
class ExpressionError extends Error {}

function typeName(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return 'text';
  if (Array.isArray(v)) return 'list';
  return typeof v;
}

function expectNumber(v: unknown, where: string): number {
  if (typeof v === 'number') return v;
  throw new ExpressionError(`${where} expects a number, got ${typeName(v)}`);
}

function expectText(v: unknown, where: string): string {
  if (typeof v === 'string') return v;
  throw new ExpressionError(`${where} expects text, got ${typeName(v)}`);
}

function finite(n: number, what: string): number {
  if (Number.isFinite(n)) return n;
  throw new ExpressionError(`${what} is not a finite number`);
}

function isNull(v: unknown): boolean {
  return v === null || v === undefined;
}

function arithmetic(symbol: string, f: (a: number, b: number) => number): (a: unknown, b: unknown) => unknown {
  return (a, b) => {
    if (isNull(a) || isNull(b)) return null;
    return finite(f(expectNumber(a, `"${symbol}"`), expectNumber(b, `"${symbol}"`)), `the result of "${symbol}"`);
  };
}

function compare(symbol: string, f: (a: number | string, b: number | string) => boolean): (a: unknown, b: unknown) => unknown {
  return (a, b) => {
    if (isNull(a) || isNull(b)) return null;
    if ((typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string')) return f(a, b);
    throw new ExpressionError(`"${symbol}" compares two numbers or two texts, got ${typeName(a)} and ${typeName(b)}`);
  };
}

function divide(symbol: string, f: (a: number, b: number) => number): (a: unknown, b: unknown) => unknown {
  return (a, b) => {
    if (isNull(a) || isNull(b)) return null;
    const x = expectNumber(a, `"${symbol}"`);
    const y = expectNumber(b, `"${symbol}"`);
    if (y === 0) throw new ExpressionError('division by zero');
    return finite(f(x, y), `the result of "${symbol}"`);
  };
}

/** Every operator filtrex can emit, replaced: strict types, null in → null out, non-finite out → refusal. */
const OPERATORS = {
  '+': (a: unknown, b: unknown): unknown => {
    if (isNull(a) || isNull(b)) return null;
    if (typeof a === 'number' && typeof b === 'number') return finite(a + b, 'the result of "+"');
    if (typeof a === 'string' && typeof b === 'string') return a + b;
    throw new ExpressionError(`"+" adds two numbers or joins two texts, got ${typeName(a)} and ${typeName(b)}`);
  },
  '-': (a: unknown, b?: unknown): unknown => {
    // Operands are never undefined (missing fields read as null), so an undefined `b` means unary minus.
    if (b === undefined) return isNull(a) ? null : -expectNumber(a, '"-"');
    if (isNull(a) || isNull(b)) return null;
    return finite(expectNumber(a, '"-"') - expectNumber(b, '"-"'), 'the result of "-"');
  },
  '*': arithmetic('*', (a, b) => a * b),
  '/': divide('/', (a, b) => a / b),
  '^': arithmetic('^', (a, b) => a ** b),
  mod: divide('mod', (a, b) => ((a % b) + b) % b),
  '==': (a: unknown, b: unknown): unknown => (isNull(a) || isNull(b) ? null : a === b),
  '!=': (a: unknown, b: unknown): unknown => (isNull(a) || isNull(b) ? null : a !== b),
  '<': compare('<', (a, b) => a < b),
  '<=': compare('<=', (a, b) => a <= b),
  '>': compare('>', (a, b) => a > b),
  '>=': compare('>=', (a, b) => a >= b),
  // User-supplied regular expressions can take exponential time on one row; refused at compile time, and here too.
  '~=': (): never => {
    throw new ExpressionError('"~=" (regular expression match) is not supported');
  },
};

interface ExprFunction {
  min: number;
  max: number;
  /** Null-aware functions see null arguments; the others return null when any argument is null. */
  nullAware?: boolean;
  fn: (...args: unknown[]) => unknown;
}

function numeric1(name: string, f: (x: number) => number): ExprFunction {
  return { min: 1, max: 1, fn: (x) => finite(f(expectNumber(x, `${name}()`)), `${name}()`) };
}

function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** The functions an expression may call; nothing else is reachable (filtrex checks own properties of this table). */
const EXPRESSION_FUNCTIONS: Readonly<Record<string, ExprFunction>> = Object.freeze({
  abs: numeric1('abs', Math.abs),
  ceil: numeric1('ceil', Math.ceil),
  floor: numeric1('floor', Math.floor),
  sqrt: numeric1('sqrt', Math.sqrt),
  exp: numeric1('exp', Math.exp),
  log: numeric1('log', Math.log),
  log2: numeric1('log2', Math.log2),
  log10: numeric1('log10', Math.log10),
  sign: numeric1('sign', Math.sign),
  round: {
    min: 1, max: 2, fn: (x, digits) => {
      const v = expectNumber(x, 'round()');
      if (digits === undefined) return finite(Math.round(v), 'round()');
      const d = expectNumber(digits, 'round()');
      if (!Number.isInteger(d) || d < 0 || d > 15) throw new ExpressionError('round() digits must be an integer from 0 to 15');
      const scale = 10 ** d;
      return finite(Math.round(v * scale) / scale, 'round()');
    },
  },
  pow: { min: 2, max: 2, fn: (a, b) => finite(expectNumber(a, 'pow()') ** expectNumber(b, 'pow()'), 'pow()') },
  min: { min: 1, max: Infinity, fn: (...xs) => Math.min(...xs.map((x) => expectNumber(x, 'min()'))) },
  max: { min: 1, max: Infinity, fn: (...xs) => Math.max(...xs.map((x) => expectNumber(x, 'max()'))) },
  lower: { min: 1, max: 1, fn: (s) => expectText(s, 'lower()').toLowerCase() },
  upper: { min: 1, max: 1, fn: (s) => expectText(s, 'upper()').toUpperCase() },
  trim: { min: 1, max: 1, fn: (s) => expectText(s, 'trim()').trim() },
  len: {
    min: 1, max: 1, fn: (s) => {
      if (Array.isArray(s)) return s.length;
      return codePoints(expectText(s, 'len()'));
    },
  },
  concat: {
    min: 1, max: Infinity, fn: (...xs) => {
      let out = '';
      for (const x of xs) {
        if (typeof x === 'string') out += x;
        else if ((typeof x === 'number' && Number.isFinite(x)) || typeof x === 'boolean') out += String(x);
        else throw new ExpressionError(`concat() expects texts, numbers or booleans, got ${typeName(x)}`);
      }
      return out;
    },
  },
  contains: { min: 2, max: 2, fn: (s, sub) => expectText(s, 'contains()').includes(expectText(sub, 'contains()')) },
  starts_with: { min: 2, max: 2, fn: (s, p) => expectText(s, 'starts_with()').startsWith(expectText(p, 'starts_with()')) },
  ends_with: { min: 2, max: 2, fn: (s, p) => expectText(s, 'ends_with()').endsWith(expectText(p, 'ends_with()')) },
  coalesce: {
    min: 1, max: Infinity, nullAware: true, fn: (...xs) => {
      for (const x of xs) if (!isNull(x)) return x;
      return null;
    },
  },
  exists: { min: 1, max: 1, nullAware: true, fn: (x) => !isNull(x) },
  empty: { min: 1, max: 1, nullAware: true, fn: (x) => isNull(x) || x === '' || (Array.isArray(x) && x.length === 0) },
} satisfies Record<string, ExprFunction>);

/** The names of the functions derive expressions may call. */
export const EXPRESSION_FUNCTION_NAMES: readonly string[] = Object.freeze(Object.keys(EXPRESSION_FUNCTIONS));

/** The table handed to filtrex: wrappers that check arity and propagate nulls before calling the implementation. */
const FILTREX_FUNCTIONS: Record<string, (...args: unknown[]) => unknown> = Object.create(null) as Record<string, (...args: unknown[]) => unknown>;
for (const [name, def] of Object.entries(EXPRESSION_FUNCTIONS)) {
  FILTREX_FUNCTIONS[name] = (...args: unknown[]): unknown => {
    if (args.length < def.min || args.length > def.max) throw new ExpressionError(`${name}() takes ${arityText(def)}`);
    if (def.nullAware !== true) for (const a of args) if (isNull(a)) return null;
    return def.fn(...args);
  };
}

function arityText(def: ExprFunction): string {
  if (def.max === Infinity) return `at least ${def.min} argument${def.min === 1 ? '' : 's'}`;
  return def.min === def.max ? `${def.min} argument${def.min === 1 ? '' : 's'}` : `${def.min} to ${def.max} arguments`;
}

/** Literal names: `true`, `false`, `null` (a field with such a name is still reachable as `'true'`). */
const CONSTANTS: Record<string, unknown> = { true: true, false: false, null: null };

/** Reads a name as an own property only, so `constructor`, `__proto__` and friends are just missing fields (null). */
function ownProperty(name: string, _get: unknown, obj: unknown): unknown {
  if (typeof obj !== 'object' || obj === null) return null;
  if (!Object.hasOwn(obj, name)) return null;
  const v = (obj as Record<string, unknown>)[name];
  return v === undefined ? null : v;
}

const FILTREX_OPTIONS = {
  extraFunctions: FILTREX_FUNCTIONS,
  constants: CONSTANTS,
  customProp: ownProperty,
  operators: OPERATORS as unknown as FiltrexOptions['operators'],
} satisfies FiltrexOptions;

/** What a scan of an expression learned: the fields it reads (and where) and the problems it found. */
interface ExpressionScan {
  /** Fields read outside any null-aware function: if one is null or missing, the result is null. */
  strict: string[];
  /** Every field read. */
  all: string[];
  problems: { rule: string; message: string }[];
}

/**
 * Filtrex's lexer rules, verbatim and in order (jison takes the first rule that matches, not the longest), so the
 * scan sees the same tokens filtrex parses. Keyword rules swallow the character after the keyword, as filtrex's do.
 */
const LEX_RULES: [RegExp, string][] = [
  [/\*/y, 'op'], [/\//y, 'op'], [/-/y, 'op'], [/\+/y, 'op'], [/\^/y, 'op'], [/\(/y, '('], [/\)/y, ')'], [/,/y, ','],
  [/==/y, 'op'], [/!=/y, 'op'], [/~=/y, '~='], [/>=/y, 'op'], [/<=/y, 'op'], [/</y, 'op'], [/>/y, 'op'],
  [/not\s+in[^\w]/y, 'kw'], [/and[^\w]/y, 'kw'], [/or[^\w]/y, 'kw'], [/not[^\w]/y, 'kw'], [/in[^\w]/y, 'kw'],
  [/of[^\w]/y, 'of'], [/if[^\w]/y, 'kw'], [/then[^\w]/y, 'kw'], [/else[^\w]/y, 'kw'], [/mod[^\w]/y, 'kw'],
  [/\s+/y, 'space'], [/[0-9]+(?:\.[0-9]+)?(?![0-9.])/y, 'number'], [/[a-zA-Z$_][.a-zA-Z0-9$_]*/y, 'symbol'],
  [/'(?:\\'|\\\\|[^'\\])*'/y, 'quoted'], [/"(?:\\"|\\\\|[^"\\])*"/y, 'string'],
  [/%/y, 'deprecated'], [/\?/y, 'deprecated'], [/:/y, 'deprecated'],
];

interface Token { kind: string; text: string }

function tokenize(expr: string): Token[] | undefined {
  const tokens: Token[] = [];
  let pos = 0;
  outer: while (pos < expr.length) {
    for (const [re, kind] of LEX_RULES) {
      re.lastIndex = pos;
      const m = re.exec(expr);
      if (m !== null && m[0].length > 0) {
        pos += m[0].length;
        if (kind !== 'space') tokens.push({ kind, text: m[0] });
        continue outer;
      }
    }
    return undefined;
  }
  return tokens;
}

/** The name a quoted symbol stands for (filtrex allows only `\'` and `\\` escapes). */
function unquote(text: string): string {
  return text.slice(1, -1).replace(/\\(['\\])/g, '$1');
}

/** Finds field references, calls, arities and refused syntax in an expression filtrex has already parsed. */
function scanExpression(expr: string): ExpressionScan {
  const scan: ExpressionScan = { strict: [], all: [], problems: [] };
  const tokens = tokenize(expr);
  if (tokens === undefined) return scan; // unreachable once filtrex has parsed it
  // One frame per open parenthesis: the function it calls ('' for grouping) and its argument count so far.
  const frames: { fn: string; args: number }[] = [];
  let nullAwareDepth = 0;
  const markArgument = (): void => {
    const top = frames[frames.length - 1];
    if (top !== undefined && top.args === 0) top.args = 1;
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    const next = tokens[i + 1];
    if (t.kind !== ')' && t.kind !== ',') markArgument();
    if (t.kind === '~=') {
      scan.problems.push({ rule: 'unsupported', message: '"~=" (regular expression match) is not supported' });
    } else if (t.kind === 'deprecated') {
      const message = '"%" and "? :" are not supported; use "mod" and "if … then … else"';
      if (!scan.problems.some((p) => p.message === message)) scan.problems.push({ rule: 'unsupported', message });
    } else if (t.kind === 'symbol' || t.kind === 'quoted') {
      const name = t.kind === 'quoted' ? unquote(t.text) : t.text;
      if (next?.kind === '(') {
        const def = Object.hasOwn(EXPRESSION_FUNCTIONS, name) ? EXPRESSION_FUNCTIONS[name] : undefined;
        if (def === undefined) scan.problems.push({ rule: 'unknown_function', message: `unknown function ${name}()` });
        frames.push({ fn: name, args: 0 });
        if (def?.nullAware === true) nullAwareDepth++;
        i++; // the '(' belongs to the call
      } else if (next?.kind === 'of') {
        // `x of y`: x names a property of y's value, not a row field.
      } else if (t.kind === 'symbol' && Object.hasOwn(CONSTANTS, name)) {
        // a literal
      } else {
        if (!scan.all.includes(name)) scan.all.push(name);
        if (nullAwareDepth === 0 && !scan.strict.includes(name)) scan.strict.push(name);
      }
    } else if (t.kind === '(') {
      frames.push({ fn: '', args: 0 });
    } else if (t.kind === ',') {
      const top = frames[frames.length - 1];
      if (top !== undefined) top.args++;
    } else if (t.kind === ')') {
      const frame = frames.pop();
      if (frame !== undefined && frame.fn !== '') {
        const def = Object.hasOwn(EXPRESSION_FUNCTIONS, frame.fn) ? EXPRESSION_FUNCTIONS[frame.fn] : undefined;
        if (def?.nullAware === true) nullAwareDepth--;
        if (def !== undefined && (frame.args < def.min || frame.args > def.max)) {
          scan.problems.push({ rule: 'arity', message: `${frame.fn}() takes ${arityText(def)}, got ${frame.args}` });
        }
      }
    }
  }
  return scan;
}

/** Jison's multi-line parse message (source excerpt, caret, expectations) as one line. */
function syntaxMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const lines = text.split('\n').filter((l) => l.trim() !== '' && !/^-*\^$/.test(l));
  return `syntax error: ${lines.join(' — ')}`;
}

function compileDerive(raw: unknown, at: string, available: string[] | undefined, issues: FieldIssue[]): CompiledStep | undefined {
  const body = bodyObject(raw, at, issues);
  if (body === undefined) return undefined;
  const before = issues.length;
  checkKeys(body, at, ['field', 'expr'], [], issues);
  const field = fieldName(body.field, `${at}/field`, issues);
  const exprAt = `${at}/expr`;
  let expr: string | undefined;
  if (body.expr !== undefined) {
    if (typeof body.expr !== 'string') issues.push({ field: exprAt, rule: 'type', message: 'must be a string (an expression)' });
    else if (body.expr.trim() === '') issues.push({ field: exprAt, rule: 'empty', message: 'must not be empty' });
    else if (body.expr.length > MAX_EXPR_LENGTH) issues.push({ field: exprAt, rule: 'max_length', message: `must be at most ${MAX_EXPR_LENGTH} characters` });
    else expr = body.expr;
  }
  if (expr === undefined) return undefined;
  let evaluate: (row: Row) => unknown;
  try {
    evaluate = compileExpression(expr, FILTREX_OPTIONS);
  } catch (err) {
    issues.push({ field: exprAt, rule: 'syntax', message: syntaxMessage(err) });
    return undefined;
  }
  const scan = scanExpression(expr);
  for (const p of scan.problems) issues.push({ field: exprAt, ...p });
  if (available !== undefined) {
    for (const name of scan.all) {
      if (!available.includes(name)) issues.push({ field: exprAt, rule: 'unknown_field', message: `unknown field "${name}"` });
    }
  }
  if (issues.length > before || field === undefined) return undefined;
  const strict = scan.strict;
  const pointer = rowPointer(field);
  const refuse = (message: string): RowReason => ({ field: pointer, rule: 'derive', message: `cannot derive "${field}": ${message}` });
  return {
    step: { derive: { field, expr } },
    op(row) {
      // A null or missing field read outside coalesce() makes the result null: decided before evaluating at all.
      for (let i = 0; i < strict.length; i++) {
        const name = strict[i] as string;
        if (!Object.hasOwn(row, name) || row[name] === null || row[name] === undefined) {
          row[field] = null;
          return undefined;
        }
      }
      const result = evaluate(row);
      if (result instanceof Error) {
        // A null reaching and/or/not/if/in (only possible from inside coalesce or nested data) propagates too.
        const received = (result as { recievedType?: unknown }).recievedType;
        if (received === 'null' || received === 'undefined') {
          row[field] = null;
          return undefined;
        }
        return refuse(result.message);
      }
      if (result === null || result === undefined) row[field] = null;
      else if (typeof result === 'number') {
        if (!Number.isFinite(result)) return refuse('the result is not a finite number');
        row[field] = result;
      } else if (typeof result === 'string' || typeof result === 'boolean') row[field] = result;
      else return refuse(`the result is ${describeValue(result)}, not a number, text or boolean`);
      return undefined;
    },
    fields(names) {
      return names.includes(field) ? names : [...names, field];
    },
  };
}
