// Labelled classification performance per window: a confusion matrix over discovered labels plus log loss and
// one-vs-rest ROC AUC, all mergeable across windows and replicas (the state is a function of the multiset of
// observations) and bounded (a class cap, and AUC histograms past an exact limit). Hand-written on purpose:
// Tarmac's own monitoring logic, mergeable by design, with no npm dependency.
import { ExactSum } from '../profile/exact-sum.ts';
import { BinaryAucAccumulator } from './auc.ts';
import type { BinaryAucJSON } from './auc.ts';
import { checkEnvelope, fail, num, requireProbability, sumFromJSON, sumToJSON } from './util.ts';
import type { ExactSumJSON } from './util.ts';

/** A class label as it arrives in predictions and feedback. */
export type Label = string | number | boolean;

/** sklearn ≥ 1.5 clips probabilities to [eps, 1 − eps] with eps the float64 machine epsilon (2^-52). */
export const LOG_LOSS_EPS = 2 ** -52;

/** Default cap on the number of distinct labels (true, predicted or named in probabilities). */
export const DEFAULT_MAX_CLASSES = 100;

/** Options of a ClassificationAccumulator; accumulators merge only when their options are equal. */
export interface ClassificationOptions {
  /** The positive label of binary metrics; default 1, true or "1" when present, else the second label in sorted order. */
  positiveLabel?: Label;
  /** More distinct labels than this overflow the accumulator (metrics become null); default 100. */
  maxClasses?: number;
  /** Value of a 0/0 precision, recall or F1: null (default; excluded from averages, as sklearn's zero_division=np.nan), 0 or 1. */
  zeroDivision?: 0 | 1 | null;
  /** AUC histogram bins per class (default 1,000). */
  aucBins?: number;
  /** Scored observations kept exactly for AUC (default 10,000). */
  aucExactLimit?: number;
}

/** Precision, recall and F1 (null when undefined under zeroDivision: null). */
export interface PrfScores {
  precision: number | null;
  recall: number | null;
  f1: number | null;
}

/** The metrics of one class, one-vs-rest. */
export interface ClassMetrics extends PrfScores {
  label: Label;
  /** True occurrences of the class. */
  support: number;
  /** Predicted occurrences of the class. */
  predicted: number;
  truePositives: number;
  /** One-vs-rest AUC of this class's probability (null without probabilities or with one class only). */
  rocAuc: number | null;
}

/** Everything a classification window reports; every undefined value is null, never NaN. */
export interface ClassificationMetrics {
  /** Observations added (labelled predictions). */
  n: number;
  /** Observations that carried probabilities (the base of log loss and AUC). */
  nScored: number;
  /** True when more than maxClasses labels were seen; only n, nScored and logLoss are then reported. */
  overflowed: boolean;
  task: 'empty' | 'binary' | 'multiclass';
  /** Labels that occur as true or predicted labels, in sorted order (rows and columns of the matrix). */
  labels: Label[];
  /** matrix[i][j]: observations with true label labels[i] predicted as labels[j] (sklearn's confusion_matrix). */
  matrix: number[][];
  positiveLabel: Label | null;
  accuracy: number | null;
  perClass: ClassMetrics[];
  /** The positive label's scores (sklearn average='binary'); null for multiclass windows. */
  binary: PrfScores | null;
  macro: PrfScores;
  micro: PrfScores;
  weighted: PrfScores;
  /** sklearn.metrics.log_loss over scored observations (current sklearn: clipping to [eps, 1 − eps], no renormalising). */
  logLoss: number | null;
  /** Binary: AUC of the positive label's probability; multiclass: one-vs-rest macro AUC over classes present in y_true. */
  rocAuc: number | null;
  rocAucMode: 'exact' | 'histogram' | null;
  /** A guaranteed bound on |rocAuc − exact| (0 in exact mode). */
  rocAucErrorBound: number | null;
}

/** The versioned JSON state of a ClassificationAccumulator. */
export type ClassificationJSON = {
  v: 1;
  kind: 'classification';
  options: { positiveLabel: Label | null; maxClasses: number; zeroDivision: 0 | 1 | null; aucBins: number; aucExactLimit: number };
  n: number;
  nScored: number;
  overflowed: boolean;
  logLoss: ExactSumJSON;
  labels: Label[];
  /** [trueIndex, predictedIndex, count] into labels. */
  counts: [number, number, number][];
  /** One AUC state per label (same order). */
  auc: BinaryAucJSON[];
};

function labelKey(label: Label): string {
  return String(label);
}

function checkLabel(label: unknown, field: string): Label {
  if (typeof label === 'string' || typeof label === 'boolean') return label;
  if (typeof label === 'number' && Number.isFinite(label)) return label;
  throw fail(field, 'label', `${field.slice(1)} must be a string, a finite number or a boolean`);
}

const TYPE_RANK = { boolean: 0, number: 1, string: 2 } as const;

/** Orders labels as numpy's unique does for one type (numbers numerically, strings by code point); types group apart. */
export function compareLabels(a: Label, b: Label): number {
  const ta = TYPE_RANK[typeof a as 'boolean' | 'number' | 'string'];
  const tb = TYPE_RANK[typeof b as 'boolean' | 'number' | 'string'];
  if (ta !== tb) return ta - tb;
  if (typeof a === 'string') {
    const x = [...a].map((c) => c.codePointAt(0)!);
    const y = [...(b as string)].map((c) => c.codePointAt(0)!);
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
    return x.length - y.length;
  }
  return Number(a) - Number(b);
}

function divide(num: number, den: number, zero: 0 | 1 | null): number | null {
  return den === 0 ? zero : num / den;
}

// sklearn's averaging of per-class values: np.average with weights, where zero_division=np.nan entries are dropped.
function average(values: (number | null)[], weights: number[] | null): number | null {
  let s = 0;
  let w = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) continue;
    const wi = weights === null ? 1 : weights[i]!;
    s += v * wi;
    w += wi;
  }
  return w === 0 ? null : s / w;
}

/**
 * Mergeable confusion matrix, log loss and one-vs-rest AUC for a binary or multiclass classifier; add() throws
 * VALIDATION_FAILED on a malformed label or probability, or on two labels that differ only in type ("1" and 1).
 */
export class ClassificationAccumulator {
  readonly options: Readonly<Required<Omit<ClassificationOptions, 'positiveLabel'>> & { positiveLabel: Label | null }>;
  private n = 0;
  private nScored = 0;
  private overflowed = false;
  private logLoss = new ExactSum();
  private labels = new Map<string, Label>();
  private counts = new Map<string, Map<string, number>>();
  private auc = new Map<string, BinaryAucAccumulator>();

  /** Throws VALIDATION_FAILED on invalid options. */
  constructor(options: ClassificationOptions = {}) {
    const maxClasses = options.maxClasses ?? DEFAULT_MAX_CLASSES;
    if (!Number.isInteger(maxClasses) || maxClasses < 2) throw fail('/maxClasses', 'range', 'maxClasses must be an integer >= 2');
    const zd = options.zeroDivision === undefined ? null : options.zeroDivision;
    if (zd !== null && zd !== 0 && zd !== 1) throw fail('/zeroDivision', 'enum', 'zeroDivision must be null, 0 or 1');
    this.options = Object.freeze({
      positiveLabel: options.positiveLabel === undefined ? null : checkLabel(options.positiveLabel, '/positiveLabel'),
      maxClasses,
      zeroDivision: zd,
      aucBins: options.aucBins ?? 1000,
      aucExactLimit: options.aucExactLimit ?? 10_000,
    });
    new BinaryAucAccumulator({ bins: this.options.aucBins, exactLimit: this.options.aucExactLimit });
  }

  private newAuc(): BinaryAucAccumulator {
    return new BinaryAucAccumulator({ bins: this.options.aucBins, exactLimit: this.options.aucExactLimit });
  }

  // A class first seen now scored 0 in every earlier scored observation (a missing probability is 0), so its
  // one-vs-rest accumulator starts with that many negatives at 0: the state stays independent of arrival order.
  private discover(label: Label): void {
    const key = labelKey(label);
    const known = this.labels.get(key);
    if (known !== undefined) {
      if (typeof known !== typeof label) {
        throw fail('/label', 'type', `labels ${JSON.stringify(known)} and ${JSON.stringify(label)} differ only in type`);
      }
      return;
    }
    if (this.overflowed) return;
    this.labels.set(key, label);
    if (this.labels.size > this.options.maxClasses) {
      this.overflow();
      return;
    }
    const acc = this.newAuc();
    if (this.nScored > 0) acc.add(0, false, this.nScored);
    this.auc.set(key, acc);
  }

  // Overflow is absorbing and depends only on the label set, so merges stay order-independent; the per-class state
  // is dropped to keep memory bounded.
  private overflow(): void {
    this.overflowed = true;
    this.labels.clear();
    this.counts.clear();
    this.auc.clear();
  }

  /**
   * Adds one labelled prediction; `probabilities` maps every class (as String(label)) to its predicted probability,
   * a missing class counting as 0.
   */
  add(trueLabel: Label, predictedLabel: Label, probabilities?: Record<string, number>): this {
    const t = checkLabel(trueLabel, '/trueLabel');
    const p = checkLabel(predictedLabel, '/predictedLabel');
    const probs: [string, number][] = [];
    if (probabilities !== undefined) {
      if (typeof probabilities !== 'object' || probabilities === null) throw fail('/probabilities', 'type', 'probabilities must be an object');
      for (const [k, v] of Object.entries(probabilities)) probs.push([k, requireProbability(v, `/probabilities/${k}`)]);
    }
    this.discover(t);
    this.discover(p);
    for (const [k] of probs) {
      // A probability key names a label by its string form; reuse the typed label when it is known.
      if (!this.labels.has(k) && !this.overflowed) this.discover(this.inferLabel(k, t));
    }
    this.n++;
    if (probabilities !== undefined) {
      const byKey = new Map(probs);
      const pt = byKey.get(labelKey(t)) ?? 0;
      this.logLoss.add(-Math.log(Math.min(Math.max(pt, LOG_LOSS_EPS), 1 - LOG_LOSS_EPS)));
      if (!this.overflowed) {
        const tk = labelKey(t);
        for (const [k, acc] of this.auc) acc.add(byKey.get(k) ?? 0, k === tk);
      }
      this.nScored++;
    }
    if (!this.overflowed) {
      const row = this.counts.get(labelKey(t)) ?? new Map<string, number>();
      row.set(labelKey(p), (row.get(labelKey(p)) ?? 0) + 1);
      this.counts.set(labelKey(t), row);
    }
    return this;
  }

  // A probability key is a string; it takes the type of the true label when it parses as that type.
  private inferLabel(key: string, like: Label): Label {
    if (typeof like === 'number' && key.trim() !== '' && Number.isFinite(Number(key))) return Number(key);
    if (typeof like === 'boolean' && (key === 'true' || key === 'false')) return key === 'true';
    return key;
  }

  /** Adds every observation of `other`; throws VALIDATION_FAILED when the options differ. */
  merge(other: ClassificationAccumulator): this {
    if (JSON.stringify(other.options) !== JSON.stringify(this.options)) {
      throw fail('/options', 'compatible', 'classification accumulators with different options cannot be merged');
    }
    const nScoredThis = this.nScored;
    const nScoredOther = other.nScored;
    if (other.overflowed) this.overflow();
    for (const label of other.labels.values()) this.discoverForMerge(label, nScoredThis);
    if (!this.overflowed) {
      for (const [tk, row] of other.counts) {
        const mine = this.counts.get(tk) ?? new Map<string, number>();
        for (const [pk, c] of row) mine.set(pk, (mine.get(pk) ?? 0) + c);
        this.counts.set(tk, mine);
      }
      for (const [k, acc] of this.auc) {
        const theirs = other.auc.get(k);
        if (theirs !== undefined) acc.merge(theirs);
        else if (nScoredOther > 0) acc.add(0, false, nScoredOther);
      }
    }
    this.n += other.n;
    this.nScored += nScoredOther;
    this.logLoss.addSum(other.logLoss);
    return this;
  }

  private discoverForMerge(label: Label, nScoredThis: number): void {
    const key = labelKey(label);
    const known = this.labels.get(key);
    if (known !== undefined) {
      if (typeof known !== typeof label) throw fail('/label', 'type', `labels ${JSON.stringify(known)} and ${JSON.stringify(label)} differ only in type`);
      return;
    }
    if (this.overflowed) return;
    this.labels.set(key, label);
    if (this.labels.size > this.options.maxClasses) {
      this.overflow();
      return;
    }
    // Only this side's scored observations are backfilled here; the other side's arrive with its accumulator.
    const acc = this.newAuc();
    if (nScoredThis > 0) acc.add(0, false, nScoredThis);
    this.auc.set(key, acc);
  }

  /** A deep copy. */
  clone(): ClassificationAccumulator {
    return ClassificationAccumulator.fromJSON(this.toJSON());
  }

  private resolvePositive(labels: Label[]): Label | null {
    if (this.options.positiveLabel !== null) return this.options.positiveLabel;
    for (const candidate of [1, true, '1'] as Label[]) if (labels.some((l) => l === candidate)) return candidate;
    return labels.length === 2 ? labels[1]! : null;
  }

  /** Computes every metric of the window; never throws. */
  metrics(): ClassificationMetrics {
    const zd = this.options.zeroDivision;
    const logLoss = this.nScored > 0 ? this.logLoss.value() / this.nScored : null;
    const emptyPrf: PrfScores = { precision: null, recall: null, f1: null };
    if (this.overflowed || this.n === 0) {
      return {
        n: this.n, nScored: this.nScored, overflowed: this.overflowed, task: 'empty', labels: [], matrix: [],
        positiveLabel: null, accuracy: null, perClass: [], binary: null, macro: emptyPrf, micro: emptyPrf,
        weighted: emptyPrf, logLoss, rocAuc: null, rocAucMode: null, rocAucErrorBound: null,
      };
    }
    const support = new Map<string, number>();
    const predicted = new Map<string, number>();
    let correct = 0;
    for (const [tk, row] of this.counts) {
      for (const [pk, c] of row) {
        support.set(tk, (support.get(tk) ?? 0) + c);
        predicted.set(pk, (predicted.get(pk) ?? 0) + c);
        if (tk === pk) correct += c;
      }
    }
    const labels = [...this.labels.values()]
      .filter((l) => (support.get(labelKey(l)) ?? 0) + (predicted.get(labelKey(l)) ?? 0) > 0)
      .sort(compareLabels);
    const keys = labels.map(labelKey);
    const matrix = keys.map((tk) => keys.map((pk) => this.counts.get(tk)?.get(pk) ?? 0));
    const classMetrics = (label: Label): ClassMetrics => {
      const k = labelKey(label);
      const tp = this.counts.get(k)?.get(k) ?? 0;
      const s = support.get(k) ?? 0;
      const pr = predicted.get(k) ?? 0;
      const acc = this.auc.get(k);
      const r = acc?.result();
      return {
        label, support: s, predicted: pr, truePositives: tp,
        precision: divide(tp, pr, zd), recall: divide(tp, s, zd), f1: divide(2 * tp, s + pr, zd),
        rocAuc: r === undefined || this.nScored === 0 ? null : r.auc,
      };
    };
    const perClass = labels.map(classMetrics);
    const avg = (weights: number[] | null): PrfScores => ({
      precision: average(perClass.map((c) => c.precision), weights),
      recall: average(perClass.map((c) => c.recall), weights),
      f1: average(perClass.map((c) => c.f1), weights),
    });
    const accuracy = correct / this.n;
    const task = labels.length <= 2 ? 'binary' : 'multiclass';
    const positiveLabel = task === 'binary' ? this.resolvePositive(labels) : null;
    let binary: PrfScores | null = null;
    if (positiveLabel !== null) {
      const c = classMetrics(positiveLabel);
      binary = { precision: c.precision, recall: c.recall, f1: c.f1 };
    }
    // AUC: the positive class in binary windows; in multiclass windows the macro mean over classes present in y_true.
    let rocAuc: number | null = null;
    let rocAucMode: 'exact' | 'histogram' | null = null;
    let rocAucErrorBound: number | null = null;
    if (this.nScored > 0) {
      // Sorted by label so the floating-point mean does not depend on the order classes were discovered in.
      const present = [...this.auc.entries()]
        .filter(([, a]) => a.positives > 0)
        .sort((x, y) => compareLabels(this.labels.get(x[0])!, this.labels.get(y[0])!));
      if (present.length >= 2) {
        if (task === 'binary') {
          const acc = positiveLabel === null ? undefined : this.auc.get(labelKey(positiveLabel));
          const r = acc?.result();
          if (r !== undefined && r.auc !== null) {
            rocAuc = r.auc;
            rocAucMode = r.mode;
            rocAucErrorBound = r.errorBound;
          }
        } else {
          const results = present.map(([, a]) => a.result());
          let s = 0;
          let bound = 0;
          for (const r of results) {
            s += r.auc!;
            bound += r.errorBound;
          }
          rocAuc = s / results.length;
          rocAucMode = results[0]!.mode;
          rocAucErrorBound = bound / results.length;
        }
      }
    }
    return {
      n: this.n, nScored: this.nScored, overflowed: false, task, labels, matrix, positiveLabel, accuracy, perClass,
      binary, macro: avg(null), micro: { precision: accuracy, recall: accuracy, f1: accuracy },
      weighted: avg(perClass.map((c) => c.support)), logLoss, rocAuc, rocAucMode, rocAucErrorBound,
    };
  }

  /** The versioned JSON state; labels are sorted so equal windows serialise alike. */
  toJSON(): ClassificationJSON {
    const labels = [...this.labels.values()].sort(compareLabels);
    const index = new Map(labels.map((l, i) => [labelKey(l), i]));
    const counts: [number, number, number][] = [];
    for (const [tk, row] of this.counts) for (const [pk, c] of row) counts.push([index.get(tk)!, index.get(pk)!, c]);
    counts.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    return {
      v: 1, kind: 'classification', options: { ...this.options }, n: this.n, nScored: this.nScored,
      overflowed: this.overflowed, logLoss: sumToJSON(this.logLoss), labels, counts,
      auc: labels.map((l) => this.auc.get(labelKey(l))!.toJSON()),
    };
  }

  /** Restores an accumulator from toJSON's output; throws VALIDATION_FAILED on a malformed state. */
  static fromJSON(json: unknown): ClassificationAccumulator {
    const o = checkEnvelope(json, 'classification');
    const opts = o.options as ClassificationJSON['options'] | undefined;
    if (typeof opts !== 'object' || opts === null) throw fail('/options', 'type', 'options must be an object');
    const acc = new ClassificationAccumulator({
      ...(opts.positiveLabel === null ? {} : { positiveLabel: opts.positiveLabel }),
      maxClasses: opts.maxClasses, zeroDivision: opts.zeroDivision, aucBins: opts.aucBins, aucExactLimit: opts.aucExactLimit,
    });
    acc.n = num(o, 'n');
    acc.nScored = num(o, 'nScored');
    acc.overflowed = o.overflowed === true;
    acc.logLoss = sumFromJSON(o.logLoss, '/logLoss');
    const labels = o.labels;
    const counts = o.counts;
    const auc = o.auc;
    if (!Array.isArray(labels) || !Array.isArray(counts) || !Array.isArray(auc) || auc.length !== labels.length) {
      throw fail('/labels', 'shape', 'labels, counts and auc must be arrays, with one AUC state per label');
    }
    if (acc.overflowed && labels.length > 0) throw fail('/labels', 'overflow', 'an overflowed state keeps no labels');
    labels.forEach((l, i) => {
      const label = checkLabel(l, `/labels/${i}`);
      acc.labels.set(labelKey(label), label);
      acc.auc.set(labelKey(label), BinaryAucAccumulator.fromJSON(auc[i]));
    });
    const keys = labels.map((l) => labelKey(l as Label));
    for (const entry of counts) {
      const [ti, pi, c] = entry as [number, number, number];
      const tk = keys[ti];
      const pk = keys[pi];
      if (tk === undefined || pk === undefined || !Number.isInteger(c) || c < 0) throw fail('/counts', 'shape', 'counts must be [trueIndex, predictedIndex, count]');
      const row = acc.counts.get(tk) ?? new Map<string, number>();
      row.set(pk, (row.get(pk) ?? 0) + c);
      acc.counts.set(tk, row);
    }
    return acc;
  }
}
