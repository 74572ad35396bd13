/**
 * Mergeable profiles of one column. A `ColumnSpec`, decided once from the reference data of a model version, fixes
 * everything that must agree for two profiles to merge (bin edges, tracked categories, sketch and sample sizes); a
 * builder adds values in O(1) amortised time and bounded memory; `mergeProfiles` combines profiles of any windows or
 * replicas. Merging is exact — equal to one build over the union — for counts, nulls, min/max, sum, histograms and
 * category counts (bit for bit), and for mean/M2 up to floating rounding (Chan et al.); the KLL sketch and the sample
 * keep their own probabilistic guarantees (see kll.ts, sample.ts and docs/profiles.md).
 *
 * What counts as null: numeric — null, undefined, NaN and '' (the empty cell of text formats); categorical — null,
 * undefined and NaN ('' is a category: the CSV reader already turns empty cells into null, so '' only arrives when a
 * client sent it). Invalid (counted apart, not null): numeric — ±Infinity, strings (unless the spec is temporal and
 * they parse), booleans, objects; categorical — ±Infinity, objects and arrays.
 */
import { parseDate, parseTime, parseTimestamp } from '../../contracts/index.ts';
import { TarmacError } from '../../shared/errors.ts';
import { binIndex, quantileBinEdges, validEdges } from './bins.ts';
import { ExactSum } from './exact-sum.ts';
import { KLL_DEFAULT_K, KllSketch } from './kll.ts';
import type { KllJson } from './kll.ts';
import { hashString, mixSeeds } from './random.ts';
import { BottomKSample } from './sample.ts';
import type { SampleJson } from './sample.ts';

/** The two kinds of column profile. */
export type ColumnKind = 'numeric' | 'categorical';

/** How a numeric column reads strings: ISO dates and RFC 3339 timestamps as epoch ms, `HH:mm:ss` as seconds. */
export type TemporalEncoding = 'date' | 'timestamp' | 'time';

/** The key of the bucket for values outside the tracked categories, in `categoryCounts()`. */
export const OTHER_CATEGORY = '__other__';

/** Defaults of specs built from a reference. */
export const PROFILE_DEFAULTS = {
  bins: 10,
  k: KLL_DEFAULT_K,
  sampleSize: 256,
  maxCategories: 1000,
  maxNovel: 64,
  maxStringLength: 256,
  seed: 0x7a3c,
} as const;

/** What must agree for numeric profiles to merge: the fixed bin edges and the sketch/sample sizes. */
export interface NumericSpec {
  kind: 'numeric';
  /** Strictly increasing finite edges; m edges make m + 1 bins (−∞, e1), [e1, e2), …, [em, +∞). */
  edges: number[];
  /** KLL accuracy parameter. */
  k: number;
  sampleSize: number;
  temporal?: TemporalEncoding;
}

/** What must agree for categorical profiles to merge: the tracked categories (in order) and the bounds. */
export interface CategoricalSpec {
  kind: 'categorical';
  /** Categories counted by name; every other value goes to the `__other__` bucket. */
  categories: string[];
  sampleSize: number;
  /** How many categories outside `categories` are also counted by name (a deterministic subset, see novel()). */
  maxNovel: number;
  /** Longer strings are cut to this many UTF-16 units before counting, which bounds memory. */
  maxStringLength: number;
}

/** The spec of one column. */
export type ColumnSpec = NumericSpec | CategoricalSpec;

/** Options of a builder. */
export interface BuilderOptions {
  /**
   * Seed of the sketch coin flips and the sample keys. Give each replica/window its own (e.g. a hash of replica id
   * and window start): merged sketches and samples assume independent randomness on each side.
   */
  seed?: number;
}

/** Options of `buildReferenceProfile` and `referenceSpec`. */
export interface ReferenceOptions extends BuilderOptions {
  /** Quantile bins requested (numeric); fewer remain when edges tie. Default 10. */
  bins?: number;
  k?: number;
  sampleSize?: number;
  /** Most categories tracked by name (categorical): the most frequent in the reference. Default 1,000. */
  maxCategories?: number;
  maxNovel?: number;
  maxStringLength?: number;
  temporal?: TemporalEncoding;
  /** Up to this many valid values, edges come from the exact sorted reference; above, from a k = 2,000 KLL sketch. */
  exactEdgesLimit?: number;
}

const INVALID = undefined;

/** A finite number, null (a null) or undefined (an invalid value) for a numeric column. */
export function numericValue(value: unknown, temporal?: TemporalEncoding): number | null | undefined {
  if (typeof value === 'number') {
    if (value !== value) return null;
    return value - value === 0 ? value : INVALID;
  }
  if (value === null || value === undefined || value === '') return null;
  if (typeof value === 'string') {
    if (temporal === undefined) return INVALID;
    const t = temporal === 'date' ? parseDate(value) : temporal === 'timestamp' ? parseTimestamp(value, false) : parseTime(value);
    return Number.isFinite(t) ? t : INVALID;
  }
  if (typeof value === 'bigint') {
    const n = Number(value);
    return Number.isFinite(n) ? n : INVALID;
  }
  if (value instanceof Date) {
    const t = value.getTime();
    return Number.isFinite(t) ? t : INVALID;
  }
  return INVALID;
}

/** The category of a value (booleans as 'true'/'false', numbers as String(n)), null for a null, undefined if invalid. */
export function categoryValue(value: unknown, maxStringLength: number = PROFILE_DEFAULTS.maxStringLength): string | null | undefined {
  if (typeof value === 'string') return value.length > maxStringLength ? truncate(value, maxStringLength) : value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') {
    if (value !== value) return null;
    return value - value === 0 ? String(value) : INVALID;
  }
  if (typeof value === 'bigint') return String(value);
  return INVALID;
}

function truncate(s: string, max: number): string {
  const code = s.charCodeAt(max - 1);
  // Never leave half a surrogate pair behind.
  return s.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

function checkInt(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new TarmacError('VALIDATION_FAILED', `profile ${name} must be an integer in [${min}, ${max}], got ${v}`, {
      issues: [{ field: name, rule: 'range', message: `must be an integer in [${min}, ${max}]` }],
    });
  }
}

/** A numeric spec with defaults filled in; throws VALIDATION_FAILED when edges are not finite and increasing. */
export function numericSpec(edges: number[], options: Omit<Partial<NumericSpec>, 'kind' | 'edges'> = {}): NumericSpec {
  if (!validEdges(edges)) {
    throw new TarmacError('VALIDATION_FAILED', 'bin edges must be finite and strictly increasing', {
      issues: [{ field: 'edges', rule: 'increasing', message: 'must be finite and strictly increasing' }],
    });
  }
  const spec: NumericSpec = {
    kind: 'numeric', edges: edges.map((e) => e + 0), k: options.k ?? PROFILE_DEFAULTS.k,
    sampleSize: options.sampleSize ?? PROFILE_DEFAULTS.sampleSize,
  };
  checkInt('k', spec.k, 8, 65_536);
  checkInt('sampleSize', spec.sampleSize, 0, 100_000);
  if (options.temporal !== undefined) spec.temporal = options.temporal;
  return spec;
}

/** A categorical spec with defaults filled in; throws VALIDATION_FAILED on duplicate categories or bad bounds. */
export function categoricalSpec(categories: string[], options: Omit<Partial<CategoricalSpec>, 'kind' | 'categories'> = {}): CategoricalSpec {
  const spec: CategoricalSpec = {
    kind: 'categorical', categories: categories.slice(), sampleSize: options.sampleSize ?? PROFILE_DEFAULTS.sampleSize,
    maxNovel: options.maxNovel ?? PROFILE_DEFAULTS.maxNovel, maxStringLength: options.maxStringLength ?? PROFILE_DEFAULTS.maxStringLength,
  };
  checkInt('sampleSize', spec.sampleSize, 0, 100_000);
  checkInt('maxNovel', spec.maxNovel, 0, 10_000);
  checkInt('maxStringLength', spec.maxStringLength, 1, 65_536);
  checkInt('categories.length', categories.length, 0, 100_000);
  const seen = new Set<string>();
  for (const c of categories) {
    if (typeof c !== 'string' || seen.has(c) || c === OTHER_CATEGORY || c.length > spec.maxStringLength) {
      throw new TarmacError('VALIDATION_FAILED', `category ${JSON.stringify(c)} is duplicated, reserved or too long`, {
        issues: [{ field: 'categories', rule: 'unique', message: 'categories must be distinct strings within maxStringLength, not __other__' }],
      });
    }
    seen.add(c);
  }
  return spec;
}

/** True when two specs would produce mergeable profiles (same kind, edges, categories in order and bounds). */
export function specsEqual(a: ColumnSpec, b: ColumnSpec): boolean {
  if (a.kind === 'numeric' && b.kind === 'numeric') {
    return a.k === b.k && a.sampleSize === b.sampleSize && a.temporal === b.temporal &&
      a.edges.length === b.edges.length && a.edges.every((e, i) => e === b.edges[i]);
  }
  if (a.kind === 'categorical' && b.kind === 'categorical') {
    return a.sampleSize === b.sampleSize && a.maxNovel === b.maxNovel && a.maxStringLength === b.maxStringLength &&
      a.categories.length === b.categories.length && a.categories.every((c, i) => c === b.categories[i]);
  }
  return false;
}

function seeds(seed: number | undefined): { kll: number; sample: number } {
  const s = (seed ?? PROFILE_DEFAULTS.seed) >>> 0;
  return { kll: mixSeeds(s, 0x11), sample: mixSeeds(s, 0x22) };
}

/* ------------------------------------------------------------------------------------------------------------------ */
/* numeric                                                                                                            */

interface NumericState {
  count: number;
  nulls: number;
  invalid: number;
  n: number;
  min: number;
  max: number;
  sum: ExactSum;
  mean: number;
  m2: number;
  hist: Float64Array;
  kll: KllSketch;
  sample: BottomKSample<number>;
}

/** Accumulates one numeric column; memory is bounded by the spec (see NumericProfile), never by the traffic. */
export class NumericProfileBuilder {
  readonly kind = 'numeric';
  private readonly s: NumericState;
  private readonly edges: Float64Array;

  constructor(readonly spec: NumericSpec, options: BuilderOptions = {}) {
    const seed = seeds(options.seed);
    this.edges = Float64Array.from(spec.edges);
    this.s = {
      count: 0, nulls: 0, invalid: 0, n: 0, min: Infinity, max: -Infinity, sum: new ExactSum(), mean: 0, m2: 0,
      hist: new Float64Array(spec.edges.length + 1), kll: new KllSketch(spec.k, seed.kll),
      sample: new BottomKSample<number>(spec.sampleSize, seed.sample),
    };
  }

  /** Adds one value of any type (see the module comment for nulls and invalid values). */
  add(value: unknown): void {
    if (typeof value === 'number' && value - value === 0) {
      this.s.count++;
      this.addFinite(value);
      return;
    }
    const x = numericValue(value, this.spec.temporal);
    this.s.count++;
    if (x === null) this.s.nulls++;
    else if (x === undefined) this.s.invalid++;
    else this.addFinite(x);
  }

  /** A snapshot profile; the builder can go on adding. */
  build(): NumericProfile {
    const s = this.s;
    return new NumericProfile(this.spec, {
      ...s, sum: s.sum.clone(), hist: s.hist.slice(), kll: s.kll.clone(), sample: s.sample.clone(),
    });
  }

  private addFinite(x: number): void {
    const s = this.s;
    const n = ++s.n;
    if (x < s.min) s.min = x;
    if (x > s.max) s.max = x;
    s.sum.add(x);
    const d = x - s.mean;
    s.mean += d / n;
    s.m2 += d * (x - s.mean);
    s.hist[binIndex(this.edges, x)]!++;
    s.kll.update(x);
    s.sample.add(x);
  }
}

/** The JSON form of a numeric profile (version 1). */
export interface NumericProfileJson {
  v: 1;
  kind: 'numeric';
  spec: { edges: number[]; k: number; sampleSize: number; temporal?: TemporalEncoding };
  count: number;
  nulls: number;
  invalid: number;
  min: number | null;
  max: number | null;
  /** Exact-sum partials; `sumOverflow` is 'Infinity', '-Infinity' or 'NaN' when the sum left the double range. */
  sum: number[];
  sumOverflow?: string;
  mean: number;
  m2: number;
  hist: number[];
  kll: KllJson;
  sample: SampleJson<number>;
}

/**
 * The profile of a numeric column. Memory: (edges + 1) histogram doubles, at most 3k + 8·log2(n) ≈ 1,000 sketch
 * doubles for k = 200, 2 × sampleSize doubles for the sample and ≤ 40 sum partials — about 14 KB in memory and under
 * 40 KB as JSON with the defaults, whatever the number of values.
 */
export class NumericProfile {
  readonly kind = 'numeric';
  /** Values offered, including nulls and invalid ones. */
  readonly count: number;
  readonly nulls: number;
  readonly invalid: number;
  /** Finite values (what the moments, histogram, sketch and sample describe). */
  readonly valid: number;
  /** Smallest and largest valid value, undefined when there is none. */
  readonly min: number | undefined;
  readonly max: number | undefined;
  private readonly s: NumericState;

  /** @internal Profiles come from builders, merges and fromJSON. */
  constructor(readonly spec: NumericSpec, state: NumericState) {
    this.s = state;
    this.count = state.count;
    this.nulls = state.nulls;
    this.invalid = state.invalid;
    this.valid = state.n;
    this.min = state.n > 0 ? state.min : undefined;
    this.max = state.n > 0 ? state.max : undefined;
  }

  /** Nulls over all values (0 when empty). */
  get nullRate(): number {
    return this.count === 0 ? 0 : this.nulls / this.count;
  }

  /** Invalid values over all values (0 when empty). */
  get invalidRate(): number {
    return this.count === 0 ? 0 : this.invalid / this.count;
  }

  /** The exactly rounded sum of valid values: identical however the profile was merged. */
  get sum(): number {
    return this.s.sum.value();
  }

  /** The mean of valid values, from the exact sum (so bit-identical across merge orders); NaN when empty. */
  get mean(): number {
    if (this.s.n === 0) return NaN;
    const sum = this.s.sum.value();
    return Number.isFinite(sum) ? sum / this.s.n : this.s.mean;
  }

  /** Σ(x − mean)², the Chan et al. second moment. */
  get m2(): number {
    return this.s.n === 0 ? NaN : this.s.m2;
  }

  /** Population variance (÷ n); NaN when empty. */
  get variance(): number {
    return this.s.n === 0 ? NaN : this.s.m2 / this.s.n;
  }

  /** Sample variance (÷ n − 1); NaN below two values. */
  get sampleVariance(): number {
    return this.s.n < 2 ? NaN : this.s.m2 / (this.s.n - 1);
  }

  /** Population standard deviation. */
  get std(): number {
    return Math.sqrt(this.variance);
  }

  /** Sample standard deviation. */
  get sampleStd(): number {
    return Math.sqrt(this.sampleVariance);
  }

  /** Counts per bin, aligned with the spec's edges: index 0 is (−∞, e1), the last is [em, +∞). */
  histogram(): number[] {
    return Array.from(this.s.hist);
  }

  /** The q-quantile estimated by the sketch (exact min at 0 and max at 1); NaN when empty; RangeError off [0, 1]. */
  quantile(q: number): number {
    if (this.s.n > 0 && q === 0) return this.s.min;
    if (this.s.n > 0 && q === 1) return this.s.max;
    return this.s.kll.quantile(q);
  }

  /** The estimated fraction of valid values ≤ x; NaN when empty. */
  cdf(x: number): number {
    return this.s.n === 0 ? NaN : this.s.kll.rank(x) / this.s.n;
  }

  /** The sketch's rank-error bound for one query at confidence 1 − δ (a fraction of `valid`; 0 while exact). */
  quantileErrorBound(delta = 0.01): number {
    return this.s.kll.rankErrorBound(delta);
  }

  /** A uniform sample of at most sampleSize valid values, in random order (any prefix is uniform too). */
  sampleValues(): number[] {
    return this.s.sample.valuesInKeyOrder();
  }

  /** The versioned compact JSON form, suitable for JSON.stringify and storage. */
  toJSON(): NumericProfileJson {
    const s = this.s;
    const spec: NumericProfileJson['spec'] = { edges: this.spec.edges.slice(), k: this.spec.k, sampleSize: this.spec.sampleSize };
    if (this.spec.temporal !== undefined) spec.temporal = this.spec.temporal;
    const out: NumericProfileJson = {
      v: 1, kind: 'numeric', spec, count: s.count, nulls: s.nulls, invalid: s.invalid,
      min: this.min ?? null, max: this.max ?? null, sum: s.sum.partials.slice(), mean: s.mean, m2: s.m2,
      hist: Array.from(s.hist), kll: s.kll.toJSON(), sample: s.sample.toJSON(),
    };
    if (s.sum.overflow !== 0) out.sumOverflow = String(s.sum.overflow);
    return out;
  }

  /** @internal */
  state(): NumericState {
    return this.s;
  }
}

/* ------------------------------------------------------------------------------------------------------------------ */
/* categorical                                                                                                        */

interface NovelEntry {
  key: string;
  hash: number;
  count: number;
}

interface CategoricalState {
  count: number;
  nulls: number;
  invalid: number;
  counts: Float64Array;
  other: number;
  novel: Map<string, NovelEntry>;
  sample: BottomKSample<string>;
}

/** Orders novel categories by (hash, key): the maxNovel smallest are the ones counted by name. */
function novelBefore(a: NovelEntry, b: NovelEntry): boolean {
  return a.hash < b.hash || (a.hash === b.hash && a.key < b.key);
}

function largestNovel(novel: Map<string, NovelEntry>): NovelEntry | undefined {
  let worst: NovelEntry | undefined;
  for (const e of novel.values()) if (worst === undefined || novelBefore(worst, e)) worst = e;
  return worst;
}

/** Accumulates one categorical column; memory is bounded by the spec (see CategoricalProfile). */
export class CategoricalProfileBuilder {
  readonly kind = 'categorical';
  private readonly s: CategoricalState;
  private readonly index = new Map<string, number>();
  private worst: NovelEntry | undefined;

  constructor(readonly spec: CategoricalSpec, options: BuilderOptions = {}) {
    spec.categories.forEach((c, i) => this.index.set(c, i));
    this.s = {
      count: 0, nulls: 0, invalid: 0, counts: new Float64Array(spec.categories.length), other: 0, novel: new Map(),
      sample: new BottomKSample<string>(spec.sampleSize, seeds(options.seed).sample),
    };
  }

  /** Adds one value of any type (see the module comment for nulls and invalid values). */
  add(value: unknown): void {
    const s = this.s;
    s.count++;
    const key = categoryValue(value, this.spec.maxStringLength);
    if (key === null) {
      s.nulls++;
      return;
    }
    if (key === undefined) {
      s.invalid++;
      return;
    }
    const i = this.index.get(key);
    if (i !== undefined) s.counts[i]!++;
    else {
      s.other++;
      this.trackNovel(key);
    }
    s.sample.add(key);
  }

  /** A snapshot profile; the builder can go on adding. */
  build(): CategoricalProfile {
    const s = this.s;
    const novel = new Map<string, NovelEntry>();
    for (const [k, e] of s.novel) novel.set(k, { ...e });
    return new CategoricalProfile(this.spec, { ...s, counts: s.counts.slice(), novel, sample: s.sample.clone() });
  }

  private trackNovel(key: string): void {
    const novel = this.s.novel;
    const known = novel.get(key);
    if (known !== undefined) {
      known.count++;
      return;
    }
    const max = this.spec.maxNovel;
    if (max === 0) return;
    // Keeping the categories with the smallest hashes makes the tracked set independent of arrival order, and a
    // category in the final set was tracked from its first occurrence, so its count is exact (and merges exactly).
    const entry = { key, hash: hashString(key), count: 1 };
    if (novel.size < max) {
      novel.set(key, entry);
      if (this.worst === undefined || novelBefore(this.worst, entry)) this.worst = entry;
      return;
    }
    if (!novelBefore(entry, this.worst!)) return;
    novel.delete(this.worst!.key);
    novel.set(key, entry);
    this.worst = largestNovel(novel);
  }
}

/** The JSON form of a categorical profile (version 1). */
export interface CategoricalProfileJson {
  v: 1;
  kind: 'categorical';
  spec: { categories: string[]; sampleSize: number; maxNovel: number; maxStringLength: number };
  count: number;
  nulls: number;
  invalid: number;
  counts: number[];
  other: number;
  /** [category, count] of the tracked novel categories, in (hash, name) order. */
  novel: [string, number][];
  sample: SampleJson<string>;
}

/**
 * The profile of a categorical column. Memory: one double per spec category (≤ 1,000 by default), at most maxNovel
 * (64) novel names and counts, and sampleSize (256) sampled strings, every string cut to maxStringLength (256) —
 * under 8 KB + 160 KB in the worst case of maximal strings, a few KB for ordinary labels.
 */
export class CategoricalProfile {
  readonly kind = 'categorical';
  readonly count: number;
  readonly nulls: number;
  readonly invalid: number;
  /** Non-null, non-invalid values. */
  readonly valid: number;
  /** Values outside the spec's categories (the `__other__` bucket), novel ones included. */
  readonly other: number;
  private readonly s: CategoricalState;

  /** @internal Profiles come from builders, merges and fromJSON. */
  constructor(readonly spec: CategoricalSpec, state: CategoricalState) {
    this.s = state;
    this.count = state.count;
    this.nulls = state.nulls;
    this.invalid = state.invalid;
    this.valid = state.count - state.nulls - state.invalid;
    this.other = state.other;
  }

  /** Nulls over all values (0 when empty). */
  get nullRate(): number {
    return this.count === 0 ? 0 : this.nulls / this.count;
  }

  /** Invalid values over all values (0 when empty). */
  get invalidRate(): number {
    return this.count === 0 ? 0 : this.invalid / this.count;
  }

  /** Counts aligned with spec.categories, then one last bucket for `__other__`: what drift tests compare. */
  histogram(): number[] {
    return [...this.s.counts, this.s.other];
  }

  /** Count per spec category (zeros included, in spec order) and `__other__` last. */
  categoryCounts(): Map<string, number> {
    const out = new Map<string, number>();
    this.spec.categories.forEach((c, i) => out.set(c, this.s.counts[i]!));
    out.set(OTHER_CATEGORY, this.s.other);
    return out;
  }

  /**
   * Exact counts of up to maxNovel categories outside the spec — the ones with the smallest hashes, a deterministic
   * choice that does not depend on order or merges — in descending count.
   */
  novelCategories(): Map<string, number> {
    const entries = [...this.s.novel.values()].sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1));
    return new Map(entries.map((e) => [e.key, e.count]));
  }

  /** A uniform sample of at most sampleSize valid values (as category strings), in random order. */
  sampleValues(): string[] {
    return this.s.sample.valuesInKeyOrder();
  }

  /** The versioned compact JSON form. */
  toJSON(): CategoricalProfileJson {
    const s = this.s;
    const novel = [...s.novel.values()].sort((a, b) => (novelBefore(a, b) ? -1 : 1)).map((e): [string, number] => [e.key, e.count]);
    return {
      v: 1, kind: 'categorical',
      spec: { categories: this.spec.categories.slice(), sampleSize: this.spec.sampleSize, maxNovel: this.spec.maxNovel, maxStringLength: this.spec.maxStringLength },
      count: s.count, nulls: s.nulls, invalid: s.invalid, counts: Array.from(s.counts), other: s.other, novel,
      sample: s.sample.toJSON(),
    };
  }

  /** @internal */
  state(): CategoricalState {
    return this.s;
  }
}

/* ------------------------------------------------------------------------------------------------------------------ */
/* common API                                                                                                         */

/** A profile of either kind. */
export type ColumnProfile = NumericProfile | CategoricalProfile;

/** A builder of either kind. */
export type ProfileBuilder = NumericProfileBuilder | CategoricalProfileBuilder;

/** A builder for `spec`. */
export function profileBuilder(spec: NumericSpec, options?: BuilderOptions): NumericProfileBuilder;
export function profileBuilder(spec: CategoricalSpec, options?: BuilderOptions): CategoricalProfileBuilder;
export function profileBuilder(spec: ColumnSpec, options?: BuilderOptions): ProfileBuilder;
export function profileBuilder(spec: ColumnSpec, options: BuilderOptions = {}): ProfileBuilder {
  return spec.kind === 'numeric' ? new NumericProfileBuilder(spec, options) : new CategoricalProfileBuilder(spec, options);
}

function mismatch(a: ColumnSpec, b: ColumnSpec): TarmacError {
  return new TarmacError('VALIDATION_FAILED', 'cannot merge profiles built from different specs', {
    issues: [{ field: 'spec', rule: 'same-spec', message: `specs differ (${a.kind} vs ${b.kind}; edges, categories or bounds)` }],
    details: { left: a, right: b },
  });
}

/**
 * The profile of both inputs' data (neither is changed). Throws VALIDATION_FAILED when kinds, bin edges, categories
 * or bounds differ. Commutative; associative exactly except for floating rounding of mean/M2 and the randomness of
 * sketch and sample.
 */
export function mergeProfiles(a: NumericProfile, b: NumericProfile): NumericProfile;
export function mergeProfiles(a: CategoricalProfile, b: CategoricalProfile): CategoricalProfile;
export function mergeProfiles(a: ColumnProfile, b: ColumnProfile): ColumnProfile;
export function mergeProfiles(a: ColumnProfile, b: ColumnProfile): ColumnProfile {
  if (!specsEqual(a.spec, b.spec)) throw mismatch(a.spec, b.spec);
  if (a.kind === 'numeric' && b.kind === 'numeric') return mergeNumeric(a, b);
  if (a.kind === 'categorical' && b.kind === 'categorical') return mergeCategorical(a, b);
  throw mismatch(a.spec, b.spec);
}

/** Merges a non-empty list left to right; throws VALIDATION_FAILED on an empty list or mismatched specs. */
export function mergeAllProfiles<P extends ColumnProfile>(profiles: readonly P[]): P {
  if (profiles.length === 0) throw new TarmacError('VALIDATION_FAILED', 'no profiles to merge');
  let acc: ColumnProfile = profiles[0]!;
  for (let i = 1; i < profiles.length; i++) acc = mergeProfiles(acc, profiles[i]!);
  return acc as P;
}

function mergeNumeric(pa: NumericProfile, pb: NumericProfile): NumericProfile {
  let a = pa.state();
  let b = pb.state();
  // A canonical operand order makes the floating-point moment update commutative bit for bit.
  if (a.n > b.n || (a.n === b.n && (a.mean > b.mean || (a.mean === b.mean && a.m2 > b.m2)))) [a, b] = [b, a];
  const n = a.n + b.n;
  let mean: number;
  let m2: number;
  if (a.n === 0) {
    mean = b.mean;
    m2 = b.m2;
  } else {
    const delta = b.mean - a.mean;
    mean = a.mean + delta * (b.n / n);
    m2 = a.m2 + b.m2 + delta * delta * ((a.n * b.n) / n);
  }
  const sum = a.sum.clone();
  sum.addSum(b.sum);
  const hist = a.hist.slice();
  for (let i = 0; i < hist.length; i++) hist[i]! += b.hist[i]!;
  return new NumericProfile(pa.spec, {
    count: a.count + b.count, nulls: a.nulls + b.nulls, invalid: a.invalid + b.invalid, n,
    min: Math.min(a.min, b.min), max: Math.max(a.max, b.max), sum, mean, m2, hist,
    kll: KllSketch.merge(a.kll, b.kll), sample: BottomKSample.merge(a.sample, b.sample),
  });
}

function mergeCategorical(pa: CategoricalProfile, pb: CategoricalProfile): CategoricalProfile {
  const a = pa.state();
  const b = pb.state();
  const counts = a.counts.slice();
  for (let i = 0; i < counts.length; i++) counts[i]! += b.counts[i]!;
  const union = new Map<string, NovelEntry>();
  for (const e of [...a.novel.values(), ...b.novel.values()]) {
    const known = union.get(e.key);
    if (known) known.count += e.count;
    else union.set(e.key, { ...e });
  }
  const kept = [...union.values()].sort((x, y) => (novelBefore(x, y) ? -1 : 1)).slice(0, pa.spec.maxNovel);
  return new CategoricalProfile(pa.spec, {
    count: a.count + b.count, nulls: a.nulls + b.nulls, invalid: a.invalid + b.invalid, counts, other: a.other + b.other,
    novel: new Map(kept.map((e) => [e.key, e])), sample: BottomKSample.merge(a.sample, b.sample),
  });
}

/* ------------------------------------------------------------------------------------------------------------------ */
/* reference                                                                                                          */

/** Values that can be read twice: an iterable, or a function that re-opens the source. */
export type Source<T = unknown> = Iterable<T> | (() => Iterable<T>);

/** A function that opens the values afresh each call; one-shot iterators are read once into an array. */
export function reopenable<T>(values: Source<T>): () => Iterable<T> {
  if (typeof values === 'function') return values;
  const it = values[Symbol.iterator]();
  if ((it as unknown) === values) {
    const all: T[] = Array.from({ [Symbol.iterator]: () => it });
    return () => all;
  }
  return () => values;
}

/**
 * First pass over reference values: decides a column's spec. Numeric: quantile bin edges, exact up to
 * `exactEdgesLimit` valid values, else read from a k = 2,000 sketch (rank error ≈ 0.2 %). Categorical: the
 * `maxCategories` most frequent categories, ties by name, exact up to 10 × maxCategories distinct values, else a
 * Misra–Gries estimate of the most frequent ones. Memory is bounded by those limits.
 */
export class ReferenceSpecBuilder {
  private exact: number[] | undefined = [];
  private min = Infinity;
  private readonly sketch: KllSketch | undefined;
  private readonly counts = new Map<string, number>();
  private readonly capacity: number;

  constructor(readonly kind: ColumnKind, private readonly options: ReferenceOptions = {}) {
    this.sketch = kind === 'numeric' ? new KllSketch(2000, seeds(options.seed).kll) : undefined;
    const maxCategories = options.maxCategories ?? PROFILE_DEFAULTS.maxCategories;
    checkInt('maxCategories', maxCategories, 0, 100_000);
    this.capacity = Math.max(10 * maxCategories, 100);
  }

  /** Reads one reference value. */
  add(value: unknown): void {
    if (this.sketch) {
      const x = numericValue(value, this.options.temporal);
      if (typeof x !== 'number') return;
      if (x < this.min) this.min = x;
      this.sketch.update(x);
      if (this.exact) {
        this.exact.push(x);
        if (this.exact.length > (this.options.exactEdgesLimit ?? 1_000_000)) this.exact = undefined;
      }
      return;
    }
    const key = categoryValue(value, this.options.maxStringLength ?? PROFILE_DEFAULTS.maxStringLength);
    if (typeof key !== 'string' || key === OTHER_CATEGORY) return;
    const counts = this.counts;
    const c = counts.get(key);
    if (c !== undefined) counts.set(key, c + 1);
    else if (counts.size < this.capacity) counts.set(key, 1);
    else {
      // Misra–Gries: the newcomer and every counter lose one, so frequent categories survive; amortised O(1).
      for (const [k, n] of counts) {
        if (n <= 1) counts.delete(k);
        else counts.set(k, n - 1);
      }
    }
  }

  /** The spec decided by the values read so far; throws VALIDATION_FAILED on out-of-range options. */
  spec(): ColumnSpec {
    const o = this.options;
    if (this.sketch) {
      const bins = o.bins ?? PROFILE_DEFAULTS.bins;
      let edges: number[];
      if (this.exact) edges = quantileBinEdges(Float64Array.from(this.exact).sort(), bins);
      else {
        const candidates: number[] = [];
        for (let i = 1; i < bins; i++) candidates.push(this.sketch.quantile(i / bins));
        edges = dropTies(this.min, candidates);
      }
      return numericSpec(edges, { k: o.k, sampleSize: o.sampleSize, temporal: o.temporal });
    }
    const maxCategories = o.maxCategories ?? PROFILE_DEFAULTS.maxCategories;
    const categories = [...this.counts].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).slice(0, maxCategories).map(([c]) => c);
    return categoricalSpec(categories, { sampleSize: o.sampleSize, maxNovel: o.maxNovel, maxStringLength: o.maxStringLength });
  }
}

/** Decides the spec of a column from its reference values (see ReferenceSpecBuilder for the rules). */
export function referenceSpec(values: Iterable<unknown>, kind: ColumnKind, options: ReferenceOptions = {}): ColumnSpec {
  const b = new ReferenceSpecBuilder(kind, options);
  for (const v of values) b.add(v);
  return b.spec();
}

/** The same tie rule as quantileBinEdges, for candidate edges read from a sketch. */
function dropTies(min: number, candidates: number[]): number[] {
  const edges: number[] = [];
  for (const raw of candidates) {
    const e = raw + 0;
    if (e > min && (edges.length === 0 || e > edges[edges.length - 1]!)) edges.push(e);
  }
  return edges;
}

/**
 * The reference profile of one column in two passes: `referenceSpec` decides the bins/categories, then every value is
 * added. `values` may be an array (read twice), a function that re-opens the source (a file read twice) or a one-shot
 * iterator (read once into memory).
 */
export function buildReferenceProfile(values: Source, kind: 'numeric', options?: ReferenceOptions): NumericProfile;
export function buildReferenceProfile(values: Source, kind: 'categorical', options?: ReferenceOptions): CategoricalProfile;
export function buildReferenceProfile(values: Source, kind: ColumnKind, options?: ReferenceOptions): ColumnProfile;
export function buildReferenceProfile(values: Source, kind: ColumnKind, options: ReferenceOptions = {}): ColumnProfile {
  const open = reopenable(values);
  const spec = referenceSpec(open(), kind, options);
  const b = profileBuilder(spec, { seed: options.seed });
  for (const v of open()) b.add(v);
  return b.build();
}

/* ------------------------------------------------------------------------------------------------------------------ */
/* JSON                                                                                                               */

function bad(field: string, message: string): TarmacError {
  return new TarmacError('VALIDATION_FAILED', `not a valid profile: ${field} ${message}`, {
    issues: [{ field, rule: 'profile', message }],
  });
}

function count(json: Record<string, unknown>, field: string): number {
  const v = json[field];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(`/${field}`, 'must be a non-negative integer');
  return v;
}

function countArray(v: unknown, field: string, length: number): Float64Array {
  if (!Array.isArray(v) || v.length !== length || !v.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) {
    throw bad(field, `must be ${length} non-negative integers`);
  }
  return Float64Array.from(v as number[]);
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function isString(v: unknown): v is string {
  return typeof v === 'string';
}

/**
 * Reads a profile from `toJSON()` output (an object or its JSON text); throws VALIDATION_FAILED naming the first
 * inconsistent field (unknown version, counts that do not add up, malformed sketch or sample).
 */
export function columnProfileFromJSON(input: unknown): ColumnProfile {
  let json: unknown = input;
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input);
    } catch (e) {
      throw bad('', `is not JSON (${(e as Error).message})`);
    }
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('', 'must be an object');
  const j = json as Record<string, unknown>;
  if (j.v !== 1) throw bad('/v', 'must be 1 (the only version this build reads)');
  const rawSpec = j.spec;
  if (typeof rawSpec !== 'object' || rawSpec === null) throw bad('/spec', 'must be an object');
  const c = count(j, 'count');
  const nulls = count(j, 'nulls');
  const invalid = count(j, 'invalid');
  if (nulls + invalid > c) throw bad('/count', 'is smaller than nulls + invalid');
  try {
    if (j.kind === 'numeric') {
      const rs = rawSpec as NumericProfileJson['spec'];
      const spec = numericSpec(rs.edges, { k: rs.k, sampleSize: rs.sampleSize, temporal: rs.temporal });
      const hist = countArray(j.hist, '/hist', spec.edges.length + 1);
      const n = hist.reduce((x, y) => x + y, 0);
      if (n !== c - nulls - invalid) throw bad('/hist', 'does not add up to count − nulls − invalid');
      const sum = new ExactSum();
      if (!Array.isArray(j.sum) || !j.sum.every(isFiniteNumber)) throw bad('/sum', 'must be finite numbers');
      sum.partials = (j.sum as number[]).slice();
      if (j.sumOverflow !== undefined) {
        const o = Number(j.sumOverflow);
        if (Number.isFinite(o)) throw bad('/sumOverflow', "must be 'Infinity', '-Infinity' or 'NaN'");
        sum.overflow = o;
      }
      const [min, max] = [j.min, j.max];
      if (n > 0 ? !(isFiniteNumber(min) && isFiniteNumber(max) && min <= max) : !(min === null && max === null)) {
        throw bad('/min', 'must be finite with min ≤ max (null when there are no valid values)');
      }
      if (!isFiniteNumber(j.mean) || !isFiniteNumber(j.m2) || j.m2 < 0) throw bad('/m2', 'mean and m2 must be finite, m2 ≥ 0');
      const kll = KllSketch.fromJSON(j.kll as KllJson);
      if (kll.k !== spec.k || kll.n !== n) throw bad('/kll', 'does not match the spec or the valid count');
      const sample = BottomKSample.fromJSON(j.sample as SampleJson<number>, spec.sampleSize, isFiniteNumber);
      if (sample.seen !== n) throw bad('/sample/seen', 'must equal the valid count');
      return new NumericProfile(spec, {
        count: c, nulls, invalid, n, min: n > 0 ? (min as number) : Infinity, max: n > 0 ? (max as number) : -Infinity,
        sum, mean: j.mean, m2: j.m2, hist, kll, sample,
      });
    }
    if (j.kind === 'categorical') {
      const rs = rawSpec as CategoricalProfileJson['spec'];
      if (!Array.isArray(rs.categories)) throw bad('/spec/categories', 'must be an array');
      const spec = categoricalSpec(rs.categories, { sampleSize: rs.sampleSize, maxNovel: rs.maxNovel, maxStringLength: rs.maxStringLength });
      const counts = countArray(j.counts, '/counts', spec.categories.length);
      const other = count(j, 'other');
      if (counts.reduce((x, y) => x + y, 0) + other !== c - nulls - invalid) throw bad('/counts', 'do not add up to count − nulls − invalid');
      if (!Array.isArray(j.novel) || j.novel.length > spec.maxNovel) throw bad('/novel', 'must be an array of at most maxNovel entries');
      const novel = new Map<string, NovelEntry>();
      let novelTotal = 0;
      const known = new Set(spec.categories);
      for (const e of j.novel as unknown[]) {
        if (!Array.isArray(e) || !isString(e[0]) || !(Number.isSafeInteger(e[1]) && (e[1] as number) > 0) || known.has(e[0]) || novel.has(e[0])) {
          throw bad('/novel', 'entries must be distinct [category, count > 0] outside the spec');
        }
        novel.set(e[0], { key: e[0], hash: hashString(e[0]), count: e[1] as number });
        novelTotal += e[1] as number;
      }
      if (novelTotal > other) throw bad('/novel', 'counts exceed other');
      const sample = BottomKSample.fromJSON(j.sample as SampleJson<string>, spec.sampleSize, isString);
      if (sample.seen !== c - nulls - invalid) throw bad('/sample/seen', 'must equal the valid count');
      return new CategoricalProfile(spec, { count: c, nulls, invalid, counts, other, novel, sample });
    }
  } catch (e) {
    if (e instanceof RangeError) throw bad('', e.message);
    throw e;
  }
  throw bad('/kind', "must be 'numeric' or 'categorical'");
}
