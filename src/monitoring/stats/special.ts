// Special functions for Tarmac's drift statistics. They are written by hand on purpose (no npm dependency): this is
// Tarmac's own statistical core and its results are pinned against scipy by test/fixtures/drift/scipy-drift.json.

const LOG_SQRT_2PI = 0.9189385332046728; // log(sqrt(2*pi))
const MAXLOG = 709.782712893384; // log(Number.MAX_VALUE), as cephes
const EPS = Number.EPSILON;

/** Banker's rounding (round half to even), as numpy's `np.round`, which scipy uses on sample sizes. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round sends .5 up; numpy sends it to the even neighbour.
  if (Math.abs(x % 1) === 0.5) return 2 * Math.round(x / 2);
  return r;
}

/** Natural log of the gamma function for x > 0 (Stirling's series after shifting x to 15 or more; ~1e-15 relative). */
export function logGamma(x: number): number {
  if (Number.isNaN(x) || x <= 0) return Number.NaN;
  if (x === 1 || x === 2) return 0;
  let shift = 0;
  // The product of the shifted factors keeps full precision and avoids a second series for small x.
  let prod = 1;
  while (x < 15) {
    prod *= x;
    x += 1;
    if (prod > 1e280) {
      shift += Math.log(prod);
      prod = 1;
    }
  }
  shift += Math.log(prod);
  const r = 1 / x;
  const r2 = r * r;
  // Bernoulli terms B_2k / (2k (2k-1) x^(2k-1)), k = 1..7; at x >= 15 the next term is below 1e-19.
  const series =
    r *
    (1 / 12 +
      r2 *
        (-1 / 360 +
          r2 * (1 / 1260 + r2 * (-1 / 1680 + r2 * (1 / 1188 + r2 * (-691 / 360360 + r2 * (1 / 156)))))));
  return (x - 0.5) * Math.log(x) - x + LOG_SQRT_2PI + series - shift;
}

const ERFC_P = [
  2.461969814735305e-10, 0.5641895648310689, 7.463210564422699, 48.63719709856814,
  196.5208329560771, 526.4451949954773, 934.5285271719576, 1027.5518868951572,
  557.5353353693994,
];
const ERFC_Q = [
  13.228195115474499, 86.70721408859897, 354.9377788878199, 975.7085017432055,
  1823.9091668790973, 2246.3376081871097, 1656.6630919416134, 557.5353408177277,
];
const ERFC_R = [
  0.5641895835477551, 1.275366707599781, 5.019050422511805, 6.160210979930536,
  7.4097426995044895, 2.9788666537210022,
];
const ERFC_S = [
  2.2605286322011726, 9.396035249380015, 12.048953980809666, 17.08144507475659,
  9.608968090632859, 3.369076451000815,
];
const ERF_T = [
  9.604973739870516, 90.02601972038427, 2232.005345946843, 7003.325141128051,
  55592.30130103949,
];
const ERF_U = [
  33.56171416475031, 521.3579497801527, 4594.323829709801, 22629.000061389095,
  49267.39426086359,
];

function polevl(x: number, coef: readonly number[]): number {
  let ans = coef[0] ?? 0;
  for (let i = 1; i < coef.length; i++) ans = ans * x + (coef[i] ?? 0);
  return ans;
}

// As polevl with an implicit leading coefficient of 1.
function p1evl(x: number, coef: readonly number[]): number {
  let ans = x + (coef[0] ?? 0);
  for (let i = 1; i < coef.length; i++) ans = ans * x + (coef[i] ?? 0);
  return ans;
}

/** The error function (cephes' rational approximations, as scipy.special.erf). */
export function erf(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (x < 0) return -erf(-x);
  if (x > 1) return 1 - erfc(x);
  const z = x * x;
  return (x * polevl(z, ERF_T)) / p1evl(z, ERF_U);
}

/** The complementary error function with full relative precision in the upper tail (cephes, as scipy.special.erfc). */
export function erfc(a: number): number {
  if (Number.isNaN(a)) return Number.NaN;
  const x = Math.abs(a);
  if (x < 1) return 1 - erf(a);
  const z = -a * a;
  if (z < -MAXLOG) return a < 0 ? 2 : 0;
  const ez = Math.exp(z);
  let p: number;
  let q: number;
  if (x < 8) {
    p = polevl(x, ERFC_P);
    q = p1evl(x, ERFC_Q);
  } else {
    p = polevl(x, ERFC_R);
    q = p1evl(x, ERFC_S);
  }
  let y = (ez * p) / q;
  if (a < 0) y = 2 - y;
  if (y === 0) return a < 0 ? 2 : 0;
  return y;
}

/** The standard normal survival function P(Z > z), computed through erfc so small tails keep their precision. */
export function normalSf(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  const x = -z * Math.SQRT1_2;
  if (Math.abs(x) < 1) return 0.5 + 0.5 * erf(x);
  const y = 0.5 * erfc(Math.abs(x));
  return x > 0 ? 1 - y : y;
}

const GAMMA_MAX_ITER = 10_000_000;

// x^a e^-x / Gamma(a), in logs so large a and x do not overflow.
function gammaPrefactor(a: number, x: number): number {
  return Math.exp(a * Math.log(x) - x - logGamma(a));
}

// Series for the regularised lower incomplete gamma P(a, x); converges fast for x < a + 1.
function gammaPSeries(a: number, x: number): number {
  let ap = a;
  let del = 1 / a;
  let sum = del;
  for (let i = 0; i < GAMMA_MAX_ITER; i++) {
    ap += 1;
    del *= x / ap;
    sum += del;
    if (Math.abs(del) < Math.abs(sum) * EPS) break;
  }
  return sum * gammaPrefactor(a, x);
}

// Continued fraction (modified Lentz) for the regularised upper incomplete gamma Q(a, x); good for x >= a + 1.
function gammaQContinuedFraction(a: number, x: number): number {
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < GAMMA_MAX_ITER; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) break;
  }
  return gammaPrefactor(a, x) * h;
}

/** The regularised upper incomplete gamma function Q(a, x) = Γ(a, x) / Γ(a) (scipy.special.gammaincc); NaN outside a > 0, x >= 0. */
export function gammaincc(a: number, x: number): number {
  if (Number.isNaN(a) || Number.isNaN(x) || a <= 0 || x < 0) return Number.NaN;
  if (x === 0) return 1;
  if (x === Infinity) return 0;
  if (x < a + 1) return 1 - gammaPSeries(a, x);
  return gammaQContinuedFraction(a, x);
}

/** The chi-square survival function with `dof` degrees of freedom (scipy.stats.chi2.sf = gammaincc(dof/2, x/2)). */
export function chi2Sf(x: number, dof: number): number {
  if (Number.isNaN(x) || Number.isNaN(dof) || dof <= 0) return Number.NaN;
  if (x <= 0) return 1;
  return gammaincc(dof / 2, x / 2);
}
