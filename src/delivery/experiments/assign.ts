// Sticky assignment of units to experiment arms, ported from GrowthBook's JavaScript SDK (packages/sdk-js/src/util.ts:
// hashFnv32a, hash, getBucketRanges, chooseVariation, inRange) so a unit lands in the same arm here as in a GrowthBook
// SDK given the same seed, hash version, coverage and weights. `fixedBucketRanges` adds what GrowthBook's own ranges do
// not promise: arms keep fixed slots, so changing an arm's traffic only moves units in or out of the experiment.
import { invalid } from '../../shared/errors.ts';

/** A half-open bucket range [start, end) on the unit interval. */
export type BucketRange = [number, number];

/** GrowthBook's hash versions: 1 (original, biased, 1000 buckets) and 2 (unbiased, 10000 buckets). */
export type HashVersion = 1 | 2;

/** 32-bit FNV-1a over the string's UTF-16 code units (as GrowthBook's hashFnv32a, which uses charCodeAt), unsigned. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    // Multiplication by the FNV prime 16777619 modulo 2^32; GrowthBook spells it as a sum of shifts.
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * GrowthBook's `hash(seed, value, version)` in [0, 1): v1 = (fnv(value + seed) mod 1000)/1000;
 * v2 = (fnv(String(fnv(seed + value))) mod 10000)/10000, which removes v1's bias between similar seeds.
 */
export function hash(seed: string, value: string, version: HashVersion = 2): number {
  if (version === 2) return (fnv1a32(String(fnv1a32(seed + value))) % 10000) / 10000;
  return (fnv1a32(value + seed) % 1000) / 1000;
}

/** Whether n falls in [start, end) (GrowthBook `inRange`). */
export function inRange(n: number, range: BucketRange): boolean {
  return n >= range[0] && n < range[1];
}

/** The index of the range holding n, or −1 when n is in none (the unit is not in the experiment; GrowthBook `chooseVariation`). */
export function chooseVariation(n: number, ranges: readonly BucketRange[]): number {
  for (let i = 0; i < ranges.length; i++) if (inRange(n, ranges[i]!)) return i;
  return -1;
}

/**
 * GrowthBook's `getBucketRanges(numVariations, coverage, weights)`: arm i starts at the cumulative weight before it
 * and covers coverage·w_i of its slot. Coverage is clamped to [0, 1]; missing weights, weights of the wrong length or
 * summing outside [0.99, 1.01] fall back to equal weights, as GrowthBook does (it only logs).
 */
export function getBucketRanges(numVariations: number, coverage = 1, weights?: readonly number[]): BucketRange[] {
  const c = Math.min(1, Math.max(0, coverage));
  const equal = new Array<number>(numVariations).fill(1 / numVariations);
  let w: readonly number[] = weights ?? equal;
  if (w.length !== numVariations) w = equal;
  const total = w.reduce((s, x) => s + x, 0);
  if (total < 0.99 || total > 1.01) w = equal;
  let cumulative = 0;
  return w.map((x) => {
    const start = cumulative;
    cumulative += x;
    return [start, start + c * x] as BucketRange;
  });
}

/**
 * Ranges with fixed slots: arm i owns the slot [S_i, S_i + slots_i) (S_i the cumulative slot width before it) for the
 * whole experiment and uses its first traffic_i of it, so its range is [S_i, S_i + traffic_i). Changing any traffic
 * share moves units only between that arm and "not in the experiment", never between arms (GrowthBook's coverage is
 * the special case traffic_i = coverage·slots_i). Throws VALIDATION_FAILED when lengths differ, slots do not sum to 1
 * (±1e-9), or a share is outside [0, slot].
 */
export function fixedBucketRanges(slots: readonly number[], traffic: readonly number[]): BucketRange[] {
  if (slots.length !== traffic.length || slots.length === 0) {
    throw invalid('slots and traffic must be non-empty and of equal length', [{ field: '/traffic', rule: 'length', message: 'one traffic share per slot' }]);
  }
  const total = slots.reduce((s, x) => s + x, 0);
  if (Math.abs(total - 1) > 1e-9 || slots.some((s) => !(s >= 0))) {
    throw invalid('slots must be non-negative and sum to 1', [{ field: '/slots', rule: 'sum', message: 'slots sum to 1' }]);
  }
  let start = 0;
  return slots.map((slot, i) => {
    const share = traffic[i]!;
    if (!(share >= 0) || share > slot + 1e-12) {
      throw invalid(`traffic for arm ${i} must be within its slot [0, ${slot}]`, [{ field: `/traffic/${i}`, rule: 'range', message: `0 ≤ traffic ≤ ${slot}` }]);
    }
    const range: BucketRange = [start, start + Math.min(share, slot)];
    start += slot;
    return range;
  });
}

/** What decides a unit's arm: the experiment's seed (usually its key), hash version and bucket ranges, one per variant. */
export interface AssignmentSpec {
  seed: string;
  variants: readonly string[];
  ranges: readonly BucketRange[];
  hashVersion?: HashVersion;
}

/**
 * The variant a unit is assigned to, or null when its hash falls outside every range (not in the experiment).
 * Deterministic: the same unit key, seed and ranges always give the same answer, so no assignment needs storing.
 * Throws VALIDATION_FAILED when there are not as many ranges as variants.
 */
export function assignVariant(unitKey: string, spec: AssignmentSpec): string | null {
  if (spec.ranges.length !== spec.variants.length) {
    throw invalid('one bucket range per variant', [{ field: '/ranges', rule: 'length', message: 'ranges and variants differ in length' }]);
  }
  const i = chooseVariation(hash(spec.seed, unitKey, spec.hashVersion ?? 2), spec.ranges);
  return i < 0 ? null : spec.variants[i]!;
}
