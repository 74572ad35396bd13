import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ks2samp, ksStatisticSorted, computeProbOutsideSquare, computeOuterProbInsideMethod } from './ks.ts';
import { assertPvalue, assertValue, fixture, materialise, worstSummary } from './scipy-fixture.ts';

test('ks2samp agrees with scipy.stats.ks_2samp on every fixture case', (t) => {
  for (const c of fixture.ks2samp) {
    const a = materialise(c.a);
    const b = materialise(c.b);
    const r = ks2samp(a, b, { method: c.method });
    assert.equal(r.method, c.expected.method, `${c.name}: method`);
    assertValue('ks.statistic', r.statistic, c.expected.statistic, `${c.name}: statistic`);
    assertPvalue(`ks.pvalue.${r.method}`, r.pvalue, c.expected.pvalue, `${c.name}: pvalue`);
  }
  t.diagnostic(`${fixture.ks2samp.length} cases (scipy ${fixture.versions.scipy}); worst relative: ${worstSummary()}`);
});

test('ks2samp is symmetric in its samples and accepts plain arrays', () => {
  const a = [0.1, 0.4, 0.4, 0.9, 1.3];
  const b = [0.2, 0.4, 0.8, 1.1];
  assert.deepEqual(ks2samp(a, b), ks2samp(b, a));
});

test('ties are stepped over together, as searchsorted(side="right")', () => {
  // Both ECDFs jump at 1 together, so the difference there is 2/3 - 1/3, never 1.
  const d = ksStatisticSorted(Float64Array.from([1, 1, 2]), Float64Array.from([1, 2, 2]));
  assert.equal(d, 1 / 3);
});

test('the exact kernels: D >= 1/n is certain, complete separation has probability 2 / C(m+n, n)', () => {
  assert.ok(Math.abs(computeProbOutsideSquare(5, 1) - 1) < 1e-15);
  assert.ok(Math.abs(computeOuterProbInsideMethod(3, 4, 1, 12) - 2 / 35) < 1e-15);
});

test('ks2samp rejects empty samples and unknown methods, propagates NaN', () => {
  assert.throws(() => ks2samp([], [1]), (e: { code?: string }) => e.code === 'VALIDATION_FAILED');
  assert.throws(() => ks2samp([1], [2], { method: 'fast' as never }), (e: { code?: string }) => e.code === 'VALIDATION_FAILED');
  const r = ks2samp([1, Number.NaN], [2, 3]);
  assert.ok(Number.isNaN(r.statistic) && Number.isNaN(r.pvalue));
});
