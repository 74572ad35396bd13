import type { AuditLog, Principal } from '../security/index.ts';
import { SYSTEM_PRINCIPAL } from '../security/index.ts';
import { PeriodicJob } from '../shared/periodic-job.ts';
import type { Clock } from '../shared/clock.ts';
import { TarmacError, type FieldIssue } from '../shared/errors.ts';
import { newTimeOrderedId } from '../shared/ids.ts';
import type { Logger } from '../shared/logger.ts';
import type { PrivacyStore } from '../store/index.ts';

/** What a retention policy covers, per scope: the kinds of data it sets a period for. */
export const RETENTION_KINDS = {
  model: ['predictions_days', 'feedback_days'],
  dataset: ['records_days', 'quarantine_days', 'batches_days'],
} as const;

/** A scope a retention policy applies to. */
export type RetentionScope = keyof typeof RETENTION_KINDS;

/**
 * A retention policy as the API shows it: per kind, days to keep (0: keep forever) or null (the global default);
 * `effective` resolves nulls against the default (null there: kept forever).
 */
export interface RetentionView {
  scope: RetentionScope;
  name: string;
  settings: Record<string, number | null>;
  effective: Record<string, number | null>;
  default_days: number | null;
  updated_by: string | null;
  updated_at: string | null;
}

const MAX_DAYS = 36_500;
const DAY_MS = 86_400_000;

/** Validates a retention body; throws VALIDATION_FAILED naming each bad field. */
export function parseRetention(scope: RetentionScope, body: unknown): Record<string, number | null> {
  const kinds: readonly string[] = RETENTION_KINDS[scope];
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new TarmacError('VALIDATION_FAILED', 'the retention policy must be an object', { issues: [{ field: '/', rule: 'type', message: `must be an object with ${kinds.join(', ')}` }] });
  }
  const issues: FieldIssue[] = [];
  const out: Record<string, number | null> = {};
  for (const [key, value] of Object.entries(body)) {
    if (!kinds.includes(key)) {
      issues.push({ field: `/${key}`, rule: 'unknown_field', message: `is not a retention setting of a ${scope} (allowed: ${kinds.join(', ')})` });
    } else if (value === null) {
      out[key] = null;
    } else if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_DAYS) {
      issues.push({ field: `/${key}`, rule: 'range', message: `must be an integer number of days from 0 (keep forever) to ${MAX_DAYS}, or null (the default)` });
    } else {
      out[key] = value;
    }
  }
  if (issues.length > 0) throw new TarmacError('VALIDATION_FAILED', `the retention policy is not valid: ${issues.map((i) => `${i.field} ${i.message}`).join('; ')}`, { issues });
  for (const k of kinds) if (!(k in out)) out[k] = null;
  return out;
}

/** Days a kind is kept: the policy's own setting, else the default; null (or 0) means kept forever. */
function effectiveDays(setting: unknown, defaultDays: number | undefined): number | null {
  const days = typeof setting === 'number' ? setting : defaultDays ?? null;
  return days === null || days === 0 ? null : days;
}

/** Retention periods per model and per dataset, stored and audited. */
export class RetentionService {
  constructor(private readonly deps: {
    store: PrivacyStore;
    audit: AuditLog;
    clock: Clock;
    /** The global default in days (TARMAC_RETENTION_DAYS); undefined: kept forever unless a policy says otherwise. */
    defaultDays: number | undefined;
    /** Checks that the model or dataset exists; throws its NOT_FOUND error. */
    exists: (scope: RetentionScope, name: string) => Promise<void>;
  }) {}

  /** The policy of a model or dataset (all defaults when none was set). Throws the owner's NOT_FOUND. */
  async get(scope: RetentionScope, name: string): Promise<RetentionView> {
    await this.deps.exists(scope, name);
    return this.view(scope, name, await this.deps.store.getRetention(scope, name));
  }

  /** Replaces the policy of a model or dataset; audited. Throws VALIDATION_FAILED or the owner's NOT_FOUND. */
  async put(scope: RetentionScope, name: string, body: unknown, by: Principal): Promise<RetentionView> {
    const settings = parseRetention(scope, body);
    await this.deps.exists(scope, name);
    const row = { scope, name, settings, updatedBy: by.id, updatedAt: this.deps.clock.now() };
    const before = await this.deps.store.getRetention(scope, name);
    await this.deps.audit.atomically(async () => {
      await this.deps.store.putRetention(row);
      await this.deps.audit.record(by, `retention.${scope}.set`, `${scope}:${name}`, { settings, before: before?.settings ?? null });
    });
    return this.view(scope, name, row);
  }

  /** The days each kind of a model or dataset is kept (null: forever), resolved against the default. */
  async effective(scope: RetentionScope, name: string): Promise<Record<string, number | null>> {
    const row = await this.deps.store.getRetention(scope, name);
    return Object.fromEntries(RETENTION_KINDS[scope].map((k) => [k, effectiveDays(row?.settings[k], this.deps.defaultDays)]));
  }

  private view(scope: RetentionScope, name: string, row: { settings: Record<string, unknown>; updatedBy: string; updatedAt: number } | undefined): RetentionView {
    const settings = Object.fromEntries(RETENTION_KINDS[scope].map((k) => [k, typeof row?.settings[k] === 'number' ? row.settings[k] : null]));
    return {
      scope, name, settings,
      effective: Object.fromEntries(RETENTION_KINDS[scope].map((k) => [k, effectiveDays(settings[k], this.deps.defaultDays)])),
      default_days: this.deps.defaultDays ?? null,
      updated_by: row?.updatedBy ?? null,
      updated_at: row ? new Date(row.updatedAt).toISOString() : null,
    };
  }
}

/** What one janitor run deleted, per model or dataset and kind, with the cut-off applied. */
export interface RetentionRunReport {
  at: string;
  deleted: { scope: RetentionScope; name: string; kind: string; days: number; cutoff: string; rows: number; feedback_with_predictions?: number; complete: boolean }[];
}

/**
 * Enforces retention: on an interval, the replica holding the lease deletes what is older than each period, in
 * bounded batches (at most `maxBatchesPerRun` statements per kind per run, so one run never holds the store for
 * long; what is left is deleted by the next run). Each run that had a period to enforce is audited.
 */
export class RetentionJanitor {
  private readonly job = new PeriodicJob(() => this.enforce(), (err: unknown) => this.deps.log.error({ err }, 'retention run failed'));
  private readonly holder = newTimeOrderedId();

  constructor(private readonly deps: {
    store: PrivacyStore;
    retention: RetentionService;
    audit: AuditLog;
    clock: Clock;
    log: Logger;
    /** Takes the named lease until `until` when free, expired or ours (RolloutStore.acquireLease). */
    acquireLease: (name: string, holder: string, now: number, until: number) => Promise<boolean>;
    batchSize: number;
    maxBatchesPerRun?: number;
    leaseMs?: number;
  }) {}

  /** Runs every `intervalMs` (the first run after one interval); the timer does not keep the process alive. */
  start(intervalMs: number): void {
    this.job.start(intervalMs);
  }

  /** One run, unless another replica holds the lease (undefined then, or when no period applies anywhere). */
  runOnce(): Promise<RetentionRunReport | undefined> {
    return this.job.run();
  }

  /** Stops the timer and waits for a run in progress. */
  async close(): Promise<void> {
    await this.job.stop();
  }

  private async enforce(): Promise<RetentionRunReport | undefined> {
    const now = this.deps.clock.now();
    if (!(await this.deps.acquireLease('retention-janitor', this.holder, now, now + (this.deps.leaseMs ?? 600_000)))) return undefined;
    const report: RetentionRunReport = { at: new Date(now).toISOString(), deleted: [] };
    let enforced = false;
    for (const model of await this.deps.store.modelNames()) {
      const days = await this.deps.retention.effective('model', model);
      const feedbackDays = days.feedback_days ?? null;
      const predictionDays = days.predictions_days ?? null;
      if (feedbackDays !== null) {
        enforced = true;
        const cutoff = now - feedbackDays * DAY_MS;
        const { rows, complete } = await this.drain((limit) => this.deps.store.deleteFeedbackBefore(model, cutoff, limit));
        report.deleted.push({ scope: 'model', name: model, kind: 'feedback', days: feedbackDays, cutoff: new Date(cutoff).toISOString(), rows, complete });
      }
      if (predictionDays !== null) {
        enforced = true;
        const cutoff = now - predictionDays * DAY_MS;
        let feedback = 0;
        const { rows, complete } = await this.drain(async (limit) => {
          const deleted = await this.deps.store.deletePredictionsBefore(model, cutoff, limit);
          feedback += deleted.feedback;
          return deleted.predictions;
        });
        report.deleted.push({ scope: 'model', name: model, kind: 'predictions', days: predictionDays, cutoff: new Date(cutoff).toISOString(), rows, feedback_with_predictions: feedback, complete });
      }
    }
    for (const dataset of await this.deps.store.datasetIds()) {
      const days = await this.deps.retention.effective('dataset', dataset.name);
      const kinds: [string, number | null, (cutoff: number, limit: number) => Promise<number>][] = [
        ['records', days.records_days ?? null, (c, l) => this.deps.store.deleteDatasetRowsBefore(dataset.id, c, l)],
        ['quarantine', days.quarantine_days ?? null, (c, l) => this.deps.store.deleteQuarantineBefore(dataset.id, c, l)],
        // Batches last: only those no stored or quarantined row refers to any more are deleted.
        ['batches', days.batches_days ?? null, (c, l) => this.deps.store.deleteBatchesBefore(dataset.id, c, l)],
      ];
      for (const [kind, d, remove] of kinds) {
        if (d === null) continue;
        enforced = true;
        const cutoff = now - d * DAY_MS;
        const { rows, complete } = await this.drain((limit) => remove(cutoff, limit));
        report.deleted.push({ scope: 'dataset', name: dataset.name, kind, days: d, cutoff: new Date(cutoff).toISOString(), rows, complete });
      }
    }
    if (!enforced) return undefined;
    const total = report.deleted.reduce((n, d) => n + d.rows, 0);
    await this.deps.audit.record(SYSTEM_PRINCIPAL, 'retention.run', 'retention', { total, deleted: report.deleted });
    if (total > 0) this.deps.log.info({ total }, 'retention run deleted expired data');
    return report;
  }

  /** Deletes batch after batch until one comes back short or the per-run bound is reached. */
  private async drain(remove: (limit: number) => Promise<number>): Promise<{ rows: number; complete: boolean }> {
    const limit = this.deps.batchSize;
    let rows = 0;
    for (let i = 0; i < (this.deps.maxBatchesPerRun ?? 100); i++) {
      const n = await remove(limit);
      rows += n;
      if (n < limit) return { rows, complete: true };
    }
    return { rows, complete: false };
  }
}
