// The A/B experiment readout: per-arm summaries and, per treatment against control, the fixed-horizon test (pooled
// two-proportion z-test or Welch's t-test) with its confidence interval, the relative lift with a delta-method interval
// (GrowthBook's frequentist engine), an always-valid sequential p-value and confidence sequence (GrowthBook's
// SequentialTwoSidedTTest, after Waudby-Smith et al.), the sample-ratio-mismatch chi-square and Holm's correction.
// Pure and hand-written (no npm dependency); pinned against scipy / statsmodels / a port of gbstats by
// test/fixtures/experiments/expected.json to 1e-9 relative. Formulas and sources: docs/experiments.md.
import { invalid } from '../../shared/errors.ts';
import { chi2Sf, proportionsZTest } from '../../monitoring/stats/index.ts';
import { normalQuantile, studentTQuantile, studentTSf } from './distributions.ts';

/** How the primary metric is measured: a 0/1 conversion or a continuous value. */
export type MetricType = 'binary' | 'continuous';

/** GrowthBook's default sequential tuning parameter N*: the confidence sequence is tightest near N* total units. */
export const SEQUENTIAL_TUNING_DEFAULT = 5000;

/** p-values of the sample-ratio-mismatch test below this flag a mismatch (GrowthBook and Optimizely use 0.001 too). */
export const SRM_THRESHOLD = 0.001;

/** The sufficient statistics of one arm: unit count, mean (rate for binary metrics) and sample variance (ddof = 1). */
export interface ArmStats {
  variant: string;
  n: number;
  mean: number;
  /** Sample variance with n − 1 in the denominator (numpy var(ddof=1)); 0 when n < 2. */
  variance: number;
}

/** Summarises one arm's per-unit values with a compensated two-pass mean and variance, so millions of units or a large mean lose no precision. */
export function armFromValues(variant: string, values: ArrayLike<number>): ArmStats {
  const n = values.length;
  const mean = n === 0 ? Number.NaN : neumaierSum(values, 0, false) / n;
  // The second pass corrects the mean by the residual sum, as a compensated two-pass variance does.
  const resid = neumaierSum(values, mean, false);
  const ss = neumaierSum(values, mean, true);
  const variance = n > 1 ? (ss - (resid * resid) / n) / (n - 1) : 0;
  return { variant, n, mean: n === 0 ? mean : mean + resid / n, variance };
}

// Neumaier-compensated Σ(x − shift) or Σ(x − shift)²: the error stays O(ε) instead of growing with n.
function neumaierSum(values: ArrayLike<number>, shift: number, square: boolean): number {
  let sum = 0;
  let comp = 0;
  for (let i = 0; i < values.length; i++) {
    const d = values[i]! - shift;
    const x = square ? d * d : d;
    const t = sum + x;
    comp += Math.abs(sum) >= Math.abs(x) ? (sum - t) + x : (x - t) + sum;
    sum = t;
  }
  return sum + comp;
}

/** Builds an arm from running sums (n, Σx, Σx²), as an online aggregator keeps them; less precise than armFromValues when the mean is large against the spread. */
export function armFromSums(variant: string, n: number, sum: number, sumSquares: number): ArmStats {
  const mean = n === 0 ? Number.NaN : sum / n;
  return { variant, n, mean, variance: n > 1 ? Math.max(0, (sumSquares - (sum * sum) / n) / (n - 1)) : 0 };
}

/** A two-sided interval [low, high]. */
export type Interval = [number, number];

/** A test statistic with its two-sided p-value. */
export interface TestResult {
  statistic: number;
  pValue: number;
}

/**
 * Pooled two-proportion z-test of treatment against control, two-sided (statsmodels
 * `proportions_ztest([x_t, x_c], [n_t, n_c])`): z = (p_t − p_c) / √(p̂(1 − p̂)(1/n_t + 1/n_c)). When the pooled rate is
 * 0 or 1 there is no evidence either way: z = 0, p = 1 (statsmodels would return NaN). Throws VALIDATION_FAILED on
 * counts that are not integers in [0, n].
 */
export function twoProportionZTest(treatSuccesses: number, treatN: number, controlSuccesses: number, controlN: number): TestResult {
  const r = proportionsZTest(treatSuccesses, treatN, controlSuccesses, controlN);
  return { statistic: r.statistic, pValue: r.pvalue };
}

/**
 * Unpooled Wald interval for p_t − p_c (statsmodels `confint_proportions_2indep(..., method='wald', compare='diff')`):
 * (p_t − p_c) ± z_{1−α/2} √(p_t(1 − p_t)/n_t + p_c(1 − p_c)/n_c).
 */
export function waldDifferenceInterval(treatSuccesses: number, treatN: number, controlSuccesses: number, controlN: number, alpha = 0.05): Interval {
  const pt = treatSuccesses / treatN;
  const pc = controlSuccesses / controlN;
  const half = normalQuantile(1 - alpha / 2) * Math.sqrt((pt * (1 - pt)) / treatN + (pc * (1 - pc)) / controlN);
  return [pt - pc - half, pt - pc + half];
}

/** Welch's t-test result: statistic, Welch–Satterthwaite df, two-sided p-value and the interval for mean_t − mean_c. */
export interface WelchResult extends TestResult {
  df: number;
  interval: Interval;
}

/** Welch–Satterthwaite degrees of freedom for two variances of the mean v_t/n_t and v_c/n_c. */
export function welchDf(varT: number, nT: number, varC: number, nC: number): number {
  const a = varT / nT;
  const b = varC / nC;
  return ((a + b) * (a + b)) / ((a * a) / (nT - 1) + (b * b) / (nC - 1));
}

/**
 * Welch's unequal-variance t-test of treatment against control, two-sided, with its confidence interval for the
 * difference of means (scipy `ttest_ind(t, c, equal_var=False)` and its `.confidence_interval(1 − α)`). NaN fields
 * when either arm has fewer than 2 units or both variances are 0, as scipy.
 */
export function welchTTest(treat: ArmStats, control: ArmStats, alpha = 0.05): WelchResult {
  const se2 = treat.variance / treat.n + control.variance / control.n;
  const diff = treat.mean - control.mean;
  if (treat.n < 2 || control.n < 2 || !(se2 > 0)) {
    return { statistic: Number.NaN, pValue: Number.NaN, df: Number.NaN, interval: [Number.NaN, Number.NaN] };
  }
  const se = Math.sqrt(se2);
  const df = welchDf(treat.variance, treat.n, control.variance, control.n);
  const t = diff / se;
  const half = studentTQuantile(1 - alpha / 2, df) * se;
  return { statistic: t, pValue: 2 * studentTSf(Math.abs(t), df), df, interval: [diff - half, diff + half] };
}

/** The relative lift (mean_t − mean_c)/mean_c with its delta-method standard error, df and interval. */
export interface RelativeLift {
  estimate: number;
  standardError: number;
  df: number;
  interval: Interval;
}

// GrowthBook's per-unit variance: p(1 − p) for proportions (ProportionStatistic), the sample variance otherwise.
function unitVariance(arm: ArmStats, metric: MetricType): number {
  return metric === 'binary' ? arm.mean * (1 - arm.mean) : arm.variance;
}

/**
 * Relative lift and its 1 − α interval by the delta method, as GrowthBook's frequentist `TwoSidedTTest` (gbstats
 * frequentist/tests.py): Var = σ_t²/(μ_c² n_t) + σ_c² μ_t²/(μ_c⁴ n_c), interval estimate ± t_{1−α/2, ν} √Var with ν the
 * Welch–Satterthwaite df of the arm variances; σ² = p(1 − p) for binary metrics. NaN when the control mean is 0.
 */
export function relativeLift(treat: ArmStats, control: ArmStats, metric: MetricType, alpha = 0.05): RelativeLift {
  const mc = control.mean;
  const mt = treat.mean;
  const vt = unitVariance(treat, metric);
  const vc = unitVariance(control, metric);
  const estimate = (mt - mc) / mc;
  const variance = vt / (mc * mc * treat.n) + (vc * mt * mt) / (mc * mc * mc * mc * control.n);
  if (mc === 0 || !(variance > 0)) {
    return { estimate: mc === 0 ? Number.NaN : estimate, standardError: Number.NaN, df: Number.NaN, interval: [Number.NaN, Number.NaN] };
  }
  const se = Math.sqrt(variance);
  const df = welchDf(vt, treat.n, vc, control.n);
  const half = studentTQuantile(1 - alpha / 2, df) * se;
  return { estimate, standardError: se, df, interval: [estimate - half, estimate + half] };
}

/** An always-valid p-value and confidence sequence for the relative lift. */
export interface SequentialResult {
  pValue: number;
  interval: Interval;
}

/** The mixing parameter ρ for tuning N* (Waudby-Smith et al. eq. 161, GrowthBook `sequential_rho`): ρ = √((−2 ln α + ln(1 − 2 ln α))/N*). */
export function sequentialRho(alpha: number, tuning: number): number {
  const la = Math.log(alpha);
  return Math.sqrt((-2 * la + Math.log(-2 * la + 1)) / tuning);
}

/**
 * GrowthBook's `SequentialTwoSidedTTest` on the relative lift (gbstats frequentist/tests.py; Waudby-Smith et al. 2023,
 * asymptotic confidence sequences): with n = n_t + n_c, SE the delta-method standard error and s² = SE²·n, the
 * half-width is √s² · √(2(nρ² + 1) ln(√(nρ² + 1)/α) / (nρ)²) and the p-value is min(1, √(nρ² + 1) · exp(−ρ² n θ̂²/SE² /
 * (2(nρ² + 1)))) (eq. 155). Valid at every look, so peeking is safe. NaN when the relative lift is undefined.
 */
export function sequentialRelativeLift(treat: ArmStats, control: ArmStats, metric: MetricType, alpha = 0.05, tuning = SEQUENTIAL_TUNING_DEFAULT): SequentialResult {
  const rel = relativeLift(treat, control, metric, alpha);
  const se2 = rel.standardError * rel.standardError;
  if (!Number.isFinite(se2) || !Number.isFinite(rel.estimate)) return { pValue: Number.NaN, interval: [Number.NaN, Number.NaN] };
  const n = treat.n + control.n;
  const rho = sequentialRho(alpha, tuning);
  const tr2p1 = n * rho * rho + 1;
  const s2 = se2 * n;
  const half = Math.sqrt(s2) * Math.sqrt((2 * tr2p1 * Math.log(Math.sqrt(tr2p1) / alpha)) / ((n * rho) * (n * rho)));
  const st2 = (rel.estimate * rel.estimate * n) / se2;
  // 1/e-value in logs, so a huge statistic gives 0 rather than 1/Infinity arithmetic.
  const pValue = Math.min(1, Math.exp(0.5 * Math.log(tr2p1) - (rho * rho * st2) / (2 * tr2p1)));
  return { pValue, interval: [rel.estimate - half, rel.estimate + half] };
}

/** The sample-ratio-mismatch test: Pearson's chi-square of the arm counts against the intended weights. */
export interface SrmResult {
  statistic: number;
  pValue: number;
  dof: number;
  mismatch: boolean;
}

/**
 * Chi-square goodness of fit of observed unit counts against intended weights (scipy `chisquare(observed,
 * f_exp=N·w/Σw)`), dof = arms − 1, flagged when p < 0.001. Throws VALIDATION_FAILED when the lengths differ, a weight is
 * not positive, or there are fewer than two arms.
 */
export function sampleRatioMismatch(observed: readonly number[], weights: readonly number[], threshold = SRM_THRESHOLD): SrmResult {
  if (observed.length !== weights.length) throw invalid('observed counts and weights differ in length', [{ field: '/weights', rule: 'length', message: 'one weight per arm' }]);
  if (observed.length < 2) throw invalid('the sample-ratio test needs at least two arms', [{ field: '/weights', rule: 'min-items', message: 'at least two arms' }]);
  const totalWeight = weights.reduce((s, w) => s + w, 0);
  if (weights.some((w) => !(w > 0) || !Number.isFinite(w))) throw invalid('every weight must be a positive number', [{ field: '/weights', rule: 'positive', message: 'weights must be > 0' }]);
  const total = observed.reduce((s, o) => s + o, 0);
  let statistic = 0;
  for (let i = 0; i < observed.length; i++) {
    const e = (total * weights[i]!) / totalWeight;
    statistic += ((observed[i]! - e) * (observed[i]! - e)) / e;
  }
  const dof = observed.length - 1;
  const pValue = chi2Sf(statistic, dof);
  return { statistic, pValue, dof, mismatch: pValue < threshold };
}

/**
 * Holm's step-down adjusted p-values (statsmodels `multipletests(p, method='holm')[1]`): sorted ascending, the k-th
 * smallest (k from 0) becomes max over j ≤ k of min(1, (m − j)·p_(j)); returned in the input order. NaN entries stay NaN
 * and do not count towards m.
 */
export function holm(pValues: readonly number[]): number[] {
  const idx = pValues.map((p, i) => [p, i] as const).filter(([p]) => !Number.isNaN(p)).sort((a, b) => a[0] - b[0]);
  const m = idx.length;
  const out = pValues.map(() => Number.NaN);
  let running = 0;
  idx.forEach(([p, i], k) => {
    running = Math.max(running, Math.min(1, (m - k) * p));
    out[i] = running;
  });
  return out;
}

/** One arm of the readout. */
export interface ArmReadout {
  variant: string;
  n: number;
  /** The mean, or the conversion rate for binary metrics; null for an arm without units. */
  mean: number | null;
  /** The sample variance (ddof = 1). */
  variance: number | null;
  /** The arm's share of all units. */
  share: number;
  /** The share the weights intended. */
  expected_share: number;
}

/** One treatment against control; null where a statistic is undefined (a zero control mean, a zero variance). */
export interface ComparisonReadout {
  variant: string;
  control: string;
  absolute_lift: number | null;
  relative_lift: number | null;
  test: 'two-proportion-z' | 'welch-t';
  statistic: number | null;
  /** Welch–Satterthwaite df of the t-test; null for the z-test. */
  df: number | null;
  p_value: number | null;
  /** p_value after Holm's correction across all treatments. */
  p_value_holm: number | null;
  ci95_abs: Interval | null;
  ci95_rel: Interval | null;
  relative_se: number | null;
  sequential_p_value: number | null;
  sequential_ci_rel: Interval | null;
}

/** The sample-ratio-mismatch part of the readout. */
export interface SrmReadout {
  statistic: number;
  p_value: number;
  dof: number;
  mismatch: boolean;
  threshold: number;
}

/** The full readout: what `tarmac experiments analyze --json` prints. */
export interface ExperimentReadout {
  metric: MetricType;
  control: string;
  alpha: number;
  sequential_tuning: number;
  arms: ArmReadout[];
  comparisons: ComparisonReadout[];
  srm: SrmReadout;
}

/** Options of analyzeExperiment. */
export interface AnalyzeOptions {
  control: string;
  metric: MetricType;
  /** Intended weight per variant (any positive scale); default equal. Every arm must have one. */
  weights?: Record<string, number>;
  /** GrowthBook's N* (default 5000). */
  sequentialTuning?: number;
}

const ALPHA = 0.05;

function num(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

function interval(i: Interval): Interval | null {
  return Number.isFinite(i[0]) && Number.isFinite(i[1]) ? i : null;
}

/**
 * The experiment readout at 95%: every arm, every treatment against `control` and the SRM test against the weights.
 * Arms with no units appear in the arms and the SRM test but get no comparison. Throws VALIDATION_FAILED when the
 * control is missing or empty, a variant repeats, or a weight is missing or not positive.
 */
export function analyzeExperiment(arms: readonly ArmStats[], options: AnalyzeOptions): ExperimentReadout {
  const { control: controlName, metric } = options;
  const tuning = options.sequentialTuning ?? SEQUENTIAL_TUNING_DEFAULT;
  if (!(tuning > 0)) throw invalid('the sequential tuning parameter must be positive', [{ field: '/sequentialTuning', rule: 'positive', message: 'N* must be > 0' }]);
  const names = new Set<string>();
  for (const a of arms) {
    if (names.has(a.variant)) throw invalid(`variant ${a.variant} appears twice`, [{ field: '/arms', rule: 'unique', message: `duplicate variant ${a.variant}` }]);
    names.add(a.variant);
  }
  const control = arms.find((a) => a.variant === controlName);
  if (!control || control.n === 0) {
    throw invalid(`the control variant ${controlName} has no units`, [{ field: '/control', rule: 'exists', message: `no units in ${controlName}` }]);
  }
  const ordered = [control, ...arms.filter((a) => a.variant !== controlName)];
  const weights = ordered.map((a) => {
    if (options.weights === undefined) return 1;
    const w = options.weights[a.variant];
    if (w === undefined) throw invalid(`no weight for variant ${a.variant}`, [{ field: `/weights/${a.variant}`, rule: 'required', message: 'every arm needs a weight' }]);
    return w;
  });
  const srm = sampleRatioMismatch(ordered.map((a) => a.n), weights);
  const total = ordered.reduce((s, a) => s + a.n, 0);
  const totalWeight = weights.reduce((s, w) => s + w, 0);
  const treatments = ordered.slice(1).filter((a) => a.n > 0);
  const comparisons: ComparisonReadout[] = treatments.map((t) => {
    let test: ComparisonReadout['test'];
    let statistic: number;
    let pValue: number;
    let df = Number.NaN;
    let abs: Interval;
    if (metric === 'binary') {
      const xt = Math.round(t.mean * t.n);
      const xc = Math.round(control.mean * control.n);
      test = 'two-proportion-z';
      ({ statistic, pValue } = twoProportionZTest(xt, t.n, xc, control.n));
      abs = waldDifferenceInterval(xt, t.n, xc, control.n, ALPHA);
    } else {
      test = 'welch-t';
      const w = welchTTest(t, control, ALPHA);
      ({ statistic, pValue, df } = w);
      abs = w.interval;
    }
    const rel = relativeLift(t, control, metric, ALPHA);
    const seq = sequentialRelativeLift(t, control, metric, ALPHA, tuning);
    return {
      variant: t.variant,
      control: control.variant,
      absolute_lift: num(t.mean - control.mean),
      relative_lift: num(rel.estimate),
      test,
      statistic: num(statistic),
      df: num(df),
      p_value: num(pValue),
      p_value_holm: null,
      ci95_abs: interval(abs),
      ci95_rel: interval(rel.interval),
      relative_se: num(rel.standardError),
      sequential_p_value: num(seq.pValue),
      sequential_ci_rel: interval(seq.interval),
    };
  });
  const adjusted = holm(comparisons.map((c) => c.p_value ?? Number.NaN));
  comparisons.forEach((c, i) => { c.p_value_holm = num(adjusted[i]!); });
  return {
    metric,
    control: control.variant,
    alpha: ALPHA,
    sequential_tuning: tuning,
    arms: ordered.map((a, i) => ({
      variant: a.variant,
      n: a.n,
      mean: a.n > 0 ? num(a.mean) : null,
      variance: a.n > 0 ? num(a.variance) : null,
      share: total > 0 ? a.n / total : 0,
      expected_share: weights[i]! / totalWeight,
    })),
    comparisons,
    srm: { statistic: srm.statistic, p_value: srm.pValue, dof: srm.dof, mismatch: srm.mismatch, threshold: SRM_THRESHOLD },
  };
}

/** 'binary' when every value is 0 or 1, otherwise 'continuous' (how the CLI infers the metric type). */
export function inferMetricType(values: Iterable<number>): MetricType {
  for (const v of values) if (v !== 0 && v !== 1) return 'continuous';
  return 'binary';
}

