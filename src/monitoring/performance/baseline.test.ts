import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareToBaseline } from './baseline.ts';

test('degradation is direction-aware and respects tolerances', () => {
  const r = compareToBaseline(
    { accuracy: 0.85, logLoss: 0.5, rmse: 1.9, f1: 0.905, r2: null, custom: 3 },
    { accuracy: 0.9, logLoss: 0.4, rmse: 2.0, f1: 0.9, r2: 0.7, custom: 2 },
  );
  const by = Object.fromEntries(r.metrics.map((m) => [m.metric, m]));
  assert.equal(by.accuracy!.status, 'degraded');
  assert.ok(Math.abs(by.accuracy!.absoluteChange! + 0.05) < 1e-12);
  assert.ok(Math.abs(by.accuracy!.relativeChange! + 0.05 / 0.9) < 1e-12);
  assert.equal(by.logLoss!.status, 'degraded');
  assert.equal(by.rmse!.status, 'improved');
  assert.equal(by.f1!.status, 'improved');
  assert.equal(by.r2!.status, 'missing');
  assert.equal(by.custom!.status, 'unknown-direction');
  assert.equal(r.degraded, true);
});

test('a worsening within tolerance is ok; relative and absolute tolerances must both be exceeded', () => {
  const opts = { tolerance: { absolute: 0.02, relative: 0.05 } };
  assert.equal(compareToBaseline({ accuracy: 0.89 }, { accuracy: 0.9 }, opts).degraded, false);
  assert.equal(compareToBaseline({ accuracy: 0.87 }, { accuracy: 0.9 }, opts).degraded, false);
  assert.equal(compareToBaseline({ accuracy: 0.8 }, { accuracy: 0.9 }, opts).degraded, true);
  assert.equal(compareToBaseline({ 'canary.mae': 1.5 }, { 'canary.mae': 1 }).metrics[0]!.direction, 'lower');
  assert.throws(() => compareToBaseline({}, { accuracy: Number.NaN }), { code: 'VALIDATION_FAILED' });
});
