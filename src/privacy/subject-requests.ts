import type { AuditLog, Principal } from '../security/index.ts';
import { TarmacError } from '../shared/errors.ts';
import type {
  PrivacyStore, SubjectDatasetRow, SubjectFeedbackRow, SubjectPage, SubjectPredictionRow, SubjectQuarantineRow,
} from '../store/index.ts';
import { hashInput, type PiiHasher } from './pii.ts';

/** Everything Tarmac holds about one data subject. */
export interface SubjectExport {
  /** The keyed hash of the subject key (what the audit log records instead of the key). */
  subject_hash: string;
  fields: string[];
  predictions: { id: string; model: string; version: number; created_at: string; inputs: unknown; outputs: unknown }[];
  feedback: { prediction_id: string; label: unknown; created_at: string }[];
  quarantine: { id: number; dataset: string; created_at: string; status: string; raw: unknown; reasons: unknown }[];
  dataset_records: { dataset: string; key: string; data: unknown }[];
  /** True when a table held more matches than one request returns (`maxRows`); run the request again after erasing. */
  truncated: boolean;
}

/** The counts an erasure deleted, per table. */
export interface SubjectErasure {
  subject_hash: string;
  fields: string[];
  deleted: { predictions: number; feedback: number; quarantine: number; dataset_rows: number };
}

const PAGE = 500;

/**
 * Data subject requests: finds a person's records by a subject key — the value of the contract fields marked
 * `tarmac.subject: true`, or of an explicit field — in prediction logs, feedback, quarantine and dataset records,
 * matching the raw value or its keyed hash; exports them as JSON or erases them. Both are audited with the key's
 * keyed hash, never the key.
 */
export class SubjectRequestService {
  constructor(private readonly deps: {
    store: PrivacyStore;
    hasher: PiiHasher;
    audit: AuditLog;
    /** The field names every contract marks as the subject (`tarmac.subject: true`). */
    subjectFields: () => Promise<string[]>;
    /** Most rows per table one request returns or erases (default 10,000). */
    maxRows?: number;
  }) {}

  /** Everything held about the subject; audited. Throws VALIDATION_FAILED for a malformed key or field. */
  async export(subject: unknown, field: unknown, by: Principal): Promise<SubjectExport> {
    const found = await this.find(subject, field);
    const view: SubjectExport = {
      subject_hash: found.hash,
      fields: found.fields,
      predictions: found.predictions.map((p) => ({ id: p.id, model: p.model, version: p.version, created_at: iso(p.createdAt), inputs: p.inputs, outputs: p.outputs })),
      feedback: found.feedback.map((f) => ({ prediction_id: f.predictionId, label: f.label, created_at: iso(f.createdAt) })),
      quarantine: found.quarantine.map((q) => ({ id: q.id, dataset: q.dataset, created_at: iso(q.createdAt), status: q.status, raw: q.raw, reasons: q.reasons })),
      dataset_records: found.datasetRows.map((r) => ({ dataset: r.dataset, key: r.recordKey, data: r.data })),
      truncated: found.truncated,
    };
    await this.deps.audit.record(by, 'privacy.export', `subject:${found.hash}`, {
      subject_hash: found.hash, fields: found.fields,
      counts: { predictions: view.predictions.length, feedback: view.feedback.length, quarantine: view.quarantine.length, dataset_rows: view.dataset_records.length },
    });
    return view;
  }

  /** Deletes everything held about the subject and records the counts (never the key); audited. */
  async erase(subject: unknown, field: unknown, by: Principal): Promise<SubjectErasure> {
    const found = await this.find(subject, field);
    // The erasure and the record that it happened commit together.
    const deleted = await this.deps.audit.atomically(async () => {
      const counts = await this.deps.store.eraseRows({
        predictions: found.predictions.map((p) => p.id),
        quarantine: found.quarantine.map((q) => q.id),
        datasetRows: found.datasetRows.map((r) => r.seq),
      });
      await this.deps.audit.record(by, 'privacy.erase', `subject:${found.hash}`, { subject_hash: found.hash, fields: found.fields, deleted: counts, truncated: found.truncated });
      return counts;
    });
    return { subject_hash: found.hash, fields: found.fields, deleted };
  }

  private async find(subject: unknown, field: unknown) {
    if (typeof subject !== 'string' || subject.length === 0 || subject.length > 1000) {
      throw new TarmacError('VALIDATION_FAILED', 'subject must be the subject key, a string of 1 to 1000 characters', {
        issues: [{ field: '/subject', rule: subject === undefined ? 'required' : 'length', message: 'must be a string of 1 to 1000 characters' }],
      });
    }
    if (field !== undefined && (typeof field !== 'string' || field.length === 0 || field.length > 200)) {
      throw new TarmacError('VALIDATION_FAILED', 'field must be a field name', { issues: [{ field: '/field', rule: 'type', message: 'must be a field name of 1 to 200 characters' }] });
    }
    // Without a field named or marked, only answers the client logged with the key (`subjects`) can match.
    const fields = field !== undefined ? [field as string] : await this.deps.subjectFields();
    const hash = this.deps.hasher.hash(subject);
    // Stored JSON holds the key either raw (a string or a number) or as its keyed hash: any of them narrows the scan.
    const needles = [...new Set([hash, subject, JSON.stringify(subject).slice(1, -1)])];
    const matches = (record: unknown): boolean => {
      if (typeof record !== 'object' || record === null || Array.isArray(record)) return false;
      return fields.some((f) => {
        const v = (record as Record<string, unknown>)[f];
        return v !== null && v !== undefined && (v === hash || hashInput(v) === subject);
      });
    };
    const max = this.deps.maxRows ?? 10_000;
    let truncated = false;
    const collect = async <T, C>(page: (after: C | null) => Promise<SubjectPage<T>>, keep: (row: T) => boolean): Promise<T[]> => {
      const out: T[] = [];
      let after: C | null = null;
      for (;;) {
        const { rows, next } = await page(after);
        for (const r of rows) if (keep(r)) out.push(r);
        if (out.length >= max) {
          truncated = true;
          return out.slice(0, max);
        }
        if (next === null) return out;
        after = next as C;
      }
    };
    // A logged answer is the subject's when a subject field of its inputs matches or the client sent the key with it.
    const sentWith = (outputs: unknown) => typeof outputs === 'object' && outputs !== null && (outputs as { subject?: unknown }).subject === hash;
    const predictions = await collect<SubjectPredictionRow, string>((a) => this.deps.store.searchPredictions(needles, a, PAGE), (p) => matches(p.inputs) || sentWith(p.outputs));
    const feedback: SubjectFeedbackRow[] = await this.deps.store.feedbackOf(predictions.map((p) => p.id));
    const quarantine = await collect<SubjectQuarantineRow, number>((a) => this.deps.store.searchQuarantine(needles, a, PAGE), (q) => matches(q.raw));
    const datasetRows = await collect<SubjectDatasetRow, number>((a) => this.deps.store.searchDatasetRows(needles, a, PAGE), (r) => matches(r.data));
    return { hash, fields, predictions, feedback, quarantine, datasetRows, truncated };
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
