import type { ReferenceStats } from './edge-validation.ts';

/** Bounds of the reference statistics accumulator. */
export interface ReferenceOptions {
  /** Numeric values kept per field for the median (a uniform reservoir sample); default 100,000. */
  sampleSize?: number;
  /** Distinct values counted per field for the mode (Misra–Gries); default 1,000. */
  maxDistinct?: number;
  /** Seed of the reservoir's random choices, so the same file gives the same statistics. */
  seed?: number;
}

interface FieldState {
  seen: number;
  sample: number[];
  /** Scalar values that are not numbers (strings, booleans): when any is seen, the field gets a mode, not a median. */
  others: number;
  counts: Map<string, { value: string | number | boolean; count: number }>;
}

/**
 * Per-field reference statistics of a training file in bounded memory: the lower median of numeric fields, exact
 * over a uniform reservoir sample of at most `sampleSize` values (exact for smaller files), and the most frequent
 * value of the other scalar fields, exact up to `maxDistinct` distinct values and otherwise the Misra–Gries
 * heavy-hitter estimate. The lower median is an observed value, so an integer field gets an integer.
 */
export class ReferenceAccumulator {
  private readonly fields = new Map<string, FieldState>();
  private readonly sampleSize: number;
  private readonly maxDistinct: number;
  private readonly random: () => number;
  private rows = 0;

  constructor(options: ReferenceOptions = {}) {
    this.sampleSize = options.sampleSize ?? 100_000;
    this.maxDistinct = options.maxDistinct ?? 1_000;
    this.random = mulberry32(options.seed ?? 0x7a2c);
  }

  /** Adds one row; nulls, objects and arrays are skipped. */
  add(row: Record<string, unknown>): void {
    this.rows++;
    for (const [name, value] of Object.entries(row)) {
      if (value === null || value === undefined) continue;
      const kind = typeof value;
      if (kind !== 'number' && kind !== 'string' && kind !== 'boolean') continue;
      if (kind === 'number' && !Number.isFinite(value)) continue;
      let state = this.fields.get(name);
      if (!state) {
        state = { seen: 0, sample: [], others: 0, counts: new Map() };
        this.fields.set(name, state);
      }
      if (kind === 'number') this.sampleNumber(state, value as number);
      else state.others++;
      this.count(state, value as string | number | boolean);
    }
  }

  /** The statistics so far, with `source` naming where the rows came from. */
  result(source: string): ReferenceStats {
    const medians: Record<string, number> = {};
    const modes: Record<string, string | number | boolean> = {};
    for (const [name, state] of this.fields) {
      if (state.others === 0 && state.sample.length > 0) {
        const sorted = Float64Array.from(state.sample).sort();
        medians[name] = sorted[Math.floor((sorted.length - 1) / 2)]!;
        continue;
      }
      let best: { value: string | number | boolean; count: number } | undefined;
      for (const entry of state.counts.values()) if (!best || entry.count > best.count) best = entry;
      if (best) modes[name] = best.value;
    }
    return { rows: this.rows, medians, modes, source };
  }

  private sampleNumber(state: FieldState, value: number): void {
    state.seen++;
    if (state.sample.length < this.sampleSize) {
      state.sample.push(value);
      return;
    }
    // Algorithm R: the i-th value replaces a random slot with probability sampleSize / i.
    const slot = Math.floor(this.random() * state.seen);
    if (slot < this.sampleSize) state.sample[slot] = value;
  }

  private count(state: FieldState, value: string | number | boolean): void {
    const key = `${typeof value}:${String(value)}`;
    const entry = state.counts.get(key);
    if (entry) {
      entry.count++;
      return;
    }
    if (state.counts.size < this.maxDistinct) {
      state.counts.set(key, { value, count: 1 });
      return;
    }
    // Misra–Gries: a new value when every counter is taken decrements them all; total work stays linear in the rows.
    for (const [k, e] of state.counts) {
      e.count--;
      if (e.count === 0) state.counts.delete(k);
    }
  }
}

/** Reference statistics of a stream of rows (see ReferenceAccumulator). */
export async function referenceOf(rows: AsyncIterable<Record<string, unknown>>, source: string, options: ReferenceOptions = {}): Promise<ReferenceStats> {
  const accumulator = new ReferenceAccumulator(options);
  for await (const row of rows) accumulator.add(row);
  return accumulator.result(source);
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
