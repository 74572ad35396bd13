import { createHash } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { compileValidator } from '../contracts/index.ts';
import type { Contract, FieldRule, RecordValidator } from '../contracts/index.ts';
import type { EventBus } from '../bus/index.ts';
import type { ContractService } from '../registry/index.ts';
import type { AuditLog, Principal } from '../security/index.ts';
import type { Clock } from '../shared/clock.ts';
import { TarmacError } from '../shared/errors.ts';
import { newTimeOrderedId } from '../shared/ids.ts';
import type { Logger } from '../shared/logger.ts';
import type {
  BatchCounts, BatchRecord, DatasetRecord, DatasetStore, QuarantinedRow, RowReason, StoredRow, WindowCountsRecord,
} from '../store/index.ts';
import { eventTimeOf, timeliness, windowStart } from './event-time.ts';
import type { EventTimePolicy } from './event-time.ts';
import type { IngestMessage, MessageIngester } from './nats-ingest.ts';
import type { IngestMetrics } from './ingest-metrics.ts';
import { compileRecordKey } from './record-key.ts';
import { csvCellTyper, recordItems } from './sources.ts';
import type { SourceItem } from './sources.ts';
import { compileTransforms } from './transforms.ts';
import type { CompiledTransforms } from './transforms.ts';

/** Rows per committed chunk: the unit of atomicity, of checkpointing and of progress. */
export const DEFAULT_CHUNK_ROWS = 5_000;

/** Progress of a running batch, reported after each committed chunk. */
export interface IngestProgress {
  batchId: string;
  counts: BatchCounts;
  elapsedMs: number;
}

/** How one batch is ingested. */
export interface IngestOptions {
  /** Where the rows come from: `file:NAME`, `http`, `nats:SUBJECT`. */
  source: string;
  by: Principal;
  /**
   * sha256 (hex) of the source bytes when the caller knows it up front (a client-computed Content-Digest): a
   * `running` batch with the same hash is resumed from its last checkpoint instead of starting over.
   */
  contentSha256?: string;
  /** Identifies the source for idempotent quarantine (default: the content hash, else the batch id). */
  sourceRef?: string;
  /** The source's sha-256 (hex) once it has been read, when it was not known up front (recorded on the batch). */
  finalSha256?: () => string | undefined;
  onProgress?: (progress: IngestProgress) => void;
  /** Validation against the contract (default true). Only benchmarks turn it off, to measure what it costs. */
  validate?: boolean;
}

/** The outcome of one batch: processed (whatever it quarantined) or failed. */
export interface IngestResult {
  batch: BatchRecord;
  dataset: string;
  contract: { name: string; version: number };
  /** The checkpoint the batch resumed from (rows already committed by an interrupted run), or null. */
  resumedFromRow: number | null;
  durationMs: number;
}

/** A dataset's compiled ingestion pipeline: built once per dataset definition and reused by every batch. */
export interface CompiledPipeline {
  dataset: DatasetRecord;
  fields: readonly FieldRule[];
  validator: RecordValidator;
  transforms: CompiledTransforms;
  keyOf: (row: Record<string, unknown>) => string;
  eventTimeField: string | null;
  policy: EventTimePolicy;
  /** How a CSV cell is typed for this dataset's contract. */
  typeCsvCell: (column: string, cell: string) => unknown;
  /** A quarantined row as it may be stored (personal information replaced); identity without a privacy policy. */
  protectQuarantined: (row: QuarantinedRow) => QuarantinedRow;
}

interface Candidate {
  sourceRef: string;
  rowNumber: number;
  key: string;
  eventTime: number | null;
  row: Record<string, unknown>;
  raw: unknown;
}

interface ChunkItem {
  sourceRef: string;
  item: SourceItem;
}

const ZERO_COUNTS: BatchCounts = { read: 0, accepted: 0, quarantined: 0, duplicates: 0, late: 0, tooLate: 0 };

/**
 * Ingestion: reads items from any source, applies the dataset's transformations, validates each row against the
 * dataset's contract, de-duplicates on its key, classifies event-time lateness, and commits chunk by chunk — stored
 * rows, quarantined rows with every reason, counts, watermark and the batch's checkpoint in one transaction each, so a
 * crash loses nothing and the same command run again stores each good row exactly once.
 */
export class IngestService implements MessageIngester {
  private readonly pipelines = new Map<number, { updatedAt: number; contractVersion: number; pipeline: CompiledPipeline }>();
  /** Per-dataset serialisation of the classify-and-commit step, so concurrent batches agree on keys and the watermark. */
  private readonly locks = new Map<number, Promise<unknown>>();
  private readonly watermarks = new Map<number, number | null>();
  private readonly chunkRows: number;

  constructor(
    private readonly deps: {
      datasets: DatasetStore;
      contracts: ContractService;
      audit: AuditLog;
      bus: EventBus;
      clock: Clock;
      log: Logger;
      /** Key for `mask` transformations that hash (HMAC-SHA256), so hashed values join across datasets but cannot be reversed by guessing. */
      maskSecret?: string;
      chunkRows?: number;
      metrics?: IngestMetrics;
      /**
       * Builds, per dataset, how a quarantined row is stored so that the PII fields of its contract (under their
       * names before the transformations too) never are held raw; absent: rows are stored as read.
       */
      quarantineProtection?: (contract: Contract, transforms: readonly unknown[]) => (row: QuarantinedRow) => QuarantinedRow;
    },
  ) {
    this.chunkRows = deps.chunkRows ?? DEFAULT_CHUNK_ROWS;
  }

  /** The dataset by name; throws DATASET_NOT_FOUND. */
  async dataset(name: string): Promise<DatasetRecord> {
    const dataset = await this.deps.datasets.get(name);
    if (!dataset) {
      throw new TarmacError('DATASET_NOT_FOUND', `no dataset named ${name}`, { details: { dataset: name } });
    }
    return dataset;
  }

  /** The dataset's compiled pipeline, rebuilt only when its definition changed. */
  async pipeline(dataset: DatasetRecord): Promise<CompiledPipeline> {
    const cached = this.pipelines.get(dataset.id);
    if (cached && cached.updatedAt === dataset.updatedAt && cached.contractVersion === dataset.contract.version) {
      return cached.pipeline;
    }
    const { contract } = await this.deps.contracts.get(dataset.contract.name, dataset.contract.version);
    const pipeline: CompiledPipeline = {
      dataset,
      fields: contract.fields,
      validator: compileValidator(contract),
      transforms: compileTransforms(dataset.transforms, { secret: this.deps.maskSecret }),
      keyOf: compileRecordKey(dataset.keyFields),
      eventTimeField: dataset.eventTimeField,
      policy: { windowMs: dataset.windowSeconds * 1000, allowedLatenessMs: dataset.allowedLatenessSeconds * 1000 },
      typeCsvCell: csvCellTyper(contract.fields),
      protectQuarantined: this.deps.quarantineProtection?.(contract, dataset.transforms) ?? ((row) => row),
    };
    this.pipelines.set(dataset.id, { updatedAt: dataset.updatedAt, contractVersion: dataset.contract.version, pipeline });
    return pipeline;
  }

  /**
   * Ingests a stream of items as one batch. Resolves with the batch once every item is committed (bad rows
   * quarantined, duplicates skipped). Throws DATASET_NOT_FOUND, INGEST_UNREADABLE (the source is unreadable as a
   * whole: the batch is marked failed), or the reading/store error that interrupted it (the batch stays `running`
   * at its last checkpoint and is resumed by the same source hash).
   */
  async ingest(datasetName: string, items: AsyncIterable<SourceItem> | Iterable<SourceItem>, options: IngestOptions): Promise<IngestResult> {
    const dataset = await this.dataset(datasetName);
    const pipeline = await this.pipeline(dataset);
    const started = this.deps.clock.now();
    const { batch, resumedFrom } = await this.openBatch(dataset, options);
    const sourceRef = options.sourceRef ?? options.contentSha256 ?? `batch:${batch.id}`;
    const validate = options.validate ?? true;
    const counts = { ...batch.counts };
    let chunk: ChunkItem[] = [];
    const flush = async (): Promise<void> => {
      if (chunk.length === 0) return;
      const done = await this.commit(pipeline, batch.id, chunk, validate, false);
      chunk = [];
      addCounts(counts, done);
      options.onProgress?.({ batchId: batch.id, counts: { ...counts }, elapsedMs: this.deps.clock.now() - started });
      // Between chunks, let queued requests (predictions above all) run.
      await yieldToEventLoop();
    };
    try {
      for await (const item of items) {
        if (item.rowNumber <= resumedFrom) continue;
        chunk.push({ sourceRef, item });
        if (chunk.length >= this.chunkRows) await flush();
      }
      await flush();
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'INGEST_UNREADABLE') {
        await this.finish(dataset, batch.id, 'failed', (err as Error).message);
        await this.deps.audit.failed(options.by, 'dataset.ingest', `dataset:${dataset.name}/batch:${batch.id}`, {
          source: options.source, code, error: (err as Error).message,
        });
      }
      else this.deps.log.warn({ err, batch: batch.id, dataset: dataset.name }, 'ingestion interrupted; the batch stays resumable at its last checkpoint');
      throw err;
    }
    const finished = await this.finish(dataset, batch.id, 'completed', undefined, options.contentSha256 ?? options.finalSha256?.(), (done) =>
      this.deps.audit.record(options.by, 'dataset.ingest', `dataset:${dataset.name}/batch:${batch.id}`, {
        source: options.source, sha256: done.contentSha256, counts: done.counts, resumed_from_row: resumedFrom || null,
      }));
    return {
      batch: finished,
      dataset: dataset.name,
      contract: dataset.contract,
      resumedFromRow: resumedFrom > 0 ? resumedFrom : null,
      durationMs: this.deps.clock.now() - started,
    };
  }

  /** Ingests records already in memory (an HTTP body) as one batch; `sourceRef` makes a retried request idempotent. */
  ingestRecords(datasetName: string, records: readonly unknown[], options: IngestOptions): Promise<IngestResult> {
    return this.ingest(datasetName, recordItems(records), options);
  }

  /** Ingests stream messages as one batch, each message's rows quarantined under its own reference (see MessageIngester). */
  async ingestMessages(datasetName: string, messages: IngestMessage[], source: string): Promise<{ batchId: string; counts: BatchCounts }> {
    const dataset = await this.dataset(datasetName);
    const pipeline = await this.pipeline(dataset);
    const by: Principal = { id: 'system', name: source, role: 'admin' };
    const { batch } = await this.openBatch(dataset, { source, by });
    const chunk: ChunkItem[] = [];
    for (const message of messages) {
      message.items.forEach((it, i) => {
        const item: SourceItem = it.kind === 'row'
          ? { rowNumber: i + 1, kind: 'row', value: it.value }
          : { rowNumber: i + 1, kind: 'unreadable', raw: it.raw, reason: it.reason };
        chunk.push({ sourceRef: message.sourceRef, item });
      });
    }
    for (let i = 0; i < chunk.length; i += this.chunkRows) {
      await this.commit(pipeline, batch.id, chunk.slice(i, i + this.chunkRows), true, false);
    }
    const sha256 = createHash('sha256').update(JSON.stringify(messages)).digest('hex');
    const finished = await this.finish(dataset, batch.id, 'completed', undefined, sha256, (done) =>
      this.deps.audit.record(by, 'dataset.ingest', `dataset:${dataset.name}/batch:${batch.id}`, {
        source, messages: messages.length, counts: done.counts,
      }));
    return { batchId: finished.id, counts: finished.counts };
  }

  /**
   * Re-submits a corrected version of a quarantined row. It goes through the same pipeline (transformations,
   * contract, key), except that an operator's re-submission is accepted whatever its event time (counted late).
   * Throws QUARANTINE_NOT_FOUND, QUARANTINE_NOT_OPEN, or VALIDATION_FAILED with every reason (the row stays open).
   */
  async resubmit(datasetName: string, quarantineId: number, record: unknown, by: Principal): Promise<{ batch: BatchRecord; stored: boolean }> {
    const dataset = await this.dataset(datasetName);
    const pipeline = await this.pipeline(dataset);
    const held = await this.deps.datasets.getQuarantine(dataset.id, quarantineId);
    if (!held) {
      throw new TarmacError('QUARANTINE_NOT_FOUND', `dataset ${dataset.name} holds no quarantined row ${quarantineId}`, {
        details: { dataset: dataset.name, id: quarantineId },
      });
    }
    if (held.status !== 'open') {
      throw new TarmacError('QUARANTINE_NOT_OPEN', `quarantined row ${quarantineId} was already ${held.status}`, {
        details: { dataset: dataset.name, id: quarantineId, status: held.status },
      });
    }
    const checked = this.prepare(pipeline, { sourceRef: `resubmit:${quarantineId}`, item: { rowNumber: 1, kind: 'row', value: record } }, true);
    if ('reasons' in checked) {
      throw new TarmacError('VALIDATION_FAILED', `the corrected row is still refused: ${checked.reasons.map((r) => `${r.field || '(row)'} ${r.message} (${r.rule})`).join('; ')}`, {
        issues: checked.reasons.map((r) => ({ field: `/record${r.field}`, rule: r.rule, message: r.message })),
        details: { dataset: dataset.name, id: quarantineId },
      });
    }
    const { batch } = await this.openBatch(dataset, { source: 'resubmit', by });
    const done = await this.commit(pipeline, batch.id, [{ sourceRef: `resubmit:${quarantineId}`, item: { rowNumber: 1, kind: 'row', value: record } }], true, true);
    const finished = await this.finish(dataset, batch.id, 'completed');
    await this.deps.datasets.resolveQuarantine(quarantineId, 'resubmitted', by.id, this.deps.clock.now(), batch.id);
    await this.deps.audit.record(by, 'dataset.quarantine.resubmit', `dataset:${dataset.name}/quarantine:${quarantineId}`, {
      batch: batch.id, stored: done.accepted === 1,
    });
    return { batch: finished, stored: done.accepted === 1 };
  }

  /** Discards a quarantined row (it stays in the table, marked discarded). Throws QUARANTINE_NOT_FOUND or QUARANTINE_NOT_OPEN. */
  async discard(datasetName: string, quarantineId: number, by: Principal): Promise<void> {
    const dataset = await this.dataset(datasetName);
    const held = await this.deps.datasets.getQuarantine(dataset.id, quarantineId);
    if (!held) {
      throw new TarmacError('QUARANTINE_NOT_FOUND', `dataset ${dataset.name} holds no quarantined row ${quarantineId}`, {
        details: { dataset: dataset.name, id: quarantineId },
      });
    }
    await this.deps.audit.atomically(async () => {
      const resolved = await this.deps.datasets.resolveQuarantine(quarantineId, 'discarded', by.id, this.deps.clock.now(), null);
      if (!resolved) {
        throw new TarmacError('QUARANTINE_NOT_OPEN', `quarantined row ${quarantineId} was already ${held.status}`, {
          details: { dataset: dataset.name, id: quarantineId, status: held.status },
        });
      }
      await this.deps.audit.record(by, 'dataset.quarantine.discard', `dataset:${dataset.name}/quarantine:${quarantineId}`, {});
    });
  }

  private async openBatch(dataset: DatasetRecord, options: Pick<IngestOptions, 'source' | 'by' | 'contentSha256'>): Promise<{ batch: BatchRecord; resumedFrom: number }> {
    if (options.contentSha256) {
      const running = await this.deps.datasets.findRunningBatch(dataset.id, options.contentSha256);
      if (running) {
        this.deps.log.info({ batch: running.id, dataset: dataset.name, from_row: running.counts.read }, 'resuming an interrupted batch');
        return { batch: running, resumedFrom: running.counts.read };
      }
    }
    const batch = await this.deps.datasets.startBatch({
      id: newTimeOrderedId(),
      datasetId: dataset.id,
      source: options.source,
      contentSha256: options.contentSha256 ?? null,
      contractVersion: dataset.contract.version,
      createdBy: options.by.id,
      startedAt: this.deps.clock.now(),
    });
    return { batch: { ...batch, counts: { ...ZERO_COUNTS } }, resumedFrom: 0 };
  }

  /** Closes a batch; `audit` (when given) records it in the same transaction, so the batch and its entry commit together. */
  private async finish(dataset: DatasetRecord, batchId: string, status: 'completed' | 'failed', error?: string, sha256?: string, audit?: (batch: BatchRecord) => Promise<unknown>): Promise<BatchRecord> {
    const batch = await this.deps.audit.atomically(async () => {
      const finished = await this.deps.datasets.finishBatch(batchId, status, this.deps.clock.now(), error, sha256);
      if (audit) await audit(finished);
      return finished;
    });
    this.deps.metrics?.batches.inc({ dataset: dataset.name, status });
    await this.deps.bus.publish('batch.completed', { dataset: dataset.name, batchId, status, counts: batch.counts });
    return batch;
  }

  /** Transforms and validates one item: a candidate row, or the reasons it is refused. */
  private prepare(pipeline: CompiledPipeline, { sourceRef, item }: ChunkItem, validate: boolean): Candidate | QuarantinedRow {
    if (item.kind === 'unreadable') {
      return { sourceRef, rowNumber: item.rowNumber, raw: item.raw, reasons: [{ field: '', rule: 'parse', message: item.reason }] };
    }
    const value = item.value;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return {
        sourceRef, rowNumber: item.rowNumber, raw: value ?? null,
        reasons: [{ field: '', rule: 'not_object', message: `a record must be an object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}` }],
      };
    }
    const transformed = pipeline.transforms.apply(value as Record<string, unknown>);
    if (!transformed.ok) return { sourceRef, rowNumber: item.rowNumber, raw: value, reasons: transformed.reasons };
    const row = transformed.row;
    if (validate) {
      const violations = pipeline.validator.validate(row, '');
      if (violations.length > 0) {
        return {
          sourceRef, rowNumber: item.rowNumber, raw: value,
          reasons: violations.map((v): RowReason => ({ field: v.field, rule: v.rule, message: v.message })),
        };
      }
    }
    let eventTime: number | null = null;
    if (pipeline.eventTimeField !== null) {
      const t = eventTimeOf(row[pipeline.eventTimeField]);
      eventTime = Number.isNaN(t) ? null : t;
    }
    return { sourceRef, rowNumber: item.rowNumber, key: pipeline.keyOf(row), eventTime, row, raw: value };
  }

  /** Prepares a chunk, then (serialised per dataset) de-duplicates, classifies lateness and commits it. */
  private async commit(pipeline: CompiledPipeline, batchId: string, chunk: ChunkItem[], validate: boolean, ignoreLateness: boolean): Promise<BatchCounts> {
    const quarantine: QuarantinedRow[] = [];
    const candidates: Candidate[] = [];
    for (const entry of chunk) {
      const prepared = this.prepare(pipeline, entry, validate);
      if ('reasons' in prepared) quarantine.push(prepared);
      else candidates.push(prepared);
    }
    const datasetId = pipeline.dataset.id;
    return this.serialised(datasetId, async () => {
      const existing = candidates.length === 0
        ? new Set<string>()
        : await this.deps.datasets.existingKeys(datasetId, candidates.map((c) => c.key));
      const seen = new Set<string>();
      const rows: StoredRow[] = [];
      const windows = new Map<number, WindowCountsRecord>();
      const initialWatermark = this.watermarks.has(datasetId) ? this.watermarks.get(datasetId)! : pipeline.dataset.watermark;
      let watermark = initialWatermark;
      let duplicates = 0;
      let late = 0;
      let tooLate = 0;
      for (const c of candidates) {
        if (existing.has(c.key) || seen.has(c.key)) {
          duplicates++;
          continue;
        }
        if (c.eventTime !== null) {
          const start = windowStart(c.eventTime, pipeline.policy.windowMs);
          let w = windows.get(start);
          if (!w) windows.set(start, w = { windowStart: start, rows: 0, late: 0, tooLate: 0 });
          const when = ignoreLateness && watermark !== null && c.eventTime < watermark ? 'late' : timeliness(c.eventTime, watermark, pipeline.policy);
          if (when === 'too_late') {
            tooLate++;
            w.tooLate++;
            quarantine.push({
              sourceRef: c.sourceRef, rowNumber: c.rowNumber, raw: c.raw,
              reasons: [{
                field: `/${pipeline.eventTimeField!}`,
                rule: 'lateness',
                message: `event time ${new Date(c.eventTime).toISOString()} arrived after its window [${new Date(start).toISOString()}, +${pipeline.dataset.windowSeconds}s) closed: the watermark ${new Date(watermark!).toISOString()} is past the window's end plus the allowed lateness of ${pipeline.dataset.allowedLatenessSeconds}s`,
              }],
            });
            continue;
          }
          if (when === 'late') {
            late++;
            w.late++;
          }
          w.rows++;
          if (watermark === null || c.eventTime > watermark) watermark = c.eventTime;
        }
        seen.add(c.key);
        rows.push({ key: c.key, eventTime: c.eventTime, data: c.row });
      }
      const result = await this.deps.datasets.commitChunk({
        batchId,
        datasetId,
        rows,
        quarantine: quarantine.map(pipeline.protectQuarantined),
        counts: { read: chunk.length, quarantined: quarantine.length, duplicates, late, tooLate },
        watermark: watermark !== initialWatermark ? watermark : null,
        windows: [...windows.values()],
        at: this.deps.clock.now(),
      });
      this.watermarks.set(datasetId, watermark);
      const counts: BatchCounts = {
        read: chunk.length, accepted: result.inserted, quarantined: quarantine.length,
        duplicates: duplicates + result.duplicates, late, tooLate,
      };
      this.deps.metrics?.addChunk(pipeline.dataset.name, counts);
      if (watermark !== null) this.deps.metrics?.watermark.set({ dataset: pipeline.dataset.name }, watermark / 1000);
      return counts;
    });
  }

  private async serialised<T>(datasetId: number, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(datasetId) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const settled = run.catch(() => undefined);
    this.locks.set(datasetId, settled);
    try {
      return await run;
    } finally {
      if (this.locks.get(datasetId) === settled) this.locks.delete(datasetId);
    }
  }

  /** Forgets cached pipelines and watermarks (after a dataset's definition changes elsewhere). */
  invalidate(datasetId: number): void {
    this.pipelines.delete(datasetId);
    this.watermarks.delete(datasetId);
  }
}

function addCounts(into: BatchCounts, add: BatchCounts): void {
  into.read += add.read;
  into.accepted += add.accepted;
  into.quarantined += add.quarantined;
  into.duplicates += add.duplicates;
  into.late += add.late;
  into.tooLate += add.tooLate;
}
