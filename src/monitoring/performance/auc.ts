// ROC AUC that can be merged across windows and replicas in bounded memory: exact (every score kept) while a window
// is small, a fixed-resolution score histogram on [0, 1] beyond. Hand-written on purpose: Tarmac's own monitoring
// logic, mergeable by design, with no npm dependency.
import { checkEnvelope, fail, num, requireProbability } from './util.ts';

/** Default number of equal-width histogram bins on [0, 1]. */
export const AUC_DEFAULT_BINS = 1000;
/** Default number of scored observations kept exactly before switching to the histogram. */
export const AUC_DEFAULT_EXACT_LIMIT = 10_000;

/** Options of a BinaryAucAccumulator. */
export interface AucOptions {
  /** Histogram bins on [0, 1] (default 1,000); memory is 2 × bins numbers per class in histogram mode. */
  bins?: number;
  /** Observations kept exactly (default 10,000); more switch the accumulator to the histogram for good. */
  exactLimit?: number;
}

/** An AUC with how it was computed: `auc` is null when only one class is present (undefined, as sklearn raises). */
export interface AucResult {
  auc: number | null;
  mode: 'exact' | 'histogram';
  /** A guaranteed bound on |auc − exact AUC|: 0 in exact mode; ½·Σ_b P_b·N_b / (P·N) in histogram mode. */
  errorBound: number;
  positives: number;
  negatives: number;
}

/**
 * The exact ROC AUC of positive versus negative scores (Mann–Whitney U with ties counted half), which equals
 * sklearn.metrics.roc_auc_score; null when either side is empty.
 */
export function exactAuc(positives: ArrayLike<number>, negatives: ArrayLike<number>): number | null {
  const p = Float64Array.from(positives).sort();
  const q = Float64Array.from(negatives).sort();
  if (p.length === 0 || q.length === 0) return null;
  // Twice U is an integer (well below 2^53 for bounded windows), so the only rounding is the final division.
  let twiceU = 0;
  let j = 0;
  for (let i = 0; i < p.length; ) {
    const v = p[i]!;
    let cp = 0;
    while (i < p.length && p[i] === v) {
      cp++;
      i++;
    }
    while (j < q.length && q[j]! < v) j++;
    let ties = 0;
    while (j + ties < q.length && q[j + ties] === v) ties++;
    twiceU += cp * (2 * j + ties);
  }
  return twiceU / (2 * p.length * q.length);
}

/**
 * The AUC of weighted histograms (bin b holds positive weight pos[b] and negative weight neg[b]), counting pairs in
 * one bin as half, with the bound ½·Σ pos[b]·neg[b] / (P·N) on the error against any ordering inside the bins.
 */
export function histogramAuc(pos: ArrayLike<number>, neg: ArrayLike<number>): { auc: number | null; errorBound: number } {
  let negBelow = 0;
  let u = 0;
  let same = 0;
  let totalPos = 0;
  for (let b = 0; b < pos.length; b++) {
    const pb = pos[b]!;
    const nb = neg[b]!;
    u += pb * (negBelow + 0.5 * nb);
    same += pb * nb;
    negBelow += nb;
    totalPos += pb;
  }
  const denom = totalPos * negBelow;
  if (!(denom > 0)) return { auc: null, errorBound: 0 };
  return { auc: u / denom, errorBound: (0.5 * same) / denom };
}

/** The histogram bin of a score in [0, 1]; 1 falls in the last bin. */
export function binOf(score: number, bins: number): number {
  const b = Math.floor(score * bins);
  return b >= bins ? bins - 1 : b;
}

/** The JSON form of a BinaryAucAccumulator (versioned); histogram bins are stored sparsely as [bin, count] pairs. */
export type BinaryAucJSON = {
  v: 1;
  kind: 'binary-auc';
  bins: number;
  exactLimit: number;
  mode: 'exact' | 'histogram';
  positives: number[] | [number, number][];
  negatives: number[] | [number, number][];
};

/**
 * Mergeable, bounded ROC AUC for one binary problem (one class versus the rest): scores are probabilities in [0, 1];
 * the state depends only on the multiset of observations, so merges are associative and commutative.
 */
export class BinaryAucAccumulator {
  readonly bins: number;
  readonly exactLimit: number;
  private exactPos: number[] | null = [];
  private exactNeg: number[] | null = [];
  private histPos: Float64Array | null = null;
  private histNeg: Float64Array | null = null;
  private nPos = 0;
  private nNeg = 0;

  /** Throws VALIDATION_FAILED on a bin count below 1 or a negative exact limit. */
  constructor(options: AucOptions = {}) {
    this.bins = options.bins ?? AUC_DEFAULT_BINS;
    this.exactLimit = options.exactLimit ?? AUC_DEFAULT_EXACT_LIMIT;
    if (!Number.isInteger(this.bins) || this.bins < 1 || this.bins > 1_000_000) {
      throw fail('/bins', 'range', 'bins must be an integer in [1, 1000000]');
    }
    if (!Number.isInteger(this.exactLimit) || this.exactLimit < 0) {
      throw fail('/exactLimit', 'range', 'exactLimit must be a non-negative integer');
    }
  }

  /** The number of positive observations. */
  get positives(): number {
    return this.nPos;
  }

  /** The number of negative observations. */
  get negatives(): number {
    return this.nNeg;
  }

  /** The current mode. */
  get mode(): 'exact' | 'histogram' {
    return this.exactPos === null ? 'histogram' : 'exact';
  }

  /** Adds `count` observations of one score; throws VALIDATION_FAILED unless the score is in [0, 1]. */
  add(score: number, positive: boolean, count = 1): this {
    requireProbability(score, '/score');
    if (positive) this.nPos += count;
    else this.nNeg += count;
    if (this.exactPos !== null && this.nPos + this.nNeg <= this.exactLimit) {
      const target = positive ? this.exactPos : this.exactNeg!;
      for (let i = 0; i < count; i++) target.push(score);
      return this;
    }
    this.toHistogram();
    (positive ? this.histPos! : this.histNeg!)[binOf(score, this.bins)]! += count;
    return this;
  }

  private toHistogram(): void {
    if (this.exactPos === null) return;
    this.histPos = new Float64Array(this.bins);
    this.histNeg = new Float64Array(this.bins);
    for (const s of this.exactPos) this.histPos[binOf(s, this.bins)]! += 1;
    for (const s of this.exactNeg!) this.histNeg[binOf(s, this.bins)]! += 1;
    this.exactPos = null;
    this.exactNeg = null;
  }

  /** Adds every observation of `other` into this one; throws VALIDATION_FAILED when the resolutions differ. */
  merge(other: BinaryAucAccumulator): this {
    if (other.bins !== this.bins || other.exactLimit !== this.exactLimit) {
      throw fail('/bins', 'compatible', 'AUC accumulators with different bins or exactLimit cannot be merged');
    }
    const total = this.nPos + this.nNeg + other.nPos + other.nNeg;
    if (this.exactPos !== null && other.exactPos !== null && total <= this.exactLimit) {
      this.exactPos.push(...other.exactPos);
      this.exactNeg!.push(...other.exactNeg!);
    } else {
      this.toHistogram();
      if (other.exactPos !== null) {
        for (const s of other.exactPos) this.histPos![binOf(s, this.bins)]! += 1;
        for (const s of other.exactNeg!) this.histNeg![binOf(s, this.bins)]! += 1;
      } else {
        for (let b = 0; b < this.bins; b++) {
          this.histPos![b]! += other.histPos![b]!;
          this.histNeg![b]! += other.histNeg![b]!;
        }
      }
    }
    this.nPos += other.nPos;
    this.nNeg += other.nNeg;
    return this;
  }

  /** A deep copy. */
  clone(): BinaryAucAccumulator {
    return BinaryAucAccumulator.fromJSON(this.toJSON());
  }

  /** The AUC (null with one class only) and a bound on its error versus the exact value. */
  result(): AucResult {
    const base = { positives: this.nPos, negatives: this.nNeg };
    if (this.exactPos !== null) return { auc: exactAuc(this.exactPos, this.exactNeg!), mode: 'exact', errorBound: 0, ...base };
    const h = histogramAuc(this.histPos!, this.histNeg!);
    return { auc: h.auc, mode: 'histogram', errorBound: h.errorBound, ...base };
  }

  /** The versioned JSON state (exact scores sorted, so equal multisets serialise alike). */
  toJSON(): BinaryAucJSON {
    const head = { v: 1 as const, kind: 'binary-auc' as const, bins: this.bins, exactLimit: this.exactLimit };
    if (this.exactPos !== null) {
      const sorted = (a: number[]) => Array.from(Float64Array.from(a).sort());
      return { ...head, mode: 'exact', positives: sorted(this.exactPos), negatives: sorted(this.exactNeg!) };
    }
    const sparse = (h: Float64Array) => {
      const out: [number, number][] = [];
      for (let b = 0; b < h.length; b++) if (h[b] !== 0) out.push([b, h[b]!]);
      return out;
    };
    return { ...head, mode: 'histogram', positives: sparse(this.histPos!), negatives: sparse(this.histNeg!) };
  }

  /** Restores an accumulator from toJSON's output; throws VALIDATION_FAILED on a malformed state. */
  static fromJSON(json: unknown): BinaryAucAccumulator {
    const o = checkEnvelope(json, 'binary-auc');
    const acc = new BinaryAucAccumulator({ bins: num(o, 'bins'), exactLimit: num(o, 'exactLimit') });
    const pos = o.positives;
    const neg = o.negatives;
    if (!Array.isArray(pos) || !Array.isArray(neg)) throw fail('/positives', 'type', 'positives and negatives must be arrays');
    if (o.mode === 'exact') {
      if (pos.length + neg.length > acc.exactLimit) throw fail('/mode', 'exact-limit', 'exact state exceeds exactLimit');
      for (const s of pos) acc.add(s as number, true);
      for (const s of neg) acc.add(s as number, false);
      return acc;
    }
    if (o.mode !== 'histogram') throw fail('/mode', 'enum', 'mode must be exact or histogram');
    acc.toHistogram();
    const fill = (pairs: unknown[], h: Float64Array, field: string) => {
      let total = 0;
      for (const pair of pairs) {
        const [b, c] = pair as [number, number];
        if (!Number.isInteger(b) || b < 0 || b >= acc.bins || !(c >= 0) || !Number.isFinite(c)) {
          throw fail(field, 'bin', `${field.slice(1)} must hold [bin, count] pairs within the histogram`);
        }
        h[b]! += c;
        total += c;
      }
      return total;
    };
    acc.nPos = fill(pos, acc.histPos!, '/positives');
    acc.nNeg = fill(neg, acc.histNeg!, '/negatives');
    return acc;
  }
}
