// Confidence-based performance estimation (CBPE, as NannyML's): estimate a binary classifier's confusion matrix and
// ROC AUC from its calibrated probabilities alone, before labels arrive. Hand-written on purpose: Tarmac's own
// monitoring logic, mergeable by design, with no npm dependency.
import { ExactSum } from '../profile/exact-sum.ts';
import { seededUniform } from '../stats/seeded.ts';
import { AUC_DEFAULT_BINS, AUC_DEFAULT_EXACT_LIMIT, binOf, histogramAuc } from './auc.ts';
import { fitIsotonic, isotonicFromJSON, isotonicToJSON, predictIsotonic } from './isotonic.ts';
import type { IsotonicModel } from './isotonic.ts';
import { checkEnvelope, fail, num, requireProbability, sumFromJSON, sumToJSON } from './util.ts';
import type { ExactSumJSON } from './util.ts';

/**
 * NannyML's expected calibration error: sort by probability, cut into `bins` equal-count bins (fewer when n ≤ 2·bins)
 * and sum (bin size / n)·|mean probability − positive rate|; throws VALIDATION_FAILED with fewer than 4 points.
 */
export function expectedCalibrationError(probabilities: ArrayLike<number>, labels: ArrayLike<number>, bins = 10): number {
  const n = probabilities.length;
  let count = bins;
  if (n <= 2 * count) count = Math.floor(n / 2);
  if (count < 2) throw fail('/reference', 'size', 'expected calibration error needs at least 4 points');
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => probabilities[a]! - probabilities[b]!);
  const width = Math.floor(n / count);
  let ece = 0;
  for (let b = 0; b < count; b++) {
    const start = b * width;
    const end = b === count - 1 ? n : start + width;
    let sp = 0;
    let sy = 0;
    for (let i = start; i < end; i++) {
      sp += probabilities[order[i]!]!;
      sy += labels[order[i]!]!;
    }
    ece += ((end - start) / n) * Math.abs(sp / (end - start) - sy / (end - start));
  }
  return ece;
}

/** Options of fitCbpeCalibration. */
export interface CbpeCalibrationOptions {
  /** 'auto' (default) calibrates when cross-validation shows isotonic calibration lowers the ECE. */
  calibrate?: 'auto' | 'always' | 'never';
  /** ECE bins (default 10, as NannyML). */
  bins?: number;
  /** Stratified 90/10 shuffle splits of the reference (default 10, as NannyML). */
  splits?: number;
  /** Seed of the deterministic shuffles (default 42, NannyML's random_state). */
  seed?: number;
}

/** The versioned JSON state of a CbpeCalibration. */
export type CbpeCalibrationJSON = {
  v: 1;
  kind: 'cbpe-calibration';
  calibrated: boolean;
  eceReference: number;
  eceCrossValidated: { uncalibrated: number; calibrated: number } | null;
  model: ReturnType<typeof isotonicToJSON> | null;
};

/** A fitted CBPE calibration: whether the reference needed calibrating, the ECE evidence and the isotonic model. */
export class CbpeCalibration {
  /** Use fitCbpeCalibration or CbpeCalibration.fromJSON. */
  constructor(
    readonly calibrated: boolean,
    readonly eceReference: number,
    readonly eceCrossValidated: { uncalibrated: number; calibrated: number } | null,
    readonly model: IsotonicModel | null,
  ) {}

  /** The calibrated probability of a raw score (the score itself when no calibration was chosen). */
  apply(score: number): number {
    return this.calibrated && this.model !== null ? predictIsotonic(this.model, score) : score;
  }

  /** The versioned JSON state. */
  toJSON(): CbpeCalibrationJSON {
    return {
      v: 1, kind: 'cbpe-calibration', calibrated: this.calibrated, eceReference: this.eceReference,
      eceCrossValidated: this.eceCrossValidated, model: this.model === null ? null : isotonicToJSON(this.model),
    };
  }

  /** Restores a calibration; throws VALIDATION_FAILED on a malformed state. */
  static fromJSON(json: unknown): CbpeCalibration {
    const o = checkEnvelope(json, 'cbpe-calibration');
    const model = o.model === null || o.model === undefined ? null : isotonicFromJSON(o.model);
    if (o.calibrated === true && model === null) throw fail('/model', 'required', 'a calibrated state needs its model');
    const cv = o.eceCrossValidated as CbpeCalibrationJSON['eceCrossValidated'];
    return new CbpeCalibration(o.calibrated === true, num(o, 'eceReference'), cv ?? null, model);
  }
}

function toBinary(v: unknown, field: string): 0 | 1 {
  if (v === 1 || v === true) return 1;
  if (v === 0 || v === false) return 0;
  throw fail(field, 'binary', `${field.slice(1)} must be 0, 1, true or false`);
}

/**
 * Fits CBPE's calibration on a labelled reference (probabilities in [0, 1], labels 0/1): NannyML's rule — raw ECE 0
 * means no calibration; otherwise calibrate when the mean ECE of isotonic-calibrated held-out probabilities over
 * stratified 90/10 shuffle splits is below the raw one; throws VALIDATION_FAILED on invalid or one-class input.
 */
export function fitCbpeCalibration(
  probabilities: ArrayLike<number>,
  labels: ArrayLike<number | boolean>,
  options: CbpeCalibrationOptions = {},
): CbpeCalibration {
  const n = probabilities.length;
  if (labels.length !== n) throw fail('/labels', 'length', 'one label per probability is required');
  const p = new Float64Array(n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    p[i] = requireProbability(probabilities[i], `/probabilities/${i}`);
    y[i] = toBinary(labels[i], `/labels/${i}`);
  }
  const positives: number[] = [];
  const negatives: number[] = [];
  for (let i = 0; i < n; i++) (y[i] === 1 ? positives : negatives).push(i);
  if (positives.length < 2 || negatives.length < 2) throw fail('/labels', 'two-classes', 'the reference needs at least two labels of each class');
  const bins = options.bins ?? 10;
  const eceReference = expectedCalibrationError(p, y, bins);
  const mode = options.calibrate ?? 'auto';
  const full = () => fitIsotonic(p, y);
  if (mode === 'never') return new CbpeCalibration(false, eceReference, null, null);
  if (mode === 'always') return new CbpeCalibration(true, eceReference, null, full());
  if (eceReference === 0) return new CbpeCalibration(false, eceReference, null, null);
  const splits = options.splits ?? 10;
  const seed = options.seed ?? 42;
  let eceRaw = 0;
  let eceCal = 0;
  for (let s = 0; s < splits; s++) {
    // Stratified: 10% of each class held out, chosen by a seeded shuffle so the decision is reproducible.
    const shuffle = (idx: number[], stream: number) => {
      const keys = idx.map((i) => seededUniform(seed * 1000 + s * 2 + stream, i));
      return idx.map((i, k) => [keys[k]!, i] as const).sort((a, b) => a[0] - b[0]).map((e) => e[1]);
    };
    const sp = shuffle(positives, 0);
    const sn = shuffle(negatives, 1);
    const kp = Math.max(1, Math.round(sp.length * 0.1));
    const kn = Math.max(1, Math.round(sn.length * 0.1));
    const test = [...sp.slice(0, kp), ...sn.slice(0, kn)];
    const train = [...sp.slice(kp), ...sn.slice(kn)];
    const model = fitIsotonic(train.map((i) => p[i]!), train.map((i) => y[i]!));
    const testP = test.map((i) => p[i]!);
    const testY = test.map((i) => y[i]!);
    eceRaw += expectedCalibrationError(testP, testY, bins);
    eceCal += expectedCalibrationError(testP.map((v) => predictIsotonic(model, v)), testY, bins);
  }
  const cv = { uncalibrated: eceRaw / splits, calibrated: eceCal / splits };
  const calibrate = cv.calibrated < cv.uncalibrated;
  return new CbpeCalibration(calibrate, eceReference, cv, calibrate ? full() : null);
}

/** Options of a CbpeAccumulator. */
export interface CbpeOptions {
  /** Raw-score threshold that gives the predicted label when add() is not told it (default 0.5). */
  threshold?: number;
  /** ROC AUC histogram bins on calibrated probabilities (default 1,000). */
  aucBins?: number;
  /** Calibrated probabilities kept exactly for the AUC estimate (default 10,000). */
  aucExactLimit?: number;
}

/** CBPE's estimates for a window (null when undefined, e.g. no predicted positives for precision). */
export interface CbpeEstimate {
  n: number;
  expected: { tp: number; fp: number; fn: number; tn: number };
  accuracy: number | null;
  precision: number | null;
  recall: number | null;
  f1: number | null;
  rocAuc: number | null;
  rocAucMode: 'exact' | 'histogram';
  /** A bound on the histogram's error versus the exact expected-ROC area (0 in exact mode). */
  rocAucErrorBound: number;
}

/** The versioned JSON state of a CbpeAccumulator (the calibration is stored separately). */
export type CbpeJSON = {
  v: 1;
  kind: 'cbpe';
  options: Required<CbpeOptions>;
  n: number;
  tp: ExactSumJSON;
  fp: ExactSumJSON;
  fn: ExactSumJSON;
  tn: ExactSumJSON;
  mode: 'exact' | 'histogram';
  exact: number[] | null;
  histogram: { pos: [number, number][]; neg: [number, number][] } | null;
};

/**
 * Per-window CBPE: expected confusion-matrix entries (E[TP] = Σ p·[ŷ = 1], E[FP] = Σ (1 − p)·[ŷ = 1], …) and the area
 * under the expected ROC curve of the calibrated probabilities; mergeable between accumulators that share the same
 * calibration. add() throws VALIDATION_FAILED on a score outside [0, 1].
 */
export class CbpeAccumulator {
  readonly options: Readonly<Required<CbpeOptions>>;
  private n = 0;
  private tp = new ExactSum();
  private fp = new ExactSum();
  private fn = new ExactSum();
  private tn = new ExactSum();
  private exact: number[] | null = [];
  private histPos: Float64Array | null = null;
  private histNeg: Float64Array | null = null;

  /** Throws VALIDATION_FAILED on invalid options. */
  constructor(readonly calibration: CbpeCalibration, options: CbpeOptions = {}) {
    this.options = Object.freeze({
      threshold: options.threshold ?? 0.5,
      aucBins: options.aucBins ?? AUC_DEFAULT_BINS,
      aucExactLimit: options.aucExactLimit ?? AUC_DEFAULT_EXACT_LIMIT,
    });
    if (!Number.isInteger(this.options.aucBins) || this.options.aucBins < 1) throw fail('/aucBins', 'range', 'aucBins must be an integer >= 1');
    if (!Number.isInteger(this.options.aucExactLimit) || this.options.aucExactLimit < 0) throw fail('/aucExactLimit', 'range', 'aucExactLimit must be >= 0');
  }

  /** Adds one unlabelled prediction: its raw score and, when known, the label the model predicted. */
  add(score: number, predicted?: 0 | 1 | boolean): this {
    requireProbability(score, '/score');
    const yhat = predicted === undefined ? (score >= this.options.threshold ? 1 : 0) : toBinary(predicted, '/predicted');
    const p = this.calibration.apply(score);
    if (yhat === 1) {
      this.tp.add(p);
      this.fp.add(1 - p);
    } else {
      this.fn.add(p);
      this.tn.add(1 - p);
    }
    this.n++;
    if (this.exact !== null && this.n <= this.options.aucExactLimit) this.exact.push(p);
    else {
      this.toHistogram();
      this.histPos![binOf(p, this.options.aucBins)]! += p;
      this.histNeg![binOf(p, this.options.aucBins)]! += 1 - p;
    }
    return this;
  }

  private toHistogram(): void {
    if (this.exact === null) return;
    this.histPos = new Float64Array(this.options.aucBins);
    this.histNeg = new Float64Array(this.options.aucBins);
    // Sorted first so the bin sums do not depend on arrival order.
    for (const p of Float64Array.from(this.exact).sort()) {
      this.histPos[binOf(p, this.options.aucBins)]! += p;
      this.histNeg[binOf(p, this.options.aucBins)]! += 1 - p;
    }
    this.exact = null;
  }

  /** Adds every prediction of `other`; throws VALIDATION_FAILED when the options differ (the calibration must match too). */
  merge(other: CbpeAccumulator): this {
    if (JSON.stringify(other.options) !== JSON.stringify(this.options)) throw fail('/options', 'compatible', 'CBPE accumulators with different options cannot be merged');
    if (this.exact !== null && other.exact !== null && this.n + other.n <= this.options.aucExactLimit) {
      this.exact.push(...other.exact);
    } else {
      this.toHistogram();
      const o = other.clone();
      o.toHistogram();
      for (let b = 0; b < this.options.aucBins; b++) {
        this.histPos![b]! += o.histPos![b]!;
        this.histNeg![b]! += o.histNeg![b]!;
      }
    }
    this.n += other.n;
    this.tp.addSum(other.tp);
    this.fp.addSum(other.fp);
    this.fn.addSum(other.fn);
    this.tn.addSum(other.tn);
    return this;
  }

  /** A deep copy sharing the (immutable) calibration. */
  clone(): CbpeAccumulator {
    return CbpeAccumulator.fromJSON(this.toJSON(), this.calibration);
  }

  /** The estimated metrics of the window. */
  estimate(): CbpeEstimate {
    const tp = this.tp.value();
    const fp = this.fp.value();
    const fn = this.fn.value();
    const tn = this.tn.value();
    const div = (a: number, b: number) => (b > 0 ? a / b : null);
    let rocAuc: number | null;
    let bound = 0;
    if (this.exact !== null) rocAuc = exactExpectedAuc(this.exact);
    else {
      const h = histogramAuc(this.histPos!, this.histNeg!);
      rocAuc = h.auc;
      bound = h.errorBound;
    }
    return {
      n: this.n, expected: { tp, fp, fn, tn }, accuracy: div(tp + tn, this.n), precision: div(tp, tp + fp),
      recall: div(tp, tp + fn), f1: div(2 * tp, 2 * tp + fp + fn), rocAuc,
      rocAucMode: this.exact !== null ? 'exact' : 'histogram', rocAucErrorBound: bound,
    };
  }

  /** The versioned JSON state. */
  toJSON(): CbpeJSON {
    const sparse = (h: Float64Array) => {
      const out: [number, number][] = [];
      for (let b = 0; b < h.length; b++) if (h[b] !== 0) out.push([b, h[b]!]);
      return out;
    };
    return {
      v: 1, kind: 'cbpe', options: { ...this.options }, n: this.n, tp: sumToJSON(this.tp), fp: sumToJSON(this.fp),
      fn: sumToJSON(this.fn), tn: sumToJSON(this.tn), mode: this.exact !== null ? 'exact' : 'histogram',
      exact: this.exact === null ? null : Array.from(Float64Array.from(this.exact).sort()),
      histogram: this.exact !== null ? null : { pos: sparse(this.histPos!), neg: sparse(this.histNeg!) },
    };
  }

  /** Restores an accumulator with its calibration; throws VALIDATION_FAILED on a malformed state. */
  static fromJSON(json: unknown, calibration: CbpeCalibration): CbpeAccumulator {
    const o = checkEnvelope(json, 'cbpe');
    const acc = new CbpeAccumulator(calibration, o.options as CbpeOptions);
    acc.n = num(o, 'n');
    acc.tp = sumFromJSON(o.tp, '/tp');
    acc.fp = sumFromJSON(o.fp, '/fp');
    acc.fn = sumFromJSON(o.fn, '/fn');
    acc.tn = sumFromJSON(o.tn, '/tn');
    if (o.mode === 'exact') {
      if (!Array.isArray(o.exact) || o.exact.length !== acc.n) throw fail('/exact', 'shape', 'exact mode keeps one probability per prediction');
      acc.exact = (o.exact as unknown[]).map((p, i) => requireProbability(p, `/exact/${i}`));
    } else {
      const h = o.histogram as CbpeJSON['histogram'];
      if (h === null || typeof h !== 'object' || !Array.isArray(h.pos) || !Array.isArray(h.neg)) throw fail('/histogram', 'shape', 'histogram mode needs pos and neg bins');
      acc.exact = null;
      acc.histPos = new Float64Array(acc.options.aucBins);
      acc.histNeg = new Float64Array(acc.options.aucBins);
      for (const [b, w] of h.pos) acc.histPos[b] = w;
      for (const [b, w] of h.neg) acc.histNeg[b] = w;
    }
    return acc;
  }
}

/**
 * The area under the expected ROC curve of calibrated probabilities, as NannyML's CBPE estimates ROC AUC: each
 * prediction counts p as a positive and 1 − p as a negative at threshold p, ties share the trapezoid; null when every
 * p is 0 or every p is 1.
 */
export function exactExpectedAuc(calibrated: ArrayLike<number>): number | null {
  const s = Float64Array.from(calibrated).sort();
  let negBelow = 0;
  let u = 0;
  let totalPos = 0;
  for (let i = 0; i < s.length; ) {
    const v = s[i]!;
    let wp = 0;
    let wn = 0;
    while (i < s.length && s[i] === v) {
      wp += v;
      wn += 1 - v;
      i++;
    }
    u += wp * (negBelow + 0.5 * wn);
    negBelow += wn;
    totalPos += wp;
  }
  const denom = totalPos * negBelow;
  return denom > 0 ? u / denom : null;
}
