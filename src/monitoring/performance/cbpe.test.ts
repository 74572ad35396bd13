import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededUniform } from '../stats/seeded.ts';
import { ClassificationAccumulator } from './classification.ts';
import { CbpeAccumulator, CbpeCalibration, exactExpectedAuc, expectedCalibrationError, fitCbpeCalibration } from './cbpe.ts';

// Scores from `draw`, labels Bernoulli(truth(score)): truth = identity is a perfectly calibrated model.
function sample(seed: number, n: number, draw: (u: number) => number, truth: (s: number) => number) {
  const scores: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = draw(seededUniform(seed, i));
    scores.push(s);
    labels.push(seededUniform(seed + 1000, i) < truth(s) ? 1 : 0);
  }
  return { scores, labels };
}

function realised(scores: number[], labels: number[]) {
  const acc = new ClassificationAccumulator({ positiveLabel: 1 });
  scores.forEach((s, i) => acc.add(labels[i]!, s >= 0.5 ? 1 : 0, { 0: 1 - s, 1: s }));
  return acc.metrics();
}

function estimate(cal: CbpeCalibration, scores: number[]) {
  const acc = new CbpeAccumulator(cal);
  for (const s of scores) acc.add(s);
  return acc.estimate();
}

function assertTracks(est: ReturnType<typeof estimate>, real: ReturnType<typeof realised>, tol: number, label: string) {
  for (const [name, e, r] of [
    ['accuracy', est.accuracy, real.accuracy], ['precision', est.precision, real.binary!.precision],
    ['recall', est.recall, real.binary!.recall], ['f1', est.f1, real.binary!.f1], ['rocAuc', est.rocAuc, real.rocAuc],
  ] as const) {
    assert.ok(Math.abs(e! - r!) < tol, `${label} ${name}: estimated ${e} realised ${r}`);
  }
}

test('on a well-calibrated model the estimate matches the realised metrics of a large window', () => {
  const ref = sample(1, 20_000, (u) => u, (s) => s);
  const cal = fitCbpeCalibration(ref.scores, ref.labels);
  const win = sample(2, 50_000, (u) => u, (s) => s);
  assertTracks(estimate(cal, win.scores), realised(win.scores, win.labels), 0.01, 'calibrated');
});

test('under covariate shift with the same calibration the estimate tracks the change', () => {
  const ref = sample(3, 20_000, (u) => u, (s) => s);
  const cal = fitCbpeCalibration(ref.scores, ref.labels);
  const before = sample(4, 50_000, (u) => u, (s) => s);
  // Mass moves towards uncertain scores around 0.5: accuracy falls.
  const after = sample(5, 50_000, (u) => 0.3 + 0.4 * u, (s) => s);
  const rb = realised(before.scores, before.labels);
  const ra = realised(after.scores, after.labels);
  const eb = estimate(cal, before.scores);
  const ea = estimate(cal, after.scores);
  assert.ok(ra.accuracy! < rb.accuracy! - 0.1, 'the shift lowers the realised accuracy');
  assertTracks(ea, ra, 0.015, 'shifted');
  assert.ok(Math.abs(ea.accuracy! - eb.accuracy! - (ra.accuracy! - rb.accuracy!)) < 0.015);
});

test('a miscalibrated reference is calibrated by isotonic regression, and only then estimates well', () => {
  const truth = (s: number) => s * s;
  const ref = sample(6, 20_000, (u) => u, truth);
  const cal = fitCbpeCalibration(ref.scores, ref.labels);
  assert.equal(cal.calibrated, true);
  assert.ok(cal.eceCrossValidated!.calibrated < cal.eceCrossValidated!.uncalibrated);
  assert.ok(cal.eceReference > 0.1);
  const win = sample(7, 50_000, (u) => u, truth);
  const real = realised(win.scores, win.labels);
  const est = estimate(cal, win.scores);
  assert.ok(Math.abs(est.accuracy! - real.accuracy!) < 0.01, `${est.accuracy} vs ${real.accuracy}`);
  assert.ok(Math.abs(est.precision! - real.binary!.precision!) < 0.015);
  const raw = estimate(fitCbpeCalibration(ref.scores, ref.labels, { calibrate: 'never' }), win.scores);
  assert.ok(Math.abs(raw.precision! - real.binary!.precision!) > 0.1, 'without calibration the estimate is off');
  const restored = CbpeCalibration.fromJSON(JSON.parse(JSON.stringify(cal)));
  assert.deepEqual(estimate(restored, win.scores.slice(0, 100)), estimate(cal, win.scores.slice(0, 100)));
});

test('CBPE windows merge, switch to the histogram and serialise', () => {
  const ref = sample(8, 5000, (u) => u, (s) => s);
  const cal = fitCbpeCalibration(ref.scores, ref.labels, { calibrate: 'always' });
  const win = sample(9, 3000, (u) => u, (s) => s);
  const whole = new CbpeAccumulator(cal, { aucExactLimit: 2000 });
  const a = new CbpeAccumulator(cal, { aucExactLimit: 2000 });
  const b = new CbpeAccumulator(cal, { aucExactLimit: 2000 });
  win.scores.forEach((s, i) => {
    whole.add(s);
    (i < 1500 ? a : b).add(s);
  });
  const merged = a.clone().merge(b).estimate();
  const w = whole.estimate();
  assert.equal(merged.rocAucMode, 'histogram');
  assert.deepEqual(merged.expected, w.expected);
  assert.ok(Math.abs(merged.rocAuc! - w.rocAuc!) < 1e-12);
  const exact = exactExpectedAuc(win.scores.map((s) => cal.apply(s)))!;
  assert.ok(Math.abs(w.rocAuc! - exact) <= w.rocAucErrorBound + 1e-12);
  assert.deepEqual(CbpeAccumulator.fromJSON(JSON.parse(JSON.stringify(whole)), cal).estimate(), w);
});

test('expected calibration error uses NannyML\'s equal-count bins', () => {
  assert.ok(Math.abs(expectedCalibrationError([0.1, 0.1, 0.9, 0.9], [0, 0, 1, 1], 10) - 0.1) < 1e-15);
  assert.throws(() => expectedCalibrationError([0.5, 0.5], [0, 1]), { code: 'VALIDATION_FAILED' });
  assert.throws(() => fitCbpeCalibration([0.2, 0.4], [1, 1]), { code: 'VALIDATION_FAILED' });
});
