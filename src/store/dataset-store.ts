import type BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import type { Kysely, Selectable } from 'kysely';
import { TarmacError } from '../shared/errors.ts';
import { chunks, fromJson, toJson } from './columns.ts';
import { isUniqueViolation, writeTransaction, currentDb } from './dialect.ts';
import type { StoreConnection } from './dialect.ts';
import type {
  BatchRecord,
  ChunkCommit,
  ContractBinding,
  DatasetRecord,
  DatasetRowRecord,
  DatasetStore,
  NewBatch,
  NewDataset,
  QuarantineRecord,
  RowReason,
  WindowCountsRecord,
} from './records.ts';
import type { Database, DatasetBatchesTable, DatasetsTable, QuarantineTable } from './schema.ts';

// Bind parameters per statement: under SQLite's 32766 and PostgreSQL's 65535, whatever the column count.
const PARAM_BUDGET = 30_000;
const ROW_COLUMNS = 5;
const QUARANTINE_COLUMNS = 8;
const WINDOW_COLUMNS = 5;
const LOOKUP_CHUNK = 5_000;
// The SQLite key lookup binds a fixed-size IN list (padded with NULL) so one cached statement serves every call.
const SQLITE_LOOKUP_SIZE = 256;
// PostgreSQL aborts one side of a deadlock; two writers inserting overlapping keys in different orders can cause one.
const MAX_ATTEMPTS = 3;

type BatchRow = Selectable<DatasetBatchesTable> & { dataset_name: string };
type CommitResult = { inserted: number; duplicates: number; quarantined: number };

/** The prepared statements of the SQLite fast paths, compiled once per store on first use. */
interface SqlitePath {
  commit: (chunk: ChunkCommit, windows: WindowCountsRecord[]) => CommitResult;
  lookup: BetterSqlite3.Statement<unknown[], string>;
}

/**
 * Datasets, their batches, stored rows, quarantine and window counts on SQLite or PostgreSQL. On SQLite the hot
 * paths (commitChunk, existingKeys) run prepared statements on the raw handle, because Kysely compiles and prepares
 * per call; everywhere else, and on PostgreSQL, the portable Kysely queries run. commitChunk returns `duplicates` as
 * the rows of `chunk.rows` it skipped (the batch's count also adds the caller's `counts.duplicates`).
 */
export class KyselyDatasetStore implements DatasetStore {
  /** The ambient transaction's query layer when there is one (see `currentDb`), else the connection's. */
  private get db(): Kysely<Database> {
    return currentDb(this.conn);
  }
  private sqlitePath: SqlitePath | undefined;

  constructor(private readonly conn: StoreConnection) {}

  /** Creates a dataset; throws DATASET_EXISTS (details.dataset) when the name is taken. */
  async create(input: NewDataset): Promise<DatasetRecord> {
    try {
      const row = await this.db
        .insertInto('datasets')
        .values({
          name: input.name,
          description: input.description,
          contract_name: input.contract.name,
          contract_version: input.contract.version,
          key_fields: toJson(input.keyFields),
          event_time_field: input.eventTimeField,
          window_seconds: input.windowSeconds,
          allowed_lateness_seconds: input.allowedLatenessSeconds,
          transforms: toJson(input.transforms),
          nats_subject: input.natsSubject,
          watermark: null,
          created_by: input.createdBy,
          created_at: input.createdAt,
          updated_at: input.createdAt,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toDataset(row);
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      throw new TarmacError('DATASET_EXISTS', `A dataset named ${input.name} exists`, { cause: err, details: { dataset: input.name } });
    }
  }

  /** One dataset by name, if it exists. */
  async get(name: string): Promise<DatasetRecord | undefined> {
    const row = await this.db.selectFrom('datasets').selectAll().where('name', '=', name).executeTakeFirst();
    return row && toDataset(row);
  }

  /** One dataset by id, if it exists. */
  async getById(id: number): Promise<DatasetRecord | undefined> {
    const row = await this.db.selectFrom('datasets').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toDataset(row);
  }

  /** Every dataset, by name. */
  async list(): Promise<DatasetRecord[]> {
    const rows = await this.db.selectFrom('datasets').selectAll().orderBy('name').execute();
    return rows.map(toDataset);
  }

  /** Re-pins the contract version; throws DATASET_NOT_FOUND for an unknown id. */
  async updateContract(datasetId: number, contract: ContractBinding, at: number): Promise<void> {
    const result = await this.db
      .updateTable('datasets')
      .set({ contract_name: contract.name, contract_version: contract.version, updated_at: at })
      .where('id', '=', datasetId)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw datasetNotFound(datasetId);
  }

  /** Starts a running batch with zero counts; throws DATASET_NOT_FOUND for an unknown dataset id. */
  async startBatch(input: NewBatch): Promise<BatchRecord> {
    return writeTransaction(this.conn, async (trx) => {
      const dataset = await trx.selectFrom('datasets').select('name').where('id', '=', input.datasetId).executeTakeFirst();
      if (!dataset) throw datasetNotFound(input.datasetId);
      const row = await trx
        .insertInto('dataset_batches')
        .values({
          id: input.id,
          dataset_id: input.datasetId,
          source: input.source,
          content_sha256: input.contentSha256,
          contract_version: input.contractVersion,
          status: 'running',
          rows_read: 0,
          rows_accepted: 0,
          rows_quarantined: 0,
          rows_duplicate: 0,
          rows_late: 0,
          rows_too_late: 0,
          error: null,
          created_by: input.createdBy,
          started_at: input.startedAt,
          updated_at: input.startedAt,
          finished_at: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toBatch({ ...row, dataset_name: dataset.name });
    });
  }

  /** The newest running batch of the dataset with this content hash, if any. */
  async findRunningBatch(datasetId: number, contentSha256: string): Promise<BatchRecord | undefined> {
    const row = await this.selectBatches()
      .where('b.dataset_id', '=', datasetId)
      .where('b.content_sha256', '=', contentSha256)
      .where('b.status', '=', 'running')
      .orderBy('b.started_at', 'desc')
      .orderBy('b.id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && toBatch(row);
  }

  /** One batch by id, if it exists. */
  async getBatch(id: string): Promise<BatchRecord | undefined> {
    const row = await this.selectBatches().where('b.id', '=', id).executeTakeFirst();
    return row && toBatch(row);
  }

  /** The dataset's batches, newest first. */
  async listBatches(datasetId: number, limit: number): Promise<BatchRecord[]> {
    const rows = await this.selectBatches()
      .where('b.dataset_id', '=', datasetId)
      .orderBy('b.started_at', 'desc')
      .orderBy('b.id', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toBatch);
  }

  /** The subset of `keys` already stored in the dataset, looked up in chunks that respect bind-parameter limits. */
  async existingKeys(datasetId: number, keys: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    const unique = [...new Set(keys)];
    if (unique.length === 0) return found;
    if (this.conn.sqlite) {
      const { lookup } = this.sqlite(this.conn.sqlite);
      const params: (string | number | null)[] = new Array<string | number | null>(SQLITE_LOOKUP_SIZE + 1);
      params[0] = datasetId;
      for (let i = 0; i < unique.length; i += SQLITE_LOOKUP_SIZE) {
        for (let j = 0; j < SQLITE_LOOKUP_SIZE; j++) params[j + 1] = unique[i + j] ?? null;
        for (const key of lookup.all(...params)) found.add(key);
      }
      return found;
    }
    for (const part of chunks(unique, LOOKUP_CHUNK)) {
      const rows = await this.db
        .selectFrom('dataset_rows')
        .select('record_key')
        .where('dataset_id', '=', datasetId)
        .where('record_key', 'in', part)
        .execute();
      for (const r of rows) found.add(r.record_key);
    }
    return found;
  }

  /**
   * Commits one chunk atomically (see the port); throws DATASET_BATCH_NOT_FOUND, changing nothing, when the batch
   * does not exist or belongs to another dataset.
   */
  async commitChunk(chunk: ChunkCommit): Promise<CommitResult> {
    const windows = mergeWindows(chunk.windows);
    const sqlite = this.conn.sqlite;
    // The prepared path runs synchronously in a transaction of its own; inside another open transaction on the same
    // connection it would nest, so it falls back to the portable path (which waits for that transaction).
    if (sqlite && !sqlite.inTransaction) return this.sqlite(sqlite).commit(chunk, windows);
    for (let attempt = 1; ; attempt++) {
      try {
        return await writeTransaction(this.conn, (trx) => commitPortable(trx, chunk, windows));
      } catch (err) {
        if (!isDeadlock(err) || attempt >= MAX_ATTEMPTS) throw err;
      }
    }
  }

  /** Marks the batch completed or failed (recording the content hash when given); throws DATASET_BATCH_NOT_FOUND. */
  async finishBatch(id: string, status: 'completed' | 'failed', at: number, error?: string, contentSha256?: string): Promise<BatchRecord> {
    const result = await this.db
      .updateTable('dataset_batches')
      .set({
        status,
        finished_at: at,
        updated_at: at,
        error: error ?? null,
        ...(contentSha256 === undefined ? {} : { content_sha256: contentSha256 }),
      })
      .where('id', '=', id)
      .executeTakeFirst();
    const batch = Number(result.numUpdatedRows) === 0 ? undefined : await this.getBatch(id);
    if (!batch) throw batchNotFound(id);
    return batch;
  }

  /** Quarantined rows of the dataset in id order after `afterId`, optionally of one status. */
  async listQuarantine(
    datasetId: number,
    options: { status?: QuarantineRecord['status']; limit: number; afterId?: number },
  ): Promise<QuarantineRecord[]> {
    const { status, afterId } = options;
    const rows = await this.db
      .selectFrom('quarantine')
      .selectAll()
      .where('dataset_id', '=', datasetId)
      .$if(status !== undefined, (qb) => qb.where('status', '=', status as string))
      .$if(afterId !== undefined, (qb) => qb.where('id', '>', afterId as number))
      .orderBy('id')
      .limit(options.limit)
      .execute();
    return rows.map(toQuarantine);
  }

  /** One quarantined row of the dataset, if it exists. */
  async getQuarantine(datasetId: number, id: number): Promise<QuarantineRecord | undefined> {
    const row = await this.db.selectFrom('quarantine').selectAll().where('dataset_id', '=', datasetId).where('id', '=', id).executeTakeFirst();
    return row && toQuarantine(row);
  }

  /** Resolves an open quarantined row; false when it does not exist or was already resolved. */
  async resolveQuarantine(id: number, status: 'resubmitted' | 'discarded', by: string, at: number, batchId: string | null): Promise<boolean> {
    const result = await this.db
      .updateTable('quarantine')
      .set({ status, resolved_by: by, resolved_at: at, resolved_batch_id: batchId })
      .where('id', '=', id)
      .where('status', '=', 'open')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** How many rows the dataset holds in quarantine, of one status or all. */
  async countQuarantine(datasetId: number, status?: QuarantineRecord['status']): Promise<number> {
    const { n } = await this.db
      .selectFrom('quarantine')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('dataset_id', '=', datasetId)
      .$if(status !== undefined, (qb) => qb.where('status', '=', status as string))
      .executeTakeFirstOrThrow();
    return Number(n);
  }

  /** How many rows the dataset stores. */
  async countRows(datasetId: number): Promise<number> {
    const { n } = await this.db
      .selectFrom('dataset_rows')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('dataset_id', '=', datasetId)
      .executeTakeFirstOrThrow();
    return Number(n);
  }

  /** Stored rows in arrival order after `afterSeq` (0 reads from the start). */
  async readRows(datasetId: number, afterSeq: number, limit: number): Promise<DatasetRowRecord[]> {
    const rows = await this.db
      .selectFrom('dataset_rows')
      .select(['seq', 'record_key', 'batch_id', 'event_time', 'data'])
      .where('dataset_id', '=', datasetId)
      .where('seq', '>', afterSeq)
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      seq: r.seq,
      key: r.record_key,
      batchId: r.batch_id,
      eventTime: r.event_time,
      data: fromJson<Record<string, unknown>>(r.data),
    }));
  }

  /** The dataset's most recent `limit` windows, newest first. */
  async windows(datasetId: number, limit: number): Promise<WindowCountsRecord[]> {
    const rows = await this.db
      .selectFrom('dataset_windows')
      .select(['window_start', 'rows', 'late', 'too_late'])
      .where('dataset_id', '=', datasetId)
      .orderBy('window_start', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ windowStart: r.window_start, rows: r.rows, late: r.late, tooLate: r.too_late }));
  }

  private selectBatches() {
    return this.db
      .selectFrom('dataset_batches as b')
      .innerJoin('datasets as d', 'd.id', 'b.dataset_id')
      .selectAll('b')
      .select('d.name as dataset_name');
  }

  private sqlite(sqlite: BetterSqlite3.Database): SqlitePath {
    this.sqlitePath ??= prepareSqlite(sqlite);
    return this.sqlitePath;
  }
}

/** The portable commit: multi-row inserts under the bind-parameter budget, inside the caller's write transaction. */
async function commitPortable(trx: Kysely<Database>, chunk: ChunkCommit, windows: WindowCountsRecord[]): Promise<CommitResult> {
  const { batchId, datasetId, counts, at } = chunk;
  // The batch first: it proves batch and dataset belong together before any row is written, and on PostgreSQL its
  // row lock queues concurrent chunks of one batch before they contend on keys.
  const checked = await trx
    .updateTable('dataset_batches')
    .set((eb) => ({
      rows_read: eb('rows_read', '+', counts.read),
      rows_quarantined: eb('rows_quarantined', '+', counts.quarantined),
      rows_duplicate: eb('rows_duplicate', '+', counts.duplicates),
      rows_late: eb('rows_late', '+', counts.late),
      rows_too_late: eb('rows_too_late', '+', counts.tooLate),
      updated_at: at,
    }))
    .where('id', '=', batchId)
    .where('dataset_id', '=', datasetId)
    .executeTakeFirst();
  if (Number(checked.numUpdatedRows) === 0) throw batchNotFound(batchId, datasetId);
  let inserted = 0;
  for (const part of chunks(chunk.rows, Math.floor(PARAM_BUDGET / ROW_COLUMNS))) {
    const result = await trx
      .insertInto('dataset_rows')
      .values(part.map((r) => ({ dataset_id: datasetId, record_key: r.key, batch_id: batchId, event_time: r.eventTime, data: toJson(r.data) })))
      .onConflict((oc) => oc.columns(['dataset_id', 'record_key']).doNothing())
      .executeTakeFirst();
    inserted += Number(result.numInsertedOrUpdatedRows ?? 0);
  }
  let quarantined = 0;
  for (const part of chunks(chunk.quarantine, Math.floor(PARAM_BUDGET / QUARANTINE_COLUMNS))) {
    const result = await trx
      .insertInto('quarantine')
      .values(part.map((q) => ({
        dataset_id: datasetId,
        batch_id: batchId,
        source_ref: q.sourceRef,
        row_number: q.rowNumber,
        raw: toJson(q.raw),
        reasons: toJson(q.reasons),
        status: 'open',
        created_at: at,
      })))
      .onConflict((oc) => oc.columns(['dataset_id', 'source_ref', 'row_number']).doNothing())
      .executeTakeFirst();
    quarantined += Number(result.numInsertedOrUpdatedRows ?? 0);
  }
  const skipped = chunk.rows.length - inserted;
  if (chunk.rows.length > 0) {
    await trx
      .updateTable('dataset_batches')
      .set((eb) => ({ rows_accepted: eb('rows_accepted', '+', inserted), rows_duplicate: eb('rows_duplicate', '+', skipped) }))
      .where('id', '=', batchId)
      .execute();
  }
  if (chunk.watermark !== null) {
    const w = chunk.watermark;
    await trx
      .updateTable('datasets')
      .set({ watermark: sql<number>`case when watermark is null or watermark < ${w} then ${w} else watermark end` })
      .where('id', '=', datasetId)
      .execute();
  }
  for (const part of chunks(windows, Math.floor(PARAM_BUDGET / WINDOW_COLUMNS))) {
    await trx
      .insertInto('dataset_windows')
      .values(part.map((w) => ({ dataset_id: datasetId, window_start: w.windowStart, rows: w.rows, late: w.late, too_late: w.tooLate })))
      .onConflict((oc) => oc.columns(['dataset_id', 'window_start']).doUpdateSet((eb) => ({
        rows: eb('dataset_windows.rows', '+', eb.ref('excluded.rows')),
        late: eb('dataset_windows.late', '+', eb.ref('excluded.late')),
        too_late: eb('dataset_windows.too_late', '+', eb.ref('excluded.too_late')),
      })))
      .execute();
  }
  return { inserted, duplicates: skipped, quarantined };
}

/** Prepares the SQLite fast paths: one statement per row inside one immediate transaction, and a cached key lookup. */
function prepareSqlite(sqlite: BetterSqlite3.Database): SqlitePath {
  const insertRow = sqlite.prepare<[number, string, string, number | null, string]>(
    'INSERT INTO dataset_rows (dataset_id, record_key, batch_id, event_time, data) VALUES (?, ?, ?, ?, ?) '
    + 'ON CONFLICT (dataset_id, record_key) DO NOTHING',
  );
  const insertQuarantine = sqlite.prepare<[number, string, string, number, string, string, number]>(
    'INSERT INTO quarantine (dataset_id, batch_id, source_ref, row_number, raw, reasons, status, created_at) '
    + 'VALUES (?, ?, ?, ?, ?, ?, \'open\', ?) ON CONFLICT (dataset_id, source_ref, row_number) DO NOTHING',
  );
  const updateBatch = sqlite.prepare<[number, number, number, number, number, number, string, number]>(
    'UPDATE dataset_batches SET rows_read = rows_read + ?, rows_quarantined = rows_quarantined + ?, '
    + 'rows_duplicate = rows_duplicate + ?, rows_late = rows_late + ?, rows_too_late = rows_too_late + ?, '
    + 'updated_at = ? WHERE id = ? AND dataset_id = ?',
  );
  const addAccepted = sqlite.prepare<[number, number, string]>(
    'UPDATE dataset_batches SET rows_accepted = rows_accepted + ?, rows_duplicate = rows_duplicate + ? WHERE id = ?',
  );
  const updateWatermark = sqlite.prepare<{ w: number; id: number }>(
    'UPDATE datasets SET watermark = CASE WHEN watermark IS NULL OR watermark < @w THEN @w ELSE watermark END WHERE id = @id',
  );
  const upsertWindow = sqlite.prepare<[number, number, number, number, number]>(
    'INSERT INTO dataset_windows (dataset_id, window_start, "rows", late, too_late) VALUES (?, ?, ?, ?, ?) '
    + 'ON CONFLICT (dataset_id, window_start) DO UPDATE SET "rows" = "rows" + excluded."rows", '
    + 'late = late + excluded.late, too_late = too_late + excluded.too_late',
  );
  const placeholders = new Array<string>(SQLITE_LOOKUP_SIZE).fill('?').join(', ');
  const lookup = sqlite
    .prepare<unknown[], string>(`SELECT record_key FROM dataset_rows WHERE dataset_id = ? AND record_key IN (${placeholders})`)
    .pluck();

  const commit = sqlite.transaction((chunk: ChunkCommit, windows: WindowCountsRecord[]): CommitResult => {
    const { batchId, datasetId, counts, at } = chunk;
    // The batch first, as in the portable path: nothing is written for a batch of another dataset.
    const checked = updateBatch.run(counts.read, counts.quarantined, counts.duplicates, counts.late, counts.tooLate, at, batchId, datasetId);
    if (checked.changes === 0) throw batchNotFound(batchId, datasetId);
    let inserted = 0;
    for (const r of chunk.rows) {
      inserted += insertRow.run(datasetId, r.key, batchId, r.eventTime, JSON.stringify(r.data)).changes;
    }
    let quarantined = 0;
    for (const q of chunk.quarantine) {
      quarantined += insertQuarantine.run(datasetId, batchId, q.sourceRef, q.rowNumber, toJson(q.raw), toJson(q.reasons), at).changes;
    }
    const skipped = chunk.rows.length - inserted;
    if (chunk.rows.length > 0) addAccepted.run(inserted, skipped, batchId);
    if (chunk.watermark !== null) updateWatermark.run({ w: chunk.watermark, id: datasetId });
    for (const w of windows) upsertWindow.run(datasetId, w.windowStart, w.rows, w.late, w.tooLate);
    return { inserted, duplicates: skipped, quarantined };
  });
  return { commit: commit.immediate, lookup };
}

/**
 * Sums increments for the same window and orders them, so one statement never touches a row twice (PostgreSQL
 * refuses that) and concurrent writers lock windows in the same order.
 */
function mergeWindows(windows: WindowCountsRecord[]): WindowCountsRecord[] {
  const byStart = new Map<number, WindowCountsRecord>();
  for (const w of windows) {
    const seen = byStart.get(w.windowStart);
    if (seen) {
      seen.rows += w.rows;
      seen.late += w.late;
      seen.tooLate += w.tooLate;
    } else {
      byStart.set(w.windowStart, { ...w });
    }
  }
  return [...byStart.values()].sort((a, b) => a.windowStart - b.windowStart);
}

function isDeadlock(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '40P01';
}

function datasetNotFound(id: number): TarmacError {
  return new TarmacError('DATASET_NOT_FOUND', `No dataset with id ${id}`, { details: { datasetId: id } });
}

function batchNotFound(id: string, datasetId?: number): TarmacError {
  return new TarmacError('DATASET_BATCH_NOT_FOUND', `No ingestion batch ${id}${datasetId === undefined ? '' : ` in dataset ${datasetId}`}`, {
    details: { batch: id, ...(datasetId === undefined ? {} : { datasetId }) },
  });
}

function toDataset(r: Selectable<DatasetsTable>): DatasetRecord {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    contract: { name: r.contract_name, version: r.contract_version },
    keyFields: fromJson<string[]>(r.key_fields),
    eventTimeField: r.event_time_field,
    windowSeconds: r.window_seconds,
    allowedLatenessSeconds: r.allowed_lateness_seconds,
    transforms: fromJson<unknown[]>(r.transforms),
    natsSubject: r.nats_subject,
    watermark: r.watermark,
    createdBy: r.created_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function toBatch(r: BatchRow): BatchRecord {
  return {
    id: r.id,
    datasetId: r.dataset_id,
    datasetName: r.dataset_name,
    source: r.source,
    contentSha256: r.content_sha256,
    contractVersion: r.contract_version,
    status: r.status as BatchRecord['status'],
    counts: {
      read: r.rows_read,
      accepted: r.rows_accepted,
      quarantined: r.rows_quarantined,
      duplicates: r.rows_duplicate,
      late: r.rows_late,
      tooLate: r.rows_too_late,
    },
    error: r.error,
    createdBy: r.created_by,
    startedAt: r.started_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
  };
}

function toQuarantine(r: Selectable<QuarantineTable>): QuarantineRecord {
  return {
    id: r.id,
    datasetId: r.dataset_id,
    batchId: r.batch_id,
    sourceRef: r.source_ref,
    rowNumber: r.row_number,
    raw: fromJson<unknown>(r.raw),
    reasons: fromJson<RowReason[]>(r.reasons),
    status: r.status as QuarantineRecord['status'],
    createdAt: r.created_at,
    resolvedBy: r.resolved_by,
    resolvedAt: r.resolved_at,
    resolvedBatchId: r.resolved_batch_id,
  };
}
