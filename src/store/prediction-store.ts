import type BetterSqlite3 from 'better-sqlite3';
import type { Kysely, Selectable } from 'kysely';
import { chunks, fromJson, toJson } from './columns.ts';
import { writeTransaction, currentDb } from './dialect.ts';
import type { StoreConnection } from './dialect.ts';
import type { FeedbackRecord, PredictionRecord, PredictionStore } from './records.ts';
import type { Database, PredictionsTable } from './schema.ts';

// 200 rows x 9 columns stays far below PostgreSQL's 65535 and SQLite's 32766 bind parameters.
const INSERT_CHUNK = 200;
const LOOKUP_CHUNK = 1_000;

/** The prediction log and its feedback on SQLite or PostgreSQL, written in multi-row batches. */
export class KyselyPredictionStore implements PredictionStore {
  /** The ambient transaction's query layer when there is one (see `currentDb`), else the connection's. */
  private get db(): Kysely<Database> {
    return currentDb(this.conn);
  }
  private sqliteInsert: ((rows: PredictionRecord[]) => void) | undefined;

  constructor(private readonly conn: StoreConnection) {}

  /**
   * Inserts the rows in one transaction, in multi-row chunks. Rows whose id is already stored are skipped, so a
   * batch redelivered by an at-least-once bus is harmless.
   */
  async insertMany(rows: PredictionRecord[]): Promise<void> {
    if (rows.length === 0) return;
    const sqlite = this.conn.sqlite;
    // The prepared fast path runs synchronously in one transaction of its own; inside another open transaction
    // (an interleaved Kysely one on the same connection) it would nest, so it falls back to the portable path.
    if (sqlite && !sqlite.inTransaction) {
      this.sqliteInsert ??= prepareSqliteInsert(sqlite);
      this.sqliteInsert(rows);
      return;
    }
    await writeTransaction(this.conn, async (trx) => {
      for (const part of chunks(rows, INSERT_CHUNK)) {
        await trx
          .insertInto('predictions')
          .values(
            part.map((p) => ({
              id: p.id,
              model: p.model,
              version: p.version,
              variant: p.variant,
              request_id: p.requestId,
              created_at: p.createdAt,
              inputs: p.inputsJson ?? toJson(p.inputs),
              outputs: toJson(p.outputs),
              latency_ms: p.latencyMs,
            })),
          )
          .onConflict((oc) => oc.column('id').doNothing())
          .execute();
      }
    });
  }

  /** One prediction by id. */
  async get(id: string): Promise<PredictionRecord | undefined> {
    const row = await this.db.selectFrom('predictions').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toPrediction(row);
  }

  /** The subset of `ids` that are stored (and belong to `model`, when given), looked up in chunks. */
  async existing(ids: string[], model?: string): Promise<Set<string>> {
    const found = new Set<string>();
    for (const part of chunks([...new Set(ids)], LOOKUP_CHUNK)) {
      const rows = await this.db
        .selectFrom('predictions')
        .select('id')
        .where('id', 'in', part)
        .$if(model !== undefined, (qb) => qb.where('model', '=', model as string))
        .execute();
      for (const r of rows) found.add(r.id);
    }
    return found;
  }

  /** The predictions with these ids (unknown ids are left out), in no particular order. */
  async getMany(ids: string[]): Promise<PredictionRecord[]> {
    const out: PredictionRecord[] = [];
    for (const part of chunks([...new Set(ids)], LOOKUP_CHUNK)) {
      const rows = await this.db.selectFrom('predictions').selectAll().where('id', 'in', part).execute();
      for (const r of rows) out.push(toPrediction(r));
    }
    return out;
  }

  /** Labels joined to their predictions' variants, for a model's predictions made at or after `since`. */
  async labelsByVariant(model: string, since: number): Promise<{ variant: string; label: unknown; unit?: string }[]> {
    const rows = await this.db
      .selectFrom('predictions as p')
      .innerJoin('feedback as f', 'f.prediction_id', 'p.id')
      .select(['p.variant', 'f.label', 'p.outputs'])
      .where('p.model', '=', model)
      .where('p.created_at', '>=', since)
      .execute();
    return rows.map((r) => {
      const unit = (fromJson<{ unit?: unknown } | null>(r.outputs))?.unit;
      return { variant: r.variant, label: fromJson<unknown>(r.label), ...(typeof unit === 'string' ? { unit } : {}) };
    });
  }

  /** Stores labels in one transaction; the caller checks that the predictions exist (feedback has no foreign key). */
  async insertFeedback(rows: FeedbackRecord[]): Promise<void> {
    if (rows.length === 0) return;
    await writeTransaction(this.conn, async (trx) => {
      for (const part of chunks(rows, INSERT_CHUNK)) {
        await trx
          .insertInto('feedback')
          .values(
            part.map((f) => ({
              prediction_id: f.predictionId,
              label: toJson(f.label),
              created_by: f.createdBy,
              created_at: f.createdAt,
            })),
          )
          .execute();
      }
    });
  }

  /** The labels given for one prediction, in the order they arrived. */
  async feedbackFor(predictionId: string): Promise<FeedbackRecord[]> {
    const rows = await this.db.selectFrom('feedback').selectAll().where('prediction_id', '=', predictionId).orderBy('id').execute();
    return rows.map((r) => ({
      predictionId: r.prediction_id,
      label: fromJson<unknown>(r.label),
      createdBy: r.created_by,
      createdAt: r.created_at,
    }));
  }

  /** How many predictions are stored, for one model or all. */
  async count(model?: string): Promise<number> {
    const { n } = await this.db
      .selectFrom('predictions')
      .select((eb) => eb.fn.countAll().as('n'))
      .$if(model !== undefined, (qb) => qb.where('model', '=', model as string))
      .executeTakeFirstOrThrow();
    return Number(n);
  }
}

function toPrediction(r: Selectable<PredictionsTable>): PredictionRecord {
  return {
    id: r.id,
    model: r.model,
    version: r.version,
    variant: r.variant,
    requestId: r.request_id,
    createdAt: r.created_at,
    inputs: fromJson<unknown>(r.inputs),
    outputs: fromJson<unknown>(r.outputs),
    latencyMs: r.latency_ms,
  };
}

/** Rows per statement of the SQLite fast path: 16 x 9 = 144 bind parameters. */
const SQLITE_ROWS_PER_STATEMENT = 16;
const PREDICTION_COLUMNS = 9;

/**
 * Prepared INSERTs run inside one immediate transaction (SQLite's fastest way to append many rows): one statement of
 * SQLITE_ROWS_PER_STATEMENT rows while that many are left, then a one-row statement for the rest. Binding and
 * stepping a statement costs the same whether it carries one row or sixteen, so the writer thread spends about 15%
 * less per row than with the one-row statement alone (measured against this table with ~750-byte inputs).
 */
function prepareSqliteInsert(sqlite: BetterSqlite3.Database): (rows: PredictionRecord[]) => void {
  const statement = (n: number) => sqlite.prepare(
    'INSERT INTO predictions (id, model, version, variant, request_id, created_at, inputs, outputs, latency_ms) VALUES '
    + Array.from({ length: n }, () => '(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')
    + ' ON CONFLICT (id) DO NOTHING',
  );
  const many = statement(SQLITE_ROWS_PER_STATEMENT);
  const one = statement(1);
  const params = new Array<unknown>(SQLITE_ROWS_PER_STATEMENT * PREDICTION_COLUMNS);
  const bind = (p: PredictionRecord, into: unknown[], at: number): void => {
    into[at] = p.id;
    into[at + 1] = p.model;
    into[at + 2] = p.version;
    into[at + 3] = p.variant;
    into[at + 4] = p.requestId;
    into[at + 5] = p.createdAt;
    into[at + 6] = p.inputsJson ?? toJson(p.inputs);
    into[at + 7] = toJson(p.outputs);
    into[at + 8] = p.latencyMs;
  };
  const single = new Array<unknown>(PREDICTION_COLUMNS);
  return sqlite.transaction((rows: PredictionRecord[]) => {
    let i = 0;
    for (; i + SQLITE_ROWS_PER_STATEMENT <= rows.length; i += SQLITE_ROWS_PER_STATEMENT) {
      for (let k = 0; k < SQLITE_ROWS_PER_STATEMENT; k++) bind(rows[i + k]!, params, k * PREDICTION_COLUMNS);
      many.run(params);
    }
    for (; i < rows.length; i++) {
      bind(rows[i]!, single, 0);
      one.run(single);
    }
  }).immediate;
}
