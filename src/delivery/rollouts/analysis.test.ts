import assert from 'node:assert/strict';
import { test } from 'node:test';
import { analyze, errorShare } from './analysis.ts';
import type { VariantEvidence } from './analysis.ts';

const v = (rows: number, errors: number, latencyP99: number | null = 2, labels = 0, accuracy: number | null = null): VariantEvidence => ({ rows, errors, latencyP99, labels, accuracy });

test('too little data on either side is its own verdict, neither pass nor fail', () => {
  const r = analyze({ canary: v(10, 0), stable: v(1000, 0), gates: [{ kind: 'error_rate', threshold: 0.01 }], minSamples: 100, minLabels: 30 });
  assert.equal(r.outcome, 'not_enough_data');
});

test('error rate: the canary may exceed the stable share by the threshold, not more', () => {
  assert.equal(errorShare(v(90, 10)), 0.1);
  const gates = [{ kind: 'error_rate' as const, threshold: 0.02 }];
  assert.equal(analyze({ canary: v(985, 15), stable: v(1000, 0), gates, minSamples: 100, minLabels: 30 }).outcome, 'pass');
  assert.equal(analyze({ canary: v(970, 30), stable: v(1000, 0), gates, minSamples: 100, minLabels: 30 }).outcome, 'fail');
});

test('latency: a multiple of the stable p99 (at least 5 ms); missing latency is inconclusive', () => {
  const gates = [{ kind: 'latency_p99' as const, threshold: 1.5 }];
  assert.equal(analyze({ canary: v(500, 0, 14.9), stable: v(500, 0, 10), gates, minSamples: 100, minLabels: 30 }).outcome, 'pass');
  assert.equal(analyze({ canary: v(500, 0, 15.1), stable: v(500, 0, 10), gates, minSamples: 100, minLabels: 30 }).outcome, 'fail');
  assert.equal(analyze({ canary: v(500, 0, 7), stable: v(500, 0, 0.2), gates, minSamples: 100, minLabels: 30 }).outcome, 'pass', 'millisecond noise is not a regression');
  assert.equal(analyze({ canary: v(500, 0, null), stable: v(500, 0, 2), gates, minSamples: 100, minLabels: 30 }).outcome, 'inconclusive');
});

test('accuracy waits for labels, then fails a canary that lost more than the threshold; any fail fails the analysis', () => {
  const gates = [{ kind: 'accuracy' as const, threshold: 0.02 }, { kind: 'error_rate' as const, threshold: 0.01 }];
  assert.equal(analyze({ canary: v(500, 0, 2, 10, 0.5), stable: v(500, 0, 2, 100, 0.9), gates, minSamples: 100, minLabels: 30 }).outcome, 'not_enough_data');
  assert.equal(analyze({ canary: v(500, 0, 2, 100, 0.89), stable: v(500, 0, 2, 100, 0.9), gates, minSamples: 100, minLabels: 30 }).outcome, 'pass');
  const r = analyze({ canary: v(500, 0, 2, 100, 0.8), stable: v(500, 0, 2, 100, 0.9), gates, minSamples: 100, minLabels: 30 });
  assert.equal(r.outcome, 'fail');
  assert.deepEqual(r.gates.map((g) => g.verdict), ['fail', 'pass']);
});

test('shadow disagreement: judged at the shadow step on the compared answers; waits for enough of them; skipped at live steps', () => {
  const gates = [{ kind: 'shadow_disagreement' as const, threshold: 0.05 }];
  const shadow = (compared: number, disagreements: number): VariantEvidence => ({ ...v(compared, 0), shadowCompared: compared, shadowDisagreements: disagreements });
  assert.equal(analyze({ canary: shadow(1000, 40), stable: v(1000, 0), gates, minSamples: 100, minLabels: 30, phase: 'shadow' }).outcome, 'pass');
  const bad = analyze({ canary: shadow(1000, 60), stable: v(1000, 0), gates, minSamples: 100, minLabels: 30, phase: 'shadow' });
  assert.equal(bad.outcome, 'fail');
  assert.equal(bad.gates[0]!.canary, 0.06);
  // rows enough, but the comparisons have not been made yet (e.g. shadows lag): not enough data, not a pass
  assert.equal(analyze({ canary: { ...shadow(1000, 0), shadowCompared: 50 }, stable: v(1000, 0), gates, minSamples: 100, minLabels: 30, phase: 'shadow' }).outcome, 'not_enough_data');
  const live = analyze({ canary: v(1000, 0), stable: v(1000, 0), gates: [...gates, { kind: 'error_rate', threshold: 0.01 }], minSamples: 100, minLabels: 30 });
  assert.equal(live.outcome, 'pass');
  assert.deepEqual(live.gates.map((g) => g.kind), ['error_rate']);
  assert.equal(live.skipped?.[0]?.kind, 'shadow_disagreement');
});

test('the accuracy gate is skipped at a shadow step (labels never reach a shadow\'s answers)', () => {
  const r = analyze({ canary: v(500, 0), stable: v(500, 0, 2, 100, 0.9), gates: [{ kind: 'accuracy', threshold: 0.02 }], minSamples: 100, minLabels: 30, phase: 'shadow' });
  assert.equal(r.outcome, 'pass');
  assert.equal(r.gates.length, 0);
  assert.equal(r.skipped?.[0]?.kind, 'accuracy');
});

test('business metric: the canary may be worse than the stable by the threshold in the metric\'s better direction', () => {
  const withMetric = (x: number | null): VariantEvidence => ({ ...v(500, 0), business: { approval_rate: x } });
  const higher = [{ kind: 'business_metric' as const, metric: 'approval_rate', threshold: 0.05 }];
  assert.equal(analyze({ canary: withMetric(0.46), stable: withMetric(0.5), gates: higher, minSamples: 100, minLabels: 30 }).outcome, 'pass');
  assert.equal(analyze({ canary: withMetric(0.44), stable: withMetric(0.5), gates: higher, minSamples: 100, minLabels: 30 }).outcome, 'fail');
  const lower = [{ kind: 'business_metric' as const, metric: 'approval_rate', threshold: 0.05, direction: 'lower' as const }];
  assert.equal(analyze({ canary: withMetric(0.56), stable: withMetric(0.5), gates: lower, minSamples: 100, minLabels: 30 }).outcome, 'fail');
  assert.equal(analyze({ canary: withMetric(0.3), stable: withMetric(0.5), gates: lower, minSamples: 100, minLabels: 30 }).outcome, 'pass');
  assert.equal(analyze({ canary: withMetric(null), stable: withMetric(0.5), gates: higher, minSamples: 100, minLabels: 30 }).outcome, 'inconclusive');
});
