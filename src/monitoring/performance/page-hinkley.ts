// The Page-Hinkley change detector (Page 1954) as river's drift.PageHinkley implements it: a fading cumulative sum
// of deviations from the running mean, tested against a threshold. Hand-written on purpose: Tarmac's own monitoring
// logic with no npm dependency. Detectors follow one ordered stream, so unlike the accumulators they do not merge.
import { checkEnvelope, fail, num, requireFinite } from './util.ts';

/** Options of PageHinkley (river's defaults). */
export interface PageHinkleyOptions {
  /** Observations before a change may be signalled (default 30). */
  minInstances?: number;
  /** Magnitude of change tolerated, in the stream's units (default 0.005). */
  delta?: number;
  /** Detection threshold λ (default 50). */
  threshold?: number;
  /** Forgetting factor of the cumulative sums (default 1 − 0.0001). */
  alpha?: number;
  /** 'up' watches increases only (the right choice for an error stream), 'down' decreases, 'both' (default, as river) either. */
  mode?: 'up' | 'down' | 'both';
}

/** The JSON state of a PageHinkley detector. */
export type PageHinkleyJSON = {
  v: 1;
  kind: 'page-hinkley';
  options: Required<PageHinkleyOptions>;
  n: number;
  mean: number;
  sumIncrease: number;
  sumDecrease: number;
  /** null stands for +Infinity (no minimum yet). */
  minIncrease: number | null;
  maxDecrease: number;
  driftDetected: boolean;
};

/** A streaming Page-Hinkley detector with O(1) memory; update() throws VALIDATION_FAILED on a non-finite value. */
export class PageHinkley {
  readonly options: Readonly<Required<PageHinkleyOptions>>;
  private n = 0;
  private mean = 0;
  private sumIncrease = 0;
  private sumDecrease = 0;
  private minIncrease = Infinity;
  // river starts the maximum at -1, not -Infinity; kept for parity with its detections.
  private maxDecrease = -1;
  private driftDetected = false;

  /** Throws VALIDATION_FAILED on invalid options. */
  constructor(options: PageHinkleyOptions = {}) {
    this.options = Object.freeze({
      minInstances: options.minInstances ?? 30,
      delta: options.delta ?? 0.005,
      threshold: options.threshold ?? 50,
      alpha: options.alpha ?? 1 - 0.0001,
      mode: options.mode ?? 'both',
    });
    const o = this.options;
    if (!['up', 'down', 'both'].includes(o.mode)) throw fail('/mode', 'enum', 'mode must be up, down or both');
    if (!(o.alpha > 0 && o.alpha <= 1)) throw fail('/alpha', 'range', 'alpha must be in (0, 1]');
    if (!(o.threshold > 0) || !(o.delta >= 0) || !(o.minInstances >= 0)) {
      throw fail('/threshold', 'range', 'threshold must be > 0, delta and minInstances >= 0');
    }
  }

  /** Feeds one value; after a detection the next update starts afresh, as river does. */
  update(x: number): { drift: boolean } {
    requireFinite(x, '/x');
    if (this.driftDetected) this.reset();
    const o = this.options;
    this.n++;
    this.mean += (x - this.mean) / this.n;
    const dev = x - this.mean;
    this.sumIncrease = o.alpha * this.sumIncrease + dev - o.delta;
    this.sumDecrease = o.alpha * this.sumDecrease + dev + o.delta;
    if (this.sumIncrease < this.minIncrease) this.minIncrease = this.sumIncrease;
    if (this.sumDecrease > this.maxDecrease) this.maxDecrease = this.sumDecrease;
    if (this.n >= o.minInstances) {
      const up = this.sumIncrease - this.minIncrease > o.threshold;
      const down = this.maxDecrease - this.sumDecrease > o.threshold;
      this.driftDetected = o.mode === 'up' ? up : o.mode === 'down' ? down : up || down;
    }
    return { drift: this.driftDetected };
  }

  /** Forgets everything seen. */
  reset(): void {
    this.n = 0;
    this.mean = 0;
    this.sumIncrease = 0;
    this.sumDecrease = 0;
    this.minIncrease = Infinity;
    this.maxDecrease = -1;
    this.driftDetected = false;
  }

  /** The observations since the last reset and their mean. */
  get state(): { n: number; mean: number; driftDetected: boolean } {
    return { n: this.n, mean: this.mean, driftDetected: this.driftDetected };
  }

  /** The versioned JSON state. */
  toJSON(): PageHinkleyJSON {
    return {
      v: 1, kind: 'page-hinkley', options: { ...this.options }, n: this.n, mean: this.mean,
      sumIncrease: this.sumIncrease, sumDecrease: this.sumDecrease,
      minIncrease: this.minIncrease === Infinity ? null : this.minIncrease, maxDecrease: this.maxDecrease,
      driftDetected: this.driftDetected,
    };
  }

  /** Restores a detector from toJSON's output; throws VALIDATION_FAILED on a malformed state. */
  static fromJSON(json: unknown): PageHinkley {
    const o = checkEnvelope(json, 'page-hinkley');
    const d = new PageHinkley(o.options as PageHinkleyOptions);
    d.n = num(o, 'n');
    d.mean = num(o, 'mean');
    d.sumIncrease = num(o, 'sumIncrease');
    d.sumDecrease = num(o, 'sumDecrease');
    d.minIncrease = o.minIncrease === null ? Infinity : num(o, 'minIncrease');
    d.maxDecrease = num(o, 'maxDecrease');
    d.driftDetected = o.driftDetected === true;
    return d;
  }
}
