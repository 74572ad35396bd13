import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KllSketch } from './kll.ts';
import { Rng } from './random.ts';

function data(kind: 'uniform' | 'skewed' | 'ties', n: number): Float64Array {
  const rng = new Rng(42);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = rng.nextOpen();
    out[i] = kind === 'uniform' ? u : kind === 'skewed' ? Math.exp(8 * -Math.log(u)) : Math.floor(u * u * 10);
  }
  return out;
}

/** Largest |estimated rank − true rank| / n over 99 percentile points and every distinct value of tied data. */
function maxRankError(sketch: KllSketch, values: Float64Array): number {
  const sorted = values.slice().sort();
  const n = sorted.length;
  const queries = new Set<number>();
  for (let i = 1; i < 100; i++) queries.add(sorted[Math.floor((i * n) / 100)]!);
  let worst = 0;
  for (const x of queries) {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid]! <= x) lo = mid + 1;
      else hi = mid;
    }
    worst = Math.max(worst, Math.abs(sketch.rank(x) - lo) / n);
  }
  return worst;
}

for (const kind of ['uniform', 'skewed', 'ties'] as const) {
  test(`KLL rank error on 1e6 ${kind} values stays within the sketch's own bound`, () => {
    const values = data(kind, 1_000_000);
    const s = new KllSketch(200, 7);
    for (const v of values) s.update(v);
    const err = maxRankError(s, values);
    // A union bound over ≤ 100 queries at δ = 1e-4 each; the seed is fixed, so this never flakes.
    const bound = s.rankErrorBound(1e-4);
    assert.ok(err <= bound, `${kind}: error ${err} > bound ${bound}`);
    assert.ok(s.rankErrorBound(0.01) < 0.016, `99 % bound ${s.rankErrorBound(0.01)} is the documented ~1.3 %`);
    assert.ok(s.storedItems < 1000);
    let weight = 0;
    s.levels.forEach((l, h) => (weight += l.length * 2 ** h));
    assert.equal(weight, 1_000_000);
  });
}

test('KLL is exact before its first compaction and answers observed values', () => {
  const s = new KllSketch(200, 1);
  for (let i = 1; i <= 100; i++) s.update(i);
  assert.equal(s.rankErrorBound(), 0);
  assert.equal(s.quantile(0.5), 50);
  assert.equal(s.quantile(0), 1);
  assert.equal(s.quantile(1), 100);
  assert.equal(s.rank(10), 10);
  assert.ok(Number.isNaN(new KllSketch().quantile(0.5)));
  assert.throws(() => s.quantile(1.5), RangeError);
});

test('merged KLL sketches respect the bound, merge commutatively and round-trip through JSON', () => {
  const values = data('skewed', 300_000);
  const parts = [0, 1, 2].map((p) => {
    const s = new KllSketch(200, 100 + p);
    for (let i = p; i < values.length; i += 3) s.update(values[i]!);
    return s;
  });
  const ab = KllSketch.merge(parts[0]!, parts[1]!);
  assert.deepEqual(ab.toJSON(), KllSketch.merge(parts[1]!, parts[0]!).toJSON());
  const all = KllSketch.merge(ab, parts[2]!);
  assert.equal(all.n, 300_000);
  assert.ok(maxRankError(all, values) <= all.rankErrorBound(1e-4));
  const back = KllSketch.fromJSON(JSON.parse(JSON.stringify(all)));
  assert.deepEqual(back.toJSON(), all.toJSON());
  assert.equal(back.quantile(0.9), all.quantile(0.9));
  assert.throws(() => KllSketch.merge(new KllSketch(200), new KllSketch(100)), RangeError);
  assert.throws(() => KllSketch.fromJSON({ ...all.toJSON(), n: 5 }), RangeError);
});
