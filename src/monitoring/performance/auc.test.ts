import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededUniform } from '../stats/seeded.ts';
import { BinaryAucAccumulator, exactAuc } from './auc.ts';

test('exact AUC counts ties as half and is null with one class', () => {
  assert.equal(exactAuc([0.5], [0.5]), 0.5);
  assert.equal(exactAuc([0.9, 0.5], [0.5, 0.1]), 0.875);
  assert.equal(exactAuc([0.3], []), null);
});

test('the accumulator switches to the histogram past its exact limit and stays within its bound', () => {
  const acc = new BinaryAucAccumulator({ exactLimit: 10_000, bins: 1000 });
  const pos: number[] = [];
  const neg: number[] = [];
  for (let i = 0; i < 30_000; i++) {
    const s = seededUniform(7, i);
    const positive = seededUniform(8, i) < s;
    (positive ? pos : neg).push(s);
    acc.add(s, positive);
  }
  const r = acc.result();
  assert.equal(r.mode, 'histogram');
  const exact = exactAuc(pos, neg)!;
  assert.ok(Math.abs(r.auc! - exact) <= r.errorBound, `${r.auc} vs ${exact} bound ${r.errorBound}`);
  // For continuous scores the bound is about half the mass sharing a bin: O(1 / bins).
  assert.ok(r.errorBound < 1e-3, `bound ${r.errorBound}`);
  assert.deepEqual(BinaryAucAccumulator.fromJSON(JSON.parse(JSON.stringify(acc))).result(), r);
});

test('merging two exact sets whose union exceeds the limit switches to the histogram', () => {
  const a = new BinaryAucAccumulator({ exactLimit: 4 }).add(0.1, false).add(0.9, true).add(0.4, true);
  const b = new BinaryAucAccumulator({ exactLimit: 4 }).add(0.2, false).add(0.7, true);
  const m = a.clone().merge(b);
  assert.equal(m.mode, 'histogram');
  const direct = new BinaryAucAccumulator({ exactLimit: 4 });
  for (const [s, p] of [[0.1, false], [0.9, true], [0.4, true], [0.2, false], [0.7, true]] as const) direct.add(s, p);
  assert.deepEqual(m.toJSON(), direct.toJSON());
  assert.deepEqual(b.clone().merge(a).toJSON(), direct.toJSON());
  assert.throws(() => a.merge(new BinaryAucAccumulator({ bins: 10 })), { code: 'VALIDATION_FAILED' });
});
