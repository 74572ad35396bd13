import type { Principal } from './roles.ts';

const DAY_MS = 86_400_000;

/**
 * The request rate each principal may use, per minute. One default for everyone; per-principal overrides (set by the
 * key service when a key carries its own limit) are looked up by principal id in O(1).
 */
export class RateLimits {
  private readonly overrides = new Map<string, number>();

  /** `perMinute` is the default for every principal and every unauthenticated IP; 0 means unlimited. */
  constructor(readonly perMinute: number) {}

  /** The requests per minute `principal` may send; undefined (unauthenticated) gets the default. 0: unlimited. */
  limitFor(principal: Pick<Principal, 'id'> | undefined | null): number {
    if (principal) {
      const own = this.overrides.get(principal.id);
      if (own !== undefined) return own;
    }
    return this.perMinute;
  }

  /** Gives `principalId` its own limit (0: unlimited), or back the default with `undefined`. */
  setOverride(principalId: string, perMinute: number | undefined): void {
    if (perMinute === undefined) this.overrides.delete(principalId);
    else this.overrides.set(principalId, perMinute);
  }
}

/** The outcome of charging a quota: allowed, or refused with the seconds until the UTC day rolls over. */
export type QuotaCharge =
  | { allowed: true; used: number; limit: number }
  | { allowed: false; used: number; limit: number; retryAfterSeconds: number };

/**
 * Records predicted per principal per UTC day, counted in memory on this replica (no database on the hot path).
 * A request that would go past the quota is refused whole and not counted.
 */
export class DailyQuota {
  private day = -1;
  private readonly used = new Map<string, number>();
  private readonly overrides = new Map<string, number>();

  /** `perDay` is the default quota; 0 turns quotas off. `now` gives epoch milliseconds. */
  constructor(readonly perDay: number, private readonly now: () => number = Date.now) {}

  /** True when any principal has a quota. */
  get enabled(): boolean {
    return this.perDay > 0 || this.overrides.size > 0;
  }

  /** The quota of `principalId` (0: none). */
  limitFor(principalId: string): number {
    return this.overrides.get(principalId) ?? this.perDay;
  }

  /** Gives `principalId` its own daily quota (0: none), or back the default with `undefined`. */
  setOverride(principalId: string, perDay: number | undefined): void {
    if (perDay === undefined) this.overrides.delete(principalId);
    else this.overrides.set(principalId, perDay);
  }

  /** Counts `records` against `principalId`'s quota of today (UTC), or refuses them when they do not fit. */
  charge(principalId: string, records: number): QuotaCharge {
    const now = this.now();
    const today = Math.floor(now / DAY_MS);
    if (today !== this.day) {
      // A new UTC day: every counter starts again (this also keeps the map from growing across days).
      this.day = today;
      this.used.clear();
    }
    const limit = this.limitFor(principalId);
    const used = this.used.get(principalId) ?? 0;
    if (limit <= 0) return { allowed: true, used, limit };
    if (used + records > limit || (records === 0 && used >= limit)) {
      return { allowed: false, used, limit, retryAfterSeconds: Math.max(1, Math.ceil(((today + 1) * DAY_MS - now) / 1000)) };
    }
    this.used.set(principalId, used + records);
    return { allowed: true, used: used + records, limit };
  }
}
