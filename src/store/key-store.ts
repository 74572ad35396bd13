import type { Kysely, Selectable } from 'kysely';
import { TarmacError } from '../shared/errors.ts';
import { fromJson, toJson } from './columns.ts';
import { currentDb, isUniqueViolation, writeTransaction } from './dialect.ts';
import type { StoreConnection } from './dialect.ts';
import type { ApiKeyRecord, KeyLimits, KeyStore } from './records.ts';
import type { ApiKeysTable, Database } from './schema.ts';

/** API keys on SQLite or PostgreSQL; only the secret's hash is ever stored. */
export class KyselyKeyStore implements KeyStore {
  /** The ambient transaction's query layer when there is one (see `currentDb`), else the connection's. */
  private get db(): Kysely<Database> {
    return currentDb(this.conn);
  }

  constructor(private readonly conn: StoreConnection) {}

  /** Stores a new key; throws STORE_CONFLICT when the id is taken. */
  async insert(key: ApiKeyRecord): Promise<void> {
    try {
      await this.db
        .insertInto('api_keys')
        .values({
          id: key.id,
          name: key.name,
          role: key.role,
          secret_hash: key.secretHash,
          created_by: key.createdBy,
          created_at: key.createdAt,
          revoked_at: key.revokedAt,
          scope: key.scope === null ? null : toJson(key.scope),
          limits: key.limits ? toJson(key.limits) : null,
          expires_at: key.expiresAt,
          last_used_at: key.lastUsedAt,
          rotated_at: key.rotatedAt,
          previous_secret_hash: key.previousSecretHash,
          previous_expires_at: key.previousExpiresAt,
        })
        .execute();
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      throw new TarmacError('STORE_CONFLICT', `An API key with id ${key.id} already exists`, { details: { id: key.id }, cause: err });
    }
  }

  /** The key with this id, revoked or not. */
  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toKey(row);
  }

  /** Every key, oldest first. */
  async list(): Promise<ApiKeyRecord[]> {
    const rows = await this.db.selectFrom('api_keys').selectAll().orderBy('created_at').orderBy('id').execute();
    return rows.map(toKey);
  }

  /** Marks a key revoked (keeping the first revocation time if already revoked); false when no such key. */
  async revoke(id: string, at: number): Promise<boolean> {
    const result = await this.db
      .updateTable('api_keys')
      .set((eb) => ({ revoked_at: eb.fn.coalesce('revoked_at', eb.val(at)) }))
      .where('id', '=', id)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Swaps in a new secret hash on an unrevoked key, the old one kept for its grace period; false when none matched. */
  async rotate(id: string, change: { secretHash: string; previousSecretHash: string; previousExpiresAt: number; rotatedAt: number }): Promise<boolean> {
    const result = await this.db
      .updateTable('api_keys')
      .set({
        secret_hash: change.secretHash,
        previous_secret_hash: change.previousSecretHash,
        previous_expires_at: change.previousExpiresAt,
        rotated_at: change.rotatedAt,
      })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      // Compare-and-set on the current hash: two concurrent rotations cannot both think they replaced the same secret.
      .where('secret_hash', '=', change.previousSecretHash)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Writes last-use times in one transaction, one statement per key, never moving a time backwards. */
  /** Replaces a key's own limits; false when no such key. */
  async setLimits(id: string, limits: KeyLimits | null): Promise<boolean> {
    const result = await this.db.updateTable('api_keys').set({ limits: limits ? toJson(limits) : null }).where('id', '=', id).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async touch(uses: ReadonlyMap<string, number>): Promise<void> {
    if (uses.size === 0) return;
    await writeTransaction(this.conn, async (trx) => {
      for (const [id, at] of uses) {
        await trx
          .updateTable('api_keys')
          .set({ last_used_at: at })
          .where('id', '=', id)
          .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', at)]))
          .execute();
      }
    });
  }

  /** How many keys exist, revoked included (zero means the instance still needs bootstrapping). */
  async count(): Promise<number> {
    const { n } = await this.db.selectFrom('api_keys').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    return Number(n);
  }
}

function toKey(r: Selectable<ApiKeysTable>): ApiKeyRecord {
  return {
    id: r.id,
    name: r.name,
    role: r.role,
    secretHash: r.secret_hash,
    createdBy: r.created_by,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
    scope: r.scope === null ? null : fromJson<ApiKeyRecord['scope']>(r.scope),
    // Only keys with limits of their own carry the member (the record then reads back as it was written).
    ...(r.limits === null || r.limits === undefined ? {} : { limits: fromJson<KeyLimits>(r.limits) }),
    expiresAt: r.expires_at,
    lastUsedAt: r.last_used_at,
    rotatedAt: r.rotated_at,
    previousSecretHash: r.previous_secret_hash,
    previousExpiresAt: r.previous_expires_at,
  };
}
