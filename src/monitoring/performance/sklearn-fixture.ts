// Test support (not a test): loads test/fixtures/performance/sklearn-metrics.json and compares numbers with the
// 1e-12 relative tolerance of the acceptance criterion, remembering the worst relative error for the report.
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';

type Prf<T> = { precision: T; recall: T; f1: T };

/** The parsed fixture file. */
export interface PerformanceFixture {
  versions: { python: string; numpy: string; sklearn: string };
  log_loss_eps: number;
  classification: {
    name: string; y_true: (number | string)[]; y_pred: (number | string)[]; positive_label: number | string | null;
    proba: number[][] | null; proba_labels: (number | string)[] | null;
    expected: {
      labels: (number | string)[]; accuracy: number; confusion_matrix: number[][];
      zd0: { macro: Prf<number>; micro: Prf<number>; weighted: Prf<number>; per_class: Prf<number[]>; binary?: Prf<number> };
      zd1: { macro: Prf<number>; micro: Prf<number>; weighted: Prf<number>; per_class: Prf<number[]>; binary?: Prf<number> };
      log_loss: number | null; log_loss_sklearn: number | null; roc_auc: number | null;
    };
  }[];
  regression: { name: string; y: number[]; yhat: number[]; expected: { mae: number; mse: number; rmse: number; r2: number | null } }[];
  isotonic: { name: string; x: number[]; y: number[]; query: number[]; predicted: number[]; x_thresholds: number[]; y_thresholds: number[] }[];
  river_docstring: { stream: number[]; adwin_detection_index: number; page_hinkley_detection_index: number };
}

/** The fixture, read once. */
export const fixture = JSON.parse(
  readFileSync(new URL('../../../test/fixtures/performance/sklearn-metrics.json', import.meta.url), 'utf8'),
) as PerformanceFixture;

let worst = 0;

/** Asserts |actual − expected| ≤ 1e-12·|expected| (or 1e-15 absolute near 0); nulls must match. */
export function assertClose(actual: number | null | undefined, expected: number | null, message: string, rel = 1e-12): void {
  if (expected === null) {
    assert.equal(actual, null, message);
    return;
  }
  assert.equal(typeof actual, 'number', `${message}: expected a number, got ${String(actual)}`);
  const err = Math.abs(actual! - expected);
  if (expected !== 0) worst = Math.max(worst, err / Math.abs(expected));
  assert.ok(err <= rel * Math.abs(expected) || err <= 1e-15, `${message}: ${actual} vs ${expected}`);
}

/** The worst relative error seen so far. */
export function worstRelative(): number {
  return worst;
}
