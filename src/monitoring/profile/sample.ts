/**
 * A bounded uniform sample by random keys ("bottom-s" sampling, the equal-weight case of Efraimidis & Spirakis'
 * weighted reservoir): every value gets an independent uniform key in (0, 1) and the sample keeps the s values with
 * the smallest keys. That is a uniform s-subset of everything seen, and merging two samples is just keeping the s
 * smallest keys of both, which is again a uniform s-subset of the union (each side's seen count is respected
 * implicitly: a side that saw more values has smaller keys). Unlike the reservoir "weighted merge", this merge is
 * exactly commutative and associative. Adds cost O(1): once full, the number of values to skip before the next one
 * enters is drawn from its geometric law (as in Li's Algorithm L) instead of drawing a key per value.
 */
import { mixSeeds, Rng } from './random.ts';

/** The JSON form: keys ascending, values aligned. */
export interface SampleJson<T> {
  seen: number;
  rng: number;
  keys: number[];
  values: T[];
}

/** A uniform sample of at most `capacity` values; memory is `capacity` keys and values. */
export class BottomKSample<T extends number | string> {
  readonly capacity: number;
  /** Number of values offered. */
  seen = 0;
  readonly rng: Rng;
  /** A max-heap on keys, so the value to evict is at the root. */
  private keys: number[] = [];
  private values: T[] = [];
  /** Values still to reject before the next one enters; −1 until drawn (drawn lazily so snapshots keep the rng). */
  private skip = -1;

  constructor(capacity: number, seed = 0x5a4d) {
    if (!Number.isInteger(capacity) || capacity < 0 || capacity > 1_000_000) {
      throw new RangeError(`sample capacity must be an integer in [0, 1000000], got ${capacity}`);
    }
    this.capacity = capacity;
    this.rng = new Rng(seed);
  }

  /** Offers one value; O(1) amortised, O(log s) when it enters. */
  add(value: T): void {
    this.seen++;
    if (this.keys.length < this.capacity) {
      this.push(this.rng.nextOpen(), value);
      return;
    }
    if (this.capacity === 0) return;
    if (this.skip < 0) this.drawSkip();
    if (this.skip > 0) {
      this.skip--;
      return;
    }
    // Given that it enters, the key is uniform below the current largest key.
    this.replaceTop(this.keys[0]! * this.rng.nextOpen(), value);
    this.skip = -1;
  }

  /** The sampled values ordered by key: a random order, so any prefix is itself a uniform sample. */
  valuesInKeyOrder(): T[] {
    return this.entries().map(([, v]) => v);
  }

  /** Number of values held. */
  get size(): number {
    return this.keys.length;
  }

  /** The merged sample of both (neither is changed); throws a RangeError when the capacities differ. */
  static merge<T extends number | string>(a: BottomKSample<T>, b: BottomKSample<T>): BottomKSample<T> {
    if (a.capacity !== b.capacity) throw new RangeError(`cannot merge samples of size ${a.capacity} and ${b.capacity}`);
    const out = new BottomKSample<T>(a.capacity, mixSeeds(a.rng.state, b.rng.state));
    const all = [...a.entries(), ...b.entries()].sort(compareEntries);
    for (const [k, v] of all.slice(0, a.capacity)) out.push(k, v);
    out.seen = a.seen + b.seen;
    return out;
  }

  /** A deep copy (including the position in the random stream). */
  clone(): BottomKSample<T> {
    const c = new BottomKSample<T>(this.capacity, this.rng.state);
    c.keys = this.keys.slice();
    c.values = this.values.slice();
    c.seen = this.seen;
    c.skip = this.skip;
    return c;
  }

  /** The compact JSON form, keys ascending. */
  toJSON(): SampleJson<T> {
    const e = this.entries();
    return { seen: this.seen, rng: this.rng.state, keys: e.map(([k]) => k), values: e.map(([, v]) => v) };
  }

  /** Rebuilds a sample; throws a RangeError on inconsistent input. */
  static fromJSON<T extends number | string>(
    json: SampleJson<T>, capacity: number, isValue: (v: unknown) => v is T,
  ): BottomKSample<T> {
    const s = new BottomKSample<T>(capacity, json.rng);
    const { keys, values } = json;
    if (!Array.isArray(keys) || !Array.isArray(values) || keys.length !== values.length || keys.length > capacity) {
      throw new RangeError('sample keys and values must be arrays of equal length, at most the capacity');
    }
    if (!(Number.isInteger(json.seen) && json.seen >= keys.length)) throw new RangeError('sample seen must be an integer ≥ its size');
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      const v = values[i];
      if (typeof k !== 'number' || !(k > 0 && k < 1) || !isValue(v)) throw new RangeError('sample entries are not valid');
      s.push(k, v);
    }
    s.seen = json.seen;
    return s;
  }

  private entries(): [number, T][] {
    return this.keys.map((k, i): [number, T] => [k, this.values[i]!]).sort(compareEntries);
  }

  private drawSkip(): void {
    const tau = this.keys[0]!;
    // P(skip ≥ j) = (1 − τ)^j: the chance that the next j keys all land above the current largest kept key.
    this.skip = Math.floor(Math.log(this.rng.nextOpen()) / Math.log1p(-tau));
  }

  private push(key: number, value: T): void {
    const keys = this.keys;
    const values = this.values;
    let i = keys.length;
    keys.push(key);
    values.push(value);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent]! >= key) break;
      keys[i] = keys[parent]!;
      values[i] = values[parent]!;
      i = parent;
    }
    keys[i] = key;
    values[i] = value;
  }

  private replaceTop(key: number, value: T): void {
    const keys = this.keys;
    const values = this.values;
    const n = keys.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && keys[r]! > keys[l]! ? r : l;
      if (keys[c]! <= key) break;
      keys[i] = keys[c]!;
      values[i] = values[c]!;
      i = c;
    }
    keys[i] = key;
    values[i] = value;
  }
}

function compareEntries<T extends number | string>(x: [number, T], y: [number, T]): number {
  if (x[0] !== y[0]) return x[0] - y[0];
  // Equal keys (probability ~2^-53) are ordered by value so that merges stay deterministic.
  return x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0;
}
