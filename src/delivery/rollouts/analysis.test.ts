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
