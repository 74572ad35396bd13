// ADWIN (Bifet & Gavaldà 2007, ADWIN2 with exponential histograms) as river's drift.ADWIN implements it, including
// its clock (cuts are checked every `clock` updates), grace period, minimum sub-window length and the reset of the
// whole window on the update after a detection. Hand-written on purpose: Tarmac's own monitoring logic with no npm
// dependency. Detectors follow one ordered stream, so unlike the accumulators they do not merge.
import { checkEnvelope, fail, num, requireFinite } from './util.ts';

/** Options of Adwin (river's defaults). */
export interface AdwinOptions {
  /** Confidence of the cut test (default 0.002). */
  delta?: number;
  /** Cuts are evaluated every `clock` updates (default 32). */
  clock?: number;
  /** Buckets of each size kept before two merge (default 5): memory is O(maxBuckets · log(width)). */
  maxBuckets?: number;
  /** Smallest sub-window length a cut may leave on either side (default 5). */
  minWindowLength?: number;
  /** No cut is evaluated before the window holds more than this many values (default 10). */
  gracePeriod?: number;
}

/** The JSON state of an Adwin detector. */
export type AdwinJSON = {
  v: 1;
  kind: 'adwin';
  options: Required<AdwinOptions>;
  /** rows[i] holds buckets of 2^i values, oldest first, as [total, variance] pairs. */
  rows: [number, number][][];
  total: number;
  variance: number;
  width: number;
  tick: number;
  detections: number;
  driftDetected: boolean;
};

/** The outcome of one Adwin update. */
export interface AdwinUpdate {
  drift: boolean;
  /** Values in the adaptive window. */
  width: number;
  /** Mean of the window (0 when empty). */
  mean: number;
}

/** A streaming ADWIN detector; update() throws VALIDATION_FAILED on a non-finite value. */
export class Adwin {
  readonly options: Readonly<Required<AdwinOptions>>;
  private rows: { totals: number[]; variances: number[] }[] = [];
  private total = 0;
  private variance = 0;
  private width = 0;
  private tick = 0;
  private detections = 0;
  private driftDetected = false;

  /** Throws VALIDATION_FAILED on invalid options. */
  constructor(options: AdwinOptions = {}) {
    this.options = Object.freeze({
      delta: options.delta ?? 0.002,
      clock: options.clock ?? 32,
      maxBuckets: options.maxBuckets ?? 5,
      minWindowLength: options.minWindowLength ?? 5,
      gracePeriod: options.gracePeriod ?? 10,
    });
    const o = this.options;
    if (!(o.delta > 0 && o.delta < 1)) throw fail('/delta', 'range', 'delta must be in (0, 1)');
    if (!Number.isInteger(o.clock) || o.clock < 1) throw fail('/clock', 'range', 'clock must be an integer >= 1');
    if (!Number.isInteger(o.maxBuckets) || o.maxBuckets < 2) throw fail('/maxBuckets', 'range', 'maxBuckets must be an integer >= 2');
    if (!(o.minWindowLength >= 1) || !(o.gracePeriod >= 0)) throw fail('/minWindowLength', 'range', 'minWindowLength must be >= 1 and gracePeriod >= 0');
    this.reset();
  }

  /** Forgets the window, as river does on the update after a detection; nDetections keeps counting across resets. */
  reset(): void {
    this.rows = [{ totals: [], variances: [] }];
    this.total = 0;
    this.variance = 0;
    this.width = 0;
    this.tick = 0;
    this.driftDetected = false;
  }

  /** Total detections since construction. */
  get nDetections(): number {
    return this.detections;
  }

  /** Feeds one value (0/1 errors or absolute errors) and reports whether a change was detected now. */
  update(x: number): AdwinUpdate {
    requireFinite(x, '/x');
    if (this.driftDetected) this.reset();
    this.insert(x);
    this.driftDetected = this.detectChange();
    if (this.driftDetected) this.detections++;
    return { drift: this.driftDetected, width: this.width, mean: this.width === 0 ? 0 : this.total / this.width };
  }

  private insert(value: number): void {
    const row0 = this.rows[0]!;
    row0.totals.push(value);
    row0.variances.push(0);
    this.width += 1;
    if (this.width > 1) {
      const d = value - this.total / (this.width - 1);
      this.variance += ((this.width - 1) * d * d) / this.width;
    }
    this.total += value;
    this.compress();
  }

  private compress(): void {
    for (let idx = 0; idx < this.rows.length; idx++) {
      const row = this.rows[idx]!;
      if (row.totals.length !== this.options.maxBuckets + 1) break;
      if (idx + 1 === this.rows.length) this.rows.push({ totals: [], variances: [] });
      const next = this.rows[idx + 1]!;
      const n1 = 2 ** idx;
      const mu1 = row.totals[0]! / n1;
      const mu2 = row.totals[1]! / n1;
      next.totals.push(row.totals[0]! + row.totals[1]!);
      next.variances.push(row.variances[0]! + row.variances[1]! + n1 * 0.5 * (mu1 - mu2) * (mu1 - mu2));
      row.totals.splice(0, 2);
      row.variances.splice(0, 2);
      if (next.totals.length <= this.options.maxBuckets) break;
    }
  }

  private deleteOldest(): number {
    const last = this.rows.length - 1;
    const row = this.rows[last]!;
    const n = 2 ** last;
    const u = row.totals[0]!;
    const mu = u / n;
    const v = row.variances[0]!;
    this.width -= n;
    this.total -= u;
    const muWindow = this.total / this.width;
    this.variance -= v + (n * this.width * (mu - muWindow) * (mu - muWindow)) / (n + this.width);
    row.totals.shift();
    row.variances.shift();
    if (row.totals.length === 0) this.rows.pop();
    return n;
  }

  private cutExceeds(n0: number, n1: number, deltaMean: number): boolean {
    const m = this.options.minWindowLength;
    const deltaPrime = Math.log((2 * Math.log(this.width)) / this.options.delta);
    const mRecip = 1 / (n0 - m + 1) + 1 / (n1 - m + 1);
    const epsilon = Math.sqrt(2 * mRecip * (this.variance / this.width) * deltaPrime) + (2 / 3) * deltaPrime * mRecip;
    return Math.abs(deltaMean) > epsilon;
  }

  // river's _detect_change: walk cuts from the oldest bucket to the newest; on a significant cut drop the oldest
  // bucket and start again, until no cut is significant.
  private detectChange(): boolean {
    let changed = false;
    this.tick++;
    if (this.tick % this.options.clock !== 0 || !(this.width > this.options.gracePeriod)) return false;
    let reduce = true;
    while (reduce) {
      reduce = false;
      let exit = false;
      let n0 = 0;
      let n1 = this.width;
      let u0 = 0;
      let u1 = this.total;
      for (let idx = this.rows.length - 1; idx >= 0 && !exit; idx--) {
        const row = this.rows[idx]!;
        const size = 2 ** idx;
        for (let k = 0; k < row.totals.length; k++) {
          n0 += size;
          n1 -= size;
          u0 += row.totals[k]!;
          u1 -= row.totals[k]!;
          if (idx === 0 && k === row.totals.length - 1) {
            exit = true;
            break;
          }
          const m = this.options.minWindowLength;
          if (n1 >= m && n0 >= m && this.cutExceeds(n0, n1, u0 / n0 - u1 / n1)) {
            reduce = true;
            changed = true;
            if (this.width > 0) {
              this.deleteOldest();
              exit = true;
              break;
            }
          }
        }
      }
    }
    return changed;
  }

  /** The adaptive window's size, mean and variance (as river's width, estimation and variance / width). */
  get state(): { width: number; mean: number; variance: number; driftDetected: boolean } {
    return {
      width: this.width, mean: this.width === 0 ? 0 : this.total / this.width,
      variance: this.width === 0 ? 0 : this.variance / this.width, driftDetected: this.driftDetected,
    };
  }

  /** The versioned JSON state (O(maxBuckets · log width) numbers). */
  toJSON(): AdwinJSON {
    return {
      v: 1, kind: 'adwin', options: { ...this.options },
      rows: this.rows.map((r) => r.totals.map((t, i) => [t, r.variances[i]!] as [number, number])),
      total: this.total, variance: this.variance, width: this.width, tick: this.tick, detections: this.detections,
      driftDetected: this.driftDetected,
    };
  }

  /** Restores a detector from toJSON's output; throws VALIDATION_FAILED on a malformed state. */
  static fromJSON(json: unknown): Adwin {
    const o = checkEnvelope(json, 'adwin');
    const d = new Adwin(o.options as AdwinOptions);
    if (!Array.isArray(o.rows) || o.rows.length === 0) throw fail('/rows', 'shape', 'rows must be a non-empty array');
    d.rows = (o.rows as unknown[]).map((row, i) => {
      if (!Array.isArray(row) || row.length > d.options.maxBuckets) throw fail(`/rows/${i}`, 'shape', 'a row holds at most maxBuckets buckets');
      return {
        totals: row.map((b) => requireFinite((b as number[])[0], `/rows/${i}`)),
        variances: row.map((b) => requireFinite((b as number[])[1], `/rows/${i}`)),
      };
    });
    d.total = num(o, 'total');
    d.variance = num(o, 'variance');
    d.width = num(o, 'width');
    d.tick = num(o, 'tick');
    d.detections = num(o, 'detections');
    d.driftDetected = o.driftDetected === true;
    return d;
  }
}
