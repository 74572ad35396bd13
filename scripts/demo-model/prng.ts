/**
 * Small seeded pseudo-random number generators for the demo model. Everything here is pure IEEE-754 arithmetic
 * plus Math.log/Math.sqrt/Math.cos (fdlibm ports in V8), so a seed always yields the same stream.
 */

/** A source of uniform numbers in [0, 1). */
export type Rng = () => number;

/** Returns a mulberry32 generator: a 32-bit state, uniform output in [0, 1) with 2^-32 resolution. */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draws one standard-normal value with the Box–Muller transform (one of the pair, for a simple stream). */
export function normal(rng: Rng, mean = 0, sd = 1): number {
  const u1 = 1 - rng(); // (0, 1], so the log is finite
  const u2 = rng();
  return mean + sd * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** Shuffles a copy of the array with Fisher–Yates driven by the generator. */
export function shuffled<T>(items: readonly T[], rng: Rng): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = out[i] as T;
    out[i] = out[j] as T;
    out[j] = tmp;
  }
  return out;
}
