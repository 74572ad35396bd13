/**
 * The fixed-bin rule for numeric histograms. From the reference's valid values sorted ascending, x[0] ≤ … ≤ x[n−1],
 * and a requested number of bins B, the candidate edges are e_i = x[⌊i·n/B⌋] for i = 1 … B−1. Candidates equal to the
 * minimum x[0] or to the previous kept edge are dropped, leaving m ≤ B−1 strictly increasing edges and m + 1 bins:
 * (−∞, e_1), [e_1, e_2), …, [e_m, +∞). Bins are closed on the left, so a value equal to an edge goes to the bin that
 * starts there; every finite live value lands in exactly one bin, and every bin holds at least one reference value
 * (the first holds the minimum, bin [e_j, …) holds e_j itself), which keeps PSI and chi-square free of empty reference
 * bins. Without ties each bin holds ⌊n/B⌋ or ⌈n/B⌉ reference values; a tie spanning a candidate edge makes its bin
 * wider rather than splitting equal values. A constant or empty reference gives no edges and one bin.
 */

/** Edges for `bins` quantile bins of ascending `sorted` values (see the module comment for the exact rule). */
export function quantileBinEdges(sorted: ArrayLike<number>, bins: number): number[] {
  if (!Number.isInteger(bins) || bins < 1 || bins > 1000) throw new RangeError(`bins must be an integer in [1, 1000], got ${bins}`);
  const n = sorted.length;
  const edges: number[] = [];
  if (n === 0) return edges;
  const min = sorted[0]!;
  for (let i = 1; i < bins; i++) {
    const e = sorted[Math.floor((i * n) / bins)]! + 0; // + 0 turns −0 into 0 so edges survive JSON
    if (e > min && (edges.length === 0 || e > edges[edges.length - 1]!)) edges.push(e);
  }
  return edges;
}

/** The bin of `x` for `edges`: the number of edges ≤ x, in [0, edges.length]. */
export function binIndex(edges: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** True when `edges` are finite and strictly increasing (what a spec must hold). */
export function validEdges(edges: unknown): edges is number[] {
  if (!Array.isArray(edges)) return false;
  for (let i = 0; i < edges.length; i++) {
    const e: unknown = edges[i];
    if (typeof e !== 'number' || !Number.isFinite(e)) return false;
    if (i > 0 && !(e > (edges[i - 1] as number))) return false;
  }
  return true;
}
