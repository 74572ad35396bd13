import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExactSum } from './exact-sum.ts';
import { Rng } from './random.ts';

function sumOf(values: number[]): number {
  const s = new ExactSum();
  for (const v of values) s.add(v);
  return s.value();
}

test('the exact sum is correctly rounded, whatever the order', () => {
  assert.equal(sumOf([1e100, 1, -1e100]), 1);
  assert.equal(sumOf(new Array<number>(10).fill(0.1)), 1);
  assert.equal(sumOf([]), 0);
  const rng = new Rng(3);
  const values = Array.from({ length: 10_000 }, () => (rng.nextOpen() - 0.5) * 10 ** Math.floor(rng.nextOpen() * 40 - 20));
  const forward = sumOf(values);
  assert.equal(sumOf(values.slice().reverse()), forward);
  assert.equal(sumOf(values.slice().sort((a, b) => a - b)), forward);
  const a = new ExactSum();
  const b = new ExactSum();
  values.forEach((v, i) => (i % 3 === 0 ? a : b).add(v));
  a.addSum(b);
  assert.equal(a.value(), forward);
});

test('an overflowing sum becomes a sticky infinity', () => {
  const s = new ExactSum();
  s.add(1.5e308);
  s.add(1.5e308);
  assert.equal(s.value(), Infinity);
  s.add(-1);
  assert.equal(s.value(), Infinity);
  const neg = new ExactSum();
  neg.add(-1.5e308);
  neg.add(-1.5e308);
  s.addSum(neg);
  assert.ok(Number.isNaN(s.value()));
});
