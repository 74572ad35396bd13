import { sql, type Expression, type Kysely, type SqlBool } from 'kysely';
import { fromJson, toJson } from './columns.ts';
import { currentDb, writeTransaction, type StoreConnection } from './dialect.ts';
import type { Database } from './schema.ts';

/** A stored retention policy: JSON settings for one model or dataset. */
export interface RetentionPolicyRow {
  scope: 'model' | 'dataset';
  name: string;
  settings: Record<string, unknown>;
  updatedBy: string;
  updatedAt: number;
}

/** A stored automated-decision register entry of one model. */
export interface DecisionRegisterRow {
  model: string;
  document: Record<string, unknown>;
  updatedBy: string;
  updatedAt: number;
}

/** A stored prediction as a data subject request sees it. */
export interface SubjectPredictionRow {
  id: string;
  model: string;
  version: number;
  createdAt: number;
  inputs: unknown;
  outputs: unknown;
}

/** A stored label as a data subject request sees it. */
export interface SubjectFeedbackRow {
  id: number;
  predictionId: string;
  label: unknown;
  createdAt: number;
}

/** A quarantined row as a data subject request sees it. */
export interface SubjectQuarantineRow {
  id: number;
  dataset: string;
  createdAt: number;
  raw: unknown;
  reasons: unknown;
  status: string;
}

/** A stored dataset record as a data subject request sees it. */
export interface SubjectDatasetRow {
  seq: number;
  dataset: string;
  recordKey: string;
  data: unknown;
}

/** Rows whose JSON text contains any of the needles, one page of them after a cursor (a prefilter; callers check). */
export interface SubjectPage<T> {
  rows: T[];
  /** The cursor of the next page, or null when the table was scanned to its end. */
  next: string | number | null;
}

/** Retention policies, the decision register, age-based deletion and the lookups of data subject requests. */
export interface PrivacyStore {
  getRetention(scope: 'model' | 'dataset', name: string): Promise<RetentionPolicyRow | undefined>;
  putRetention(row: RetentionPolicyRow): Promise<void>;
  listRetention(scope: 'model' | 'dataset'): Promise<RetentionPolicyRow[]>;
  getRegister(model: string): Promise<DecisionRegisterRow | undefined>;
  putRegister(row: DecisionRegisterRow): Promise<void>;
  deleteRegister(model: string): Promise<boolean>;
  listRegisters(): Promise<DecisionRegisterRow[]>;
  /** Every model name and every dataset (id and name): what the janitor walks. */
  modelNames(): Promise<string[]>;
  datasetIds(): Promise<{ id: number; name: string }[]>;
  /** Deletes up to `limit` predictions of `model` made before `cutoff`, with their labels. */
  deletePredictionsBefore(model: string, cutoff: number, limit: number): Promise<{ predictions: number; feedback: number }>;
  /** Deletes up to `limit` labels of `model`'s predictions given before `cutoff`. */
  deleteFeedbackBefore(model: string, cutoff: number, limit: number): Promise<number>;
  /** Deletes up to `limit` stored records of a dataset whose batch started before `cutoff`. */
  deleteDatasetRowsBefore(datasetId: number, cutoff: number, limit: number): Promise<number>;
  /** Deletes up to `limit` quarantined rows of a dataset quarantined before `cutoff`. */
  deleteQuarantineBefore(datasetId: number, cutoff: number, limit: number): Promise<number>;
  /** Deletes up to `limit` finished batches started before `cutoff` that no stored or quarantined row refers to. */
  deleteBatchesBefore(datasetId: number, cutoff: number, limit: number): Promise<number>;
  /** A page of predictions (by id) whose inputs or outputs contain one of the needles. */
  searchPredictions(needles: string[], after: string | null, limit: number): Promise<SubjectPage<SubjectPredictionRow>>;
  /** The labels of these predictions. */
  feedbackOf(predictionIds: string[]): Promise<SubjectFeedbackRow[]>;
  /** A page of quarantined rows (by id) whose raw form contains one of the needles. */
  searchQuarantine(needles: string[], after: number | null, limit: number): Promise<SubjectPage<SubjectQuarantineRow>>;
  /** A page of dataset records (by seq) whose data contains one of the needles. */
  searchDatasetRows(needles: string[], after: number | null, limit: number): Promise<SubjectPage<SubjectDatasetRow>>;
  /** Deletes these rows in one transaction; returns the count per table. */
  eraseRows(ids: { predictions: string[]; quarantine: number[]; datasetRows: number[] }): Promise<{ predictions: number; feedback: number; quarantine: number; dataset_rows: number }>;
}

const IN_CHUNK = 500;

function chunked<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += IN_CHUNK) out.push(items.slice(i, i + IN_CHUNK));
  return out;
}

/** The PrivacyStore on SQLite or PostgreSQL. */
export class KyselyPrivacyStore implements PrivacyStore {
  /** The ambient transaction's query layer when there is one (see `currentDb`), else the connection's. */
  private get db(): Kysely<Database> {
    return currentDb(this.conn);
  }

  constructor(private readonly conn: StoreConnection) {}

  /** `column` contains `needle` as a substring (instr on SQLite, strpos on PostgreSQL: no LIKE escaping needed). */
  private contains(column: string, needle: string): Expression<SqlBool> {
    return this.conn.dialect === 'sqlite'
      ? sql<SqlBool>`instr(${sql.ref(column)}, ${needle}) > 0`
      : sql<SqlBool>`strpos(${sql.ref(column)}, ${needle}) > 0`;
  }

  async getRetention(scope: 'model' | 'dataset', name: string): Promise<RetentionPolicyRow | undefined> {
    const r = await this.db.selectFrom('retention_policies').selectAll().where('scope', '=', scope).where('name', '=', name).executeTakeFirst();
    return r && { scope: r.scope as 'model' | 'dataset', name: r.name, settings: fromJson(r.settings), updatedBy: r.updated_by, updatedAt: Number(r.updated_at) };
  }

  async putRetention(row: RetentionPolicyRow): Promise<void> {
    const values = { scope: row.scope, name: row.name, settings: toJson(row.settings), updated_by: row.updatedBy, updated_at: row.updatedAt };
    await this.db.insertInto('retention_policies').values(values)
      .onConflict((oc) => oc.columns(['scope', 'name']).doUpdateSet({ settings: values.settings, updated_by: values.updated_by, updated_at: values.updated_at }))
      .execute();
  }

  async listRetention(scope: 'model' | 'dataset'): Promise<RetentionPolicyRow[]> {
    const rows = await this.db.selectFrom('retention_policies').selectAll().where('scope', '=', scope).orderBy('name').execute();
    return rows.map((r) => ({ scope, name: r.name, settings: fromJson(r.settings), updatedBy: r.updated_by, updatedAt: Number(r.updated_at) }));
  }

  async getRegister(model: string): Promise<DecisionRegisterRow | undefined> {
    const r = await this.db.selectFrom('decision_registers').selectAll().where('model', '=', model).executeTakeFirst();
    return r && { model: r.model, document: fromJson(r.document), updatedBy: r.updated_by, updatedAt: Number(r.updated_at) };
  }

  async putRegister(row: DecisionRegisterRow): Promise<void> {
    const values = { model: row.model, document: toJson(row.document), updated_by: row.updatedBy, updated_at: row.updatedAt };
    await this.db.insertInto('decision_registers').values(values)
      .onConflict((oc) => oc.column('model').doUpdateSet({ document: values.document, updated_by: values.updated_by, updated_at: values.updated_at }))
      .execute();
  }

  async deleteRegister(model: string): Promise<boolean> {
    const result = await this.db.deleteFrom('decision_registers').where('model', '=', model).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async listRegisters(): Promise<DecisionRegisterRow[]> {
    const rows = await this.db.selectFrom('decision_registers').selectAll().orderBy('model').execute();
    return rows.map((r) => ({ model: r.model, document: fromJson(r.document), updatedBy: r.updated_by, updatedAt: Number(r.updated_at) }));
  }

  async modelNames(): Promise<string[]> {
    return (await this.db.selectFrom('models').select('name').orderBy('name').execute()).map((r) => r.name);
  }

  async datasetIds(): Promise<{ id: number; name: string }[]> {
    return (await this.db.selectFrom('datasets').select(['id', 'name']).orderBy('name').execute()).map((r) => ({ id: Number(r.id), name: r.name }));
  }

  deletePredictionsBefore(model: string, cutoff: number, limit: number): Promise<{ predictions: number; feedback: number }> {
    return writeTransaction(this.conn, async (trx) => {
      const ids = (await trx.selectFrom('predictions').select('id').where('model', '=', model).where('created_at', '<', cutoff)
        .orderBy('created_at').limit(limit).execute()).map((r) => r.id);
      if (ids.length === 0) return { predictions: 0, feedback: 0 };
      // A label without its prediction is of no use and still about the same person: it goes with it.
      const feedback = await trx.deleteFrom('feedback').where('prediction_id', 'in', ids).executeTakeFirst();
      const predictions = await trx.deleteFrom('predictions').where('id', 'in', ids).executeTakeFirst();
      return { predictions: Number(predictions.numDeletedRows), feedback: Number(feedback.numDeletedRows) };
    });
  }

  async deleteFeedbackBefore(model: string, cutoff: number, limit: number): Promise<number> {
    const ids = (await this.db.selectFrom('feedback as f').innerJoin('predictions as p', 'p.id', 'f.prediction_id').select('f.id')
      .where('p.model', '=', model).where('f.created_at', '<', cutoff).orderBy('f.id').limit(limit).execute()).map((r) => r.id);
    if (ids.length === 0) return 0;
    return Number((await this.db.deleteFrom('feedback').where('id', 'in', ids).executeTakeFirst()).numDeletedRows);
  }

  async deleteDatasetRowsBefore(datasetId: number, cutoff: number, limit: number): Promise<number> {
    const seqs = (await this.db.selectFrom('dataset_rows as r').innerJoin('dataset_batches as b', 'b.id', 'r.batch_id').select('r.seq')
      .where('r.dataset_id', '=', datasetId).where('b.started_at', '<', cutoff).orderBy('r.seq').limit(limit).execute()).map((r) => r.seq);
    if (seqs.length === 0) return 0;
    return Number((await this.db.deleteFrom('dataset_rows').where('seq', 'in', seqs).executeTakeFirst()).numDeletedRows);
  }

  async deleteQuarantineBefore(datasetId: number, cutoff: number, limit: number): Promise<number> {
    const ids = (await this.db.selectFrom('quarantine').select('id').where('dataset_id', '=', datasetId).where('created_at', '<', cutoff)
      .orderBy('id').limit(limit).execute()).map((r) => r.id);
    if (ids.length === 0) return 0;
    return Number((await this.db.deleteFrom('quarantine').where('id', 'in', ids).executeTakeFirst()).numDeletedRows);
  }

  async deleteBatchesBefore(datasetId: number, cutoff: number, limit: number): Promise<number> {
    const ids = (await this.db.selectFrom('dataset_batches as b').select('b.id')
      .where('b.dataset_id', '=', datasetId).where('b.started_at', '<', cutoff).where('b.status', '!=', 'running')
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('dataset_rows as r').select('r.seq').whereRef('r.batch_id', '=', 'b.id'))))
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('quarantine as q').select('q.id').whereRef('q.batch_id', '=', 'b.id'))))
      .orderBy('b.started_at').limit(limit).execute()).map((r) => r.id);
    if (ids.length === 0) return 0;
    return Number((await this.db.deleteFrom('dataset_batches').where('id', 'in', ids).executeTakeFirst()).numDeletedRows);
  }

  async searchPredictions(needles: string[], after: string | null, limit: number): Promise<SubjectPage<SubjectPredictionRow>> {
    const rows = await this.db.selectFrom('predictions').select(['id', 'model', 'version', 'created_at', 'inputs', 'outputs'])
      .$if(after !== null, (q) => q.where('id', '>', after as string))
      .where((eb) => eb.or(needles.flatMap((n) => [this.contains('inputs', n), this.contains('outputs', n)])))
      .orderBy('id').limit(limit).execute();
    return {
      rows: rows.map((r) => ({ id: r.id, model: r.model, version: r.version, createdAt: Number(r.created_at), inputs: fromJson(r.inputs), outputs: fromJson(r.outputs) })),
      next: rows.length < limit ? null : rows[rows.length - 1]!.id,
    };
  }

  async feedbackOf(predictionIds: string[]): Promise<SubjectFeedbackRow[]> {
    const out: SubjectFeedbackRow[] = [];
    for (const part of chunked(predictionIds)) {
      const rows = await this.db.selectFrom('feedback').selectAll().where('prediction_id', 'in', part).orderBy('id').execute();
      for (const r of rows) out.push({ id: Number(r.id), predictionId: r.prediction_id, label: fromJson(r.label), createdAt: Number(r.created_at) });
    }
    return out;
  }

  async searchQuarantine(needles: string[], after: number | null, limit: number): Promise<SubjectPage<SubjectQuarantineRow>> {
    const rows = await this.db.selectFrom('quarantine as q').innerJoin('datasets as d', 'd.id', 'q.dataset_id')
      .select(['q.id', 'd.name', 'q.created_at', 'q.raw', 'q.reasons', 'q.status'])
      .$if(after !== null, (q) => q.where('q.id', '>', after as number))
      .where((eb) => eb.or(needles.map((n) => this.contains('q.raw', n))))
      .orderBy('q.id').limit(limit).execute();
    return {
      rows: rows.map((r) => ({ id: Number(r.id), dataset: r.name, createdAt: Number(r.created_at), raw: fromJson(r.raw), reasons: fromJson(r.reasons), status: r.status })),
      next: rows.length < limit ? null : Number(rows[rows.length - 1]!.id),
    };
  }

  async searchDatasetRows(needles: string[], after: number | null, limit: number): Promise<SubjectPage<SubjectDatasetRow>> {
    const rows = await this.db.selectFrom('dataset_rows as r').innerJoin('datasets as d', 'd.id', 'r.dataset_id')
      .select(['r.seq', 'd.name', 'r.record_key', 'r.data'])
      .$if(after !== null, (q) => q.where('r.seq', '>', after as number))
      .where((eb) => eb.or(needles.map((n) => this.contains('r.data', n))))
      .orderBy('r.seq').limit(limit).execute();
    return {
      rows: rows.map((r) => ({ seq: Number(r.seq), dataset: r.name, recordKey: r.record_key, data: fromJson(r.data) })),
      next: rows.length < limit ? null : Number(rows[rows.length - 1]!.seq),
    };
  }

  eraseRows(ids: { predictions: string[]; quarantine: number[]; datasetRows: number[] }): Promise<{ predictions: number; feedback: number; quarantine: number; dataset_rows: number }> {
    return writeTransaction(this.conn, async (trx) => {
      const counts = { predictions: 0, feedback: 0, quarantine: 0, dataset_rows: 0 };
      for (const part of chunked(ids.predictions)) {
        counts.feedback += Number((await trx.deleteFrom('feedback').where('prediction_id', 'in', part).executeTakeFirst()).numDeletedRows);
        counts.predictions += Number((await trx.deleteFrom('predictions').where('id', 'in', part).executeTakeFirst()).numDeletedRows);
      }
      for (const part of chunked(ids.quarantine)) {
        counts.quarantine += Number((await trx.deleteFrom('quarantine').where('id', 'in', part).executeTakeFirst()).numDeletedRows);
      }
      for (const part of chunked(ids.datasetRows)) {
        counts.dataset_rows += Number((await trx.deleteFrom('dataset_rows').where('seq', 'in', part).executeTakeFirst()).numDeletedRows);
      }
      return counts;
    });
  }
}
