/** Deterministic logistic regression for the demo: split, standardise, one-hot, Newton/IRLS with L2, metrics. */
import { EMPLOYMENT_TYPES, NUMERIC_FEATURES, sigmoid } from './data.ts';
import type { LoanFeatures, LoanRow } from './data.ts';
import { mulberry32, shuffled } from './prng.ts';

/** Training settings; fixed so a run is fully reproducible. */
export interface TrainOptions {
  /** L2 penalty on the (non-intercept) weights, sklearn-style: loss = sum(log-loss) + l2/2 * |w|^2. */
  l2: number;
  /** Number of Newton steps; no early stopping, so the result never depends on a tolerance test. */
  iterations: number;
}

/** Default training settings (sklearn's C=1 equivalent). */
export const DEFAULT_TRAIN_OPTIONS: TrainOptions = { l2: 1, iterations: 25 };

/**
 * A trained model as exported: every parameter is already rounded to float32, because that is what the ONNX graph
 * holds, so the TypeScript predictions and ONNX Runtime's agree to float32 arithmetic error.
 */
export interface LogisticModel {
  /** Per-numeric-feature means (Scaler offset), in NUMERIC_FEATURES order. */
  means: number[];
  /** Per-numeric-feature 1/std (Scaler scale), in NUMERIC_FEATURES order. */
  scales: number[];
  /** Weights: the standardised numerics, then one per employment category (EMPLOYMENT_TYPES order). */
  weights: number[];
  intercept: number;
}

/** Validation metrics of a binary classifier. */
export interface Metrics {
  auc: number;
  accuracy: number;
  log_loss: number;
}

/** A seeded train/validation split by row index. */
export interface Split {
  train: number[];
  validation: number[];
}

/** Splits row indices into train and validation with a seeded shuffle; `validationFraction` of rows go to validation. */
export function splitIndices(n: number, seed: number, validationFraction = 0.2): Split {
  const order = shuffled(Array.from({ length: n }, (_, i) => i), mulberry32(seed));
  const nValidation = Math.round(n * validationFraction);
  return {
    validation: order.slice(0, nValidation).sort((a, b) => a - b),
    train: order.slice(nValidation).sort((a, b) => a - b),
  };
}

/** Rounds a value to the nearest float32, as ONNX Runtime sees float inputs and parameters. */
const f32 = Math.fround;

/** The float32-rounded numeric feature values of a record, in NUMERIC_FEATURES order. */
function numericValues(f: LoanFeatures): number[] {
  return NUMERIC_FEATURES.map((k) => f32(f[k]));
}

/** Builds the design row (standardised numerics then one-hot employment) for given scaler parameters. */
function designRow(f: LoanFeatures, means: readonly number[], scales: readonly number[]): number[] {
  const x = numericValues(f).map((v, j) => (v - (means[j] as number)) * (scales[j] as number));
  for (const cat of EMPLOYMENT_TYPES) x.push(f.employment_type === cat ? 1 : 0);
  return x;
}

/** Solves the symmetric positive-definite system A x = b by Cholesky decomposition (A is n×n, row-major arrays). */
export function solveSpd(a: readonly (readonly number[])[], b: readonly number[]): number[] {
  const n = b.length;
  const l: number[][] = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    const li = l[i] as number[];
    for (let j = 0; j <= i; j++) {
      const lj = l[j] as number[];
      let sum = (a[i] as readonly number[])[j] as number;
      for (let k = 0; k < j; k++) sum -= (li[k] as number) * (lj[k] as number);
      if (i === j) {
        if (!(sum > 0)) throw new Error('matrix is not positive definite');
        li[i] = Math.sqrt(sum);
      } else {
        li[j] = sum / (lj[j] as number);
      }
    }
  }
  const y = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    let sum = b[i] as number;
    for (let k = 0; k < i; k++) sum -= ((l[i] as number[])[k] as number) * (y[k] as number);
    y[i] = sum / ((l[i] as number[])[i] as number);
  }
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let sum = y[i] as number;
    for (let k = i + 1; k < n; k++) sum -= ((l[k] as number[])[i] as number) * (x[k] as number);
    x[i] = sum / ((l[i] as number[])[i] as number);
  }
  return x;
}

/** Trains L2-regularised logistic regression with a fixed number of Newton (IRLS) steps and returns float32 parameters. */
export function trainLogistic(rows: readonly LoanRow[], options: TrainOptions = DEFAULT_TRAIN_OPTIONS): LogisticModel {
  if (rows.length === 0) throw new Error('no training rows');
  const p = NUMERIC_FEATURES.length;
  const means = new Array<number>(p).fill(0);
  for (const r of rows) numericValues(r).forEach((v, j) => (means[j] = (means[j] as number) + v));
  for (let j = 0; j < p; j++) means[j] = (means[j] as number) / rows.length;
  const variances = new Array<number>(p).fill(0);
  for (const r of rows) numericValues(r).forEach((v, j) => (variances[j] = (variances[j] as number) + (v - (means[j] as number)) * (v - (means[j] as number))));
  // Population std, as sklearn's StandardScaler; parameters are rounded to float32 before they are used.
  const meansF = means.map(f32);
  const scalesF = variances.map((v) => f32(1 / Math.sqrt(v / rows.length)));

  const xs = rows.map((r) => [...designRow(r, meansF, scalesF), 1]); // last column: intercept
  const ys = rows.map((r) => r.default);
  const d = p + EMPLOYMENT_TYPES.length + 1;
  let beta = new Array<number>(d).fill(0);
  for (let iter = 0; iter < options.iterations; iter++) {
    const grad = new Array<number>(d).fill(0);
    const hess: number[][] = Array.from({ length: d }, () => new Array<number>(d).fill(0));
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i] as number[];
      let z = 0;
      for (let j = 0; j < d; j++) z += (beta[j] as number) * (x[j] as number);
      const mu = sigmoid(z);
      const w = mu * (1 - mu);
      const resid = mu - (ys[i] as number);
      for (let j = 0; j < d; j++) {
        const xj = x[j] as number;
        grad[j] = (grad[j] as number) + resid * xj;
        const hj = hess[j] as number[];
        for (let k = 0; k <= j; k++) hj[k] = (hj[k] as number) + w * xj * (x[k] as number);
      }
    }
    for (let j = 0; j < d; j++) {
      for (let k = j + 1; k < d; k++) (hess[j] as number[])[k] = (hess[k] as number[])[j] as number;
      if (j < d - 1) {
        grad[j] = (grad[j] as number) + options.l2 * (beta[j] as number);
        (hess[j] as number[])[j] = ((hess[j] as number[])[j] as number) + options.l2;
      }
    }
    const step = solveSpd(hess, grad);
    beta = beta.map((b, j) => b - (step[j] as number));
  }
  return {
    means: meansF,
    scales: scalesF,
    weights: beta.slice(0, d - 1).map(f32),
    intercept: f32(beta[d - 1] as number),
  };
}

/** The model's probability of default (class 1) for one record, from its float32 parameters. */
export function predictProbability(model: LogisticModel, f: LoanFeatures): number {
  const x = designRow(f, model.means, model.scales);
  let z = model.intercept;
  for (let j = 0; j < x.length; j++) z += (model.weights[j] as number) * (x[j] as number);
  return sigmoid(z);
}

/** The predicted label for a probability of class 1: 1 when it exceeds 0.5 (ties go to class 0, as ONNX's argmax). */
export function labelOf(probability: number): 0 | 1 {
  return probability > 0.5 ? 1 : 0;
}

/** Area under the ROC curve via the Mann–Whitney statistic, with average ranks for tied scores. */
export function rocAuc(labels: readonly number[], scores: readonly number[]): number {
  const order = scores.map((s, i) => [s, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let rankSumPos = 0;
  let nPos = 0;
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && (order[end + 1] as readonly [number, number])[0] === (order[start] as readonly [number, number])[0]) end++;
    const avgRank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) {
      if (labels[(order[k] as readonly [number, number])[1]] === 1) {
        rankSumPos += avgRank;
        nPos++;
      }
    }
    start = end + 1;
  }
  const nNeg = labels.length - nPos;
  if (nPos === 0 || nNeg === 0) throw new Error('AUC needs both classes');
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/** AUC, accuracy (threshold 0.5) and mean log-loss (probabilities clipped to [1e-15, 1-1e-15], as sklearn). */
export function evaluate(labels: readonly number[], probabilities: readonly number[]): Metrics {
  let correct = 0;
  let loss = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i] as number;
    const prob = Math.min(Math.max(probabilities[i] as number, 1e-15), 1 - 1e-15);
    if (labelOf(prob) === y) correct++;
    loss -= y === 1 ? Math.log(prob) : Math.log(1 - prob);
  }
  return { auc: rocAuc(labels, probabilities), accuracy: correct / labels.length, log_loss: loss / labels.length };
}
