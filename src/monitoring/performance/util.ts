// Shared helpers of the performance accumulators: validation errors, exact sums in JSON, and an exact product
// (Dekker's split) so sums of squares stay exact and merges stay order-independent.
import { TarmacError } from '../../shared/errors.ts';
import { ExactSum } from '../profile/exact-sum.ts';

/** A VALIDATION_FAILED error naming one field and the rule it broke. */
export function fail(field: string, rule: string, message: string): TarmacError {
  return new TarmacError('VALIDATION_FAILED', message, { issues: [{ field, rule, message }] });
}

/** Throws VALIDATION_FAILED unless `json` is an object with `v: 1` and the expected `kind`. */
export function checkEnvelope(json: unknown, kind: string): Record<string, unknown> {
  if (typeof json !== 'object' || json === null) throw fail('/', 'type', `${kind}: the state must be an object`);
  const o = json as Record<string, unknown>;
  if (o.v !== 1) throw fail('/v', 'version', `${kind}: unsupported state version ${String(o.v)}`);
  if (o.kind !== kind) throw fail('/kind', 'enum', `expected state of kind ${kind}, got ${String(o.kind)}`);
  return o;
}

/** Reads a finite number field of a parsed state or throws VALIDATION_FAILED. */
export function num(o: Record<string, unknown>, key: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw fail(`/${key}`, 'finite', `${key} must be a finite number`);
  return v;
}

/** The JSON form of an ExactSum: its partials and (as a string, since JSON has no infinities) its overflow. */
export type ExactSumJSON = { p: number[]; o?: string };

/** Serialises an ExactSum without losing exactness. */
export function sumToJSON(s: ExactSum): ExactSumJSON {
  return s.overflow === 0 ? { p: s.partials.slice() } : { p: [], o: String(s.overflow) };
}

/** Restores an ExactSum from sumToJSON's output; throws VALIDATION_FAILED on a malformed value. */
export function sumFromJSON(json: unknown, field: string): ExactSum {
  const o = json as ExactSumJSON | null;
  if (typeof o !== 'object' || o === null || !Array.isArray(o.p) || !o.p.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw fail(field, 'exact-sum', `${field} must be an exact sum { p: number[] }`);
  }
  const s = new ExactSum();
  for (const x of o.p) s.add(x);
  if (o.o !== undefined) {
    s.overflow = Number(o.o);
    s.partials = [];
  }
  return s;
}

const SPLITTER = 134217729; // 2^27 + 1

function split(a: number): [number, number] {
  const c = SPLITTER * a;
  const hi = c - (c - a);
  return [hi, a - hi];
}

/** Adds a·b to `sum` exactly (Dekker's two-product), falling back to the rounded product near overflow. */
export function addProduct(sum: ExactSum, a: number, b: number): void {
  const p = a * b;
  if (!Number.isFinite(p) || Math.abs(a) > 1e150 || Math.abs(b) > 1e150) {
    sum.add(p);
    return;
  }
  const [ah, al] = split(a);
  const [bh, bl] = split(b);
  const err = al * bl - (((p - ah * bh) - al * bh) - ah * bl);
  sum.add(p);
  if (err !== 0) sum.add(err);
}

/** Throws VALIDATION_FAILED unless x is a finite number. */
export function requireFinite(x: unknown, field: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) throw fail(field, 'finite', `${field.slice(1)} must be a finite number`);
  return x;
}

/** Throws VALIDATION_FAILED unless x is a probability in [0, 1]. */
export function requireProbability(x: unknown, field: string): number {
  if (typeof x !== 'number' || !(x >= 0 && x <= 1)) throw fail(field, 'probability', `${field.slice(1)} must be a number in [0, 1]`);
  return x;
}
