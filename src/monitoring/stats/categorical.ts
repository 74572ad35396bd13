// Tests for categorical drift: Pearson's chi-square test of independence (scipy.stats.chi2_contingency) and the pooled
// two-proportion z-test (statsmodels' proportions_ztest, which Evidently's z-test uses). Hand-written on purpose: no
// npm dependency in Tarmac's statistical core.
import { TarmacError } from '../../shared/errors.ts';
import { chi2Sf, normalSf } from './special.ts';

function fail(field: string, rule: string, message: string): TarmacError {
  return new TarmacError('VALIDATION_FAILED', message, { issues: [{ field, rule, message }] });
}

/** Options of chi2Contingency. */
export interface Chi2ContingencyOptions {
  /** Apply Yates' continuity correction when dof = 1 (default true, as scipy). */
  correction?: boolean;
}

/** The result of chi2Contingency: Pearson's statistic, its p-value, the degrees of freedom and the expected table. */
export interface Chi2ContingencyResult {
  statistic: number;
  pvalue: number;
  dof: number;
  expected: number[][];
}

/**
 * scipy.stats.chi2_contingency(table, correction=True) for a two-way table: expected frequencies from the margins,
 * dof = (rows - 1)(cols - 1), Yates' correction when dof = 1 (each |o - e| shrunk by min(0.5, |o - e|)), and the
 * chi-square survival p-value; throws VALIDATION_FAILED on a ragged or empty table, a negative count or a zero
 * expected frequency (an all-zero row or column), as scipy raises.
 */
export function chi2Contingency(table: number[][], options: Chi2ContingencyOptions = {}): Chi2ContingencyResult {
  const correction = options.correction ?? true;
  const rows = table.length;
  const cols = rows === 0 ? 0 : (table[0]?.length ?? 0);
  if (rows === 0 || cols === 0) throw fail('/table', 'non-empty', 'the contingency table is empty');
  const rowSums = new Float64Array(rows);
  const colSums = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const row = table[r]!;
    if (row.length !== cols) throw fail(`/table/${r}`, 'shape', 'every row must have the same number of columns');
    for (let c = 0; c < cols; c++) {
      const o = row[c]!;
      if (!(o >= 0) || o === Infinity) throw fail(`/table/${r}/${c}`, 'non-negative', 'counts must be finite and >= 0');
      rowSums[r]! += o;
      colSums[c]! += o;
    }
  }
  let total = 0;
  for (let r = 0; r < rows; r++) total += rowSums[r]!;
  const expected: number[][] = [];
  for (let r = 0; r < rows; r++) {
    const line: number[] = [];
    for (let c = 0; c < cols; c++) {
      const e = (rowSums[r]! * colSums[c]!) / total;
      if (!(e > 0)) {
        throw fail(`/table/${r}/${c}`, 'expected-nonzero', `the expected frequency at (${r}, ${c}) is zero`);
      }
      line.push(e);
    }
    expected.push(line);
  }
  // scipy's size - sum(shape) + ndim - 1, which for a 2-D table is (rows - 1)(cols - 1).
  const dof = rows * cols - rows - cols + 1;
  if (dof === 0) return { statistic: 0, pvalue: 1, dof, expected };
  let stat = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      let o = table[r]![c]!;
      const e = expected[r]![c]!;
      if (dof === 1 && correction) {
        const diff = e - o;
        // Magnitude of the correction no bigger than the difference (scipy gh-13875).
        o += Math.sign(diff) * Math.min(0.5, Math.abs(diff));
      }
      stat += ((o - e) * (o - e)) / e;
    }
  }
  return { statistic: stat, pvalue: chi2Sf(stat, dof), dof, expected };
}

/** The result of proportionsZTest: the z statistic (reference minus current) and its two-sided p-value. */
export interface ProportionsZTestResult {
  statistic: number;
  pvalue: number;
}

/**
 * Pooled two-proportion z-test between reference and current, two-sided (statsmodels' proportions_ztest as Evidently's
 * z-test uses it): z = (p_ref - p_cur) / sqrt(p̂(1 - p̂)(1/n_ref + 1/n_cur)), p = 2·sf(|z|). When the pooled proportion is
 * 0 or 1 (both samples constant and equal) there is no evidence of drift: statistic 0, p-value 1, as Evidently returns.
 * Throws VALIDATION_FAILED when a count is not an integer in [0, n] or n < 1.
 */
export function proportionsZTest(
  refSuccesses: number, refN: number, curSuccesses: number, curN: number,
): ProportionsZTestResult {
  const check = (s: number, n: number, field: string) => {
    if (!Number.isInteger(n) || n < 1) throw fail(`/${field}N`, 'range', `${field}N must be an integer >= 1`);
    if (!Number.isInteger(s) || s < 0 || s > n) {
      throw fail(`/${field}Successes`, 'range', `${field}Successes must be an integer in [0, ${field}N]`);
    }
  };
  check(refSuccesses, refN, 'ref');
  check(curSuccesses, curN, 'cur');
  const diff = refSuccesses / refN - curSuccesses / curN;
  const pooled = (refSuccesses + curSuccesses) / (refN + curN);
  const variance = pooled * (1 - pooled) * (1 / refN + 1 / curN);
  if (!(variance > 0)) return { statistic: 0, pvalue: 1 };
  const z = diff / Math.sqrt(variance);
  return { statistic: z, pvalue: 2 * normalSf(Math.abs(z)) };
}
