import { hash, timingSafeEqual } from 'node:crypto';
import type { EventBus } from '../bus/index.ts';
import type { Clock } from '../shared/clock.ts';
import { TarmacError, type FieldIssue } from '../shared/errors.ts';
import { randomAlphanumeric, randomToken } from '../shared/ids.ts';
import type { Logger } from '../shared/logger.ts';
import type { ApiKeyRecord, KeyLimits, KeyStore } from '../store/index.ts';
import type { AuditLog } from './audit-log.ts';
import { isRole, ROLES, type Principal, type Role } from './roles.ts';
import { buildScope, scopeIssues, scopeJson, type ScopeInput } from './scope.ts';

const KEY_PREFIX = 'tmk_';
const KEY_PATTERN = /^tmk_([A-Za-z0-9_-]{12})\.([A-Za-z0-9_-]{43})$/;
/** The longest lifetime or rotation grace a key may be given: ten years, thirty days. */
const MAX_LIFETIME_SECONDS = 10 * 365 * 86_400;
const MAX_GRACE_SECONDS = 30 * 86_400;

/** A key as the API shows it (snake_case, like every JSON body of the API): everything but the secret. */
export interface KeyView {
  id: string;
  name: string;
  role: Role;
  scope: ScopeInput | null;
  created_by: string;
  created_at: string;
  expires_at: string | null;
  /** When the key last authenticated a request (flushed every few seconds, so it may lag by that much). */
  last_used_at: string | null;
  rotated_at: string | null;
  /** Until when the secret before the last rotation is still accepted. */
  previous_secret_expires_at: string | null;
  revoked_at: string | null;
  /** The key's own request rate and daily records quota; null: the server defaults. */
  limits: KeyLimits | null;
}

/** A freshly created or rotated key: the only moment its secret exists outside the caller's hands. */
export interface CreatedKey extends KeyView {
  key: string;
}

/** What `create` takes, as the API receives it. */
export interface CreateKeyInput {
  role: unknown;
  name?: unknown;
  scope?: unknown;
  expires_at?: unknown;
  expires_in_seconds?: unknown;
  limits?: unknown;
}

interface ActiveKey {
  hash: Buffer;
  /** The secret before the last rotation and until when it is accepted (0: not at all). */
  previousHash: Buffer | undefined;
  previousUntil: number;
  /** Infinity when the key never expires. */
  expiresAt: number;
  principal: Principal;
  /**
   * The current secret's bytes once a request proved them against `hash`: later requests compare against these in
   * constant time instead of hashing (OpenSSL's per-call digest set-up was ~4 % of a small model's request). Dropped
   * with the ActiveKey on rotation, revocation or reload; never stored or logged.
   */
  verified?: Buffer;
}

function activeKey(record: ApiKeyRecord): ActiveKey {
  const scope = buildScope(record.scope);
  return {
    hash: Buffer.from(record.secretHash, 'hex'),
    previousHash: record.previousSecretHash === null ? undefined : Buffer.from(record.previousSecretHash, 'hex'),
    previousUntil: record.previousExpiresAt ?? 0,
    expiresAt: record.expiresAt ?? Infinity,
    principal: Object.freeze({ id: `key:${record.id}`, name: record.name, role: record.role as Role, ...(scope ? { scope } : {}) }),
  };
}

function hashSecret(secret: string): string {
  return hash('sha256', secret, 'hex');
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function viewOf(record: ApiKeyRecord): KeyView {
  return {
    id: record.id,
    name: record.name,
    role: record.role as Role,
    scope: record.scope,
    created_by: record.createdBy,
    created_at: iso(record.createdAt)!,
    expires_at: iso(record.expiresAt),
    last_used_at: iso(record.lastUsedAt),
    rotated_at: iso(record.rotatedAt),
    previous_secret_expires_at: record.previousSecretHash === null ? null : iso(record.previousExpiresAt),
    revoked_at: iso(record.revokedAt),
    limits: record.limits ?? null,
  };
}

/** Validates a key's limits: whole numbers ≥ 0 (0: unlimited); an empty object or null: the defaults. */
function limitsOf(input: unknown, field: string, issues: FieldIssue[]): KeyLimits | null {
  if (input === undefined || input === null) return null;
  if (typeof input !== 'object' || Array.isArray(input)) {
    issues.push({ field, rule: 'type', message: 'must be an object {requests_per_minute?, records_per_day?}' });
    return null;
  }
  const out: KeyLimits = {};
  for (const [key, value] of Object.entries(input)) {
    if (key !== 'requests_per_minute' && key !== 'records_per_day') {
      issues.push({ field: `${field}/${key}`, rule: 'unknown_field', message: 'allowed: requests_per_minute, records_per_day' });
    } else if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      issues.push({ field: `${field}/${key}`, rule: 'range', message: 'must be a whole number ≥ 0 (0: unlimited)' });
    } else out[key] = value;
  }
  return Object.keys(out).length === 0 ? null : out;
}

function invalidInput(issues: FieldIssue[]): TarmacError {
  return new TarmacError('VALIDATION_FAILED', issues.map((i) => `${i.field} ${i.message}`).join('; '), { issues });
}

/**
 * API keys: random, shown once, stored as a sha256 of the secret (the secret has 256 bits of entropy, so a slow
 * password hash adds nothing). Active keys are held in memory so authentication never touches the database; last-use
 * times are gathered in memory and written in batches.
 */
export class KeyService {
  /** Unrevoked keys by id, with the stored hashes as bytes and the principal built once. */
  private readonly active = new Map<string, ActiveKey>();
  /** Revoked key ids, so a refusal can say why. */
  private readonly revoked = new Set<string>();
  /** Last-use times not yet written, by key id. */
  private pendingUses = new Map<string, number>();
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  /** Every key as last loaded, so limits can be replayed to a sink that arrives later. */
  private readonly records = new Map<string, ApiKeyRecord>();
  private limitsSink: ((principalId: string, limits: KeyLimits | null) => void) | undefined;

  constructor(private readonly deps: {
    keys: KeyStore; audit: AuditLog; bus: EventBus; clock: Clock; log?: Logger;
    /** How long a rotated-out secret keeps working by default. */
    defaultGraceSeconds?: number;
  }) {
    deps.bus.subscribe('key.created', () => this.refresh());
    deps.bus.subscribe('key.revoked', () => this.refresh());
    deps.bus.subscribe('key.rotated', () => this.refresh());
    deps.bus.subscribe('key.limits', () => this.refresh());
  }

  /**
   * Where keys' own limits go (the rate limiter and the daily quota): told now of every active key's limits, then of
   * every change, on this replica and (through the bus) on the others.
   */
  onLimits(sink: (principalId: string, limits: KeyLimits | null) => void): void {
    this.limitsSink = sink;
    for (const record of this.records.values()) this.applyLimits(record);
  }

  /**
   * Gives key `id` its own request rate and daily records quota (an empty object: back to the defaults), at once here
   * and on other replicas through the bus; audited with before and after. Throws KEY_NOT_FOUND, KEY_REVOKED or
   * VALIDATION_FAILED naming the field.
   */
  async setLimits(id: string, input: unknown, by: Principal): Promise<KeyView> {
    const issues: FieldIssue[] = [];
    const limits = limitsOf(input, '', issues);
    if (issues.length > 0) throw invalidInput(issues);
    const current = await this.deps.keys.get(id);
    if (!current) throw new TarmacError('KEY_NOT_FOUND', `no API key with id "${id}"`, { details: { id } });
    if (current.revokedAt !== null) throw new TarmacError('KEY_REVOKED', `API key "${id}" is revoked`, { details: { id } });
    await this.deps.audit.atomically(async () => {
      await this.deps.keys.setLimits(id, limits);
      await this.deps.audit.record(by, 'key.limits', `key:${id}`, { before: current.limits ?? null, after: limits });
    });
    const record: ApiKeyRecord = { ...current, limits };
    this.records.set(id, record);
    this.applyLimits(record);
    await this.deps.bus.publish('key.limits', { id, by: by.id });
    return viewOf(record);
  }

  private applyLimits(record: ApiKeyRecord): void {
    this.limitsSink?.(`key:${record.id}`, record.revokedAt === null ? record.limits ?? null : null);
  }

  /** Loads the keys into memory; called at start and whenever another replica changes a key. */
  async refresh(): Promise<void> {
    const all = await this.deps.keys.list();
    this.active.clear();
    this.revoked.clear();
    this.records.clear();
    for (const key of all) {
      this.records.set(key.id, key);
      if (key.revokedAt === null) this.active.set(key.id, activeKey(key));
      else this.revoked.add(key.id);
      this.applyLimits(key);
    }
  }

  /**
   * Creates a key for `role`, optionally scoped and expiring; the returned `key` is never retrievable again.
   * Throws VALIDATION_FAILED naming the field.
   */
  async create(input: CreateKeyInput, by: Principal): Promise<CreatedKey> {
    const now = this.deps.clock.now();
    const issues: FieldIssue[] = [];
    if (!isRole(input.role)) issues.push({ field: '/role', rule: 'enum', message: `must be one of ${ROLES.join(', ')}` });
    const name = input.name ?? `${String(input.role)}-key`;
    if (typeof name !== 'string' || name.length < 1 || name.length > 100) issues.push({ field: '/name', rule: 'length', message: 'must be a string of 1 to 100 characters' });
    issues.push(...scopeIssues(input.scope, '/scope'));
    const expiresAt = this.expiryOf(input, now, issues);
    const limits = limitsOf(input.limits, '/limits', issues);
    if (issues.length > 0 || !isRole(input.role) || typeof name !== 'string') throw invalidInput(issues);
    const scope = buildScope(input.scope as ScopeInput | undefined);
    const id = randomAlphanumeric(12);
    const secret = randomToken(32);
    const record: ApiKeyRecord = {
      id,
      name,
      role: input.role,
      secretHash: hashSecret(secret),
      createdBy: by.id,
      createdAt: now,
      revokedAt: null,
      scope: scopeJson(scope),
      expiresAt,
      lastUsedAt: null,
      rotatedAt: null,
      previousSecretHash: null,
      previousExpiresAt: null,
      limits,
    };
    // The key and its audit entry commit together; it authenticates only once both did.
    await this.deps.audit.atomically(async () => {
      await this.deps.keys.insert(record);
      await this.deps.audit.record(by, 'key.create', `key:${id}`, { role: input.role, name, scope: record.scope, expires_at: iso(expiresAt), after: viewOf(record) });
    });
    this.active.set(id, activeKey(record));
    this.records.set(id, record);
    this.applyLimits(record);
    await this.deps.bus.publish('key.created', { id, role: input.role, by: by.id });
    return { ...viewOf(record), key: `${KEY_PREFIX}${id}.${secret}` };
  }

  /**
   * Issues a new secret for key `id`; the old one keeps working for `graceSeconds` (default from config), so clients
   * can switch without downtime. Throws KEY_NOT_FOUND, KEY_REVOKED or VALIDATION_FAILED (grace out of range).
   */
  async rotate(id: string, input: { grace_seconds?: unknown }, by: Principal): Promise<CreatedKey> {
    const grace = input.grace_seconds ?? this.deps.defaultGraceSeconds ?? 86_400;
    if (typeof grace !== 'number' || !Number.isInteger(grace) || grace < 0 || grace > MAX_GRACE_SECONDS) {
      throw invalidInput([{ field: '/grace_seconds', rule: 'range', message: `must be an integer from 0 to ${MAX_GRACE_SECONDS}` }]);
    }
    const current = await this.deps.keys.get(id);
    if (!current) throw new TarmacError('KEY_NOT_FOUND', `no API key with id "${id}"`, { details: { id } });
    if (current.revokedAt !== null) throw new TarmacError('KEY_REVOKED', `API key "${id}" is revoked; create a new one instead`, { details: { id } });
    const now = this.deps.clock.now();
    const secret = randomToken(32);
    const change = { secretHash: hashSecret(secret), previousSecretHash: current.secretHash, previousExpiresAt: now + grace * 1000, rotatedAt: now };
    await this.deps.audit.atomically(async () => {
      if (!(await this.deps.keys.rotate(id, change))) {
        throw new TarmacError('STORE_CONFLICT', `API key "${id}" was changed at the same time; try again`, { details: { id }, retryable: true });
      }
      await this.deps.audit.record(by, 'key.rotate', `key:${id}`, { grace_seconds: grace, previous_secret_expires_at: iso(change.previousExpiresAt) });
    });
    const record: ApiKeyRecord = { ...current, ...change };
    this.active.set(id, activeKey(record));
    this.records.set(id, record);
    await this.deps.bus.publish('key.rotated', { id, by: by.id });
    return { ...viewOf(record), key: `${KEY_PREFIX}${id}.${secret}` };
  }

  /** Lists every key, revoked ones included, without secrets; last-use times include this replica's unflushed ones. */
  async list(): Promise<KeyView[]> {
    return (await this.deps.keys.list()).map((record) => {
      const pending = this.pendingUses.get(record.id);
      return viewOf(pending !== undefined && (record.lastUsedAt ?? 0) < pending ? { ...record, lastUsedAt: pending } : record);
    });
  }

  /** Revokes a key at once on this replica (others follow the event). Throws KEY_NOT_FOUND. */
  async revoke(id: string, by: Principal): Promise<KeyView> {
    await this.deps.audit.atomically(async () => {
      const before = await this.deps.keys.get(id);
      const ok = await this.deps.keys.revoke(id, this.deps.clock.now());
      if (!ok || !before) throw new TarmacError('KEY_NOT_FOUND', `no API key with id "${id}"`, { details: { id } });
      await this.deps.audit.record(by, 'key.revoke', `key:${id}`, { before: { revoked_at: before.revokedAt === null ? null : new Date(before.revokedAt).toISOString() } });
    });
    this.active.delete(id);
    this.revoked.add(id);
    const record = (await this.deps.keys.get(id))!;
    this.records.set(id, record);
    this.applyLimits(record);
    await this.deps.bus.publish('key.revoked', { id, by: by.id });
    return viewOf(record);
  }

  /**
   * The principal an API key stands for, or undefined when it is unknown, malformed, revoked, expired or a
   * rotated-out secret past its grace. No I/O: a map lookup and a constant-time compare (plus one sha256 until the
   * key's current secret has been verified once).
   */
  authenticate(token: string): Principal | undefined {
    const match = KEY_PATTERN.exec(token);
    if (!match) return undefined;
    const id = match[1]!;
    const key = this.active.get(id);
    if (!key) return undefined;
    const now = this.deps.clock.now();
    if (now >= key.expiresAt) return undefined;
    const secret = Buffer.from(match[2]!, 'utf8');
    const verified = key.verified;
    if (verified === undefined || verified.length !== secret.length || !timingSafeEqual(secret, verified)) {
      const given = hash('sha256', secret, 'buffer');
      if (timingSafeEqual(given, key.hash)) key.verified = secret;
      else if (!(key.previousHash !== undefined && now < key.previousUntil && timingSafeEqual(given, key.previousHash))) return undefined;
    }
    this.pendingUses.set(id, now);
    return key.principal;
  }

  /** Why `authenticate` refused a token, for the audit log and the error message; called only after a refusal. */
  refusalReason(token: string): 'malformed' | 'unknown' | 'revoked' | 'expired' | 'wrong_secret' {
    const match = KEY_PATTERN.exec(token);
    if (!match) return 'malformed';
    if (this.revoked.has(match[1]!)) return 'revoked';
    const key = this.active.get(match[1]!);
    if (!key) return 'unknown';
    if (this.deps.clock.now() >= key.expiresAt) return 'expired';
    return 'wrong_secret';
  }

  /** True when an unrevoked, unexpired, unscoped admin key exists (the store is usable). */
  hasActiveAdmin(): boolean {
    const now = this.deps.clock.now();
    for (const key of this.active.values()) {
      if (key.principal.role === 'admin' && key.principal.scope === undefined && now < key.expiresAt) return true;
    }
    return false;
  }

  /** Number of keys ever created; zero means the store is new and needs a bootstrap admin key. */
  async count(): Promise<number> {
    return this.deps.keys.count();
  }

  /** Writes gathered last-use times every `intervalMs` (off the request path); `close` stops it. */
  startUsageFlush(intervalMs: number): void {
    this.flushTimer ??= setInterval(() => void this.flushUsage(), intervalMs).unref();
  }

  /** Writes the gathered last-use times now; a failed write is logged and its times kept for the next try. */
  async flushUsage(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.pendingUses.size === 0) return;
      const batch = this.pendingUses;
      this.pendingUses = new Map();
      try {
        await this.deps.keys.touch(batch);
      } catch (err) {
        for (const [id, at] of batch) if ((this.pendingUses.get(id) ?? 0) < at) this.pendingUses.set(id, at);
        this.deps.log?.warn({ err }, 'could not record API keys\' last use; will retry');
      }
    });
    return this.flushing;
  }

  /** Stops the flush timer and writes what is pending. */
  async close(): Promise<void> {
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.flushTimer = undefined;
    await this.flushUsage();
  }

  private expiryOf(input: CreateKeyInput, now: number, issues: FieldIssue[]): number | null {
    if (input.expires_at !== undefined && input.expires_in_seconds !== undefined) {
      issues.push({ field: '/expires_in_seconds', rule: 'exclusive', message: 'give expires_at or expires_in_seconds, not both' });
      return null;
    }
    if (input.expires_in_seconds !== undefined) {
      const s = input.expires_in_seconds;
      if (typeof s !== 'number' || !Number.isInteger(s) || s < 1 || s > MAX_LIFETIME_SECONDS) {
        issues.push({ field: '/expires_in_seconds', rule: 'range', message: `must be an integer from 1 to ${MAX_LIFETIME_SECONDS}` });
        return null;
      }
      return now + s * 1000;
    }
    if (input.expires_at !== undefined) {
      const at = typeof input.expires_at === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(input.expires_at) ? Date.parse(input.expires_at) : NaN;
      if (!Number.isFinite(at)) issues.push({ field: '/expires_at', rule: 'date_time', message: 'must be an RFC 3339 date-time, e.g. 2027-01-31T00:00:00Z' });
      else if (at <= now) issues.push({ field: '/expires_at', rule: 'future', message: 'must be in the future' });
      else if (at > now + MAX_LIFETIME_SECONDS * 1000) issues.push({ field: '/expires_at', rule: 'range', message: 'must be within ten years' });
      else return at;
    }
    return null;
  }
}
