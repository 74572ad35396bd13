import { sql } from 'kysely';
import type { Kysely, Selectable } from 'kysely';
import { TarmacError } from '../shared/errors.ts';
import { AUDIT_FORMAT, AUDIT_GENESIS_HASH, auditHash } from './audit-hash.ts';
import { fromJson, toJson } from './columns.ts';
import { currentDb, isUniqueViolation, writeTransaction } from './dialect.ts';
import type { Dialect, StoreConnection } from './dialect.ts';
import type { AuditHead, AuditRecord, AuditStore, NewAuditEntry } from './records.ts';
import type { AuditEventsTable, Database } from './schema.ts';

// One fixed advisory-lock key ("tarmac" in ASCII) that every appender on every replica takes before reading the head.
const AUDIT_LOCK_KEY = 0x7461726d6163;

/**
 * The hash-chained audit log on SQLite or PostgreSQL; appends are serialised so the chain never forks. Inside an
 * ambient transaction (see `inTransaction`) an append joins it, so the entry commits or rolls back with the change;
 * on PostgreSQL the append's lock is then held until that transaction ends, which keeps seq order equal to commit
 * order.
 */
export class KyselyAuditStore implements AuditStore {
  private readonly dialect: Dialect;

  constructor(private readonly conn: StoreConnection) {
    this.dialect = conn.dialect;
  }

  /** The ambient transaction's query layer when there is one (see `currentDb`), else the connection's. */
  private get db(): Kysely<Database> {
    return currentDb(this.conn);
  }

  /**
   * Appends an entry chained to the current head (seq = head + 1) and returns it with its seq and hashes. `details`
   * is stored as JSON, so the returned (and hashed) details are its JSON round-trip. Throws STORE_CONFLICT when the
   * id is taken.
   */
  async append(entry: NewAuditEntry): Promise<AuditRecord> {
    const details = fromJson<Record<string, unknown>>(toJson(entry.details ?? {}));
    try {
      return await writeTransaction(this.conn, async (trx) => {
        if (this.dialect === 'postgres') await sql`select pg_advisory_xact_lock(${sql.lit(AUDIT_LOCK_KEY)})`.execute(trx);
        const head = await trx.selectFrom('audit_events').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
        const prevHash = head?.hash ?? AUDIT_GENESIS_HASH;
        const fields = {
          seq: Number(head?.seq ?? 0) + 1,
          format: AUDIT_FORMAT,
          id: entry.id,
          createdAt: entry.createdAt,
          actor: entry.actor,
          actorRole: entry.actorRole,
          action: entry.action,
          target: entry.target,
          outcome: entry.outcome,
          ip: entry.ip,
          requestId: entry.requestId,
          userAgent: entry.userAgent,
          details,
        };
        const hash = auditHash(prevHash, fields);
        await trx
          .insertInto('audit_events')
          .values({
            seq: fields.seq,
            format: fields.format,
            id: fields.id,
            created_at: fields.createdAt,
            actor: fields.actor,
            actor_role: fields.actorRole,
            action: fields.action,
            target: fields.target,
            outcome: fields.outcome,
            ip: fields.ip,
            request_id: fields.requestId,
            user_agent: fields.userAgent,
            details: toJson(details),
            prev_hash: prevHash,
            hash,
          })
          .execute();
        return { ...fields, prevHash, hash };
      });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      throw new TarmacError('STORE_CONFLICT', `An audit event with id ${entry.id} already exists`, {
        details: { id: entry.id },
        cause: err,
      });
    }
  }

  /** Entries in seq order, after `afterSeq` (exclusive), created at or after `from`, at most `limit` of them. */
  async list(options: { limit?: number; afterSeq?: number; from?: number } = {}): Promise<AuditRecord[]> {
    const rows = await this.db
      .selectFrom('audit_events')
      .selectAll()
      .$if(options.afterSeq !== undefined, (qb) => qb.where('seq', '>', options.afterSeq as number))
      .$if(options.from !== undefined, (qb) => qb.where('created_at', '>=', options.from as number))
      .orderBy('seq')
      .$if(options.limit !== undefined, (qb) => qb.limit(options.limit as number))
      .execute();
    return rows.map(toAudit);
  }

  /** The last entry's seq and hash with the number of entries, from one statement (so one consistent snapshot). */
  async head(): Promise<AuditHead | undefined> {
    const row = await this.db
      .selectFrom('audit_events')
      .select(['seq', 'hash', (eb) => eb.selectFrom('audit_events').select((e) => e.fn.countAll().as('n')).as('count')])
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? { seq: Number(row.seq), hash: row.hash, count: Number(row.count) } : undefined;
  }
}

function toAudit(r: Selectable<AuditEventsTable>): AuditRecord {
  return {
    seq: Number(r.seq),
    format: Number(r.format),
    id: r.id,
    createdAt: Number(r.created_at),
    actor: r.actor,
    actorRole: r.actor_role,
    action: r.action,
    target: r.target,
    outcome: r.outcome as AuditRecord['outcome'],
    ip: r.ip,
    requestId: r.request_id,
    userAgent: r.user_agent,
    details: fromJson<Record<string, unknown>>(r.details),
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}
