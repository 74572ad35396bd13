import { createHash, timingSafeEqual } from 'node:crypto';
import type { EventBus } from '../bus/index.ts';
import type { Clock } from '../shared/clock.ts';
import { TarmacError } from '../shared/errors.ts';
import { randomAlphanumeric, randomToken } from '../shared/ids.ts';
import type { ApiKeyRecord, KeyStore } from '../store/index.ts';
import type { AuditLog } from './audit-log.ts';
import { isRole, type Principal, type Role } from './roles.ts';

const KEY_PREFIX = 'tmk_';
const KEY_PATTERN = /^tmk_([A-Za-z0-9_-]{12})\.([A-Za-z0-9_-]{43})$/;

/** A key as the API shows it (snake_case, like every JSON body of the API): everything but the secret. */
export interface KeyView {
  id: string;
  name: string;
  role: Role;
  created_by: string;
  created_at: string;
  revoked_at: string | null;
}

/** A freshly created key: the only moment its secret exists outside the caller's hands. */
export interface CreatedKey extends KeyView {
  key: string;
}

interface ActiveKey {
  hash: Buffer;
  principal: Principal;
}

function activeKey(record: ApiKeyRecord): ActiveKey {
  return {
    hash: Buffer.from(record.secretHash, 'hex'),
    principal: Object.freeze({ id: `key:${record.id}`, name: record.name, role: record.role as Role }),
  };
}

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

function viewOf(record: ApiKeyRecord): KeyView {
  return {
    id: record.id,
    name: record.name,
    role: record.role as Role,
    created_by: record.createdBy,
    created_at: new Date(record.createdAt).toISOString(),
    revoked_at: record.revokedAt === null ? null : new Date(record.revokedAt).toISOString(),
  };
}

/**
 * API keys: random, shown once, stored as a sha256 of the secret (the secret has 256 bits of entropy, so a slow
 * password hash adds nothing). Active keys are held in memory so authentication never touches the database.
 */
export class KeyService {
  /** Active keys by id, with the stored hash as bytes and the principal built once. */
  private readonly active = new Map<string, ActiveKey>();

  constructor(private readonly deps: { keys: KeyStore; audit: AuditLog; bus: EventBus; clock: Clock }) {
    deps.bus.subscribe('key.created', () => this.refresh());
    deps.bus.subscribe('key.revoked', () => this.refresh());
  }

  /** Loads the active keys into memory; called at start and whenever another replica changes a key. */
  async refresh(): Promise<void> {
    const all = await this.deps.keys.list();
    this.active.clear();
    for (const key of all) if (key.revokedAt === null) this.active.set(key.id, activeKey(key));
  }

  /** Creates a key for `role`; the returned `key` is never retrievable again. Throws VALIDATION_FAILED on a bad role. */
  async create(input: { role: unknown; name?: unknown }, by: Principal): Promise<CreatedKey> {
    if (!isRole(input.role)) {
      throw new TarmacError('VALIDATION_FAILED', 'role must be one of admin, deployer, viewer, predictor', {
        issues: [{ field: '/role', rule: 'enum', message: 'must be one of admin, deployer, viewer, predictor' }],
      });
    }
    const name = input.name ?? `${input.role}-key`;
    if (typeof name !== 'string' || name.length < 1 || name.length > 100) {
      throw new TarmacError('VALIDATION_FAILED', 'name must be a string of 1 to 100 characters', {
        issues: [{ field: '/name', rule: 'length', message: 'must be a string of 1 to 100 characters' }],
      });
    }
    const id = randomAlphanumeric(12);
    const secret = randomToken(32);
    const record: ApiKeyRecord = {
      id,
      name,
      role: input.role,
      secretHash: hashSecret(secret),
      createdBy: by.id,
      createdAt: this.deps.clock.now(),
      revokedAt: null,
    };
    // The key and its audit entry commit together; it authenticates only once both did.
    await this.deps.audit.atomically(async () => {
      await this.deps.keys.insert(record);
      await this.deps.audit.record(by, 'key.create', `key:${id}`, { role: input.role, name, after: viewOf(record) });
    });
    this.active.set(id, activeKey(record));
    await this.deps.bus.publish('key.created', { id, role: input.role, by: by.id });
    return { ...viewOf(record), key: `${KEY_PREFIX}${id}.${secret}` };
  }

  /** Lists every key, revoked ones included, without secrets. */
  async list(): Promise<KeyView[]> {
    return (await this.deps.keys.list()).map(viewOf);
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
    await this.deps.bus.publish('key.revoked', { id, by: by.id });
    const record = await this.deps.keys.get(id);
    return viewOf(record!);
  }

  /** The principal a bearer token stands for, or undefined when it is unknown, malformed or revoked; no I/O. */
  authenticate(token: string): Principal | undefined {
    const match = KEY_PATTERN.exec(token);
    if (!match) return undefined;
    const key = this.active.get(match[1]!);
    if (!key) return undefined;
    const given = createHash('sha256').update(match[2]!).digest();
    return timingSafeEqual(given, key.hash) ? key.principal : undefined;
  }

  /** Number of keys ever created; zero means the store is new and needs a bootstrap admin key. */
  async count(): Promise<number> {
    return this.deps.keys.count();
  }
}
