import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BottomKSample } from './sample.ts';

/** Pearson chi-square of inclusion counts against a uniform expectation. */
function chiSquare(counts: number[]): number {
  const expected = counts.reduce((a, b) => a + b, 0) / counts.length;
  return counts.reduce((acc, c) => acc + (c - expected) ** 2 / expected, 0);
}

// 99 degrees of freedom: mean 99, sd 14; 200 is more than 7 sd away, and the seeds are fixed anyway.
const CHI2_LIMIT = 200;

test('a sample is a uniform subset of its stream (inclusion counts over 2,000 seeds)', () => {
  const counts = new Array<number>(100).fill(0);
  for (let seed = 1; seed <= 2000; seed++) {
    const s = new BottomKSample<number>(10, seed);
    for (let i = 0; i < 100; i++) s.add(i);
    assert.equal(s.size, 10);
    for (const v of s.valuesInKeyOrder()) counts[v]!++;
  }
  assert.ok(chiSquare(counts) < CHI2_LIMIT, `chi-square ${chiSquare(counts)}`);
});

test('merging samples of unequal streams gives a uniform sample of the union', () => {
  const counts = new Array<number>(100).fill(0);
  for (let seed = 1; seed <= 2000; seed++) {
    const a = new BottomKSample<number>(10, seed * 2);
    const b = new BottomKSample<number>(10, seed * 2 + 1);
    for (let i = 0; i < 100; i++) (i < 15 ? a : b).add(i);
    for (const v of BottomKSample.merge(a, b).valuesInKeyOrder()) counts[v]!++;
  }
  // Items 0–14 (the small side) must not be over-represented: a naive "half from each side" merge would give each
  // of them ~667 hits instead of 200.
  assert.ok(chiSquare(counts) < CHI2_LIMIT, `chi-square ${chiSquare(counts)}`);
});

test('sample merge is exactly commutative and associative, and round-trips through JSON', () => {
  const parts = [1, 2, 3].map((seed) => {
    const s = new BottomKSample<number>(16, seed);
    for (let i = 0; i < 1000; i++) s.add(seed * 10_000 + i);
    return s;
  });
  const [a, b, c] = parts as [BottomKSample<number>, BottomKSample<number>, BottomKSample<number>];
  const left = BottomKSample.merge(BottomKSample.merge(a, b), c).toJSON();
  const right = BottomKSample.merge(a, BottomKSample.merge(b, c)).toJSON();
  assert.deepEqual(left.keys, right.keys);
  assert.deepEqual(left.values, right.values);
  assert.deepEqual(BottomKSample.merge(a, b).toJSON(), BottomKSample.merge(b, a).toJSON());
  assert.equal(left.seen, 3000);
  const back = BottomKSample.fromJSON(JSON.parse(JSON.stringify(a)), 16, (v): v is number => typeof v === 'number');
  assert.deepEqual(back.toJSON(), a.toJSON());
});

test('a long stream keeps a bounded, representative sample', () => {
  const s = new BottomKSample<number>(256, 9);
  for (let i = 0; i < 1_000_000; i++) s.add(i);
  const v = s.valuesInKeyOrder();
  assert.equal(v.length, 256);
  const mean = v.reduce((x, y) => x + y, 0) / v.length;
  // The sample mean of 256 draws from U(0, 1e6) has sd ≈ 18,000; 100,000 is a loose envelope.
  assert.ok(Math.abs(mean - 500_000) < 100_000, `mean ${mean}`);
});
