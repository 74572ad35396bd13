// A counter-based generator of doubles that test/fixtures/drift/make_drift_fixtures.py implements bit for bit, so the
// scipy fixtures describe large samples by (kind, seed, n, …) instead of storing millions of values. Only integer
// multiply/xor/shift and IEEE +, *, /, floor are used, which Python/numpy and JavaScript round identically.

/** A seeded sample description shared with the fixture script. */
export interface SampleSpec {
  /** uniform: U[0,1); irwinhall: sum of 4 uniforms - 2 (bell-shaped); int: floor(U·k) (0..k-1); grid: floor(10·irwinhall)/10. */
  kind: 'uniform' | 'irwinhall' | 'int' | 'grid';
  seed: number;
  n: number;
  /** Added to every value (default 0). */
  loc?: number;
  /** Multiplies every value before loc is added (default 1). */
  scale?: number;
  /** Number of integer levels for kind 'int'. */
  k?: number;
}

// lowbias32 (Chris Wellons' 32-bit integer hash).
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The i-th uniform double in [0, 1) of stream `seed`: 53 bits from two hashed counters. */
export function seededUniform(seed: number, i: number): number {
  const key = mix32((seed ^ 0x9e3779b9) >>> 0);
  const c = 2 * i;
  const h1 = mix32((mix32((c ^ key) >>> 0) + key) >>> 0);
  const h2 = mix32((mix32(((c + 1) ^ key) >>> 0) + key) >>> 0);
  return ((h1 >>> 5) * 67108864 + (h2 >>> 6)) / 9007199254740992;
}

/** Materialises a SampleSpec into a Float64Array, identically to the Python fixture script. */
export function seededSample(spec: SampleSpec): Float64Array {
  const { kind, seed, n } = spec;
  const loc = spec.loc ?? 0;
  const scale = spec.scale ?? 1;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let base: number;
    if (kind === 'uniform') base = seededUniform(seed, i);
    else if (kind === 'int') base = Math.floor(seededUniform(seed, i) * (spec.k ?? 6));
    else {
      const u1 = seededUniform(seed, 4 * i);
      const u2 = seededUniform(seed, 4 * i + 1);
      const u3 = seededUniform(seed, 4 * i + 2);
      const u4 = seededUniform(seed, 4 * i + 3);
      base = u1 + u2 + u3 + u4 - 2;
      if (kind === 'grid') base = Math.floor(base * 10) / 10;
    }
    out[i] = base * scale + loc;
  }
  return out;
}
