// Labelled regression performance per window from exact running sums, so windows and replicas merge exactly and in
// any order. Hand-written on purpose: Tarmac's own monitoring logic, mergeable by design, with no npm dependency.
import { ExactSum } from '../profile/exact-sum.ts';
import { addProduct, checkEnvelope, fail, num, requireFinite, sumFromJSON, sumToJSON } from './util.ts';
import type { ExactSumJSON } from './util.ts';

/** Regression metrics of a window (null when undefined). */
export interface RegressionMetrics {
  n: number;
  /** sklearn.metrics.mean_absolute_error. */
  mae: number | null;
  /** sklearn.metrics.root_mean_squared_error (mean_squared_error(squared=False) before sklearn 1.4). */
  rmse: number | null;
  /** sklearn.metrics.mean_squared_error. */
  mse: number | null;
  /** sklearn.metrics.r2_score (force_finite=True: 1 for a perfect fit of constant y, 0 otherwise); null when n < 2. */
  r2: number | null;
  /** The mean residual Σ(y − ŷ)/n: positive when the model under-predicts. */
  meanError: number | null;
}

/** The versioned JSON state of a RegressionAccumulator. */
export type RegressionJSON = {
  v: 1;
  kind: 'regression';
  n: number;
  sumY: ExactSumJSON;
  sumY2: ExactSumJSON;
  sumE: ExactSumJSON;
  sumAbsE: ExactSumJSON;
  sumE2: ExactSumJSON;
};

/**
 * Mergeable MAE, RMSE and R² from Σy, Σy², Σ(y − ŷ), Σ|y − ŷ| and Σ(y − ŷ)², kept as exact sums (squares by an exact
 * product) so a merge equals the accumulator of both streams bit for bit; add() throws VALIDATION_FAILED on a
 * non-finite value.
 */
export class RegressionAccumulator {
  private n = 0;
  private sumY = new ExactSum();
  private sumY2 = new ExactSum();
  private sumE = new ExactSum();
  private sumAbsE = new ExactSum();
  private sumE2 = new ExactSum();

  /** Adds one observed value and its prediction. */
  add(y: number, yhat: number): this {
    requireFinite(y, '/y');
    requireFinite(yhat, '/yhat');
    // The residual is rounded once, as numpy's y_true - y_pred is, before it is squared exactly.
    const e = y - yhat;
    this.n++;
    this.sumY.add(y);
    addProduct(this.sumY2, y, y);
    this.sumE.add(e);
    this.sumAbsE.add(Math.abs(e));
    addProduct(this.sumE2, e, e);
    return this;
  }

  /** Adds every observation of `other`. */
  merge(other: RegressionAccumulator): this {
    this.n += other.n;
    this.sumY.addSum(other.sumY);
    this.sumY2.addSum(other.sumY2);
    this.sumE.addSum(other.sumE);
    this.sumAbsE.addSum(other.sumAbsE);
    this.sumE2.addSum(other.sumE2);
    return this;
  }

  /** A deep copy. */
  clone(): RegressionAccumulator {
    return RegressionAccumulator.fromJSON(this.toJSON());
  }

  // n·Σy² − (Σy)², computed exactly from the partials and rounded once, so the total sum of squares does not
  // cancel catastrophically when the mean is large against the spread.
  private scaledTotalSumOfSquares(): number {
    const t = new ExactSum();
    for (const q of this.sumY2.partials) addProduct(t, this.n, q);
    const s = this.sumY.partials;
    for (const a of s) for (const b of s) addProduct(t, -a, b);
    if (this.sumY2.overflow !== 0 || this.sumY.overflow !== 0) return Infinity;
    return t.value();
  }

  /** The metrics of the window. */
  metrics(): RegressionMetrics {
    const n = this.n;
    if (n === 0) return { n, mae: null, rmse: null, mse: null, r2: null, meanError: null };
    const sse = this.sumE2.value();
    const mse = sse / n;
    let r2: number | null = null;
    if (n >= 2) {
      const sst = this.scaledTotalSumOfSquares() / n;
      if (sst === 0) r2 = sse === 0 ? 1 : 0;
      else r2 = 1 - sse / sst;
    }
    return { n, mae: this.sumAbsE.value() / n, rmse: Math.sqrt(mse), mse, r2, meanError: this.sumE.value() / n };
  }

  /** The versioned JSON state. */
  toJSON(): RegressionJSON {
    return {
      v: 1, kind: 'regression', n: this.n, sumY: sumToJSON(this.sumY), sumY2: sumToJSON(this.sumY2),
      sumE: sumToJSON(this.sumE), sumAbsE: sumToJSON(this.sumAbsE), sumE2: sumToJSON(this.sumE2),
    };
  }

  /** Restores an accumulator from toJSON's output; throws VALIDATION_FAILED on a malformed state. */
  static fromJSON(json: unknown): RegressionAccumulator {
    const o = checkEnvelope(json, 'regression');
    const acc = new RegressionAccumulator();
    acc.n = num(o, 'n');
    if (!Number.isInteger(acc.n) || acc.n < 0) throw fail('/n', 'range', 'n must be a non-negative integer');
    acc.sumY = sumFromJSON(o.sumY, '/sumY');
    acc.sumY2 = sumFromJSON(o.sumY2, '/sumY2');
    acc.sumE = sumFromJSON(o.sumE, '/sumE');
    acc.sumAbsE = sumFromJSON(o.sumAbsE, '/sumAbsE');
    acc.sumE2 = sumFromJSON(o.sumE2, '/sumE2');
    return acc;
  }
}
