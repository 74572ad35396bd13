// Two-sample Kolmogorov–Smirnov test, ported from scipy.stats.ks_2samp (scipy/stats/_stats_py.py and the pythran
// kernel in scipy/stats/_stats_pythran.py). Hand-written on purpose: no npm dependency in Tarmac's statistical core.
import { TarmacError } from '../../shared/errors.ts';
import { kolmogn } from './kolmogorov.ts';
import { sortFloat64 } from './sort.ts';
import { roundHalfEven } from './special.ts';

/** scipy's MAX_AUTO_N: under method 'auto', the exact p-value is attempted when max(n1, n2) <= 10,000. */
export const KS_MAX_AUTO_N = 10_000;

const INT32_MAX = 2 ** 31 - 1;

/** How ks2samp computes its p-value: 'auto' (scipy's default), 'exact' or 'asymp'. */
export type KsMethod = 'auto' | 'exact' | 'asymp';

/** Options of ks2samp. */
export interface Ks2sampOptions {
  /** 'auto' (default) is exact when both samples have at most 10,000 values, else asymp; as scipy. */
  method?: KsMethod;
}

/** The result of ks2samp: D, its two-sided p-value and the method that produced the p-value. */
export interface Ks2sampResult {
  statistic: number;
  pvalue: number;
  method: 'exact' | 'asymp';
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Sorted Float64Array copy of the values, or null when one is NaN (scipy's nan_policy='propagate' then gives NaN). */
export function sortedCopy(values: ArrayLike<number>): Float64Array | null {
  const n = values.length;
  const out = new Float64Array(n);
  if (values instanceof Float64Array) out.set(values);
  else for (let i = 0; i < n; i++) out[i] = values[i]!;
  for (let i = 0; i < n; i++) if (out[i] !== out[i]) return null;
  return sortFloat64(out);
}

/**
 * The two-sided KS statistic of two sorted samples, exactly as scipy: max |F1(x) - F2(x)| over the pooled values, the
 * ECDFs evaluated with searchsorted(side='right') so tied values are stepped over together.
 */
export function ksStatisticSorted(a: Float64Array, b: Float64Array): number {
  const n1 = a.length;
  const n2 = b.length;
  let i = 0;
  let j = 0;
  let maxS = -Infinity;
  let minS = Infinity;
  while (i < n1 || j < n2) {
    const x = j >= n2 || (i < n1 && a[i]! <= b[j]!) ? a[i]! : b[j]!;
    while (i < n1 && a[i]! <= x) i++;
    while (j < n2 && b[j]! <= x) j++;
    // i/n1 - j/n2 with the same two roundings numpy performs (cdf1 - cdf2), so ties in max/min resolve the same way.
    const diff = i / n1 - j / n2;
    if (diff > maxS) maxS = diff;
    if (diff < minS) minS = diff;
  }
  let negMin = -minS;
  if (negMin < 0) negMin = 0;
  if (negMin > 1) negMin = 1;
  return negMin > maxS ? negMin : maxS;
}

/**
 * Pr(D_{n,n} >= h/n) for two samples of equal size n (scipy's `_compute_prob_outside_square`), a Horner-like form of
 * 2 Σ (-1)^(k-1) C(2n, n-kh) / C(2n, n) that avoids subtractive cancellation.
 */
export function computeProbOutsideSquare(n: number, h: number): number {
  let P = 0;
  let k = Math.floor(n / h);
  while (k >= 0) {
    let p1 = 1;
    for (let j = 0; j < h; j++) p1 = ((n - k * h - j) * p1) / (n + k * h + j + 1);
    P = p1 * (1 - P);
    k -= 1;
  }
  return 2 * P;
}

/**
 * The proportion of lattice paths from (0,0) to (m,n) that leave the band |x/m - y/n| < h/lcm(m,n) — the exact
 * two-sided p-value of D_{m,n} (scipy's pythran `_compute_outer_prob_inside_method`, Hodges 1958 with Viehmann's 2021
 * recursion for 1 - p). O(m · band width) time, O(n) memory.
 */
export function computeOuterProbInsideMethod(m0: number, n0: number, g: number, h: number): number {
  let m = m0;
  let n = n0;
  if (m < n) [m, n] = [n, m];
  const mg = m / g;
  const ng = n / g;
  let minj = 0;
  let maxj = Math.min(Math.ceil(h / mg), n + 1);
  let curlen = maxj - minj;
  const lenA = Math.min(2 * maxj + 2, n + 1);
  const A = new Float64Array(lenA).fill(1);
  for (let j = minj; j < maxj && j < lenA; j++) A[j] = 0;
  for (let i = 1; i <= m; i++) {
    const lastminj = minj;
    const lastlen = curlen;
    minj = Math.max(Math.floor((ng * i - h) / mg) + 1, 0);
    minj = Math.min(minj, n);
    maxj = Math.min(Math.ceil((ng * i + h) / mg), n + 1);
    if (maxj <= minj) return 1;
    let val = minj === 0 ? 0 : 1;
    const shift = minj - lastminj;
    const len = maxj - minj;
    for (let jj = 0; jj < len; jj++) {
      const j = jj + minj;
      val = (A[jj + shift]! * i + val * j) / (i + j);
      A[jj] = val;
    }
    curlen = len;
    if (lastlen > curlen) A.fill(1, len, len + (lastlen - curlen));
  }
  return A[maxj - minj - 1]!;
}

/** scipy's `_attempt_exact_2kssamp` for the two-sided alternative: D rounded to the lattice h/lcm and its exact p-value. */
function attemptExact(n1: number, n2: number, g: number, d: number): { success: boolean; d: number; prob: number } {
  const lcm = (n1 / g) * n2;
  const h = roundHalfEven(d * lcm);
  const dl = h / lcm;
  if (h === 0) return { success: true, d: dl, prob: 1 };
  const prob = n1 === n2 ? computeProbOutsideSquare(n1, h) : computeOuterProbInsideMethod(n1, n2, g, h);
  if (!Number.isFinite(prob)) return { success: false, d: dl, prob: Number.NaN };
  if (!(prob >= 0 && prob <= 1)) return { success: false, d: dl, prob };
  return { success: true, d: dl, prob };
}

/** The asymptotic two-sided p-value scipy uses: kstwo.sf(d, round(m·n/(m+n))), the one-sample Kolmogorov distribution. */
export function ksAsympPvalue(n1: number, n2: number, d: number): number {
  const m = Math.max(n1, n2);
  const n = Math.min(n1, n2);
  const en = (m * n) / (m + n);
  return kolmogn(roundHalfEven(en), d, false);
}

/** The KS test on samples that are already sorted ascending and NaN-free (the O(n) part of ks2samp). */
export function ks2sampSorted(a: Float64Array, b: Float64Array, options: Ks2sampOptions = {}): Ks2sampResult {
  const n1 = a.length;
  const n2 = b.length;
  let d = ksStatisticSorted(a, b);
  const g = gcd(n1, n2);
  let mode: KsMethod = options.method ?? 'auto';
  if (mode === 'auto') mode = Math.max(n1, n2) <= KS_MAX_AUTO_N ? 'exact' : 'asymp';
  // scipy switches an explicit 'exact' to 'asymp' when lcm(n1, n2) would not fit an int32.
  else if (mode === 'exact' && n1 / g >= INT32_MAX / (n2 / g)) mode = 'asymp';
  let prob = Number.NaN;
  if (mode === 'exact') {
    const r = attemptExact(n1, n2, g, d);
    d = r.d;
    prob = r.prob;
    if (!r.success) mode = 'asymp';
  }
  if (mode === 'asymp') prob = ksAsympPvalue(n1, n2, d);
  if (prob < 0) prob = 0;
  if (prob > 1) prob = 1;
  return { statistic: d, pvalue: prob, method: mode };
}

/**
 * Two-sample Kolmogorov–Smirnov test, as scipy.stats.ks_2samp(a, b) with alternative='two-sided' and method='auto' by
 * default; throws VALIDATION_FAILED when a sample is empty and returns NaN statistic and p-value when a value is NaN.
 */
export function ks2samp(a: ArrayLike<number>, b: ArrayLike<number>, options: Ks2sampOptions = {}): Ks2sampResult {
  if (a.length === 0 || b.length === 0) {
    throw new TarmacError('VALIDATION_FAILED', 'ks2samp needs two non-empty samples', {
      issues: [{ field: a.length === 0 ? '/a' : '/b', rule: 'non-empty', message: 'the sample is empty' }],
    });
  }
  const method = options.method ?? 'auto';
  if (method !== 'auto' && method !== 'exact' && method !== 'asymp') {
    throw new TarmacError('VALIDATION_FAILED', `unknown ks2samp method ${String(method)}`, {
      issues: [{ field: '/method', rule: 'enum', message: "method must be 'auto', 'exact' or 'asymp'" }],
    });
  }
  const sa = sortedCopy(a);
  const sb = sa === null ? null : sortedCopy(b);
  if (sa === null || sb === null) {
    const auto = Math.max(a.length, b.length) <= KS_MAX_AUTO_N ? 'exact' : 'asymp';
    return { statistic: Number.NaN, pvalue: Number.NaN, method: method === 'auto' ? auto : method };
  }
  return ks2sampSorted(sa, sb, { method });
}
