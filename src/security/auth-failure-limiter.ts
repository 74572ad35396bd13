import type { Clock } from '../shared/clock.ts';

/** Settings of the failed-authentication limiter. */
export interface AuthFailureLimits {
  /** Failed attempts from one client address within `windowSeconds` that start a block. */
  maxFailures: number;
  windowSeconds: number;
  /** How long a blocked address is answered 429 without its credentials being looked at. */
  blockSeconds: number;
}

interface Entry {
  windowStart: number;
  failures: number;
  blockedUntil: number;
}

/** Addresses tracked at most; beyond it the oldest entries go first, so a flood of addresses cannot exhaust memory. */
const MAX_ENTRIES = 100_000;

/**
 * Counts failed authentications per client address in fixed windows and blocks an address that fails too often.
 * In memory and O(1) per call; each replica counts for itself.
 */
export class AuthFailureLimiter {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly deps: { limits: AuthFailureLimits; clock: Clock }) {}

  /** Seconds until `address` may try again, or 0 when it is not blocked. Called before any credential is checked. */
  retryAfterSeconds(address: string): number {
    if (this.entries.size === 0) return 0;
    const entry = this.entries.get(address);
    if (entry === undefined || entry.blockedUntil === 0) return 0;
    const left = entry.blockedUntil - this.deps.clock.now();
    if (left > 0) return Math.ceil(left / 1000);
    this.entries.delete(address);
    return 0;
  }

  /** Counts a failure; true when it is the one that starts a block (so the block is audited once). */
  recordFailure(address: string): boolean {
    const { maxFailures, windowSeconds, blockSeconds } = this.deps.limits;
    const now = this.deps.clock.now();
    let entry = this.entries.get(address);
    if (entry === undefined || now - entry.windowStart >= windowSeconds * 1000) {
      if (entry !== undefined) this.entries.delete(address);
      entry = { windowStart: now, failures: 0, blockedUntil: 0 };
      this.entries.set(address, entry);
      if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    }
    entry.failures += 1;
    if (entry.failures >= maxFailures && entry.blockedUntil === 0) {
      entry.blockedUntil = now + blockSeconds * 1000;
      return true;
    }
    return false;
  }
}
