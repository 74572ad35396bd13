// Comparison of a window's metrics with a baseline (the reference window or the champion's figures), aware of which
// direction is better for each metric.
import { fail } from './util.ts';

/** Whether a larger value of a metric is better or worse. */
export type MetricDirection = 'higher' | 'lower';

/** Directions of the metrics Tarmac reports; names are matched exactly, then by their last dotted segment. */
export const METRIC_DIRECTIONS: Readonly<Record<string, MetricDirection>> = Object.freeze({
  accuracy: 'higher', precision: 'higher', recall: 'higher', f1: 'higher', rocAuc: 'higher', auc: 'higher',
  r2: 'higher', logLoss: 'lower', mae: 'lower', rmse: 'lower', mse: 'lower', errorRate: 'lower',
});

/** How far a metric may move in the bad direction before it counts as degraded. */
export interface Tolerance {
  /** Allowed worsening in the metric's units. */
  absolute?: number;
  /** Allowed worsening as a fraction of |baseline|. */
  relative?: number;
}

/** Options of compareToBaseline. */
export interface CompareOptions {
  /** Default tolerance for every metric: { absolute: 0.01 } unless given. */
  tolerance?: Tolerance;
  /** Per-metric tolerances, overriding `tolerance`. */
  tolerances?: Record<string, Tolerance>;
  /** Directions for metrics beyond METRIC_DIRECTIONS, or overrides. */
  directions?: Record<string, MetricDirection>;
}

/** The comparison of one metric. */
export interface MetricComparison {
  metric: string;
  baseline: number;
  current: number | null;
  direction: MetricDirection | null;
  /** current − baseline. */
  absoluteChange: number | null;
  /** (current − baseline) / |baseline|; null when the baseline is 0. */
  relativeChange: number | null;
  /** How much worse the metric got in its own direction (negative when it improved). */
  worsening: number | null;
  degraded: boolean;
  status: 'ok' | 'improved' | 'degraded' | 'missing' | 'unknown-direction';
}

/** The comparison of a window with its baseline. */
export interface BaselineComparison {
  metrics: MetricComparison[];
  /** True when any metric degraded beyond its tolerance. */
  degraded: boolean;
}

function directionOf(metric: string, overrides: Record<string, MetricDirection> | undefined): MetricDirection | null {
  const last = metric.split('.').pop()!;
  return overrides?.[metric] ?? METRIC_DIRECTIONS[metric] ?? overrides?.[last] ?? METRIC_DIRECTIONS[last] ?? null;
}

/**
 * Compares every baseline metric with the current value: a metric degrades when it worsened by more than every
 * tolerance given for it (absolute and/or relative); throws VALIDATION_FAILED on a non-finite baseline or tolerance.
 */
export function compareToBaseline(
  current: Record<string, number | null>,
  baseline: Record<string, number>,
  options: CompareOptions = {},
): BaselineComparison {
  const out: MetricComparison[] = [];
  for (const metric of Object.keys(baseline).sort()) {
    const b = baseline[metric]!;
    if (typeof b !== 'number' || !Number.isFinite(b)) throw fail(`/baseline/${metric}`, 'finite', `baseline ${metric} must be finite`);
    const tol = options.tolerances?.[metric] ?? options.tolerance ?? { absolute: 0.01 };
    for (const [k, v] of Object.entries(tol)) {
      if (v !== undefined && !(v >= 0 && Number.isFinite(v))) throw fail(`/tolerances/${metric}/${k}`, 'non-negative', 'tolerances must be finite and >= 0');
    }
    const direction = directionOf(metric, options.directions);
    const c = current[metric];
    const cur = typeof c === 'number' && Number.isFinite(c) ? c : null;
    if (cur === null) {
      out.push({ metric, baseline: b, current: null, direction, absoluteChange: null, relativeChange: null, worsening: null, degraded: false, status: 'missing' });
      continue;
    }
    const absoluteChange = cur - b;
    const relativeChange = b === 0 ? null : absoluteChange / Math.abs(b);
    if (direction === null) {
      out.push({ metric, baseline: b, current: cur, direction, absoluteChange, relativeChange, worsening: null, degraded: false, status: 'unknown-direction' });
      continue;
    }
    const worsening = direction === 'higher' ? -absoluteChange : absoluteChange;
    let degraded = worsening > 0;
    if (tol.absolute !== undefined) degraded &&= worsening > tol.absolute;
    if (tol.relative !== undefined) degraded &&= worsening > tol.relative * Math.abs(b);
    const status = degraded ? 'degraded' : worsening < 0 ? 'improved' : 'ok';
    out.push({ metric, baseline: b, current: cur, direction, absoluteChange, relativeChange, worsening, degraded, status });
  }
  return { metrics: out, degraded: out.some((m) => m.degraded) };
}
