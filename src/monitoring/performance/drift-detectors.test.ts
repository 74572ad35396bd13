import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededUniform } from '../stats/seeded.ts';
import { Adwin } from './adwin.ts';
import { PageHinkley } from './page-hinkley.ts';
import { fixture } from './sklearn-fixture.ts';

function detections(det: { update(x: number): { drift: boolean } }, stream: number[]): number[] {
  const out: number[] = [];
  stream.forEach((x, i) => {
    if (det.update(x).drift) out.push(i);
  });
  return out;
}

const bernoulli = (seed: number, n: number, p: (i: number) => number) =>
  Array.from({ length: n }, (_, i) => (seededUniform(seed, i) < p(i) ? 1 : 0));

test('both detectors reproduce river\'s published docstring detections', () => {
  const { stream, adwin_detection_index, page_hinkley_detection_index } = fixture.river_docstring;
  assert.equal(detections(new Adwin(), stream)[0], adwin_detection_index);
  assert.equal(detections(new PageHinkley(), stream)[0], page_hinkley_detection_index);
});

test('ADWIN detects a Bernoulli 0.2 → 0.8 error-rate change within a few hundred samples, with no false alarm before', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const stream = bernoulli(seed, 3000, (i) => (i < 2000 ? 0.2 : 0.8));
    const found = detections(new Adwin(), stream);
    assert.ok(found.length > 0 && found[0]! >= 2000, `seed ${seed}: ${found.join(',')}`);
    assert.ok(found[0]! - 2000 < 200, `seed ${seed}: delay ${found[0]! - 2000}`);
  }
});

test('no false alarms on stationary streams with fixed seeds', () => {
  for (const seed of [11, 12, 13]) {
    const stream = bernoulli(seed, 20_000, () => 0.2);
    assert.deepEqual(detections(new Adwin(), stream), [], `ADWIN seed ${seed}`);
    const absErrors = Array.from({ length: 20_000 }, (_, i) => 0.5 + 0.2 * (seededUniform(seed, i) - 0.5));
    assert.deepEqual(detections(new PageHinkley({ mode: 'up' }), absErrors), [], `PH seed ${seed}`);
  }
});

test('Page-Hinkley (increase-only) detects a rise of the absolute error soon after it happens', () => {
  const stream = Array.from({ length: 3000 }, (_, i) => (i < 2000 ? 0.5 : 1.0) + 0.2 * (seededUniform(21, i) - 0.5));
  const found = detections(new PageHinkley({ mode: 'up' }), stream);
  assert.ok(found[0]! >= 2000 && found[0]! - 2000 < 250, `found ${found.join(',')}`);
  for (const seed of [41, 42, 43]) {
    const errors = bernoulli(seed, 3000, (i) => (i < 2000 ? 0.2 : 0.8));
    const ph = new PageHinkley({ mode: 'up' });
    // The first detection after the change (a false alarm before it would only reset the detector).
    const at = errors.findIndex((x, i) => ph.update(x).drift && i >= 2000);
    assert.ok(at >= 2000 && at - 2000 < 150, `seed ${seed}: 0/1 errors detected at ${at}`);
  }
  const down = Array.from({ length: 3000 }, (_, i) => (i < 2000 ? 1.0 : 0.5));
  assert.deepEqual(detections(new PageHinkley({ mode: 'up' }), down), []);
  assert.ok(detections(new PageHinkley({ mode: 'both' }), down).length > 0);
});

test('detectors serialise mid-stream and continue identically', () => {
  const stream = bernoulli(31, 4000, (i) => (i < 2500 ? 0.2 : 0.8));
  for (const make of [() => new Adwin(), () => new PageHinkley()]) {
    const a = make();
    detections(a, stream.slice(0, 2600));
    const json = JSON.parse(JSON.stringify(a)) as unknown;
    const b = a instanceof Adwin ? Adwin.fromJSON(json) : PageHinkley.fromJSON(json);
    assert.deepEqual(detections(b, stream.slice(2600)), detections(a, stream.slice(2600)));
  }
  const adwin = new Adwin();
  detections(adwin, stream);
  assert.ok(JSON.stringify(adwin).length < 4000, 'ADWIN state stays small');
  adwin.reset();
  assert.equal(adwin.state.width, 0);
});
