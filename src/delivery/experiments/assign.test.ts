// Sticky assignment: GrowthBook's published hash and bucket-range vectors, stickiness, the 1% weight tolerance over
// 100,000 keys, and the fixed-slot promise that changing traffic never moves a unit between arms.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assignVariant, chooseVariation, fixedBucketRanges, getBucketRanges, hash } from './index.ts';

test('hash matches the vectors of GrowthBook\'s sdk-js test/cases.json (v1 and v2)', () => {
  const cases: [string, string, 1 | 2, number][] = [
    ['', 'a', 1, 0.22], ['', 'b', 1, 0.077], ['b', 'a', 1, 0.946], ['ef', 'd', 1, 0.652], ['asdf', '8952klfjas09ujk', 1, 0.549],
    ['', '123', 1, 0.011], ['', '___)((*":&', 1, 0.563], ['seed', 'a', 2, 0.0505], ['seed', 'b', 2, 0.2696], ['foo', 'ab', 2, 0.2575],
    ['foo', 'def', 2, 0.2019], ['89123klj', '8952klfjas09ujkasdf', 2, 0.124], ['90850943850283058242805', '123', 2, 0.7516],
    ['()**(%$##$%#$#', '___)((*":&', 2, 0.0128],
  ];
  for (const [seed, value, version, expected] of cases) assert.equal(hash(seed, value, version), expected, `${seed}/${value}/v${version}`);
});

test('getBucketRanges and chooseVariation follow GrowthBook, including its fallbacks', () => {
  assert.deepEqual(getBucketRanges(2, 1), [[0, 0.5], [0.5, 1]]);
  assert.deepEqual(getBucketRanges(2, 0.5), [[0, 0.25], [0.5, 0.75]]);
  assert.deepEqual(getBucketRanges(2, 1, [0.4, 0.6]), [[0, 0.4], [0.4, 1]]);
  assert.deepEqual(getBucketRanges(2, -0.2), [[0, 0], [0.5, 0.5]]);
  assert.deepEqual(getBucketRanges(2, 1, [0.7, 0.6]), [[0, 0.5], [0.5, 1]]);
  assert.deepEqual(getBucketRanges(3, 1, [0.5, 0.5]), getBucketRanges(3, 1));
  const ranges = getBucketRanges(2, 0.8);
  assert.equal(chooseVariation(0.2, ranges), 0);
  assert.equal(chooseVariation(0.45, ranges), -1);
  assert.equal(chooseVariation(0.6, ranges), 1);
});

const KEYS = Array.from({ length: 100_000 }, (_, i) => `user-${i}`);

test('assignment is sticky and within 1% of the weights over 100,000 keys', () => {
  const variants = ['control', 'b', 'c'];
  const weights = [0.5, 0.3, 0.2];
  const spec = { seed: 'checkout-test', variants, ranges: getBucketRanges(3, 1, weights) };
  const counts = new Map<string, number>();
  for (const k of KEYS) {
    const v = assignVariant(k, spec);
    assert.ok(v !== null);
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  variants.forEach((v, i) => {
    const share = counts.get(v)! / KEYS.length;
    assert.ok(Math.abs(share - weights[i]!) <= 0.01 * weights[i]!, `${v}: ${share} vs ${weights[i]}`);
  });
  for (const k of KEYS.slice(0, 1000)) assert.equal(assignVariant(k, spec), assignVariant(k, { ...spec, ranges: getBucketRanges(3, 1, weights) }));
});

test('with fixed slots, changing traffic only moves units in or out of the experiment, never between arms', () => {
  const variants = ['control', 'b', 'c'];
  const slots = [0.5, 0.25, 0.25];
  const plans = [[0.05, 0.05, 0], [0.25, 0.1, 0.05], [0.5, 0.25, 0.25], [0.1, 0.25, 0.2], [0.5, 0, 0.25]];
  const assignments = plans.map((traffic) => {
    const spec = { seed: 'exp-7', variants, ranges: fixedBucketRanges(slots, traffic) };
    return KEYS.map((k) => assignVariant(k, spec));
  });
  for (let p = 0; p < plans.length; p++) {
    for (let q = 0; q < plans.length; q++) {
      for (let i = 0; i < KEYS.length; i++) {
        const a = assignments[p]![i]!;
        const b = assignments[q]![i]!;
        if (a !== null && b !== null) assert.equal(a, b, `unit ${KEYS[i]} changed arm between plans ${p} and ${q}`);
      }
    }
  }
  // Growing an arm's traffic only adds units: everyone in it before stays in it.
  for (let i = 0; i < KEYS.length; i++) if (assignments[0]![i] !== null) assert.equal(assignments[2]![i], assignments[0]![i]);
  // The shares still match the traffic within 1%.
  const counts = new Map<string | null, number>();
  for (const v of assignments[1]!) counts.set(v, (counts.get(v) ?? 0) + 1);
  [0.25, 0.1, 0.05].forEach((t, i) => {
    const share = counts.get(variants[i]!)! / KEYS.length;
    assert.ok(Math.abs(share - t) <= 0.01 * t + 0.001, `${variants[i]}: ${share} vs ${t}`);
  });
});

test('GrowthBook ranges: changing coverage never moves units between arms; changing weights can (why fixed slots exist)', () => {
  const variants = ['control', 'b'];
  const at = (coverage: number, weights: number[]) => {
    const spec = { seed: 's', variants, ranges: getBucketRanges(2, coverage, weights) };
    return KEYS.map((k) => assignVariant(k, spec));
  };
  const low = at(0.2, [0.5, 0.5]);
  const full = at(1, [0.5, 0.5]);
  for (let i = 0; i < KEYS.length; i++) if (low[i] !== null) assert.equal(full[i], low[i]);
  const reweighted = at(1, [0.3, 0.7]);
  assert.ok(KEYS.some((_, i) => full[i] === 'control' && reweighted[i] === 'b'));
});

test('fixedBucketRanges refuses traffic outside its slot and slots not summing to 1', () => {
  assert.throws(() => fixedBucketRanges([0.5, 0.5], [0.6, 0.1]), { code: 'VALIDATION_FAILED' });
  assert.throws(() => fixedBucketRanges([0.5, 0.4], [0.1, 0.1]), { code: 'VALIDATION_FAILED' });
  assert.deepEqual(fixedBucketRanges([0.5, 0.5], [0.1, 0.5]), [[0, 0.1], [0.5, 1]]);
});
