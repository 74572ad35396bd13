// Interleaved paired rounds (bench/perf.bench.ts): every server is measured once per round, in the same order, so
// the machine's drift between rounds hits all of them alike. A ratio is computed within each round (server a's
// round r / server b's round r) and the rounds' median is the result; a ratio of two medians would pair numbers
// measured minutes apart. Pure functions only, so test/bench-rounds.test.ts can import them without running a bench.

/** What the round helpers read of a measurement. `round` is 1-based; a measurement without one is in no round. */
export interface RoundMeasurement {
  model: string;
  server: string;
  case: string;
  connections: number;
  round?: number;
  reqPerSec: number;
}

/** The median of the finite values (the mean of the two middle ones for an even count); undefined when there are none. */
export function median(values: readonly number[]): number | undefined {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The measurement with the median req/s, whole (so its latencies and CPU stay those of one run); for an even count
 * the lower of the two middle ones. Ties keep the earlier round.
 */
export function medianRound<T extends { reqPerSec: number }>(measurements: readonly T[]): T | undefined {
  const sorted = [...measurements].sort((a, b) => a.reqPerSec - b.reqPerSec);
  return sorted[(sorted.length - 1) >> 1];
}

/**
 * Per-round ratios metric(a) / metric(b) for one (model, case, connections), in round order: server a's round r over
 * server b's round r. Rounds missing either server, or where a ratio is not finite, are left out.
 */
export function pairedRatios<T extends RoundMeasurement>(
  rounds: readonly T[], model: string, caseName: string, connections: number, a: string, b: string, metric: (m: T) => number,
): number[] {
  const of = (server: string): Map<number, T> => new Map(rounds
    .filter((m) => m.round !== undefined && m.model === model && m.server === server && m.case === caseName && m.connections === connections)
    .map((m) => [m.round!, m]));
  const as = of(a);
  const bs = of(b);
  const out: number[] = [];
  for (const r of [...as.keys()].sort((x, y) => x - y)) {
    const mb = bs.get(r);
    if (!mb) continue;
    const ratio = metric(as.get(r)!) / metric(mb);
    if (Number.isFinite(ratio)) out.push(ratio);
  }
  return out;
}

/** The median of pairedRatios: what the targets and the tables' `Tarmac vs` column report. */
export function pairedRatio<T extends RoundMeasurement>(
  rounds: readonly T[], model: string, caseName: string, connections: number, a: string, b: string, metric: (m: T) => number,
): number | undefined {
  return median(pairedRatios(rounds, model, caseName, connections, a, b, metric));
}
