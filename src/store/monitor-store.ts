import type { Kysely, Selectable } from 'kysely';
import { currentDb } from './dialect.ts';
import type { StoreConnection } from './dialect.ts';
import type { AlertConfigRecord, AlertConfigStore, MonitorStore, MonitorWindowRecord, ReferenceProfileRecord } from './records.ts';
import type { Database, MonitorWindowsTable, ReferenceProfilesTable } from './schema.ts';

/** Reference profiles and monitoring windows on SQLite or PostgreSQL; writes are upserts keyed by identity. */
export class KyselyMonitorStore implements MonitorStore, AlertConfigStore {
  /** The ambient transaction's query layer when there is one (see `currentDb`), else the connection's. */
  private get db(): Kysely<Database> {
    return currentDb(this.conn);
  }

  constructor(private readonly conn: StoreConnection) {}

  /** Stores (or replaces) a version's reference profile. */
  async putReference(r: ReferenceProfileRecord): Promise<void> {
    const values = { model: r.model, version: r.version, rows: r.rows, profile: r.profile, source: r.source, created_at: r.createdAt };
    await this.db
      .insertInto('reference_profiles')
      .values(values)
      .onConflict((oc) => oc.columns(['model', 'version']).doUpdateSet({ rows: r.rows, profile: r.profile, source: r.source, created_at: r.createdAt }))
      .execute();
  }

  /** A version's reference profile, if it has one. */
  async getReference(model: string, version: number): Promise<ReferenceProfileRecord | undefined> {
    const row = await this.db.selectFrom('reference_profiles').selectAll().where('model', '=', model).where('version', '=', version).executeTakeFirst();
    return row ? toReference(row) : undefined;
  }

  /** Inserts or replaces a window. */
  async putWindow(w: MonitorWindowRecord): Promise<void> {
    const values = {
      model: w.model, version: w.version, variant: w.variant, window_start: w.windowStart, window_seconds: w.windowSeconds, replica: w.replica,
      rows: w.rows, profile: w.profile, quality: w.quality, drift: w.drift, performance: w.performance, updated_at: w.updatedAt,
    };
    await this.db
      .insertInto('monitor_windows')
      .values(values)
      .onConflict((oc) => oc.columns(['model', 'version', 'variant', 'window_start', 'window_seconds', 'replica']).doUpdateSet({
        rows: w.rows, profile: w.profile, quality: w.quality, drift: w.drift, performance: w.performance, updated_at: w.updatedAt,
      }))
      .execute();
  }

  /** Windows of a model, newest first. */
  async listWindows(model: string, options: { version?: number; variant?: string; since?: number; limit: number }): Promise<MonitorWindowRecord[]> {
    let q = this.db.selectFrom('monitor_windows').selectAll().where('model', '=', model);
    if (options.version !== undefined) q = q.where('version', '=', options.version);
    if (options.variant !== undefined) q = q.where('variant', '=', options.variant);
    if (options.since !== undefined) q = q.where('window_start', '>=', options.since);
    const rows = await q.orderBy('window_start', 'desc').orderBy('variant').limit(options.limit).execute();
    return rows.map(toWindow);
  }

  /** The alerting configuration, if one was saved. */
  getAlertConfig(): Promise<AlertConfigRecord | undefined> {
    return this.getSetting('default');
  }

  /** Saves (replaces) the alerting configuration. */
  putAlertConfig(document: string, by: string, at: number): Promise<void> {
    return this.putSetting('default', document, by, at);
  }

  /** A named monitoring setting, if saved. */
  async getSetting(name: string): Promise<AlertConfigRecord | undefined> {
    const row = await this.db.selectFrom('alert_config').selectAll().where('name', '=', name).executeTakeFirst();
    return row ? { document: row.document, updatedBy: row.updated_by, updatedAt: Number(row.updated_at) } : undefined;
  }

  /** Saves (replaces) a named monitoring setting. */
  async putSetting(name: string, document: string, by: string, at: number): Promise<void> {
    await this.db.insertInto('alert_config').values({ name, document, updated_by: by, updated_at: at })
      .onConflict((oc) => oc.column('name').doUpdateSet({ document, updated_by: by, updated_at: at }))
      .execute();
  }

  /** One window by identity. */
  async getWindow(model: string, version: number, variant: string, windowStart: number, windowSeconds: number, replica: string): Promise<MonitorWindowRecord | undefined> {
    const row = await this.db.selectFrom('monitor_windows').selectAll()
      .where('model', '=', model).where('version', '=', version).where('variant', '=', variant)
      .where('window_start', '=', windowStart).where('window_seconds', '=', windowSeconds).where('replica', '=', replica)
      .executeTakeFirst();
    return row ? toWindow(row) : undefined;
  }
}

function toReference(row: Selectable<ReferenceProfilesTable>): ReferenceProfileRecord {
  return { model: row.model, version: Number(row.version), rows: Number(row.rows), profile: row.profile, source: row.source, createdAt: Number(row.created_at) };
}

function toWindow(row: Selectable<MonitorWindowsTable>): MonitorWindowRecord {
  return {
    model: row.model, version: Number(row.version), variant: row.variant, windowStart: Number(row.window_start),
    windowSeconds: Number(row.window_seconds), replica: row.replica, rows: Number(row.rows), profile: row.profile, quality: row.quality,
    drift: row.drift, performance: row.performance, updatedAt: Number(row.updated_at),
  };
}
