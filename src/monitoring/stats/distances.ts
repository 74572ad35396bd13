// Distances between a reference and a current distribution: Wasserstein-1 (scipy.stats.wasserstein_distance),
// Jensen–Shannon (scipy.spatial.distance.jensenshannon) and the Population Stability Index. Hand-written on purpose:
// no npm dependency in Tarmac's statistical core.
import { TarmacError } from '../../shared/errors.ts';
import { sortedCopy } from './ks.ts';
import { sortFloat64 } from './sort.ts';

function fail(field: string, rule: string, message: string): TarmacError {
  return new TarmacError('VALIDATION_FAILED', message, { issues: [{ field, rule, message }] });
}

// Sorts values together with their weights (by an index permutation) and returns the running weight totals:
// cum[k] is the total weight of the k smallest values, as scipy's concatenate(([0], cumsum(w[argsort(v)]))).
function sortWithCumWeights(values: ArrayLike<number>, weights: ArrayLike<number>, field: string) {
  const n = values.length;
  if (weights.length !== n) throw fail(field, 'length', `${field.slice(1)} must have one weight per value`);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const w = weights[i]!;
    if (w < 0) throw fail(field, 'non-negative', 'all weights must be non-negative');
    total += w;
  }
  if (!(total > 0 && total < Infinity)) throw fail(field, 'positive-sum', 'the weights must have a positive, finite sum');
  const sorted = Float64Array.from(values as ArrayLike<number>);
  for (let i = 0; i < n; i++) {
    if (sorted[i] !== sorted[i]) return { sorted: Float64Array.of(Number.NaN), cum: Float64Array.of(0, 1) };
  }
  const w = Float64Array.from(weights as ArrayLike<number>);
  sortFloat64(sorted, w);
  const cum = new Float64Array(n + 1);
  let acc = 0;
  for (let k = 0; k < n; k++) {
    acc += w[k]!;
    cum[k + 1] = acc;
  }
  return { sorted, cum };
}

function hasNaN(a: Float64Array): boolean {
  // Sorted arrays keep NaN at the end.
  return a.length > 0 && a[a.length - 1] !== a[a.length - 1];
}

/**
 * The Wasserstein-1 distance between two sorted samples with optional running weight totals (cum[k] = weight of the
 * k smallest values; null means equal weights): ∫ |U(x) - V(x)| dx over the pooled values, O(n + m).
 */
export function wassersteinSorted(
  u: Float64Array, v: Float64Array, uCum: Float64Array | null = null, vCum: Float64Array | null = null,
): number {
  const n = u.length;
  const m = v.length;
  if (hasNaN(u) || hasNaN(v)) return Number.NaN;
  const uTotal = uCum === null ? n : uCum[n]!;
  const vTotal = vCum === null ? m : vCum[m]!;
  let i = 0;
  let j = 0;
  let x = Math.min(u[0]!, v[0]!);
  // Neumaier-compensated sum: a million products must not drift from numpy's pairwise dot beyond 1e-9 relative.
  let sum = 0;
  let comp = 0;
  for (;;) {
    while (i < n && u[i]! <= x) i++;
    while (j < m && v[j]! <= x) j++;
    if (i === n && j === m) break;
    const next = i === n ? v[j]! : j === m ? u[i]! : Math.min(u[i]!, v[j]!);
    const uc = uCum === null ? i / uTotal : uCum[i]! / uTotal;
    const vc = vCum === null ? j / vTotal : vCum[j]! / vTotal;
    const term = Math.abs(uc - vc) * (next - x);
    const t = sum + term;
    comp += Math.abs(sum) >= Math.abs(term) ? sum - t + term : term - t + sum;
    sum = t;
    x = next;
  }
  return sum + comp;
}

/**
 * scipy.stats.wasserstein_distance(u, v, uWeights, vWeights) for 1-D samples: the area between the two (weighted)
 * empirical CDFs; throws VALIDATION_FAILED on an empty sample or invalid weights, returns NaN when a value is NaN.
 */
export function wassersteinDistance(
  u: ArrayLike<number>, v: ArrayLike<number>, uWeights?: ArrayLike<number>, vWeights?: ArrayLike<number>,
): number {
  if (u.length === 0) throw fail('/u', 'non-empty', "distribution u can't be empty");
  if (v.length === 0) throw fail('/v', 'non-empty', "distribution v can't be empty");
  let su: Float64Array;
  let sv: Float64Array;
  let uCum: Float64Array | null = null;
  let vCum: Float64Array | null = null;
  if (uWeights === undefined) {
    const s = sortedCopy(u);
    if (s === null) return Number.NaN;
    su = s;
  } else {
    ({ sorted: su, cum: uCum } = sortWithCumWeights(u, uWeights, '/uWeights'));
  }
  if (vWeights === undefined) {
    const s = sortedCopy(v);
    if (s === null) return Number.NaN;
    sv = s;
  } else {
    ({ sorted: sv, cum: vCum } = sortWithCumWeights(v, vWeights, '/vWeights'));
  }
  return wassersteinSorted(su, sv, uCum, vCum);
}

// Normalises non-negative masses to proportions; throws on a negative, non-finite or all-zero vector.
function proportions(x: ArrayLike<number>, field: string): Float64Array {
  const out = new Float64Array(x.length);
  let total = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (!(v >= 0) || v === Infinity) throw fail(field, 'non-negative', `${field.slice(1)} must hold finite values >= 0`);
    total += v;
  }
  if (!(total > 0)) throw fail(field, 'positive-sum', `${field.slice(1)} must not sum to 0`);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! / total;
  return out;
}

// scipy.special.rel_entr(x, y) for x, y >= 0: x log(x/y), 0 when x = 0, +inf when y = 0 < x.
function relEntr(x: number, y: number): number {
  if (x > 0 && y > 0) return x * Math.log(x / y);
  if (x === 0 && y >= 0) return 0;
  return Infinity;
}

/**
 * scipy.spatial.distance.jensenshannon(p, q, base): p and q are normalised to sum 1 first, as scipy does, then
 * sqrt((KL(p‖m) + KL(q‖m)) / 2) with m = (p + q) / 2, logs in `base` (natural log when omitted); throws
 * VALIDATION_FAILED on unequal lengths, negative values or an all-zero vector.
 */
export function jensenShannonDistance(p: ArrayLike<number>, q: ArrayLike<number>, base?: number): number {
  if (p.length !== q.length) throw fail('/q', 'length', 'p and q must have the same length');
  if (p.length === 0) throw fail('/p', 'non-empty', 'p and q must not be empty');
  if (base !== undefined && !(base > 0 && base !== 1)) throw fail('/base', 'range', 'base must be > 0 and not 1');
  const pp = proportions(p, '/p');
  const qq = proportions(q, '/q');
  let left = 0;
  let right = 0;
  for (let i = 0; i < pp.length; i++) {
    const m = (pp[i]! + qq[i]!) / 2;
    left += relEntr(pp[i]!, m);
    right += relEntr(qq[i]!, m);
  }
  let js = left + right;
  if (base !== undefined) js /= Math.log(base);
  // Rounding can leave a hair below zero for identical inputs; scipy would return NaN there only by accident.
  return Math.sqrt(Math.max(js, 0) / 2);
}

/** The default epsilon of psi: an empty bin is treated as holding 0.01 % of the mass. */
export const PSI_DEFAULT_EPSILON = 1e-4;

/** Options of psi. */
export interface PsiOptions {
  /** The proportion given to an empty bin before renormalising (default 1e-4); must be in (0, 1). */
  epsilon?: number;
}

// Proportions with every empty bin set to epsilon and the vector renormalised to sum 1 — the same as replacing an
// empty bin's count by epsilon · total before normalising.
function psiProportions(counts: ArrayLike<number>, eps: number, field: string): Float64Array {
  const p = proportions(counts, field);
  let total = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === 0) p[i] = eps;
    total += p[i]!;
  }
  for (let i = 0; i < p.length; i++) p[i]! /= total;
  return p;
}

/**
 * Population Stability Index over matching bins: Σ (a_i - e_i) · ln(a_i / e_i) on proportions, where each vector of
 * counts is normalised to proportions, every empty bin is set to `epsilon` (default 1e-4) and the vector is
 * renormalised to sum 1; throws VALIDATION_FAILED on unequal lengths, negative counts or an all-zero vector.
 */
export function psi(expectedCounts: ArrayLike<number>, actualCounts: ArrayLike<number>, options: PsiOptions = {}): number {
  const eps = options.epsilon ?? PSI_DEFAULT_EPSILON;
  if (!(eps > 0 && eps < 1)) throw fail('/epsilon', 'range', 'epsilon must be in (0, 1)');
  if (expectedCounts.length !== actualCounts.length) {
    throw fail('/actualCounts', 'length', 'expected and actual counts must have the same number of bins');
  }
  if (expectedCounts.length === 0) throw fail('/expectedCounts', 'non-empty', 'there must be at least one bin');
  const e = psiProportions(expectedCounts, eps, '/expectedCounts');
  const a = psiProportions(actualCounts, eps, '/actualCounts');
  let sum = 0;
  for (let i = 0; i < e.length; i++) sum += (a[i]! - e[i]!) * Math.log(a[i]! / e[i]!);
  return sum;
}
