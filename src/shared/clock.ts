/** The source of time; tests pass a fake so windows, schedules and expiries are deterministic. */
export interface Clock {
  /** Milliseconds since the epoch, UTC. */
  now(): number;
}

/** The wall clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told; for tests. */
export class FakeClock implements Clock {
  constructor(private current = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.current;
  }
  /** Moves the clock forward by `ms`. */
  advance(ms: number): void {
    this.current += ms;
  }
}

/** An ISO-8601 UTC string for an epoch-milliseconds instant. */
export function isoOf(ms: number): string {
  return new Date(ms).toISOString();
}
