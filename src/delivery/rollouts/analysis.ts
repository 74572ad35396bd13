/**
 * Canary analysis: one step's evidence for the canary against the stable variant, judged gate by gate. Each gate
 * ends pass, fail or inconclusive; a variant without enough data makes the whole analysis "not enough data", which
 * is neither pass nor fail, so low traffic never promotes or rolls back a canary. Pure: numbers in, verdict out.
 */

/** What a gate compares. */
export type GateKind = 'error_rate' | 'latency_p99' | 'accuracy' | 'prediction_drift' | 'shadow_disagreement' | 'business_metric';

/** One gate of a rollout. */
export interface Gate {
  kind: GateKind;
  /**
   * error_rate: the most the canary's error share may exceed the stable one's (absolute, e.g. 0.01);
   * latency_p99: the most the canary's p99 may be as a multiple of the stable one's, or of 5 ms when that is larger (e.g. 1.5);
   * accuracy: the most the canary's accuracy may fall below the stable one's (absolute, e.g. 0.02);
   * prediction_drift: the largest drift statistic allowed between the two variants' predictions (e.g. 0.1);
   * shadow_disagreement: the largest share of records the canary, run as a shadow, may answer differently (e.g. 0.05);
   * business_metric: the most the canary's business metric (per record) may be worse than the stable one's (absolute).
   */
  threshold: number;
  /** business_metric: the metric's name (as configured with `tarmac monitor business set`). */
  metric?: string;
  /** business_metric: which way is better (default higher). */
  direction?: 'higher' | 'lower';
}

/** What one variant did during the step. */
export interface VariantEvidence {
  /** Records answered. */
  rows: number;
  /** Requests refused or failed. */
  errors: number;
  latencyP99: number | null;
  /** Labelled predictions and the accuracy on them. */
  labels: number;
  accuracy: number | null;
  /** Shadow answers compared with the answer returned, and how many differed (only while the variant runs as a shadow). */
  shadowCompared?: number;
  shadowDisagreements?: number;
  /** Business metrics per record (a mean metric's mean; a sum metric's sum ÷ records), null without values. */
  business?: Record<string, number | null>;
}

/** One step's analysis input. */
export interface AnalysisInput {
  canary: VariantEvidence;
  stable: VariantEvidence;
  gates: readonly Gate[];
  /** Records each variant needs before anything is judged. */
  minSamples: number;
  /** Labels each variant needs before the accuracy gate judges. */
  minLabels: number;
  /** The drift statistic between the variants' predictions, when computed (prediction_drift gate). */
  predictionDrift?: number | null;
  /**
   * `shadow`: the canary answers nothing, it runs as a shadow of the stable variant (a 0% step): labels never reach
   * its answers, so the accuracy gate waits for a live step; `live` (default): the canary answers its share, so there
   * is nothing to compare record by record and the shadow_disagreement gate waits for a shadow step.
   */
  phase?: 'shadow' | 'live';
}

/** A gate's or an analysis' outcome. */
export type Verdict = 'pass' | 'fail' | 'inconclusive' | 'not_enough_data';

/** One gate's verdict with the numbers behind it. */
export interface GateResult {
  kind: GateKind;
  verdict: Verdict;
  canary: number | null;
  stable: number | null;
  threshold: number;
  message: string;
}

/** The analysis: the overall outcome (any fail → fail; else any inconclusive → inconclusive; else pass) and each gate. */
export interface AnalysisResult {
  outcome: Verdict;
  gates: GateResult[];
  /** Gates that do not apply to this step's phase, and why. */
  skipped?: { kind: GateKind; reason: string }[];
}

/** The gates a phase cannot judge (see AnalysisInput.phase). */
const NOT_IN_PHASE: Record<'shadow' | 'live', { kind: GateKind; reason: string }> = {
  shadow: { kind: 'accuracy', reason: 'labels join the answers returned, never a shadow\'s: judged at the live steps' },
  live: { kind: 'shadow_disagreement', reason: 'a live canary answers its own records, so nothing is compared record by record: judged at the shadow step (0%)' },
};

/** The stable p99 the latency gate compares against at least, in ms (smaller p99s are noise). */
export const LATENCY_FLOOR_MS = 5;

/** The share of requests that failed: errors ÷ (records answered + errors). */
export function errorShare(v: VariantEvidence): number {
  const total = v.rows + v.errors;
  return total === 0 ? 0 : v.errors / total;
}

/** Judges one step. */
export function analyze(input: AnalysisInput): AnalysisResult {
  const phase = input.phase ?? 'live';
  const notHere = NOT_IN_PHASE[phase];
  const applicable = input.gates.filter((g) => g.kind !== notHere.kind);
  const skipped = applicable.length < input.gates.length ? [notHere] : undefined;
  const judged = judge({ ...input, gates: applicable });
  return skipped ? { ...judged, skipped } : judged;
}

function judge(input: AnalysisInput): AnalysisResult {
  const { canary, stable } = input;
  if (canary.rows + canary.errors < input.minSamples || stable.rows + stable.errors < input.minSamples) {
    return {
      outcome: 'not_enough_data',
      gates: input.gates.map((g) => ({
        kind: g.kind, verdict: 'not_enough_data', canary: null, stable: null, threshold: g.threshold,
        message: `needs ${input.minSamples} requests per variant; canary has ${canary.rows + canary.errors}, stable ${stable.rows + stable.errors}`,
      })),
    };
  }
  const gates = input.gates.map((g): GateResult => {
    switch (g.kind) {
      case 'error_rate': {
        const c = errorShare(canary);
        const s = errorShare(stable);
        const verdict = c - s > g.threshold ? 'fail' : 'pass';
        return { kind: g.kind, verdict, canary: c, stable: s, threshold: g.threshold, message: `canary error share ${pct(c)} vs stable ${pct(s)} (allowed +${pct(g.threshold)})` };
      }
      case 'latency_p99': {
        const c = canary.latencyP99;
        const s = stable.latencyP99;
        if (c === null || s === null) return { kind: g.kind, verdict: 'inconclusive', canary: c, stable: s, threshold: g.threshold, message: 'no latency measured for a variant' };
        // Below a few milliseconds a p99 is one GC pause away from doubling: compare against at least 5 ms.
        const verdict = c > Math.max(s, LATENCY_FLOOR_MS) * g.threshold ? 'fail' : 'pass';
        return { kind: g.kind, verdict, canary: c, stable: s, threshold: g.threshold, message: `canary p99 ${c.toFixed(2)} ms vs stable ${s.toFixed(2)} ms (allowed ×${g.threshold})` };
      }
      case 'accuracy': {
        if (canary.labels < input.minLabels || stable.labels < input.minLabels || canary.accuracy === null || stable.accuracy === null) {
          return { kind: g.kind, verdict: 'not_enough_data', canary: canary.accuracy, stable: stable.accuracy, threshold: g.threshold, message: `needs ${input.minLabels} labels per variant; canary has ${canary.labels}, stable ${stable.labels}` };
        }
        const verdict = stable.accuracy - canary.accuracy > g.threshold ? 'fail' : 'pass';
        return { kind: g.kind, verdict, canary: canary.accuracy, stable: stable.accuracy, threshold: g.threshold, message: `canary accuracy ${pct(canary.accuracy)} vs stable ${pct(stable.accuracy)} (allowed −${pct(g.threshold)})` };
      }
      case 'prediction_drift': {
        const d = input.predictionDrift ?? null;
        if (d === null) return { kind: g.kind, verdict: 'inconclusive', canary: null, stable: null, threshold: g.threshold, message: 'no prediction drift computed' };
        const verdict = d > g.threshold ? 'fail' : 'pass';
        return { kind: g.kind, verdict, canary: d, stable: null, threshold: g.threshold, message: `drift between the variants' predictions ${d.toFixed(4)} (allowed ${g.threshold})` };
      }
      case 'shadow_disagreement': {
        const compared = canary.shadowCompared ?? 0;
        if (compared < input.minSamples) {
          return { kind: g.kind, verdict: 'not_enough_data', canary: null, stable: null, threshold: g.threshold, message: `needs ${input.minSamples} shadow answers compared; has ${compared}` };
        }
        const rate = (canary.shadowDisagreements ?? 0) / compared;
        const verdict = rate > g.threshold ? 'fail' : 'pass';
        return { kind: g.kind, verdict, canary: rate, stable: null, threshold: g.threshold, message: `the canary's shadow answers differ on ${pct(rate)} of ${compared} records (allowed ${pct(g.threshold)})` };
      }
      case 'business_metric': {
        const name = g.metric ?? '';
        const c = canary.business?.[name] ?? null;
        const s = stable.business?.[name] ?? null;
        if (c === null || s === null) return { kind: g.kind, verdict: 'inconclusive', canary: c, stable: s, threshold: g.threshold, message: `business metric ${name} has no value for a variant` };
        const worseBy = (g.direction ?? 'higher') === 'higher' ? s - c : c - s;
        const verdict = worseBy > g.threshold ? 'fail' : 'pass';
        return { kind: g.kind, verdict, canary: c, stable: s, threshold: g.threshold, message: `${name}: canary ${fmt(c)} vs stable ${fmt(s)} (${g.direction ?? 'higher'} is better; allowed ${fmt(g.threshold)} worse)` };
      }
    }
  });
  const outcome: Verdict = gates.some((g) => g.verdict === 'fail') ? 'fail'
    : gates.some((g) => g.verdict === 'not_enough_data') ? 'not_enough_data'
      : gates.some((g) => g.verdict === 'inconclusive') ? 'inconclusive' : 'pass';
  return { outcome, gates };
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(4);
}

function pct(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}
