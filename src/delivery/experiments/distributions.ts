// The Student t and normal quantiles that the experiment readout needs, written by hand on purpose (no npm dependency:
// Tarmac's own statistical core). The t distribution goes through the regularised incomplete beta function, evaluated
// by its continued fraction (Numerical Recipes' betacf, modified Lentz) with the log-beta prefactor computed so that
// large degrees of freedom (Welch df in the millions) keep full precision. Pinned against scipy by
// test/fixtures/experiments/expected.json: CDF and quantile agree to ~1e-14 relative on the committed cases.
import { erf, logGamma, normalSf } from '../../monitoring/stats/index.ts';

const EPS = Number.EPSILON;
const LOG_SQRT_2PI = 0.9189385332046728;

// Stirling's correction lnΓ(x) − ((x − ½)ln x − x + ln√(2π)) for x ≥ 10, to ~1e-17.
function stirlingCorrection(x: number): number {
  const r = 1 / x;
  const r2 = r * r;
  return r * (1 / 12 + r2 * (-1 / 360 + r2 * (1 / 1260 + r2 * (-1 / 1680 + r2 * (1 / 1188 + r2 * (-691 / 360360 + r2 * (1 / 156)))))));
}

/** ln B(a, b) for a, b > 0; when the larger argument is big the Stirling terms are combined analytically, since the naive lnΓ(a) + lnΓ(b) − lnΓ(a + b) loses ~1e-9 of precision to cancellation at a ~ 1e6. */
export function logBeta(a: number, b: number): number {
  if (!(a > 0) || !(b > 0)) return Number.NaN;
  const big = Math.max(a, b);
  const small = Math.min(a, b);
  if (big < 15) return logGamma(a) + logGamma(b) - logGamma(a + b);
  // lnΓ(big) − lnΓ(big + small) with the (x − ½)ln x − x parts merged: −(big − ½)·log1p(small/big) − small·ln(big + small) + small.
  const ratio = -(big - 0.5) * Math.log1p(small / big) - small * Math.log(big + small) + small
    + stirlingCorrection(big) - stirlingCorrection(big + small);
  return logGamma(small) + ratio;
}

// Continued fraction for I_x(a, b) / prefactor (Numerical Recipes betacf, modified Lentz); converges for x < (a+1)/(a+b+2).
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m < 1_000_000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) break;
  }
  return h;
}

/**
 * The regularised incomplete beta function I_x(a, b) (scipy.special.betainc), given both x and y = 1 − x so callers
 * that know 1 − x exactly (the t distribution does) do not lose it to rounding; NaN outside a, b > 0, 0 ≤ x ≤ 1.
 */
export function incompleteBeta(a: number, b: number, x: number, y: number = 1 - x): number {
  if (!(a > 0) || !(b > 0) || !(x >= 0) || !(x <= 1)) return Number.NaN;
  if (x === 0) return 0;
  if (y === 0) return 1;
  const logFront = a * Math.log(x) + b * Math.log(y) - logBeta(a, b);
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(logFront) * betaContinuedFraction(a, b, x)) / a;
  return 1 - (Math.exp(logFront) * betaContinuedFraction(b, a, y)) / b;
}

/** The Student t survival function P(T > t) with `df` degrees of freedom (scipy.stats.t.sf); the normal one when df is infinite. */
export function studentTSf(t: number, df: number): number {
  if (Number.isNaN(t) || !(df > 0)) return Number.NaN;
  if (df === Infinity) return normalSf(t);
  if (t === Infinity) return 0;
  if (t === -Infinity) return 1;
  const t2 = t * t;
  // x = df/(df + t²) and 1 − x = t²/(df + t²), both formed without subtraction.
  const tail = 0.5 * incompleteBeta(df / 2, 0.5, df / (df + t2), t2 / (df + t2));
  return t >= 0 ? tail : 1 - tail;
}

/** The Student t CDF P(T ≤ t) (scipy.stats.t.cdf). */
export function studentTCdf(t: number, df: number): number {
  return studentTSf(-t, df);
}

/** The Student t density (scipy.stats.t.pdf). */
export function studentTPdf(t: number, df: number): number {
  if (df === Infinity) return Math.exp(-0.5 * t * t - LOG_SQRT_2PI);
  return Math.exp(-((df + 1) / 2) * Math.log1p((t * t) / df) - 0.5 * Math.log(df) - logBeta(df / 2, 0.5));
}

// Acklam's rational approximation (~1e-9 relative) as a starting point for Halley refinement.
const A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
const B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
const C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
const D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];

function acklam(p: number): number {
  const [a0, a1, a2, a3, a4, a5] = A as [number, number, number, number, number, number];
  const [b0, b1, b2, b3, b4] = B as [number, number, number, number, number];
  const [c0, c1, c2, c3, c4, c5] = C as [number, number, number, number, number, number];
  const [d0, d1, d2, d3] = D as [number, number, number, number];
  if (p < 0.02425) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  }
  if (p > 1 - 0.02425) return -acklam(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) / (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1);
}

/** The standard normal quantile Φ⁻¹(p) (scipy.stats.norm.ppf): Acklam's approximation refined by Halley steps on the erfc-based CDF, to ~1e-15 relative. */
export function normalQuantile(p: number): number {
  if (Number.isNaN(p) || p < 0 || p > 1) return Number.NaN;
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  // Work in the lower tail so the target probability keeps its precision.
  if (p > 0.5) return -normalQuantile(1 - p);
  let x = acklam(p);
  // Near the centre p − ½ is exact while Φ(x) − p would cancel, so the residual is taken against erf there.
  const central = p > 0.25;
  for (let i = 0; i < 3; i++) {
    const e = central ? 0.5 * erf(x * Math.SQRT1_2) - (p - 0.5) : normalSf(-x) - p;
    const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
    const next = x - u / (1 + (x * u) / 2);
    if (next === x) break;
    x = next;
  }
  return x;
}

/**
 * The Student t quantile (scipy.stats.t.ppf): Newton steps on the upper-tail survival function, kept inside a
 * bisection bracket so heavy tails at tiny df cannot throw it out; converges to the CDF's own precision (~1e-14).
 */
export function studentTQuantile(p: number, df: number): number {
  if (Number.isNaN(p) || p < 0 || p > 1 || !(df > 0)) return Number.NaN;
  if (df === Infinity) return normalQuantile(p);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  if (p === 0.5) return 0;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  const q = 1 - p;
  let lo = 0;
  let hi = Math.max(1, normalQuantile(p));
  while (studentTSf(hi, df) > q) {
    lo = hi;
    hi *= 2;
    if (hi > 1e300) return Infinity;
  }
  let t = Math.min(Math.max(normalQuantile(p), lo), hi);
  for (let i = 0; i < 400; i++) {
    const f = studentTSf(t, df) - q;
    if (f === 0) return t;
    if (f > 0) lo = t;
    else hi = t;
    let next = t + f / studentTPdf(t, df);
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    if (Math.abs(next - t) <= 4 * EPS * Math.abs(next) || hi - lo <= 4 * EPS * hi) return next;
    t = next;
  }
  return t;
}
