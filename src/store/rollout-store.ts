import type { Kysely } from 'kysely';
import { writeTransaction, currentDb } from './dialect.ts';
import type { StoreConnection } from './dialect.ts';
import type { ApprovalRow, RolloutRow, RolloutStore } from './records.ts';
import type { Database } from './schema.ts';

/** Rollouts and leases on SQLite or PostgreSQL. */
export class KyselyRolloutStore implements RolloutStore {
  /** The ambient transaction's query layer when there is one (see `currentDb`), else the connection's. */
  private get db(): Kysely<Database> {
    return currentDb(this.conn);
  }

  constructor(private readonly conn: StoreConnection) {}

  /** Inserts or replaces a rollout. */
  async putRollout(r: RolloutRow): Promise<void> {
    await this.db.insertInto('rollouts')
      .values({ id: r.id, model: r.model, status: r.status, state: r.state, created_at: r.createdAt, updated_at: r.updatedAt })
      .onConflict((oc) => oc.column('id').doUpdateSet({ status: r.status, state: r.state, updated_at: r.updatedAt }))
      .execute();
  }

  /** The newest rollout of a model. */
  async latestRollout(model: string): Promise<RolloutRow | undefined> {
    const row = await this.db.selectFrom('rollouts').selectAll().where('model', '=', model).orderBy('created_at', 'desc').limit(1).executeTakeFirst();
    return row ? toRow(row) : undefined;
  }

  /** Rollouts in these statuses. */
  async listRollouts(statuses: string[]): Promise<RolloutRow[]> {
    if (statuses.length === 0) return [];
    const rows = await this.db.selectFrom('rollouts').selectAll().where('status', 'in', statuses).orderBy('created_at').execute();
    return rows.map(toRow);
  }

  /**
   * Inserts an approval; with `expectStatus`, updates it only while its stored status is still that (a compare-and-set,
   * so two people deciding at once cannot both win). Returns false when the status had moved on.
   */
  async putApproval(a: ApprovalRow, expectStatus?: string): Promise<boolean> {
    if (expectStatus === undefined) {
      await this.db.insertInto('approvals')
        .values({ id: a.id, model: a.model, status: a.status, document: a.document, created_at: a.createdAt, updated_at: a.updatedAt })
        .execute();
      return true;
    }
    const result = await this.db.updateTable('approvals')
      .set({ status: a.status, document: a.document, updated_at: a.updatedAt })
      .where('id', '=', a.id).where('status', '=', expectStatus)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** One approval by id. */
  async getApproval(id: string): Promise<ApprovalRow | undefined> {
    const row = await this.db.selectFrom('approvals').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toApproval(row) : undefined;
  }

  /** A model's approvals, newest first. */
  async listApprovals(model: string, options: { status?: string; limit: number }): Promise<ApprovalRow[]> {
    const rows = await this.db.selectFrom('approvals').selectAll().where('model', '=', model)
      .$if(options.status !== undefined, (q) => q.where('status', '=', options.status!))
      .orderBy('created_at', 'desc').limit(options.limit).execute();
    return rows.map(toApproval);
  }

  /** Takes the lease when it is free, expired or already ours (in one transaction, so two replicas never both win). */
  acquireLease(name: string, holder: string, now: number, until: number): Promise<boolean> {
    return writeTransaction(this.conn, async (trx) => {
      const current = await trx.selectFrom('leases').selectAll().where('name', '=', name).$if(this.conn.dialect === 'postgres', (q) => q.forUpdate()).executeTakeFirst();
      if (current && current.holder !== holder && Number(current.expires_at) > now) return false;
      if (current) await trx.updateTable('leases').set({ holder, expires_at: until }).where('name', '=', name).execute();
      else await trx.insertInto('leases').values({ name, holder, expires_at: until }).onConflict((oc) => oc.column('name').doNothing()).execute();
      return true;
    });
  }
}

function toRow(r: { id: string; model: string; status: string; state: string; created_at: number; updated_at: number }): RolloutRow {
  return { id: r.id, model: r.model, status: r.status, state: r.state, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) };
}

function toApproval(r: { id: string; model: string; status: string; document: string; created_at: number; updated_at: number }): ApprovalRow {
  return { id: r.id, model: r.model, status: r.status, document: r.document, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) };
}
