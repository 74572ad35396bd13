import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sortFloat64 } from './sort.ts';
import { seededSample } from './seeded.ts';

test('sortFloat64 orders like Float64Array.prototype.sort, with signs, zeros, infinities and subnormals', () => {
  for (const n of [10, 5000, 70001]) {
    const a = seededSample({ kind: 'irwinhall', seed: n, n, scale: 1e3 });
    a.set([-0, 0, -Infinity, Infinity, 5e-324, -5e-324, -1e300, 1e300]);
    const expected = a.slice().sort();
    assert.deepEqual(Array.from(sortFloat64(a.slice())), Array.from(expected));
  }
});

test('sortFloat64 carries a payload along with the values', () => {
  const v = seededSample({ kind: 'int', seed: 9, n: 9000, k: 50, loc: -25 });
  const w = Float64Array.from(v, (x) => x * 2 + 1);
  sortFloat64(v, w);
  for (let i = 0; i < v.length; i++) {
    assert.equal(w[i], v[i]! * 2 + 1);
    if (i > 0) assert.ok(v[i - 1]! <= v[i]!);
  }
});
