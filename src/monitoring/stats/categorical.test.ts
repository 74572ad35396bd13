import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chi2Contingency, proportionsZTest } from './categorical.ts';
import { assertPvalue, assertValue, fixture, worstSummary } from './scipy-fixture.ts';

const isValidation = (e: { code?: string }) => e.code === 'VALIDATION_FAILED';

test('chi2Contingency agrees with scipy.stats.chi2_contingency', (t) => {
  for (const c of fixture.chi2Contingency) {
    const r = chi2Contingency(c.table, { correction: c.correction });
    assert.equal(r.dof, c.expected.dof, `${c.name}: dof`);
    assertValue('chi2.statistic', r.statistic, c.expected.statistic, `${c.name}: statistic`);
    assertPvalue('chi2.pvalue', r.pvalue, c.expected.pvalue, `${c.name}: pvalue`);
    c.expected.expected.forEach((row, i) =>
      row.forEach((e, j) => assertValue('chi2.expected', r.expected[i]![j]!, e, `${c.name}: expected[${i}][${j}]`)));
  }
  t.diagnostic(`${fixture.chi2Contingency.length} cases; worst relative: ${worstSummary()}`);
});

test('proportionsZTest agrees with statsmodels proportions_ztest (pooled, two-sided)', (t) => {
  for (const c of fixture.proportionsZTest) {
    const r = proportionsZTest(...c.args);
    assertValue('z.statistic', r.statistic, c.expected.statistic, `${c.name}: statistic`);
    assertPvalue('z.pvalue', r.pvalue, c.expected.pvalue, `${c.name}: pvalue`);
  }
  t.diagnostic(`${fixture.proportionsZTest.length} cases; worst relative: ${worstSummary()}`);
});

test('invalid tables and counts are VALIDATION_FAILED', () => {
  assert.throws(() => chi2Contingency([]), isValidation);
  assert.throws(() => chi2Contingency([[1, 2], [3]]), isValidation);
  assert.throws(() => chi2Contingency([[1, -2], [3, 4]]), isValidation);
  assert.throws(() => chi2Contingency([[1, 0], [3, 0]]), isValidation);
  assert.throws(() => proportionsZTest(5, 4, 1, 2), isValidation);
  assert.throws(() => proportionsZTest(1, 0, 1, 2), isValidation);
  assert.throws(() => proportionsZTest(1.5, 4, 1, 2), isValidation);
});
