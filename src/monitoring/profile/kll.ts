/**
 * A KLL quantile sketch (Karnin, Lang & Liberty, "Optimal Quantile Approximation in Streams", FOCS 2016), with the
 * capacity schedule of the authors' reference implementation: level h (items of weight 2^h) holds up to
 * max(8, ⌈k·(2/3)^(H−1−h)⌉) items, H the number of levels. When the sketch is full, the lowest full level is sorted and
 * every other item (even or odd positions, a fair coin from a seeded generator) moves up with double weight.
 *
 * Error bound: one compaction at level h shifts the estimated rank of any value by 0 or ±2^h with equal sign
 * probabilities, so the rank error of a query is a martingale with bounded steps and Azuma–Hoeffding gives
 * P(|r̂(x) − r(x)| > t) ≤ 2·exp(−t² / 2V), V = Σ over all compactions of 4^h. The sketch keeps V exactly (merges add the
 * V of both sides), so `rankErrorBound(δ)` = √(2V·ln(2/δ)) / n is a per-query bound that holds with probability 1 − δ.
 * For k = 200 it is about 1.3 % at δ = 1 % for any n ≥ 10^5 (measured, see docs/profiles.md); below ~600 values
 * nothing is compacted and the sketch is exact.
 */
import { mixSeeds, Rng } from './random.ts';

/** The default k: ~1.3 % rank error at 99 % confidence per query, at most ~1,000 stored doubles. */
export const KLL_DEFAULT_K = 200;

const SHRINK = 2 / 3;
const MIN_WIDTH = 8;

/** The JSON form of a sketch: levels sorted ascending so equal sketches serialise identically. */
export interface KllJson {
  k: number;
  n: number;
  v: number;
  rng: number;
  levels: number[][];
}

/** A mergeable quantile sketch over finite doubles; memory is O(k + log n) doubles whatever n. */
export class KllSketch {
  readonly k: number;
  /** levels[h] holds unsorted items of weight 2^h. */
  levels: number[][] = [[]];
  /** Total weight: the number of values summarised. */
  n = 0;
  /** Σ 4^h over every compaction so far: the variance bound behind `rankErrorBound`. */
  variance = 0;
  readonly rng: Rng;
  private size = 0;
  private maxSize = 0;
  private capacities: number[] = [];
  private sorted: { values: Float64Array; cumulative: Float64Array } | undefined;

  constructor(k: number = KLL_DEFAULT_K, seed = 0x6b6c6c) {
    if (!Number.isInteger(k) || k < MIN_WIDTH || k > 65_536) throw new RangeError(`KLL k must be an integer in [8, 65536], got ${k}`);
    this.k = k;
    this.rng = new Rng(seed);
    this.maxSize = this.computeMaxSize();
  }

  /** Adds one finite value; amortised O(1) (each value is moved up at most log n times, in sorted batches). */
  update(value: number): void {
    this.levels[0]!.push(value);
    this.n++;
    this.sorted = undefined;
    if (++this.size >= this.maxSize) this.compress();
  }

  /** The number of stored items (≤ ~3k + 8·levels); what bounds the memory. */
  get storedItems(): number {
    return this.size;
  }

  /** Estimated number of summarised values ≤ x. */
  rank(x: number): number {
    let r = 0;
    for (let h = 0; h < this.levels.length; h++) {
      let c = 0;
      for (const v of this.levels[h]!) if (v <= x) c++;
      r += c * 2 ** h;
    }
    return r;
  }

  /**
   * The smallest stored value whose estimated rank reaches q·n (a value that was seen); NaN when empty. Throws a
   * RangeError for q outside [0, 1].
   */
  quantile(q: number): number {
    if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be in [0, 1], got ${q}`);
    if (this.n === 0) return NaN;
    const { values, cumulative } = this.sortedView();
    const target = q * this.n;
    let lo = 0;
    let hi = values.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid]! >= target) hi = mid;
      else lo = mid + 1;
    }
    return values[lo]!;
  }

  /** The rank error ε (as a fraction of n) that one query exceeds with probability at most δ; 0 while exact. */
  rankErrorBound(delta = 0.01): number {
    if (this.n === 0 || this.variance === 0) return 0;
    return Math.sqrt(2 * this.variance * Math.log(2 / delta)) / this.n;
  }

  /** A deep copy. */
  clone(): KllSketch {
    const c = new KllSketch(this.k, this.rng.state);
    c.levels = this.levels.map((l) => l.slice());
    c.n = this.n;
    c.variance = this.variance;
    c.size = this.size;
    c.maxSize = c.computeMaxSize();
    return c;
  }

  /**
   * The sketch of both inputs (neither is changed). Throws a RangeError when k differs. Commutative exactly
   * (same serialised form either way); associative in distribution, and the error bound holds for any merge tree.
   */
  static merge(a: KllSketch, b: KllSketch): KllSketch {
    if (a.k !== b.k) throw new RangeError(`cannot merge KLL sketches with k ${a.k} and ${b.k}`);
    const out = new KllSketch(a.k, mixSeeds(a.rng.state, b.rng.state));
    const height = Math.max(a.levels.length, b.levels.length);
    out.levels = [];
    let size = 0;
    for (let h = 0; h < height; h++) {
      const level = [...(a.levels[h] ?? []), ...(b.levels[h] ?? [])];
      size += level.length;
      out.levels.push(level);
    }
    out.n = a.n + b.n;
    out.variance = a.variance + b.variance;
    out.size = size;
    out.maxSize = out.computeMaxSize();
    if (out.size >= out.maxSize) out.compress();
    return out;
  }

  /** The compact JSON form (levels sorted, so equal sketches give equal text). */
  toJSON(): KllJson {
    return {
      k: this.k,
      n: this.n,
      v: this.variance,
      rng: this.rng.state,
      levels: this.levels.map((l) => Array.from(Float64Array.from(l).sort())),
    };
  }

  /** Rebuilds a sketch from `toJSON` output; throws a RangeError when the weights do not add up to n. */
  static fromJSON(json: KllJson): KllSketch {
    const s = new KllSketch(json.k, json.rng);
    if (!Array.isArray(json.levels) || json.levels.length === 0) throw new RangeError('KLL levels must be a non-empty array');
    s.levels = json.levels.map((l) => {
      if (!Array.isArray(l) || !l.every((v) => typeof v === 'number' && Number.isFinite(v))) {
        throw new RangeError('KLL levels must hold finite numbers');
      }
      return l.slice();
    });
    let weight = 0;
    let size = 0;
    s.levels.forEach((l, h) => {
      weight += l.length * 2 ** h;
      size += l.length;
    });
    if (weight !== json.n) throw new RangeError(`KLL level weights add up to ${weight}, not n = ${json.n}`);
    if (!(typeof json.v === 'number' && json.v >= 0)) throw new RangeError('KLL v must be a number ≥ 0');
    s.n = json.n;
    s.variance = json.v;
    s.size = size;
    s.maxSize = s.computeMaxSize();
    return s;
  }

  private capacity(h: number): number {
    return this.capacities[h]!;
  }

  /** Recomputes the per-level capacities (they shift whenever a level is added) and returns their sum. */
  private computeMaxSize(): number {
    let total = 0;
    const H = this.levels.length;
    this.capacities = [];
    for (let h = 0; h < H; h++) {
      const c = Math.max(MIN_WIDTH, Math.ceil(this.k * SHRINK ** (H - 1 - h)));
      this.capacities.push(c);
      total += c;
    }
    return total;
  }

  private compress(): void {
    while (this.size >= this.maxSize) {
      // Lazy compaction (only the lowest full level) keeps the most information; one always exists because the
      // total size reached the sum of the capacities.
      let h = 0;
      while (this.levels[h]!.length < this.capacity(h)) h++;
      this.compact(h);
    }
  }

  private compact(h: number): void {
    if (h + 1 === this.levels.length) {
      this.levels.push([]);
      this.maxSize = this.computeMaxSize();
    }
    const buf = sortNumbers(this.levels[h]!);
    const odd = buf.length & 1;
    const up = this.levels[h + 1]!;
    // With an odd count the smallest item stays behind, so the compacted part is a contiguous sorted run.
    for (let i = odd + (this.rng.nextUint32() & 1); i < buf.length; i += 2) up.push(buf[i]!);
    this.levels[h] = odd ? [buf[0]!] : [];
    this.size -= (buf.length - odd) / 2;
    this.variance += 4 ** h;
  }

  private sortedView(): { values: Float64Array; cumulative: Float64Array } {
    if (this.sorted) return this.sorted;
    const pairs: [number, number][] = [];
    this.levels.forEach((l, h) => {
      for (const v of l) pairs.push([v, 2 ** h]);
    });
    pairs.sort((x, y) => x[0] - y[0]);
    const values = new Float64Array(pairs.length);
    const cumulative = new Float64Array(pairs.length);
    let c = 0;
    pairs.forEach(([v, w], i) => {
      values[i] = v;
      c += w;
      cumulative[i] = c;
    });
    this.sorted = { values, cumulative };
    return this.sorted;
  }
}

/** Sorts ascending in place when short (insertion sort beats allocating), else through a Float64Array. */
function sortNumbers(a: number[]): ArrayLike<number> {
  if (a.length > 32) return Float64Array.from(a).sort();
  for (let i = 1; i < a.length; i++) {
    const v = a[i]!;
    let j = i - 1;
    while (j >= 0 && a[j]! > v) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = v;
  }
  return a;
}
