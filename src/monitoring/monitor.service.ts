import type { AuditLog, Principal } from '../security/index.ts';
import type { Clock } from '../shared/clock.ts';
import { TarmacError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import type {
  AlertConfigStore, DatasetStore, ModelStore, MonitorStore, MonitorWindowRecord, PredictionRecord, VersionRecord,
} from '../store/index.ts';
import { REFERENCE_MAX_ROWS, referenceFromRows } from './reference.ts';
import { profileDrift } from './drift/profile-drift.ts';
import type { ProfileDriftOptions } from './drift/profile-drift.ts';
import { DRIFT_METHODS } from './drift/report.ts';
import type { DriftMethod } from './drift/report.ts';
import type { DriftReport } from './drift/report.ts';
import { compileBusinessMetrics } from './business-metrics.ts';
import type { BusinessMetricSpec, CompiledBusinessMetric } from './business-metrics.ts';
import type { MonitorMetrics } from './monitor-metrics.ts';
import {
  Adwin, CbpeAccumulator, CbpeCalibration, ClassificationAccumulator, compareToBaseline, fitCbpeCalibration, PageHinkley,
  RegressionAccumulator,
} from './performance/index.ts';
import type { Label } from './performance/index.ts';
import {
  buildReferenceDatasetProfile, categoricalSpec, DatasetProfile as DatasetProfileClass, datasetProfileBuilder,
  datasetProfileFromJSON, mergeDatasetProfiles, numericSpec,
} from './profile/index.ts';
import type { DatasetProfile, DatasetProfileBuilder, DatasetSpec } from './profile/index.ts';

/** The output columns a window profiles beside the features. */
export const OUTPUT_PREDICTION = 'output.prediction';
export const OUTPUT_CONFIDENCE = 'output.confidence';
/** The request latency column a window profiles (milliseconds). */
export const SYSTEM_LATENCY = 'system.latency_ms';
const OUTPUT_COLUMNS = [OUTPUT_PREDICTION, OUTPUT_CONFIDENCE];

/** Scores records with a version, unlogged (PredictService.scoreUnlogged). */
export type ReferenceScorer = (version: VersionRecord, records: readonly Record<string, unknown>[]) => Promise<{ prediction?: unknown; value?: unknown; probabilities?: Record<string, number> }[]>;

/** Data quality of one window, per feature and overall. */
export interface WindowQuality {
  rows: number;
  /** Events profiled: all of them, or a uniform sample in busy windows (drift and rates are computed on these). */
  profiled_rows: number;
  /** Per feature: null share, invalid share, share outside the reference's categories or [min, max]. */
  features: Record<string, { null_rate: number; invalid_rate: number; unseen_category_rate?: number; out_of_range_rate?: number }>;
  /** Records ÷ the mean of the previous closed windows of the same variant (null before there are any). */
  volume_ratio: number | null;
  /** Contract outcomes at the serving edge: shares of profiled records imputed or answered by the fallback, and every violation (rejected ones too) by `field:rule`. */
  contract: { imputed_rate: number; fallback_rate: number; by_field_rule: Record<string, number> };
}

/** System health of one window (from the prediction events). */
export interface WindowSystem {
  throughput_per_s: number;
  /** Refused or failed requests in the window, by error code. */
  errors?: { total: number; by_code: Record<string, number> };
  latency_ms: { p50: number | null; p90: number | null; p99: number | null; mean: number | null };
  /** For a shadow variant: its answers compared with the answers returned, and how many differed. */
  shadow?: { compared: number; disagreements: number };
}

/** What the monitor concluded about one window. */
export interface WindowSummary {
  model: string;
  version: number;
  variant: string;
  window_start: string;
  window_seconds: number;
  rows: number;
  closed: boolean;
  drift: DriftReport | null;
  quality: WindowQuality;
  /** Performance from the labels received so far for this window's predictions (null before any). */
  performance: WindowPerformance | null;
  /** Drift of the model's outputs (predicted label or value, confidence) against the reference's scored sample. */
  prediction_drift: DriftReport | null;
  /** Classifier performance estimated without labels from calibrated confidences (CBPE), when the reference had labels. */
  estimated_performance: Record<string, number | null> | null;
  system: WindowSystem;
  /** The model's business metrics over this window (mean or sum; null without values). */
  business: Record<string, number | null>;
}

/** Label-based performance of one window, against the version's registered metrics. */
export interface WindowPerformance {
  task: 'classification' | 'regression';
  /** Labelled predictions. */
  labels: number;
  /** accuracy, precision, recall, f1, roc_auc, log_loss (classifiers); mae, rmse, mse, r2 (regressors); null when undefined. */
  metrics: Record<string, number | null>;
  /** Metrics that got worse than the version's registered metrics by more than the tolerance. */
  degraded: string[];
  /** The streaming detector (ADWIN on the 0/1 error stream, Page-Hinkley on absolute errors) saw a change in this window. */
  concept_drift: boolean;
}

/** A ground-truth label joined to its logged prediction (what FeedbackService hands over). */
export interface LabelledPrediction {
  prediction: PredictionRecord;
  label: unknown;
}

interface PerformanceState {
  key: string;
  model: string;
  version: number;
  variant: string;
  start: number;
  task: 'classification' | 'regression';
  classification?: ClassificationAccumulator;
  regression?: RegressionAccumulator;
  conceptDrift: boolean;
  dirty: boolean;
  baseline: Record<string, number>;
  business: Map<string, { sum: number; n: number }>;
}

interface Context {
  version: VersionRecord;
  reference: DatasetProfile | null;
  /** CBPE calibration and the positive class, when the reference sample had labels (binary classifiers). */
  cbpe: { calibration: CbpeCalibration; positive: string } | null;
  business: CompiledBusinessMetric[];
  drift: ProfileDriftOptions;
  spec: DatasetSpec;
  features: string[];
  ranges: Map<string, { min: number; max: number }>;
}

interface WindowState {
  key: string;
  model: string;
  version: number;
  variant: string;
  start: number;
  builder: DatasetProfileBuilder;
  /**
   * Events seen (all of them), and events profiled (a sample of them at `rate`). `rate` starts from the variant's
   * past windows and is re-estimated from the pace of this window every RATE_CHECK_EVERY events (adaptRate).
   */
  rows: number;
  profiled: number;
  rate: number;
  random: number;
  /** When (epoch ms) and at which `rows` the pace was last measured, and at which `rows` it is measured next. */
  paceAt: number;
  paceRows: number;
  nextRateCheck: number;
  outOfRange: Map<string, number>;
  imputed: number;
  fallback: number;
  cbpe: CbpeAccumulator | null;
  /** Per business metric over the profiled events: the sum and count, and the sum weighted by 1/rate (Horvitz–Thompson). */
  business: Map<string, { sum: number; n: number; scaled: number }>;
  /** Shadow answers compared with the answer returned (every one, not only the profiled sample). */
  shadow: { compared: number; disagreements: number };
  /** What a previous run of this replica stored for the same window before a restart (merged in at close). */
  base: { profile: DatasetProfile; rows: number; shadow?: { compared: number; disagreements: number } } | null;
}

const MAX_QUEUED_ROWS = 200_000;
/** How often (in events) an open window re-estimates its sampling rate from its own pace. */
const RATE_CHECK_EVERY = 512;
/** The pace of a window is measured over at least this long (else over more events). */
const RATE_MIN_ELAPSED_MS = 50;
/** However busy a window turns out, at least this share of maxProfiledRows is spread over what is left of it. */
const RATE_FLOOR_SHARE = 0.1;
/**
 * However the budget is spread, a window never profiles faster than this many times its even share per second
 * (maxProfiledRows over the window's length): a burst, a first window that starts late, or what is left of a window
 * after a restart would otherwise spend the whole budget in seconds, on the event loop that answers requests.
 */
const RATE_BURST_FACTOR = 4;
/** Windows whose performance is kept in memory for late labels. */
const MAX_PERFORMANCE_WINDOWS = 2_000;
/** Names people register metrics under, mapped to the monitor's. */
const METRIC_ALIASES: Record<string, string> = { auc: 'roc_auc', roc: 'roc_auc', logloss: 'log_loss', f1_score: 'f1', r_squared: 'r2' };
/** Directions of the snake_case metric names the monitor reports. */
const SNAKE_CASE_DIRECTIONS = { roc_auc: 'higher', log_loss: 'lower' } as const;
/** Labels a window needs before its metrics are compared with the baseline and exported. */
const MIN_LABELS_FOR_BASELINE = 30;
const VOLUME_HISTORY = 12;

/**
 * The live monitor: consumes prediction events (as the prediction log writes them) into tumbling windows per model,
 * version and variant, each a mergeable profile of the features and outputs with bounded memory; when a window
 * closes it is compared with the version's reference profile (drift per feature, dataset drift share), its data
 * quality is summarised, it is stored, the gauges are set and listeners (alerts) are told.
 */
export class MonitorService {
  private readonly contexts = new Map<string, Promise<Context>>();
  private readonly ready = new Map<string, Context>();
  private readonly open = new Map<string, WindowState>();
  private readonly history = new Map<string, number[]>();
  private readonly performance = new Map<string, PerformanceState>();
  private readonly detectors = new Map<string, { update(x: number): { drift: boolean } }>();
  private labelQueue: LabelledPrediction[] = [];
  private readonly errors = new Map<string, Map<string, number>>();
  private readonly violations = new Map<string, Map<string, number>>();
  private skippedLabels = 0;
  private queue: PredictionRecord[] = [];
  private draining: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private dropped = 0;
  private readonly windowMs: number;
  private readonly graceMs: number;
  private readonly maxProfiledRows: number;
  private readonly replica: string;

  constructor(
    private readonly deps: {
      store: MonitorStore;
      /** Where business metric definitions are kept. */
      settings: Pick<AlertConfigStore, 'getSetting' | 'putSetting'>;
      models: Pick<ModelStore, 'getVersion'>;
      audit: AuditLog;
      clock: Clock;
      log: Logger;
      metrics?: MonitorMetrics;
      /** Window size (default 300 s). */
      windowSeconds: number;
      /** How long after its end a window waits for late events before it closes (default 10 s). */
      graceSeconds?: number;
      /** Events profiled per window at most (about): busier windows profile a uniform sample (default 20,000). */
      maxProfiledRows?: number;
      /** This replica's stable name: each replica stores its own part of a window, and readers merge the parts. */
      replica?: string;
      /** Dataset batches a reference can be built from. */
      datasets?: Pick<DatasetStore, 'getBatch' | 'readRows'>;
      /** Scores reference samples so outputs get a reference too (prediction drift, CBPE). */
      score?: ReferenceScorer;
      /** Told of every closed window, after it is stored (alerts evaluate here). */
      onWindowClosed?: (summary: WindowSummary) => void | Promise<void>;
      /**
       * The PII features of a version (from its contract): they are left out of references, windows and reports, so
       * no category count, quantile sketch or sample of a personal value is ever stored.
       */
      piiFields?: (model: string, version: number) => Promise<ReadonlySet<string>>;
    },
  ) {
    this.windowMs = deps.windowSeconds * 1000;
    this.graceMs = (deps.graceSeconds ?? 10) * 1000;
    this.maxProfiledRows = deps.maxProfiledRows ?? 20_000;
    this.replica = deps.replica ?? '';
  }

  /** Takes answered records (never blocks; beyond a bounded queue they are dropped and counted). */
  observe(rows: readonly PredictionRecord[]): void {
    if (this.queue.length + rows.length > MAX_QUEUED_ROWS) {
      this.dropped += rows.length;
      return;
    }
    for (const r of rows) this.queue.push(r);
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
  }

  /**
   * Takes ground-truth labels joined to their predictions: each updates the performance of the window its
   * prediction fell in (even after that window closed) and the variant's concept-drift detector.
   */
  observeLabels(pairs: readonly LabelledPrediction[]): void {
    if (this.labelQueue.length + pairs.length > MAX_QUEUED_ROWS) {
      this.dropped += pairs.length;
      return;
    }
    for (const p of pairs) this.labelQueue.push(p);
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
  }

  /** Counts a refused or failed request in its window (by error code). */
  observeError(e: { model: string; version: number; variant: string; code: string; at: number }): void {
    countIn(this.errors, this.windowKey(e), e.code);
  }

  /** Counts a contract violation at the serving edge in its window (by field and rule), whatever the policy did. */
  observeViolation(e: { model: string; version: number; variant: string; field: string; rule: string; at: number }): void {
    countIn(this.violations, this.windowKey(e), `${e.field}:${e.rule}`);
  }

  private windowKey(e: { model: string; version: number; variant: string; at: number }): string {
    const start = Math.floor(e.at / this.windowMs) * this.windowMs;
    return `${e.model}\u0000${e.version}\u0000${e.variant}\u0000${start}`;
  }

  /** Labels that could not be scored (a label of another type than the predictions, a non-numeric regression label). */
  get skippedLabelCount(): number {
    return this.skippedLabels;
  }

  /** Resolves once every observed record is in a window (tests and shutdown). */
  async settle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /** Records dropped because the monitor fell behind. */
  get droppedRows(): number {
    return this.dropped;
  }

  /** Starts closing due windows every `intervalMs`. */
  start(intervalMs = 5_000): void {
    this.timer ??= setInterval(() => void this.tick().catch((err: unknown) => this.deps.log.error({ err }, 'monitor tick failed')), intervalMs);
    this.timer.unref();
  }

  /** Closes the windows whose end (plus the grace period) has passed; returns their summaries. */
  async tick(now = this.deps.clock.now()): Promise<WindowSummary[]> {
    await this.settle();
    const due = [...this.open.values()].filter((w) => w.start + this.windowMs + this.graceMs <= now).sort((a, b) => a.start - b.start);
    const out: WindowSummary[] = [];
    for (const w of due) out.push(await this.closeWindow(w, true));
    // Labels for windows that had already closed: their performance is updated and announced like a closing.
    for (const summary of await this.flushPerformance()) {
      this.publish(summary);
      await this.notify(summary);
      out.push(summary);
    }
    return out;
  }

  /** Stops the timer and stores every open window as it stands (not closed), so a restart loses no counts. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.settle();
    for (const w of [...this.open.values()]) await this.closeWindow(w, false).catch((err: unknown) => this.deps.log.error({ err }, 'could not store an open window'));
  }

  /**
   * Sets a version's reference profile (features; `DatasetProfile.toJSON()`), audited. With a sample of reference
   * records the version scores them, so its outputs get a reference too (prediction drift); with their labels too, a
   * binary classifier gets a CBPE calibration (performance estimated without labels). Throws
   * REGISTRY_VERSION_NOT_FOUND, VALIDATION_FAILED for a malformed profile, columns that are not the version's
   * features or a sample that does not fit, or SERVING_INPUT_INVALID from the model.
   */
  async setReference(model: string, version: number, profileJson: unknown, source: string, by: Principal, sample?: { records: Record<string, unknown>[]; labels?: unknown[] }): Promise<{ rows: number; columns: string[]; calibrated: boolean | null }> {
    const record = await this.deps.models.getVersion(model, version);
    if (!record) {
      throw new TarmacError('REGISTRY_VERSION_NOT_FOUND', `model ${model} has no version ${version}`, { details: { model, version } });
    }
    let profile = datasetProfileFromJSON(profileJson);
    const pii = await this.deps.piiFields?.(model, version) ?? new Set<string>();
    if (pii.size > 0) profile = new DatasetProfileClass(profile.rows, new Map([...profile.columns].filter(([name]) => !pii.has(name))));
    const features = new Set(record.signature.features.map((f) => f.name));
    const unknown = [...profile.columns.keys()].filter((c) => !features.has(c));
    if (unknown.length > 0) {
      throw new TarmacError('VALIDATION_FAILED', `the reference profile has columns that are not features of ${model} v${version}: ${unknown.join(', ')}`, {
        issues: unknown.map((c) => ({ field: `/profile/columns/${c}`, rule: 'feature', message: 'is not a feature of the version' })),
      });
    }
    let calibration: CbpeCalibration | null = null;
    if (sample && sample.records.length > 0 && this.deps.score) {
      if (sample.labels !== undefined && sample.labels.length !== sample.records.length) {
        throw new TarmacError('VALIDATION_FAILED', 'the sample needs one label per record', {
          issues: [{ field: '/sample/labels', rule: 'length', message: `has ${sample.labels.length} labels for ${sample.records.length} records` }],
        });
      }
      const outputs = await this.deps.score(record, sample.records);
      const classifier = record.signature.task === 'classification';
      const outputRows = outputs.map((o) => ({
        [OUTPUT_PREDICTION]: classifier ? o.prediction : (o.value ?? o.prediction),
        [OUTPUT_CONFIDENCE]: o.probabilities ? Math.max(...Object.values(o.probabilities)) : null,
      }));
      const outputProfile = buildReferenceDatasetProfile(outputRows, classifier
        ? { [OUTPUT_PREDICTION]: 'categorical', [OUTPUT_CONFIDENCE]: 'numeric' }
        : { [OUTPUT_PREDICTION]: 'numeric' });
      profile = new DatasetProfileClass(profile.rows, new Map([...profile.columns, ...outputProfile.columns]));
      const labels = record.signature.classLabels?.map(String) ?? [];
      if (classifier && sample.labels && labels.length === 2 && outputs.every((o) => o.probabilities)) {
        const positive = labels[1]!;
        calibration = fitCbpeCalibration(outputs.map((o) => o.probabilities![positive] ?? 0), sample.labels.map((l) => String(l) === positive));
      }
    }
    const text = JSON.stringify(profile.toJSON());
    const stored = calibration ? JSON.stringify({ ...JSON.parse(text) as object, cbpe: { calibration: calibration.toJSON(), positive: record.signature.classLabels![1] } }) : text;
    await this.deps.audit.atomically(async () => {
      await this.deps.store.putReference({ model, version, rows: profile.rows, profile: stored, source, createdAt: this.deps.clock.now() });
      await this.deps.audit.record(by, 'monitor.reference.set', `model:${model}/${version}`, {
        rows: profile.rows, columns: [...profile.columns.keys()], source, scored_sample: sample?.records.length ?? 0, cbpe: calibration !== null,
      });
    });
    this.contexts.delete(`${model}\u0000${version}`);
    this.ready.delete(`${model}\u0000${version}`);
    return { rows: profile.rows, columns: [...profile.columns.keys()], calibrated: calibration ? calibration.calibrated : null };
  }

  /**
   * Replaces a model's business metrics (validated whole, stored, audited); windows opened from now on compute them.
   * Throws VALIDATION_FAILED naming each bad field.
   */
  async setBusinessMetrics(model: string, input: unknown, by: Principal): Promise<BusinessMetricSpec[]> {
    const compiled = compileBusinessMetrics(input);
    const specs = compiled.map((c) => c.spec);
    await this.deps.audit.atomically(async () => {
      const before = await this.deps.settings.getSetting(`business:${model}`);
      await this.deps.settings.putSetting(`business:${model}`, JSON.stringify(specs), by.id, this.deps.clock.now());
      await this.deps.audit.record(by, 'monitor.business_metrics.set', `model:${model}`, {
        metrics: specs.map((m) => m.name), before: before ? JSON.parse(before.document) as unknown : null, after: specs,
      });
    });
    for (const key of [...this.contexts.keys()]) {
      if (key.startsWith(`${model}\u0000`)) {
        this.contexts.delete(key);
        this.ready.delete(key);
      }
    }
    return specs;
  }

  /**
   * Sets how a model's windows are compared with the reference: a method and threshold for every feature, per-feature
   * overrides, and the dataset drift share (validated, stored, audited). Throws VALIDATION_FAILED naming each bad field.
   */
  async setDriftSettings(model: string, input: unknown, by: Principal): Promise<ProfileDriftOptions> {
    const settings = parseDriftSettings(input);
    await this.deps.audit.atomically(async () => {
      const before = await this.deps.settings.getSetting(`drift:${model}`);
      await this.deps.settings.putSetting(`drift:${model}`, JSON.stringify(settings), by.id, this.deps.clock.now());
      await this.deps.audit.record(by, 'monitor.drift_settings.set', `model:${model}`, {
        ...settings, before: before ? JSON.parse(before.document) as unknown : null, after: settings,
      });
    });
    for (const key of [...this.contexts.keys()]) {
      if (key.startsWith(`${model}\u0000`)) {
        this.contexts.delete(key);
        this.ready.delete(key);
      }
    }
    return settings;
  }

  /** A model's drift settings ({} when it uses the defaults). */
  async driftSettings(model: string): Promise<ProfileDriftOptions> {
    const stored = await this.deps.settings.getSetting(`drift:${model}`);
    return stored ? JSON.parse(stored.document) as ProfileDriftOptions : {};
  }

  /** A model's business metrics. */
  async businessMetrics(model: string): Promise<BusinessMetricSpec[]> {
    const stored = await this.deps.settings.getSetting(`business:${model}`);
    return stored ? JSON.parse(stored.document) as BusinessMetricSpec[] : [];
  }

  /**
   * Builds and sets a version's reference from an ingested dataset batch (its stored rows, up to 200,000), with the
   * label column for CBPE when named. Throws DATASET_BATCH_NOT_FOUND, REGISTRY_VERSION_NOT_FOUND or VALIDATION_FAILED.
   */
  async referenceFromBatch(model: string, version: number, batchId: string, label: string | undefined, by: Principal): Promise<{ rows: number; columns: string[]; calibrated: boolean | null }> {
    const batch = await this.deps.datasets?.getBatch(batchId);
    if (!batch) throw new TarmacError('DATASET_BATCH_NOT_FOUND', `no ingestion batch ${batchId}`, { details: { batch: batchId } });
    const record = await this.deps.models.getVersion(model, version);
    if (!record) throw new TarmacError('REGISTRY_VERSION_NOT_FOUND', `model ${model} has no version ${version}`, { details: { model, version } });
    const rows: Record<string, unknown>[] = [];
    for (let after = 0; rows.length < REFERENCE_MAX_ROWS;) {
      const page = await this.deps.datasets!.readRows(batch.datasetId, after, 5_000);
      for (const r of page) if (r.batchId === batchId && rows.length < REFERENCE_MAX_ROWS) rows.push(r.data);
      if (page.length < 5_000) break;
      after = page.at(-1)!.seq;
    }
    const reference = referenceFromRows(rows, record.signature.features, label);
    return this.setReference(model, version, reference.profile, `dataset:${batch.datasetName}/batch:${batchId}`, by, reference.sample);
  }

  /** A version's reference profile, if it has one. */
  async reference(model: string, version: number): Promise<{ profile: DatasetProfile; source: string; rows: number } | undefined> {
    const r = await this.deps.store.getReference(model, version);
    return r ? { profile: parseReference(r.profile).profile, source: r.source, rows: r.rows } : undefined;
  }

  /** Stored windows of a model, newest first, with the open ones of this replica first. */
  async windows(model: string, options: { version?: number; variant?: string; since?: number; limit: number }): Promise<WindowSummary[]> {
    await this.settle();
    const openOnes = [...this.open.values()]
      .filter((w) => w.model === model && (options.version === undefined || w.version === options.version) && (options.variant === undefined || w.variant === options.variant))
      .sort((a, b) => b.start - a.start);
    const live: WindowSummary[] = [];
    for (const w of openOnes) live.push(await this.summarise(w, false));
    // The live view of a window this replica still has open shows its own part; closed windows merge every replica's.
    const seen = new Set(live.map((s) => `${s.version}/${s.variant}/${s.window_start}`));
    const stored = (await this.mergedWindows(model, await this.deps.store.listWindows(model, { ...options, limit: options.limit * 4 })))
      .map((w) => w.summary)
      .filter((s) => !seen.has(`${s.version}/${s.variant}/${s.window_start}`))
      .sort((a, b) => b.window_start.localeCompare(a.window_start) || a.variant.localeCompare(b.variant));
    return [...live, ...stored].slice(0, options.limit);
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 || this.labelQueue.length > 0) {
      if (this.labelQueue.length > 0) {
        const labels = this.labelQueue;
        this.labelQueue = [];
        for (const pair of labels) {
          try {
            await this.addLabel(pair);
          } catch (err) {
            this.deps.log.error({ err, model: pair.prediction.model }, 'monitor could not take a label');
          }
        }
        continue;
      }
      const rows = this.queue;
      this.queue = [];
      let last: { row: PredictionRecord; ctx: Context; w: WindowState } | undefined;
      for (const row of rows) {
        try {
          // Consecutive rows of one variant in one window (the usual run) reuse the previous row's lookups.
          if (last && row.createdAt >= last.w.start && row.createdAt < last.w.start + this.windowMs && last.row.model === row.model
            && last.row.version === row.version && last.row.variant === row.variant && this.open.get(last.w.key) === last.w) {
            this.record(last.w, last.ctx, row);
            continue;
          }
          // The common case (context loaded, window open) stays synchronous: no promise per event.
          const ctx = this.ready.get(`${row.model}\u0000${row.version}`) ?? await this.context(row.model, row.version);
          if (!ctx) continue;
          const start = Math.floor(row.createdAt / this.windowMs) * this.windowMs;
          const key = `${row.model}\u0000${row.version}\u0000${row.variant}\u0000${start}`;
          const w = this.open.get(key) ?? await this.openWindow(key, row, start, ctx);
          this.record(w, ctx, row);
          last = { row, ctx, w };
        } catch (err) {
          this.deps.log.error({ err, model: row.model }, 'monitor could not take a prediction event');
        }
      }
    }
  }

  private async addLabel({ prediction, label }: LabelledPrediction): Promise<void> {
    const ctx = this.ready.get(`${prediction.model}\u0000${prediction.version}`) ?? await this.context(prediction.model, prediction.version);
    if (!ctx) return;
    const start = Math.floor(prediction.createdAt / this.windowMs) * this.windowMs;
    const key = `${prediction.model}\u0000${prediction.version}\u0000${prediction.variant}\u0000${start}`;
    const task = ctx.version.signature.task === 'regression' ? 'regression' : 'classification';
    let state = this.performance.get(key);
    if (!state) {
      state = {
        key, model: prediction.model, version: prediction.version, variant: prediction.variant, start, task,
        ...(task === 'classification' ? { classification: new ClassificationAccumulator() } : { regression: new RegressionAccumulator() }),
        conceptDrift: false, dirty: false, baseline: ctx.version.metrics, business: new Map(),
      };
      this.performance.set(key, state);
      this.prunePerformance();
    }
    const out = (prediction.outputs ?? {}) as { prediction?: unknown; value?: unknown; probabilities?: Record<string, number> };
    const predicted = out.prediction ?? out.value;
    const detectorKey = `${prediction.model}\u0000${prediction.version}\u0000${prediction.variant}`;
    let error: number;
    try {
      if (state.classification) {
        if (!isLabel(label) || !isLabel(predicted)) throw new Error('not a label');
        state.classification.add(label, predicted, out.probabilities);
        error = String(label) === String(predicted) ? 0 : 1;
      } else {
        const y = typeof label === 'number' ? label : Number(label);
        const yhat = typeof predicted === 'number' ? predicted : Number(predicted);
        if (!Number.isFinite(y) || !Number.isFinite(yhat)) throw new Error('not numeric');
        state.regression!.add(y, yhat);
        error = Math.abs(y - yhat);
      }
    } catch {
      this.skippedLabels++;
      return;
    }
    let detector = this.detectors.get(detectorKey);
    if (!detector) {
      detector = state.classification ? new Adwin() : new PageHinkley();
      this.detectors.set(detectorKey, detector);
    }
    if (detector.update(error).drift) state.conceptDrift = true;
    if (ctx.business.length > 0) {
      const view = { ...businessView(prediction.inputs, out), label };
      for (const m of ctx.business) {
        if (m.spec.source !== 'feedback') continue;
        const v = m.value(view);
        if (v === undefined) continue;
        const acc = state.business.get(m.spec.name) ?? { sum: 0, n: 0 };
        acc.sum += v;
        acc.n++;
        state.business.set(m.spec.name, acc);
      }
    }
    state.dirty = true;
  }

  /** Keeps the performance of the most recent windows only (labels for older ones are still stored as feedback). */
  private prunePerformance(): void {
    if (this.performance.size <= MAX_PERFORMANCE_WINDOWS) return;
    const oldest = [...this.performance.values()].sort((a, b) => a.start - b.start).slice(0, this.performance.size - MAX_PERFORMANCE_WINDOWS);
    for (const s of oldest) this.performance.delete(s.key);
  }

  /** What is stored for a window's performance: the summary plus the accumulator's state, so windows can be rolled up. */
  private storedPerformance(key: string, perf: WindowPerformance | null): unknown {
    const state = this.performance.get(key);
    if (!perf || !state) return perf;
    return { ...perf, accumulator: (state.classification ?? state.regression)!.toJSON() };
  }

  /**
   * Windows rolled up to `sizeSeconds` (a multiple of the window size: 1 h, 1 d): the stored windows of each
   * variant in each period merged — profiles exactly, so drift and rates are those of the whole period — and compared
   * with the reference again; performance from the merged label accumulators. Open windows are left out.
   */
  async rollup(model: string, options: { version?: number; variant?: string; since?: number; sizeSeconds: number; limit: number }): Promise<WindowSummary[]> {
    return (await this.rollupWithProfiles(model, options)).map((w) => w.summary);
  }

  /** rollup(), with each period's merged profile (for the report). */
  async rollupWithProfiles(model: string, options: { version?: number; variant?: string; since?: number; sizeSeconds: number; limit: number }): Promise<{ summary: WindowSummary; profile: DatasetProfile | null }[]> {
    const sizeMs = options.sizeSeconds * 1000;
    if (sizeMs % this.windowMs !== 0 || sizeMs <= this.windowMs) {
      throw new TarmacError('VALIDATION_FAILED', `a rollup size must be a multiple of the window size (${this.windowMs / 1000} s) and larger than it`, {
        issues: [{ field: '/querystring/size', rule: 'multiple', message: `must be a multiple of ${this.windowMs / 1000} seconds` }],
      });
    }
    const per = sizeMs / this.windowMs;
    const stored = await this.deps.store.listWindows(model, { ...options, limit: Math.min(options.limit * per, 20_000) });
    const groups = new Map<string, MonitorWindowRecord[]>();
    for (const r of stored) {
      if (!(JSON.parse(r.quality) as { closed?: boolean }).closed) continue;
      const start = Math.floor(r.windowStart / sizeMs) * sizeMs;
      const key = `${r.version}\u0000${r.variant}\u0000${start}`;
      const list = groups.get(key) ?? [];
      list.push(r);
      groups.set(key, list);
    }
    const out: { summary: WindowSummary; profile: DatasetProfile | null }[] = [];
    for (const [key, records] of groups) {
      const [version, variant, start] = key.split('\u0000');
      const ctx = await this.context(model, Number(version));
      out.push(this.rolledUp(model, Number(version), variant!, Number(start), sizeMs, records, ctx));
    }
    return out.sort((a, b) => b.summary.window_start.localeCompare(a.summary.window_start) || a.summary.variant.localeCompare(b.summary.variant)).slice(0, options.limit);
  }

  private rolledUp(model: string, version: number, variant: string, start: number, sizeMs: number, records: MonitorWindowRecord[], ctx: Context | undefined): { summary: WindowSummary; profile: DatasetProfile | null } {
    let profile: DatasetProfile | undefined;
    for (const r of records) {
      try {
        const p = datasetProfileFromJSON(r.profile);
        profile = profile ? mergeDatasetProfiles(profile, p) : p;
      } catch {
        // a window profiled under another reference cannot merge with the rest; it is left out of the profile
      }
    }
    const rows = records.reduce((a, r) => a + r.rows, 0);
    const summaries = records.map(fromRecord);
    const features: WindowQuality['features'] = {};
    for (const f of ctx?.features ?? []) {
      const col = profile?.column(f);
      if (!col) continue;
      const q: WindowQuality['features'][string] = { null_rate: col.nullRate, invalid_rate: col.invalidRate };
      if (ctx?.reference?.column(f) && col.kind === 'categorical') q.unseen_category_rate = col.valid === 0 ? 0 : col.other / col.valid;
      const parts = summaries.filter((s) => s.quality.features[f]?.out_of_range_rate !== undefined);
      if (parts.length > 0) {
        const weight = parts.reduce((a, s) => a + s.quality.profiled_rows, 0);
        q.out_of_range_rate = weight === 0 ? 0 : parts.reduce((a, s) => a + s.quality.features[f]!.out_of_range_rate! * s.quality.profiled_rows, 0) / weight;
      }
      features[f] = q;
    }
    const drift = ctx?.reference && profile ? profileDrift(ctx.reference, profile, { ...ctx.drift, columns: ctx.features.filter((f) => ctx.reference!.column(f)) }) : null;
    const outputColumns = OUTPUT_COLUMNS.filter((c) => ctx?.reference?.column(c));
    const predictionDrift = ctx?.reference && profile && outputColumns.length > 0 ? profileDrift(ctx.reference, profile, { ...ctx.drift, columns: outputColumns }) : null;
    const latency = profile?.column(SYSTEM_LATENCY);
    const q = (x: number) => (latency && latency.kind === 'numeric' && latency.valid > 0 ? latency.quantile(x) : null);
    // Performance: the windows' label accumulators merged.
    let performance: WindowPerformance | null = null;
    const accumulators = records.map((r) => (JSON.parse(r.performance) as { accumulator?: unknown } | null)?.accumulator).filter((a) => a !== undefined);
    if (accumulators.length > 0) {
      const classifier = ctx?.version.signature.task !== 'regression';
      const key = `rollup\u0000${model}\u0000${version}\u0000${variant}\u0000${start}`;
      const merged: PerformanceState = {
        key, model, version, variant, start, task: classifier ? 'classification' : 'regression', conceptDrift: summaries.some((s) => s.performance?.concept_drift),
        dirty: false, baseline: ctx?.version.metrics ?? {}, business: new Map(),
      };
      for (const a of accumulators) {
        if (classifier) {
          const acc = ClassificationAccumulator.fromJSON(a);
          merged.classification = merged.classification ? merged.classification.merge(acc) : acc;
        } else {
          const acc = RegressionAccumulator.fromJSON(a);
          merged.regression = merged.regression ? merged.regression.merge(acc) : acc;
        }
      }
      this.performance.set(key, merged);
      performance = this.performanceOf(key);
      this.performance.delete(key);
    }
    const business: Record<string, number | null> = {};
    for (const m of ctx?.business ?? []) {
      const values = summaries.map((s) => ({ v: s.business[m.spec.name], rows: s.rows })).filter((x) => x.v !== null && x.v !== undefined) as { v: number; rows: number }[];
      if (values.length === 0) business[m.spec.name] = null;
      else if (m.spec.aggregate === 'sum') business[m.spec.name] = values.reduce((a, x) => a + x.v, 0);
      // Means are weighted by each window's records (exact for prediction metrics; an approximation for feedback ones).
      else business[m.spec.name] = values.reduce((a, x) => a + x.v * x.rows, 0) / Math.max(1, values.reduce((a, x) => a + x.rows, 0));
    }
    const contractCounts: Record<string, number> = {};
    for (const s of summaries) for (const [k, n] of Object.entries(s.quality.contract?.by_field_rule ?? {})) contractCounts[k] = (contractCounts[k] ?? 0) + n;
    const profiledRows = profile?.rows ?? 0;
    const weighted = (pick: (s: WindowSummary) => number) => (profiledRows === 0 ? 0 : summaries.reduce((a, s) => a + pick(s) * s.quality.profiled_rows, 0) / profiledRows);
    const summary: WindowSummary = {
      model, version, variant, window_start: new Date(start).toISOString(), window_seconds: sizeMs / 1000, rows, closed: true,
      drift, prediction_drift: predictionDrift, performance, business,
      estimated_performance: null,
      system: {
        throughput_per_s: rows / (sizeMs / 1000), latency_ms: { p50: q(0.5), p90: q(0.9), p99: q(0.99), mean: latency && latency.kind === 'numeric' && latency.valid > 0 ? latency.mean : null },
        ...shadowCounts(summaries.map((s) => s.system.shadow)),
      },
      quality: {
        rows, profiled_rows: profiledRows, features, volume_ratio: null,
        contract: { imputed_rate: weighted((s) => s.quality.contract?.imputed_rate ?? 0), fallback_rate: weighted((s) => s.quality.contract?.fallback_rate ?? 0), by_field_rule: contractCounts },
      },
    };
    return { summary, profile: profile ?? null };
  }

  /**
   * What the report needs: the reference of the version (the one asked for, else the newest window's) and the
   * windows since `since` with their profiles (stored ones, and this replica's open ones), oldest first.
   */
  async reportInput(model: string, options: { version?: number; variant?: string; since?: number; limit: number; sizeSeconds?: number }): Promise<{
    reference: { profile: DatasetProfile; source: string; rows: number } | null;
    windows: { summary: WindowSummary; profile: DatasetProfile | null }[];
  }> {
    await this.settle();
    if (options.sizeSeconds !== undefined && options.sizeSeconds * 1000 !== this.windowMs) {
      const rolled = (await this.rollupWithProfiles(model, { ...options, sizeSeconds: options.sizeSeconds })).reverse();
      const version = options.version ?? rolled.at(-1)?.summary.version;
      return { reference: version === undefined ? null : (await this.reference(model, version)) ?? null, windows: rolled };
    }
    const windows = await this.mergedWindows(model, await this.deps.store.listWindows(model, options));
    const seen = new Set(windows.map((w) => `${w.summary.version}/${w.summary.variant}/${w.summary.window_start}`));
    for (const w of this.open.values()) {
      if (w.model !== model || (options.version !== undefined && w.version !== options.version) || (options.variant !== undefined && w.variant !== options.variant)) continue;
      const summary = await this.summarise(w, false);
      if (seen.has(`${summary.version}/${summary.variant}/${summary.window_start}`)) continue;
      windows.push({ summary, profile: this.profileOf(w) });
    }
    windows.sort((a, b) => a.summary.window_start.localeCompare(b.summary.window_start));
    const version = options.version ?? windows.at(-1)?.summary.version;
    const reference = version === undefined ? null : (await this.reference(model, version)) ?? null;
    return { reference, windows };
  }

  /**
   * What one variant of a version did between `since` and `until` (windows overlapping that time, stored and open):
   * records, refused or failed requests, latency p99 from the merged profiles, labels and accuracy (weighted by labels).
   * The rollout controller's evidence.
   */
  async variantEvidence(model: string, version: number, variant: string, since: number, until: number): Promise<{
    rows: number; errors: number; latencyP99: number | null; labels: number; accuracy: number | null; profile: DatasetProfile | null;
    shadowCompared: number; shadowDisagreements: number; business: Record<string, number | null>;
  }> {
    await this.settle();
    const overlaps = (start: number) => start < until && start + this.windowMs > since;
    const stored = (await this.deps.store.listWindows(model, { version, variant, since: since - this.windowMs, limit: 10_000 }))
      .filter((r) => overlaps(r.windowStart));
    const openOnes = [...this.open.values()].filter((w) => w.model === model && w.version === version && w.variant === variant && overlaps(w.start));
    const storedKeys = new Set(stored.map((r) => r.windowStart));
    let rows = 0;
    let errors = 0;
    let labels = 0;
    let correct = 0;
    const parts: WindowSummary[] = [];
    let profile: DatasetProfile | undefined;
    const mergeIn = (p: DatasetProfile | null) => {
      if (!p) return;
      try {
        profile = profile ? mergeDatasetProfiles(profile, p) : p;
      } catch {
        // windows under another reference do not merge; their latency is left out
      }
    };
    for (const r of stored) {
      const open = openOnes.find((w) => w.start === r.windowStart);
      if (open && r.replica === this.replica) continue; // this replica's open state is newer than what it stored before a restart
      const summary = fromRecord(r);
      parts.push(summary);
      rows += summary.rows;
      errors += summary.system?.errors?.total ?? 0;
      if (summary.performance?.metrics.accuracy !== null && summary.performance?.metrics.accuracy !== undefined) {
        labels += summary.performance.labels;
        correct += summary.performance.metrics.accuracy * summary.performance.labels;
      }
      try {
        mergeIn(datasetProfileFromJSON(r.profile));
      } catch {
        // unreadable profile: skipped
      }
    }
    for (const w of openOnes) {
      parts.push(await this.summarise(w, false));
      rows += w.rows + (w.base?.rows ?? 0);
      errors += errorsOf(this.errors.get(w.key)).total;
      const perf = this.performanceOf(w.key);
      if (perf && perf.metrics.accuracy !== null && perf.metrics.accuracy !== undefined) {
        labels += perf.labels;
        correct += perf.metrics.accuracy * perf.labels;
      }
      mergeIn(this.profileOf(w));
      storedKeys.add(w.start);
    }
    // Errors of windows with no answered record at all (everything refused) are counted too.
    for (const [key, codes] of this.errors) {
      const [m, v, vr, start] = key.split('\u0000');
      if (m === model && Number(v) === version && vr === variant && overlaps(Number(start)) && !storedKeys.has(Number(start))) {
        errors += errorsOf(codes).total;
      }
    }
    const latency = profile?.column(SYSTEM_LATENCY);
    return {
      rows, errors, labels,
      latencyP99: latency && latency.kind === 'numeric' && latency.valid > 0 ? latency.quantile(0.99) : null,
      accuracy: labels > 0 ? correct / labels : null,
      profile: profile ?? null,
      shadowCompared: parts.reduce((a, p) => a + (p.system.shadow?.compared ?? 0), 0),
      shadowDisagreements: parts.reduce((a, p) => a + (p.system.shadow?.disagreements ?? 0), 0),
      business: perRecordBusiness((await this.context(model, version))?.business ?? [], parts),
    };
  }

  /** The performance summary of a window (null without labels). */
  private performanceOf(key: string): WindowPerformance | null {
    const state = this.performance.get(key);
    if (!state) return null;
    let metrics: Record<string, number | null>;
    let labels: number;
    if (state.classification) {
      const m = state.classification.metrics();
      labels = m.n;
      const prf = m.binary ?? m.macro;
      metrics = { accuracy: m.accuracy, precision: prf.precision, recall: prf.recall, f1: prf.f1, roc_auc: m.rocAuc, log_loss: m.logLoss };
    } else {
      const m = state.regression!.metrics();
      labels = m.n;
      metrics = { mae: m.mae, rmse: m.rmse, mse: m.mse, r2: m.r2 };
    }
    const baseline = Object.fromEntries(Object.entries(state.baseline)
      .map(([k, v]): [string, number] => [METRIC_ALIASES[k] ?? k, v])
      .filter(([k]) => k in metrics));
    const comparison = Object.keys(baseline).length > 0 && labels >= MIN_LABELS_FOR_BASELINE
      ? compareToBaseline(metrics, baseline, { tolerance: { relative: 0.05 }, directions: SNAKE_CASE_DIRECTIONS })
      : undefined;
    return {
      task: state.task, labels, metrics,
      degraded: comparison ? comparison.metrics.filter((c) => c.degraded).map((c) => c.metric) : [],
      concept_drift: state.conceptDrift,
    };
  }

  /** Writes the performance of windows that got labels since the last tick; returns their summaries for alerts. */
  private async flushPerformance(): Promise<WindowSummary[]> {
    const out: WindowSummary[] = [];
    for (const state of this.performance.values()) {
      if (!state.dirty) continue;
      state.dirty = false;
      if (this.open.has(state.key)) continue; // written when the window closes
      const perf = this.performanceOf(state.key)!;
      const stored = await this.deps.store.getWindow(state.model, state.version, state.variant, state.start, this.windowMs / 1000, this.replica)
        ?? await this.emptyPart(state);
      if (!stored) continue;
      // Business metrics over feedback live with the window's other results: fold the new labels in.
      const results = JSON.parse(stored.drift) as { business?: Record<string, number | null> };
      const ctx = this.ready.get(`${state.model}\u0000${state.version}`);
      const business = { ...(results.business ?? {}) };
      for (const m of ctx?.business ?? []) {
        if (m.spec.source !== 'feedback') continue;
        const acc = state.business.get(m.spec.name);
        business[m.spec.name] = !acc || acc.n === 0 ? null : m.spec.aggregate === 'mean' ? acc.sum / acc.n : acc.sum;
      }
      const record = { ...stored, drift: JSON.stringify({ ...results, business }), performance: JSON.stringify(this.storedPerformance(state.key, perf)), updatedAt: this.deps.clock.now() };
      await this.deps.store.putWindow(record);
      out.push(fromRecord(record));
    }
    return out;
  }

  /**
   * This replica's (empty) part of a closed window it served nothing in, so labels it receives for another replica's
   * answers are kept: readers merge it with the other parts.
   */
  private async emptyPart(state: PerformanceState): Promise<MonitorWindowRecord | undefined> {
    const ctx = await this.context(state.model, state.version);
    if (!ctx) return undefined;
    const empty = datasetProfileBuilder(ctx.spec).build();
    return {
      model: state.model, version: state.version, variant: state.variant, windowStart: state.start, windowSeconds: this.windowMs / 1000,
      replica: this.replica, rows: 0, profile: JSON.stringify(empty.toJSON()),
      quality: JSON.stringify({ rows: 0, profiled_rows: 0, features: {}, volume_ratio: null, contract: { imputed_rate: 0, fallback_rate: 0, by_field_rule: {} }, closed: true }),
      drift: JSON.stringify({ features: null, prediction: null, estimated_performance: null, system: { throughput_per_s: 0, latency_ms: { p50: null, p90: null, p99: null, mean: null } }, business: {} }),
      performance: 'null', updatedAt: this.deps.clock.now(),
    };
  }

  /** Stored window parts grouped by window: one summary per window, the parts of several replicas merged. */
  private async mergedWindows(model: string, records: MonitorWindowRecord[]): Promise<{ summary: WindowSummary; profile: DatasetProfile | null }[]> {
    const groups = new Map<string, MonitorWindowRecord[]>();
    for (const r of records) {
      const key = `${r.version}\u0000${r.variant}\u0000${r.windowStart}`;
      const list = groups.get(key) ?? [];
      list.push(r);
      groups.set(key, list);
    }
    const out: { summary: WindowSummary; profile: DatasetProfile | null }[] = [];
    for (const parts of groups.values()) {
      const first = parts[0]!;
      if (parts.length === 1) {
        let profile: DatasetProfile | null;
        try {
          profile = datasetProfileFromJSON(first.profile);
        } catch {
          profile = null;
        }
        out.push({ summary: fromRecord(first), profile });
        continue;
      }
      const ctx = await this.context(model, first.version);
      const merged = this.rolledUp(model, first.version, first.variant, first.windowStart, first.windowSeconds * 1000, parts, ctx);
      // A window is closed once every replica's part is.
      merged.summary.closed = parts.every((p) => (JSON.parse(p.quality) as { closed?: boolean }).closed !== false);
      out.push(merged);
    }
    return out;
  }

  private async openWindow(key: string, row: PredictionRecord, start: number, ctx: Context): Promise<WindowState> {
    const stored = await this.deps.store.getWindow(row.model, row.version, row.variant, start, this.windowMs / 1000, this.replica);
    let base: WindowState['base'] = null;
    // What this replica stored of the window — before a restart, or before late events reopened a closed window — is
    // merged back in, so nothing it counted is lost.
    if (stored) {
      try {
        const system = (JSON.parse(stored.drift) as { system?: WindowSystem }).system;
        base = { profile: datasetProfileFromJSON(stored.profile), rows: stored.rows, ...(system?.shadow ? { shadow: system.shadow } : {}) };
      } catch {
        base = null; // a profile stored under another spec (the reference changed): start afresh
      }
    }
    const existing = this.open.get(key);
    if (existing) return existing;
    // Past windows of the variant say how busy it is: profile a uniform sample of about maxProfiledRows events.
    const past = this.history.get(`${row.model}\u0000${row.version}\u0000${row.variant}`) ?? [];
    const expected = past.length === 0 ? 0 : Math.max(...past.slice(-3));
    const seed = ((start / this.windowMs) ^ hash(row.variant)) >>> 0;
    const w: WindowState = {
      key, model: row.model, version: row.version, variant: row.variant, start,
      builder: datasetProfileBuilder(ctx.spec, { seed }),
      rows: 0, profiled: 0, outOfRange: new Map(), base, imputed: 0, fallback: 0,
      cbpe: ctx.cbpe ? new CbpeAccumulator(ctx.cbpe.calibration) : null,
      business: new Map(),
      shadow: { compared: 0, disagreements: 0 },
      rate: expected > this.maxProfiledRows ? this.maxProfiledRows / expected : 1,
      random: seed || 1,
      paceAt: row.createdAt,
      paceRows: 0,
      nextRateCheck: RATE_CHECK_EVERY,
    };
    this.open.set(key, w);
    return w;
  }

  /** Adds one event to its window (profiled with the window's sampling rate; always counted). */
  private record(w: WindowState, ctx: Context, row: PredictionRecord): void {
    w.rows++;
    if (w.rows >= w.nextRateCheck) this.adaptRate(w, row.createdAt);
    const shadowOut = row.outputs as { shadow?: boolean; prediction?: unknown; value?: unknown; answered?: { prediction?: unknown } } | null;
    if (shadowOut && typeof shadowOut === 'object' && shadowOut.shadow === true && shadowOut.answered) {
      w.shadow.compared++;
      if (JSON.stringify(shadowOut.prediction ?? shadowOut.value) !== JSON.stringify(shadowOut.answered.prediction)) w.shadow.disagreements++;
    }
    if (w.rate < 1) {
      // xorshift32: a cheap, deterministic uniform draw per event.
      let x = w.random;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      w.random = x >>> 0;
      if (w.random / 4294967296 >= w.rate) return;
    }
    w.profiled++;
    const flat: Record<string, unknown> = {};
    const inputs = row.inputs;
    if (typeof inputs === 'object' && inputs !== null && !Array.isArray(inputs)) {
      for (const f of ctx.features) {
        const v = (inputs as Record<string, unknown>)[f];
        flat[f] = v;
        const range = ctx.ranges.get(f);
        if (range && typeof v === 'number' && (v < range.min || v > range.max)) w.outOfRange.set(f, (w.outOfRange.get(f) ?? 0) + 1);
      }
    }
    flat[SYSTEM_LATENCY] = row.latencyMs;
    const out = row.outputs as {
      prediction?: unknown; value?: unknown; probabilities?: Record<string, number>;
      imputed?: string[]; fallback?: boolean; violations?: { field: string; rule: string }[];
    } | null;
    if (out && typeof out === 'object') {
      flat[OUTPUT_PREDICTION] = out.prediction ?? out.value;
      if (out.imputed) w.imputed++;
      if (out.fallback) w.fallback++;
      if (w.cbpe && ctx.cbpe && out.probabilities) {
        const p = out.probabilities[ctx.cbpe.positive];
        if (typeof p === 'number' && p >= 0 && p <= 1) w.cbpe.add(p);
      }
      if (out.probabilities && typeof out.probabilities === 'object') {
        let max = -Infinity;
        for (const key in out.probabilities) {
          const p = out.probabilities[key];
          if (typeof p === 'number' && p > max) max = p;
        }
        if (max > -Infinity) flat[OUTPUT_CONFIDENCE] = max;
      }
    }
    w.builder.add(flat);
    if (ctx.business.length > 0) {
      const view = businessView(inputs, out);
      for (const m of ctx.business) {
        if (m.spec.source !== 'predictions') continue;
        const v = m.value(view);
        if (v === undefined) continue;
        const acc = w.business.get(m.spec.name) ?? { sum: 0, n: 0, scaled: 0 };
        acc.sum += v;
        acc.n++;
        acc.scaled += v / w.rate;
        w.business.set(m.spec.name, acc);
      }
    }
  }

  /**
   * Re-estimates a window's sampling rate from its own pace, so that about maxProfiledRows events are profiled
   * whatever the traffic: a first window (no history), a spike far above the past windows, or a lull below them. The
   * events still to come are projected from the recent pace (the events since the last measure, so an idle start
   * does not hide a burst); what is left of the budget is spread over them, never less than RATE_FLOOR_SHARE of it
   * (so a burst that spent the budget early still leaves the rest of the window represented), and never faster than
   * RATE_BURST_FACTOR times the window's even share per second (so the cost per second is bounded too). Counts stay
   * exact (`rows`); the profile is a sample whose rate may change within the window.
   */
  private adaptRate(w: WindowState, now: number): void {
    w.nextRateCheck = w.rows + RATE_CHECK_EVERY;
    const elapsed = now - w.paceAt;
    const remainingMs = w.start + this.windowMs - now;
    if (elapsed < RATE_MIN_ELAPSED_MS || remainingMs <= 0) return;
    const pace = (w.rows - w.paceRows) / elapsed; // events per ms
    const projected = pace * remainingMs;
    w.paceAt = now;
    w.paceRows = w.rows;
    if (projected < 1) return;
    const budget = this.maxProfiledRows - w.profiled;
    const floor = (RATE_FLOOR_SHARE * this.maxProfiledRows) / (w.rows + projected);
    const ceiling = (RATE_BURST_FACTOR * this.maxProfiledRows) / this.windowMs / pace;
    w.rate = Math.min(1, ceiling, Math.max(budget / projected, floor));
  }

  private context(model: string, version: number): Promise<Context | undefined> {
    const key = `${model}\u0000${version}`;
    let ctx = this.contexts.get(key);
    if (!ctx) {
      ctx = this.loadContext(model, version);
      this.contexts.set(key, ctx);
      ctx.then((c) => this.ready.set(key, c), () => undefined);
      // A failed load is retried on the next event rather than cached.
      ctx.catch(() => this.contexts.delete(key));
    }
    return ctx.catch(() => undefined);
  }

  private async loadContext(model: string, version: number): Promise<Context> {
    const record = await this.deps.models.getVersion(model, version);
    if (!record) throw new Error(`unknown version ${model} v${version}`);
    const stored = await this.deps.store.getReference(model, version);
    const parsed = stored ? parseReference(stored.profile) : null;
    const reference = parsed?.profile ?? null;
    const pii = await this.deps.piiFields?.(model, version) ?? new Set<string>();
    const profiled = record.signature.features.filter((f) => !pii.has(f.name));
    const features = profiled.map((f) => f.name);
    const spec: DatasetSpec = {};
    const ranges = new Map<string, { min: number; max: number }>();
    for (const f of profiled) {
      const col = reference?.column(f.name);
      if (col) {
        spec[f.name] = col.spec;
        if (col.kind === 'numeric' && col.min !== undefined && col.max !== undefined) ranges.set(f.name, { min: col.min, max: col.max });
      } else {
        spec[f.name] = f.type === 'string' || f.type === 'bool' ? categoricalSpec([]) : numericSpec([]);
      }
    }
    const classifier = record.signature.task === 'classification';
    spec[OUTPUT_PREDICTION] = reference?.column(OUTPUT_PREDICTION)?.spec
      ?? (classifier ? categoricalSpec((record.signature.classLabels ?? []).map(String)) : numericSpec([]));
    if (classifier) spec[OUTPUT_CONFIDENCE] = reference?.column(OUTPUT_CONFIDENCE)?.spec ?? numericSpec([0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]);
    spec[SYSTEM_LATENCY] = numericSpec([0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000]);
    let business: CompiledBusinessMetric[] = [];
    try {
      business = compileBusinessMetrics(await this.businessMetrics(model));
    } catch (err) {
      this.deps.log.error({ err, model }, 'stored business metrics no longer compile; they are skipped');
    }
    const drift = await this.driftSettings(model);
    return { version: record, reference, cbpe: parsed?.cbpe ?? null, business, drift, spec, features, ranges };
  }

  private async closeWindow(w: WindowState, closed: boolean): Promise<WindowSummary> {
    const summary = await this.summarise(w, closed);
    const profile = this.profileOf(w);
    await this.deps.store.putWindow({
      model: w.model, version: w.version, variant: w.variant, windowStart: w.start, windowSeconds: this.windowMs / 1000, replica: this.replica,
      rows: summary.rows, profile: JSON.stringify(profile.toJSON()), quality: JSON.stringify({ ...summary.quality, closed }),
      drift: JSON.stringify({ features: summary.drift, prediction: summary.prediction_drift, estimated_performance: summary.estimated_performance, system: summary.system, business: summary.business }),
      performance: JSON.stringify(this.storedPerformance(w.key, summary.performance)), updatedAt: this.deps.clock.now(),
    } satisfies MonitorWindowRecord);
    if (!closed) return summary;
    this.open.delete(w.key);
    const historyKey = `${w.model}\u0000${w.version}\u0000${w.variant}`;
    const past = this.history.get(historyKey) ?? [];
    past.push(summary.rows);
    if (past.length > VOLUME_HISTORY) past.shift();
    this.history.set(historyKey, past);
    this.publish(summary);
    await this.notify(summary);
    return summary;
  }

  private async notify(summary: WindowSummary): Promise<void> {
    try {
      await this.deps.onWindowClosed?.(summary);
    } catch (err) {
      this.deps.log.error({ err, model: summary.model }, 'a window listener failed');
    }
  }

  /** The window's profile, merged with what was stored for it before a restart. */
  private profileOf(w: WindowState): DatasetProfile {
    const built = w.builder.build();
    if (!w.base) return built;
    try {
      return mergeDatasetProfiles(w.base.profile, built);
    } catch {
      return built;
    }
  }

  private async summarise(w: WindowState, closed: boolean): Promise<WindowSummary> {
    const ctx = await this.context(w.model, w.version);
    const profile = this.profileOf(w);
    const rows = w.rows + (w.base?.rows ?? 0);
    const drift = ctx?.reference ? profileDrift(ctx.reference, profile, { ...ctx.drift, columns: ctx.features.filter((f) => ctx.reference!.column(f)) }) : null;
    const outputColumns = OUTPUT_COLUMNS.filter((c) => ctx?.reference?.column(c));
    const predictionDrift = ctx?.reference && outputColumns.length > 0 ? profileDrift(ctx.reference, profile, { ...ctx.drift, columns: outputColumns }) : null;
    const latency = profile.column(SYSTEM_LATENCY);
    const q = (x: number) => (latency && latency.kind === 'numeric' && latency.valid > 0 ? latency.quantile(x) : null);
    const profiled = Math.max(profile.rows, 1);
    const estimate = w.cbpe ? w.cbpe.estimate() : null;
    const business: Record<string, number | null> = {};
    for (const m of ctx?.business ?? []) {
      const sampled = m.spec.source === 'predictions' ? w.business.get(m.spec.name) : undefined;
      const acc = sampled ?? (m.spec.source === 'predictions' ? undefined : this.performance.get(w.key)?.business.get(m.spec.name));
      if (!acc || acc.n === 0) business[m.spec.name] = null;
      else if (m.spec.aggregate === 'mean') business[m.spec.name] = acc.sum / acc.n;
      // A sum over a sampled window is scaled back up to all of its events (each value weighted by 1/its rate).
      else business[m.spec.name] = sampled ? sampled.scaled : acc.sum;
    }
    const features: WindowQuality['features'] = {};
    for (const f of ctx?.features ?? []) {
      const col = profile.column(f);
      if (!col) continue;
      const q: WindowQuality['features'][string] = { null_rate: col.nullRate, invalid_rate: col.invalidRate };
      const ref = ctx?.reference?.column(f);
      if (ref && col.kind === 'categorical') q.unseen_category_rate = col.valid === 0 ? 0 : col.other / col.valid;
      if (ctx?.ranges.has(f)) q.out_of_range_rate = col.valid === 0 ? 0 : (w.outOfRange.get(f) ?? 0) / col.valid;
      features[f] = q;
    }
    const past = this.history.get(`${w.model}\u0000${w.version}\u0000${w.variant}`) ?? [];
    const mean = past.length === 0 ? 0 : past.reduce((a, b) => a + b, 0) / past.length;
    return {
      model: w.model, version: w.version, variant: w.variant, window_start: new Date(w.start).toISOString(),
      window_seconds: this.windowMs / 1000, rows, closed, drift, performance: this.performanceOf(w.key),
      prediction_drift: predictionDrift,
      business,
      estimated_performance: estimate && estimate.n > 0
        ? { accuracy: estimate.accuracy, precision: estimate.precision, recall: estimate.recall, f1: estimate.f1, roc_auc: estimate.rocAuc }
        : null,
      system: {
        errors: errorsOf(this.errors.get(w.key)),
        throughput_per_s: rows / (this.windowMs / 1000),
        latency_ms: { p50: q(0.5), p90: q(0.9), p99: q(0.99), mean: latency && latency.kind === 'numeric' && latency.valid > 0 ? latency.mean : null },
        ...shadowCounts([w.shadow, w.base?.shadow]),
      },
      quality: {
        rows, profiled_rows: profile.rows, features, volume_ratio: mean > 0 ? rows / mean : null,
        contract: { imputed_rate: w.imputed / profiled, fallback_rate: w.fallback / profiled, by_field_rule: Object.fromEntries(this.violations.get(w.key) ?? []) },
      },
    };
  }

  private publish(s: WindowSummary): void {
    const m = this.deps.metrics;
    if (!m) return;
    const labels = { model: s.model, version: String(s.version), variant: s.variant };
    m.windowRows.set(labels, s.rows);
    if (s.quality.volume_ratio !== null) m.volumeRatio.set(labels, s.quality.volume_ratio);
    for (const [feature, q] of Object.entries(s.quality.features)) {
      m.nullRate.set({ ...labels, feature }, q.null_rate);
      if (q.unseen_category_rate !== undefined) m.unseenCategoryRate.set({ ...labels, feature }, q.unseen_category_rate);
      if (q.out_of_range_rate !== undefined) m.outOfRangeRate.set({ ...labels, feature }, q.out_of_range_rate);
    }
    if (s.performance && s.performance.labels >= MIN_LABELS_FOR_BASELINE) {
      for (const [metric, value] of Object.entries(s.performance.metrics)) if (value !== null) m.performance.set({ ...labels, metric }, value);
      m.conceptDrift.set(labels, s.performance.concept_drift ? 1 : 0);
    }
    for (const c of s.prediction_drift?.columns ?? []) {
      if (!Number.isNaN(c.statistic)) m.predictionDrift.set({ ...labels, output: c.column, method: c.method }, c.statistic);
    }
    for (const [metric, value] of Object.entries(s.estimated_performance ?? {})) if (value !== null) m.estimatedPerformance.set({ ...labels, metric }, value);
    for (const [metric, value] of Object.entries(s.business)) if (value !== null) m.business.set({ ...labels, metric }, value);
    for (const [quantile, value] of Object.entries({ '0.5': s.system.latency_ms.p50, '0.9': s.system.latency_ms.p90, '0.99': s.system.latency_ms.p99 })) {
      if (value !== null) m.latency.set({ ...labels, quantile }, value);
    }
    if (s.drift) {
      m.driftShare.set(labels, s.drift.drift_share);
      for (const c of s.drift.columns) {
        if (Number.isNaN(c.statistic)) continue;
        m.driftScore.set({ ...labels, feature: c.column, method: c.method }, c.statistic);
        m.featureDrift.set({ ...labels, feature: c.column }, c.drift ? 1 : 0);
      }
    }
  }
}

/**
 * Business metrics per record over several windows, so variants with different traffic compare: a mean metric's
 * windows weighted by their records, a sum metric's total divided by the records.
 */
function perRecordBusiness(metrics: CompiledBusinessMetric[], parts: WindowSummary[]): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const m of metrics) {
    let weighted = 0;
    let rows = 0;
    for (const p of parts) {
      const v = p.business[m.spec.name];
      if (v === null || v === undefined) continue;
      weighted += m.spec.aggregate === 'sum' ? v : v * p.rows;
      rows += p.rows;
    }
    out[m.spec.name] = rows === 0 ? null : weighted / rows;
  }
  return out;
}

/** `{shadow: {compared, disagreements}}` summed over parts, or nothing when no shadow answer was compared. */
function shadowCounts(parts: ({ compared: number; disagreements: number } | undefined)[]): { shadow?: { compared: number; disagreements: number } } {
  let compared = 0;
  let disagreements = 0;
  for (const p of parts) {
    compared += p?.compared ?? 0;
    disagreements += p?.disagreements ?? 0;
  }
  return compared > 0 ? { shadow: { compared, disagreements } } : {};
}

function fromRecord(r: MonitorWindowRecord): WindowSummary {
  const { closed = true, ...quality } = JSON.parse(r.quality) as WindowQuality & { closed?: boolean };
  const { accumulator: _state, ...rest } = (JSON.parse(r.performance) ?? {}) as Partial<WindowPerformance> & { accumulator?: unknown };
  const parsed = rest.task !== undefined ? rest : null;
  const stored = JSON.parse(r.drift) as {
    features: DriftReport | null; prediction: DriftReport | null; estimated_performance: Record<string, number | null> | null; system: WindowSystem;
    business?: Record<string, number | null>;
  };
  return {
    model: r.model, version: r.version, variant: r.variant, window_start: new Date(r.windowStart).toISOString(),
    window_seconds: r.windowSeconds, rows: r.rows, closed,
    drift: stored.features, prediction_drift: stored.prediction, estimated_performance: stored.estimated_performance, system: stored.system,
    business: stored.business ?? {},
    quality,
    performance: parsed && parsed.task !== undefined ? parsed as WindowPerformance : null,
  };
}

/** Validates drift settings: `{method?, threshold?, per_feature?: {name: {method?, threshold?}}, drift_share?}`. */
function parseDriftSettings(input: unknown): ProfileDriftOptions {
  const issues: { field: string; rule: string; message: string }[] = [];
  const o = input as { method?: unknown; threshold?: unknown; per_feature?: unknown; drift_share?: unknown } | null;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) {
    throw new TarmacError('VALIDATION_FAILED', 'drift settings must be an object', { issues: [{ field: '', rule: 'type', message: 'must be an object' }] });
  }
  const out: ProfileDriftOptions = {};
  const method = (v: unknown, at: string): DriftMethod | 'auto' | undefined => {
    if (v === undefined) return undefined;
    if (v === 'auto' || DRIFT_METHODS.includes(v as DriftMethod)) return v as DriftMethod | 'auto';
    issues.push({ field: at, rule: 'enum', message: `must be auto or one of ${DRIFT_METHODS.join(', ')}` });
    return undefined;
  };
  const threshold = (v: unknown, at: string): number | undefined => {
    if (v === undefined) return undefined;
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
    issues.push({ field: at, rule: 'range', message: 'must be a number ≥ 0' });
    return undefined;
  };
  for (const key of Object.keys(o)) if (!['method', 'threshold', 'per_feature', 'drift_share'].includes(key)) issues.push({ field: `/${key}`, rule: 'unknown_field', message: 'allowed: method, threshold, per_feature, drift_share' });
  const m = method(o.method, '/method');
  if (m !== undefined) out.method = m;
  const t = threshold(o.threshold, '/threshold');
  if (t !== undefined) out.threshold = t;
  if (o.drift_share !== undefined) {
    if (typeof o.drift_share === 'number' && o.drift_share > 0 && o.drift_share <= 1) out.datasetDriftShare = o.drift_share;
    else issues.push({ field: '/drift_share', rule: 'range', message: 'must be in (0, 1]' });
  }
  if (o.per_feature !== undefined) {
    if (typeof o.per_feature !== 'object' || o.per_feature === null || Array.isArray(o.per_feature)) issues.push({ field: '/per_feature', rule: 'type', message: 'must be an object of feature → {method, threshold}' });
    else {
      out.perColumn = {};
      for (const [feature, raw] of Object.entries(o.per_feature as Record<string, { method?: unknown; threshold?: unknown }>)) {
        const fm = method(raw?.method, `/per_feature/${feature}/method`);
        const ft = threshold(raw?.threshold, `/per_feature/${feature}/threshold`);
        out.perColumn[feature] = { ...(fm && fm !== 'auto' ? { method: fm } : {}), ...(ft !== undefined ? { threshold: ft } : {}) };
      }
    }
  }
  if (issues.length > 0) throw new TarmacError('VALIDATION_FAILED', `the drift settings are not valid: ${issues.map((i) => `${i.field} ${i.message}`).join('; ')}`, { issues });
  return out;
}

/** Adds one to `name` under `key`, keeping at most 10,000 keys (counts of windows long closed are dropped). */
function countIn(counts: Map<string, Map<string, number>>, key: string, name: string): void {
  let m = counts.get(key);
  if (!m) {
    m = new Map();
    counts.set(key, m);
    if (counts.size > 10_000) counts.delete(counts.keys().next().value!);
  }
  m.set(name, (m.get(name) ?? 0) + 1);
}

function errorsOf(codes: Map<string, number> | undefined): { total: number; by_code: Record<string, number> } {
  const by = Object.fromEntries(codes ?? []);
  return { total: Object.values(by).reduce((a, n) => a + n, 0), by_code: by };
}

/** What a business metric expression sees: the features, `prediction` and `confidence`. */
function businessView(inputs: unknown, out: { prediction?: unknown; value?: unknown; probabilities?: Record<string, number> } | null): Record<string, unknown> {
  const view: Record<string, unknown> = typeof inputs === 'object' && inputs !== null && !Array.isArray(inputs) ? { ...(inputs as Record<string, unknown>) } : {};
  if (out) {
    view.prediction = out.prediction ?? out.value;
    if (out.probabilities) view.confidence = Math.max(...Object.values(out.probabilities));
  }
  return view;
}

/** A stored reference: the profile, plus the CBPE calibration when the sample had labels. */
function parseReference(text: string): { profile: DatasetProfile; cbpe: { calibration: CbpeCalibration; positive: string } | null } {
  const { cbpe, ...profile } = JSON.parse(text) as { cbpe?: { calibration: unknown; positive: unknown } };
  return {
    profile: datasetProfileFromJSON(profile),
    cbpe: cbpe ? { calibration: CbpeCalibration.fromJSON(cbpe.calibration), positive: String(cbpe.positive) } : null,
  };
}

function isLabel(v: unknown): v is Label {
  return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
