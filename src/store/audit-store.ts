import { sql } from 'kysely';
import type { Kysely, Selectable } from 'kysely';
import { TarmacError } from '../shared/errors.ts';
import { AUDIT_GENESIS_HASH, auditHash } from './audit-hash.ts';
import { fromJson, toJson } from './columns.ts';
import { isUniqueViolation, writeTransaction } from './dialect.ts';
import type { Dialect, StoreConnection } from './dialect.ts';
import type { AuditRecord, AuditStore } from './records.ts';
import type { AuditEventsTable, Database } from './schema.ts';

// One fixed advisory-lock key ("tarmac" in ASCII) that every appender on every replica takes before reading the head.
const AUDIT_LOCK_KEY = 0x7461726d6163;

/** The hash-chained audit log on SQLite or PostgreSQL; appends are serialised so the chain never forks. */
export class KyselyAuditStore implements AuditStore {
  private readonly db: Kysely<Database>;
  private readonly dialect: Dialect;

  constructor(private readonly conn: StoreConnection) {
    this.db = conn.db;
    this.dialect = conn.dialect;
  }

  /**
   * Appends an entry chained to the current head and returns it with its seq and hashes. `details` is stored as
   * JSON, so the returned (and hashed) details are its JSON round-trip. Throws STORE_CONFLICT when the id is taken.
   */
  async append(entry: Omit<AuditRecord, 'seq' | 'prevHash' | 'hash'>): Promise<AuditRecord> {
    const details = fromJson<Record<string, unknown>>(toJson(entry.details ?? {}));
    const fields = {
      id: entry.id,
      createdAt: entry.createdAt,
      actor: entry.actor,
      action: entry.action,
      target: entry.target,
      outcome: entry.outcome,
      details,
    };
    try {
      return await writeTransaction(this.conn, async (trx) => {
        if (this.dialect === 'postgres') await sql`select pg_advisory_xact_lock(${sql.lit(AUDIT_LOCK_KEY)})`.execute(trx);
        const head = await trx.selectFrom('audit_events').select('hash').orderBy('seq', 'desc').limit(1).executeTakeFirst();
        const prevHash = head?.hash ?? AUDIT_GENESIS_HASH;
        const hash = auditHash(prevHash, fields);
        const { seq } = await trx
          .insertInto('audit_events')
          .values({
            id: fields.id,
            created_at: fields.createdAt,
            actor: fields.actor,
            action: fields.action,
            target: fields.target,
            outcome: fields.outcome,
            details: toJson(details),
            prev_hash: prevHash,
            hash,
          })
          .returning('seq')
          .executeTakeFirstOrThrow();
        return { seq, ...fields, prevHash, hash };
      });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      throw new TarmacError('STORE_CONFLICT', `An audit event with id ${entry.id} already exists`, {
        details: { id: entry.id },
        cause: err,
      });
    }
  }

  /** Entries in seq order, after `afterSeq` (exclusive) and at most `limit` of them; everything when no options. */
  async list(options: { limit?: number; afterSeq?: number } = {}): Promise<AuditRecord[]> {
    const rows = await this.db
      .selectFrom('audit_events')
      .selectAll()
      .$if(options.afterSeq !== undefined, (qb) => qb.where('seq', '>', options.afterSeq as number))
      .orderBy('seq')
      .$if(options.limit !== undefined, (qb) => qb.limit(options.limit as number))
      .execute();
    return rows.map(toAudit);
  }
}

function toAudit(r: Selectable<AuditEventsTable>): AuditRecord {
  return {
    seq: r.seq,
    id: r.id,
    createdAt: r.created_at,
    actor: r.actor,
    action: r.action,
    target: r.target,
    outcome: r.outcome as AuditRecord['outcome'],
    details: fromJson<Record<string, unknown>>(r.details),
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}
