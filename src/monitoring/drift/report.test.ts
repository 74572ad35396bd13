import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { binCounts, chooseMethod, columnDrift, driftReport } from './report.ts';

/** A deterministic uniform stream (mulberry32). */
function uniform(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function numbers(seed: number, n: number, shift = 0, scale = 1): number[] {
  const r = uniform(seed);
  return Array.from({ length: n }, () => shift + scale * (r() + r() + r() - 1.5));
}

describe('method choice (Evidently\'s defaults)', () => {
  test('small references: KS for numeric with many values, chi-square above 2 values, z for binary', () => {
    assert.equal(chooseMethod('numeric', 1000, 6), 'ks');
    assert.equal(chooseMethod('numeric', 1000, 5), 'chisquare');
    assert.equal(chooseMethod('numeric', 1000, 2), 'z');
    assert.equal(chooseMethod('categorical', 500, 3), 'chisquare');
    assert.equal(chooseMethod('categorical', 500, 2), 'z');
  });

  test('large references: Wasserstein (normed) for numeric with many values, Jensen–Shannon otherwise', () => {
    assert.equal(chooseMethod('numeric', 1001, 6), 'wasserstein');
    assert.equal(chooseMethod('numeric', 1001, 5), 'jensenshannon');
    assert.equal(chooseMethod('categorical', 5000, 40), 'jensenshannon');
  });
});

describe('column drift', () => {
  test('a shifted numeric column drifts, an unshifted one does not (KS on small samples)', () => {
    const same = columnDrift({ name: 'x', kind: 'numeric', reference: numbers(1, 500), current: numbers(2, 400) });
    assert.equal(same.method, 'ks');
    assert.equal(same.drift, false);
    assert.ok(same.p_value! > 0.05);
    const moved = columnDrift({ name: 'x', kind: 'numeric', reference: numbers(1, 500), current: numbers(2, 400, 0.5) });
    assert.equal(moved.drift, true);
    assert.ok(moved.p_value! < 1e-6);
    assert.equal(moved.threshold, 0.05);
  });

  test('large samples use the Wasserstein distance normed by the reference std, threshold 0.1', () => {
    const same = columnDrift({ name: 'x', kind: 'numeric', reference: numbers(3, 5000), current: numbers(4, 5000) });
    assert.equal(same.method, 'wasserstein');
    assert.equal(same.p_value, undefined);
    assert.ok(same.statistic < 0.1 && !same.drift);
    const moved = columnDrift({ name: 'x', kind: 'numeric', reference: numbers(3, 5000), current: numbers(4, 5000, 0, 2) });
    assert.ok(moved.statistic >= 0.1 && moved.drift);
  });

  test('categories: chi-square on small samples, Jensen–Shannon on large ones; a new category counts', () => {
    const ref = Array.from({ length: 300 }, (_, i) => ['a', 'b', 'c'][i % 3]);
    const cur = Array.from({ length: 300 }, (_, i) => ['a', 'b', 'c', 'new'][i % 4]);
    const chi = columnDrift({ name: 'c', kind: 'categorical', reference: ref, current: cur });
    assert.equal(chi.method, 'chisquare');
    assert.equal(chi.drift, true);
    const big = columnDrift({ name: 'c', kind: 'categorical', reference: [...ref, ...ref, ...ref, ...ref], current: ref });
    assert.equal(big.method, 'jensenshannon');
    assert.ok(big.statistic < 1e-12 && !big.drift);
  });

  test('nulls are left out; a side with no values is reported without a verdict', () => {
    const r = columnDrift({ name: 'x', kind: 'numeric', reference: [1, null, 2, NaN, 3, undefined, 4, 5, 6, 7], current: [null, null] });
    assert.equal(r.reference_size, 7);
    assert.equal(r.current_size, 0);
    assert.ok(Number.isNaN(r.statistic));
    assert.equal(r.drift, false);
  });

  test('a method that does not fit the column type is refused, naming the column', () => {
    assert.throws(() => columnDrift({ name: 'c', kind: 'categorical', reference: ['a'], current: ['b'] }, { method: 'ks' }),
      (err: { code?: string; issues?: { field: string }[] }) => err.code === 'VALIDATION_FAILED' && err.issues![0]!.field === '/columns/c');
    assert.throws(() => columnDrift({ name: 'c', kind: 'categorical', reference: ['a', 'b', 'c'], current: ['a'] }, { method: 'z' }),
      (err: { code?: string }) => err.code === 'VALIDATION_FAILED');
  });

  test('PSI and Jensen–Shannon on numeric columns use bins fixed by the reference quantiles', () => {
    const ref = numbers(5, 2000);
    const psi = columnDrift({ name: 'x', kind: 'numeric', reference: ref, current: numbers(6, 2000, 1) }, { method: 'psi' });
    assert.equal(psi.method, 'psi');
    assert.ok(psi.statistic > 0.1 && psi.drift);
    const { edges, refCounts } = binCounts(Float64Array.from(ref), Float64Array.from(ref), 10);
    assert.equal(edges.length, 9);
    assert.deepEqual(Array.from(refCounts), Array(10).fill(200));
  });

  test('bins with ties collapse: a value on an edge goes to the bin above it', () => {
    // positions ⌊i·6/4⌋ = 1, 3, 4 → values 1, 1, 2; 1 is the minimum (dropped), so the only edge is 2
    const { edges, refCounts, curCounts } = binCounts(Float64Array.from([1, 1, 1, 1, 2, 3]), Float64Array.from([0, 1, 5]), 4);
    assert.deepEqual(edges, [2]);
    assert.deepEqual(Array.from(refCounts), [4, 2]);
    assert.deepEqual(Array.from(curCounts), [2, 1]);
  });
});

describe('dataset drift', () => {
  test('the share of drifted columns decides, at 0.5 by default', () => {
    const columns = [
      { name: 'a', kind: 'numeric' as const, reference: numbers(1, 300), current: numbers(2, 300, 1) },
      { name: 'b', kind: 'numeric' as const, reference: numbers(3, 300), current: numbers(4, 300) },
      { name: 'c', kind: 'numeric' as const, reference: numbers(5, 300), current: numbers(6, 300) },
    ];
    const report = driftReport(columns);
    assert.deepEqual(report.columns.map((c) => c.drift), [true, false, false]);
    assert.equal(report.drift_share, 1 / 3);
    assert.equal(report.dataset_drift, false);
    assert.equal(driftReport(columns, { datasetDriftShare: 0.3 }).dataset_drift, true);
    const strict = driftReport(columns, { perColumn: { b: { threshold: 1 } } });
    assert.equal(strict.columns[1]!.drift, true, 'a p-value threshold of 1 always drifts');
  });
});
