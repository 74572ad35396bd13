import type { BatchRecord, DatasetRecord, QuarantineRecord, WindowCountsRecord } from '../store/index.ts';
import type { IngestResult } from '../pipelines/index.ts';

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

/** A dataset as the JSON API shows it. */
export function datasetView(dataset: DatasetRecord) {
  return {
    name: dataset.name,
    description: dataset.description,
    contract: { name: dataset.contract.name, version: dataset.contract.version },
    key: dataset.keyFields,
    event_time: dataset.eventTimeField,
    window_seconds: dataset.windowSeconds,
    allowed_lateness_seconds: dataset.allowedLatenessSeconds,
    transforms: dataset.transforms,
    nats_subject: dataset.natsSubject,
    watermark: isoOrNull(dataset.watermark),
    created_by: dataset.createdBy,
    created_at: iso(dataset.createdAt),
    updated_at: iso(dataset.updatedAt),
  };
}

/** A batch's counts as the JSON API shows them. */
export function countsView(counts: BatchRecord['counts']) {
  return {
    read: counts.read,
    accepted: counts.accepted,
    quarantined: counts.quarantined,
    duplicates: counts.duplicates,
    late: counts.late,
    too_late: counts.tooLate,
  };
}

/** An ingestion batch as the JSON API shows it. */
export function batchView(batch: BatchRecord) {
  return {
    id: batch.id,
    dataset: batch.datasetName,
    source: batch.source,
    content_sha256: batch.contentSha256,
    contract_version: batch.contractVersion,
    status: batch.status,
    counts: countsView(batch.counts),
    error: batch.error,
    created_by: batch.createdBy,
    started_at: iso(batch.startedAt),
    updated_at: iso(batch.updatedAt),
    finished_at: isoOrNull(batch.finishedAt),
  };
}

/** The outcome of an ingestion request. */
export function ingestResultView(result: IngestResult) {
  return {
    ...batchView(result.batch),
    contract: result.contract,
    resumed_from_row: result.resumedFromRow,
    duration_ms: result.durationMs,
  };
}

/** A quarantined row with every reason. */
export function quarantineView(row: QuarantineRecord) {
  return {
    id: row.id,
    batch_id: row.batchId,
    source_ref: row.sourceRef,
    row_number: row.rowNumber,
    raw: row.raw,
    reasons: row.reasons,
    status: row.status,
    created_at: iso(row.createdAt),
    resolved_by: row.resolvedBy,
    resolved_at: isoOrNull(row.resolvedAt),
    resolved_batch_id: row.resolvedBatchId,
  };
}

/** Event-time window counts. */
export function windowView(w: WindowCountsRecord) {
  return { window_start: iso(w.windowStart), rows: w.rows, late: w.late, too_late: w.tooLate };
}
