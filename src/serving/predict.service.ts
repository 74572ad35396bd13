import {
  outputsToPredictions, recordsToFeeds, tensorsToV2Outputs, v2RequestToFeeds,
  type RecordPrediction, type V2InferenceResponse,
} from '../runtime/index.ts';
import type { Signature, Tensor } from '../runtime/types.ts';
import type { Clock } from '../shared/clock.ts';
import { isTarmacError, TarmacError } from '../shared/errors.ts';
import { newTimeOrderedId } from '../shared/ids.ts';
import type { VersionRecord } from '../store/index.ts';
import { applyEdgeValidation, type EdgeOutcome, type EdgeValidation, type FallbackAnswer, type ImputeSource } from './edge-validation.ts';
import { fallbackRecords, reindexIssues } from './fallback-version.ts';
import type { LoadedVersion, ModelPool } from './model-pool.ts';
import type { PredictionLogger } from './prediction-logger.ts';
import type { LiveVariant, Route, RouteSource, RouteTable } from './route-table.ts';
import type { ServingMetrics } from './serving-metrics.ts';

/** One record's answer in the records API. */
export interface RecordAnswer extends RecordPrediction {
  id: string;
  version: number;
  /** Fields replaced by the contract's declared defaults or the version's reference values (policy `impute`); absent when none were. */
  imputed?: string[];
  /** Per imputed field, where its value came from. */
  imputed_from?: Record<string, ImputeSource>;
  /** True when the deployment's fallback rule or fallback version answered instead of the model (policy `fallback`). */
  fallback?: true;
  /** The contract violations that sent the record to the fallback (contract field name and rule). */
  violations?: { field: string; rule: string }[];
}

/** The records API's answer. */
export interface RecordsAnswer {
  model: string;
  version: number;
  variant: string;
  request_id: string;
  predictions: RecordAnswer[];
}

/** Per-request context from the API edge. */
export interface RequestContext {
  requestId: string;
  /** Request headers, for an experiment's unit key. */
  headers?: Record<string, string | string[] | undefined>;
  /** Each record's JSON text as the client sent it (the API edge's scan of the body), for the prediction log. */
  rawRecords?: readonly string[];
}

const RECORDS_BODY_KEYS = new Set(['records', 'subjects']);

/**
 * The data plane: picks the variant, turns records or V2 tensors into feeds, runs the model and hands the prediction
 * events to the log without waiting. Touches no database once the route is loaded.
 */
export class PredictService {
  constructor(
    private readonly deps: {
      routes: RouteTable;
      pool: ModelPool;
      source: RouteSource;
      logger: PredictionLogger;
      metrics: ServingMetrics;
      clock: Clock;
      maxBatchRecords: number;
      /** Told of every refused or failed request (the monitor counts them per window); must not block. */
      onError?: (e: { model: string; version: number; variant: string; code: string; at: number }) => void;
      /** Told of every contract violation at the serving edge, whatever the policy did with it; must not block. */
      onViolation?: (e: { model: string; version: number; variant: string; field: string; rule: string; at: number }) => void;
    },
  ) {}

  /**
   * Runs a version (loaded on demand, deployed or not) on records without logging or metrics: the monitor scores
   * reference samples with it. Throws SERVING_INPUT_INVALID for records that do not fit the signature.
   */
  async scoreUnlogged(version: VersionRecord, records: readonly Record<string, unknown>[]): Promise<RecordPrediction[]> {
    const loaded = await this.deps.pool.extra(version);
    const out: RecordPrediction[] = [];
    for (let i = 0; i < records.length; i += 256) {
      const part = records.slice(i, i + 256);
      const feeds = recordsToFeeds(version.signature, part);
      const outputs = await loaded.use((m) => m.run(feeds));
      out.push(...outputsToPredictions(version.signature, outputs, part.length));
    }
    return out;
  }

  /**
   * Answers `{"records": [...]}` for the deployed model. Throws SERVING_NOT_DEPLOYED, VALIDATION_FAILED or
   * SERVING_INPUT_INVALID (naming record, field and rule) for a client's mistake.
   */
  async predictRecords(model: string, body: unknown, ctx: RequestContext): Promise<RecordsAnswer> {
    const route = this.deps.routes.get(model);
    if (!route) throw this.notDeployed(model);
    // An experiment's unit key travels with the logged answers, so its readout can count units, not answers.
    let unit: string | undefined;
    const variant = this.deps.routes.choose(route, (experiment) => (unit = unitKeyOf(experiment, ctx.headers, body)));
    const loaded = variant.loaded;
    const { version } = loaded.version;
    try {
      const received = this.recordsOf(body);
      const subjects = this.subjectsOf(body, received.length);
      if (!variant.edge) return await this.answerAll(route, variant, received, subjects, unit, ctx);
      let records = received;
      let outcome: EdgeOutcome | undefined;
      let fallback: boolean[] | undefined;
      if (variant.edge) {
        outcome = applyEdgeValidationCounted(variant.edge, received, (name, rule) => {
          this.deps.metrics.contractViolations.inc({ model, version: String(version), field: name, rule });
          this.deps.onViolation?.({ model, version, variant: variant.name, field: name, rule, at: this.deps.clock.now() });
        });
        records = outcome.records;
        if (outcome.fallback.includes(true)) fallback = outcome.fallback;
      }
      const imputed = outcome?.imputed;
      const imputedFrom = outcome?.imputedFrom;
      const reasons = outcome?.reasons;
      const target = fallback && variant.fallbackTo ? variant.fallbackTo : undefined;
      // Records the fallback answers never reach the model; a fallback version's records are checked up front so a
      // request it cannot answer is refused before anything runs.
      const fallbackIndices = fallback ? fallback.flatMap((useFallback, i) => (useFallback ? [i] : [])) : [];
      const fallbackInput = target ? fallbackRecords(target, variant.edge!.contract, records, fallbackIndices, reasons!) : undefined;
      const modelRecords = fallback ? records.filter((_, i) => !fallback[i]) : records;
      let latencyMs = 0;
      let modelPredictions: RecordPrediction[] = [];
      let fallbackPredictions: RecordPrediction[] = [];
      let fallbackLatencyMs = 0;
      const runModel = async () => {
        if (modelRecords.length === 0) return;
        const feeds = recordsToFeeds(loaded.version.signature, modelRecords);
        const started = performance.now();
        const outputs = await loaded.use((m) => m.run(feeds));
        latencyMs = performance.now() - started;
        modelPredictions = outputsToPredictions(loaded.version.signature, outputs, modelRecords.length);
      };
      const runFallback = async () => {
        if (!target || !fallbackInput) return;
        let feeds;
        try {
          feeds = recordsToFeeds(target.loaded.version.signature, fallbackInput);
        } catch (err) {
          throw reindexIssues(err, fallbackIndices);
        }
        const started = performance.now();
        const outputs = await target.loaded.use((m) => m.run(feeds));
        fallbackLatencyMs = performance.now() - started;
        fallbackPredictions = outputsToPredictions(target.loaded.version.signature, outputs, fallbackInput.length);
      };
      await Promise.all([runModel(), runFallback()]);
      const fallbackVersion = target?.loaded.version.version;
      const predictions: RecordAnswerBody[] = fallback
        ? mergeFallback(fallback, modelPredictions, target ? fallbackPredictions : variant.edge!.fallback!, reasons!)
        : modelPredictions;
      const answers: RecordAnswer[] = predictions.map((p, i) => {
        const fields = imputed?.[i];
        const answerVersion = fallbackVersion !== undefined && fallback?.[i] ? fallbackVersion : version;
        return fields
          ? { id: newTimeOrderedId(), version: answerVersion, ...p, imputed: fields, imputed_from: imputedFrom![i]! }
          : { id: newTimeOrderedId(), version: answerVersion, ...p };
      });
      if (modelRecords.length > 0) this.observe(model, loaded, variant.name, 'records', modelRecords.length, latencyMs);
      const logged = (i: number) => {
        const withSubject = loggedOutput(predictions[i]!, unit, subjects?.[i]);
        return imputed?.[i] ? { ...withSubject, imputed: imputed[i], imputed_from: imputedFrom![i] } : withSubject;
      };
      // The log keeps what the client sent; the imputation and fallback flags travel with the output.
      const mainIndices = target ? answers.flatMap((_, i) => (fallback![i] ? [] : [i])) : answers.map((_, i) => i);
      const raw = ctx.rawRecords !== undefined && ctx.rawRecords.length === received.length ? ctx.rawRecords : undefined;
      if (mainIndices.length > 0) {
        this.deps.logger.enqueue({
          model, version, variant: variant.name, requestId: ctx.requestId, createdAt: this.deps.clock.now(), latencyMs,
          ids: mainIndices.map((i) => answers[i]!.id),
          inputs: () => (target ? mainIndices.map((i) => received[i]) : received),
          ...(raw ? { inputsJson: target ? mainIndices.map((i) => raw[i]!) : raw } : {}),
          outputs: () => mainIndices.map(logged),
        });
      }
      if (target && fallbackIndices.length > 0) {
        this.observe(model, target.loaded, variant.name, 'records', fallbackIndices.length, fallbackLatencyMs);
        // Logged under the version that answered, so its metrics and feedback joins stay per version.
        this.deps.logger.enqueue({
          model, version: fallbackVersion!, variant: variant.name, requestId: ctx.requestId, createdAt: this.deps.clock.now(), latencyMs: fallbackLatencyMs,
          ids: fallbackIndices.map((i) => answers[i]!.id),
          inputs: () => fallbackIndices.map((i) => received[i]),
          ...(raw ? { inputsJson: fallbackIndices.map((i) => raw[i]!) } : {}),
          outputs: () => fallbackIndices.map((i) => ({ ...logged(i), fallback_for_version: version })),
        });
      }
      if (route.shadows.length > 0 && modelRecords.length > 0) {
        const primary = mainIndices.map((i) => answers[i]!);
        // Off the response path: a shadow's latency or failure never reaches the client.
        setImmediate(() => void this.runShadows(route, modelRecords, primary, ctx.requestId));
      }
      return { model, version, variant: variant.name, request_id: ctx.requestId, predictions: answers };
    } catch (err) {
      this.countError(model, version, variant.name, err);
      throw err;
    }
  }

  /**
   * predictRecords for a variant without a contract at the serving edge: nothing is imputed or sent to a fallback, so
   * one run of the model answers every record. The same answers, log events and metrics as the general path, without
   * its per-request bookkeeping (this is the hot path of most deployments).
   */
  private async answerAll(
    route: Route, variant: LiveVariant, received: unknown[], subjects: (string | null)[] | undefined, unit: string | undefined,
    ctx: RequestContext,
  ): Promise<RecordsAnswer> {
    const { model } = route;
    const loaded = variant.loaded;
    const { version, signature } = loaded.version;
    const feeds = recordsToFeeds(signature, received);
    const started = performance.now();
    const outputs = await loaded.use((m) => m.run(feeds));
    const latencyMs = performance.now() - started;
    const predictions = outputsToPredictions(signature, outputs, received.length);
    const n = predictions.length;
    const ids = new Array<string>(n);
    const answers = new Array<RecordAnswer>(n);
    for (let i = 0; i < n; i++) {
      const id = newTimeOrderedId();
      ids[i] = id;
      answers[i] = { id, version, ...predictions[i]! };
    }
    this.observe(model, loaded, variant.name, 'records', n, latencyMs);
    const raw = ctx.rawRecords !== undefined && ctx.rawRecords.length === n ? ctx.rawRecords : undefined;
    this.deps.logger.enqueue({
      model, version, variant: variant.name, requestId: ctx.requestId, createdAt: this.deps.clock.now(), latencyMs, ids,
      inputs: () => received,
      ...(raw ? { inputsJson: raw } : {}),
      outputs: () => (unit === undefined && subjects === undefined ? predictions : predictions.map((p, i) => loggedOutput(p, unit, subjects?.[i]))),
    });
    if (route.shadows.length > 0) {
      // Off the response path: a shadow's latency or failure never reaches the client.
      setImmediate(() => void this.runShadows(route, received, answers, ctx.requestId));
    }
    return { model, version, variant: variant.name, request_id: ctx.requestId, predictions: answers };
  }

  /**
   * Runs each shadow version on a copy of the records the model answered, logs its answers under the shadow's name
   * (flagged, with the answer that was returned) and counts disagreements; failures are counted, never thrown.
   */
  private async runShadows(route: Route, records: unknown[], primary: RecordAnswer[], requestId: string): Promise<void> {
    for (const shadow of route.shadows) {
      const sv = String(shadow.loaded.version.version);
      const labels = { model: route.model, shadow: shadow.name, version: sv };
      try {
        const feeds = recordsToFeeds(shadow.loaded.version.signature, records);
        const started = performance.now();
        const outputs = await shadow.loaded.use((m) => m.run(feeds));
        const latencyMs = performance.now() - started;
        const predictions = outputsToPredictions(shadow.loaded.version.signature, outputs, records.length);
        let disagreements = 0;
        predictions.forEach((p, i) => {
          if (JSON.stringify(p.prediction) !== JSON.stringify(primary[i]?.prediction)) disagreements++;
        });
        this.deps.metrics.shadowPredictions.inc(labels, predictions.length);
        if (disagreements > 0) this.deps.metrics.shadowDisagreements.inc(labels, disagreements);
        this.deps.logger.enqueue({
          model: route.model, version: shadow.loaded.version.version, variant: shadow.name, requestId, createdAt: this.deps.clock.now(), latencyMs,
          ids: predictions.map(() => newTimeOrderedId()),
          inputs: () => records,
          outputs: () => predictions.map((p, i) => ({ ...p, shadow: true, answered: { id: primary[i]?.id, version: primary[i]?.version, prediction: primary[i]?.prediction } })),
        });
      } catch (err) {
        this.deps.metrics.shadowErrors.inc(labels);
        // The monitor counts it against the shadow variant, so a rollout's shadow step sees the canary's errors.
        this.deps.onError?.({ model: route.model, version: shadow.loaded.version.version, variant: shadow.name, code: isTarmacError(err) ? err.code : 'INTERNAL', at: this.deps.clock.now() });
      }
    }
  }

  /**
   * Answers an Open Inference Protocol v2 request for the deployed model, or for `versionRef` when given
   * (a version outside the deployment is loaded on first use). Throws like predictRecords.
   */
  async inferV2(model: string, versionRef: string | undefined, body: unknown, ctx: RequestContext): Promise<V2InferenceResponse> {
    const { loaded, variant } = await this.target(model, versionRef);
    const { version, signature } = loaded.version;
    try {
      const request = v2RequestToFeeds(signature, body);
      if (request.rows > this.deps.maxBatchRecords) {
        throw new TarmacError('SERVING_INPUT_INVALID', `at most ${this.deps.maxBatchRecords} rows per request (TARMAC_MAX_BATCH_RECORDS); this one has ${request.rows}`, {
          details: { limit: this.deps.maxBatchRecords, rows: request.rows },
          issues: [{ field: '/inputs/0/shape/0', rule: 'max_batch', message: `the batch dimension must be at most ${this.deps.maxBatchRecords}` }],
        });
      }
      const started = performance.now();
      const outputs = await loaded.use((m) => m.run(request.feeds));
      const latencyMs = performance.now() - started;
      this.observe(model, loaded, variant, 'v2', request.rows, latencyMs);
      const ids = Array.from({ length: request.rows }, () => newTimeOrderedId());
      this.deps.logger.enqueue({
        model, version, variant, requestId: ctx.requestId, createdAt: this.deps.clock.now(), latencyMs, ids,
        inputs: () => rowsOf(signature, request.feeds, request.rows),
        outputs: () => outputsToPredictions(signature, outputs, request.rows),
      });
      return {
        model_name: model,
        model_version: String(version),
        id: request.id ?? ctx.requestId,
        parameters: { prediction_ids: ids, variant },
        outputs: tensorsToV2Outputs(signature, outputs, request.requestedOutputs),
      };
    } catch (err) {
      this.countError(model, version, variant, err);
      throw err;
    }
  }

  /** True when `model` (and `versionRef`, if given) can answer now without loading. */
  isReady(model: string, versionRef?: string): boolean {
    const route = this.deps.routes.get(model);
    if (!route) return false;
    if (versionRef === undefined) return true;
    return route.variants.some((v) => String(v.loaded.version.version) === versionRef);
  }

  private async target(model: string, versionRef: string | undefined): Promise<{ loaded: LoadedVersion; variant: string }> {
    const route = this.deps.routes.get(model);
    if (versionRef === undefined) {
      if (!route) throw this.notDeployed(model);
      const variant = this.deps.routes.choose(route);
      return { loaded: variant.loaded, variant: variant.name };
    }
    if (!/^[1-9][0-9]{0,9}$/.test(versionRef)) {
      throw new TarmacError('REGISTRY_VERSION_NOT_FOUND', `version "${versionRef}" is not a version number`, {
        issues: [{ field: '/params/version', rule: 'integer', message: 'must be a positive integer' }],
      });
    }
    const live = route?.variants.find((v) => String(v.loaded.version.version) === versionRef);
    if (live) return { loaded: live.loaded, variant: live.name };
    const record: VersionRecord | undefined = await this.deps.source.getVersion(model, Number(versionRef));
    if (!record) {
      throw new TarmacError('REGISTRY_VERSION_NOT_FOUND', `model "${model}" has no version ${versionRef}`, { details: { model, version: versionRef } });
    }
    return { loaded: await this.deps.pool.extra(record), variant: 'pinned' };
  }

  private recordsOf(body: unknown): unknown[] {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new TarmacError('VALIDATION_FAILED', 'the body must be a JSON object like {"records": [{...}]}', {
        issues: [{ field: '/', rule: 'type', message: 'must be an object with a "records" array' }],
      });
    }
    for (const key of Object.keys(body)) {
      if (!RECORDS_BODY_KEYS.has(key)) {
        throw new TarmacError('VALIDATION_FAILED', `unknown field "${key}": the body takes only "records" and "subjects"`, {
          issues: [{ field: `/${key}`, rule: 'unknown_field', message: 'allowed: records, subjects' }],
        });
      }
    }
    const records = (body as { records?: unknown }).records;
    if (records === undefined) {
      throw new TarmacError('VALIDATION_FAILED', 'the body needs a "records" array', {
        issues: [{ field: '/records', rule: 'required', message: 'is required' }],
      });
    }
    if (!Array.isArray(records)) {
      throw new TarmacError('VALIDATION_FAILED', '"records" must be an array of objects', {
        issues: [{ field: '/records', rule: 'type', message: 'must be an array' }],
      });
    }
    if (records.length > this.deps.maxBatchRecords) {
      throw new TarmacError('VALIDATION_FAILED', `at most ${this.deps.maxBatchRecords} records per request (TARMAC_MAX_BATCH_RECORDS)`, {
        issues: [{ field: '/records', rule: 'max_items', message: `must have at most ${this.deps.maxBatchRecords} items` }],
      });
    }
    return records;
  }

  /**
   * The optional `subjects` of a records body: per record, the key of the person it is about (or null). It travels
   * with the logged answer (stored as its keyed hash) so data subject requests find it. Throws VALIDATION_FAILED.
   */
  private subjectsOf(body: unknown, count: number): (string | null)[] | undefined {
    const subjects = (body as { subjects?: unknown }).subjects;
    if (subjects === undefined) return undefined;
    if (!Array.isArray(subjects) || subjects.length !== count) {
      throw new TarmacError('VALIDATION_FAILED', '"subjects" must be an array with one subject key (or null) per record', {
        issues: [{ field: '/subjects', rule: Array.isArray(subjects) ? 'length' : 'type', message: `must be an array of ${count} subject keys or nulls` }],
      });
    }
    const bad = subjects.findIndex((s) => s !== null && (typeof s !== 'string' || s.length === 0 || s.length > 1000));
    if (bad >= 0) {
      throw new TarmacError('VALIDATION_FAILED', 'each subject must be a string of 1 to 1000 characters or null', {
        issues: [{ field: `/subjects/${bad}`, rule: 'type', message: 'must be a string of 1 to 1000 characters or null' }],
      });
    }
    return subjects as (string | null)[];
  }

  private observe(model: string, loaded: LoadedVersion, variant: string, api: string, rows: number, latencyMs: number): void {
    const handles = this.deps.metrics.forVariant(model, String(loaded.version.version), variant, api);
    handles.predictions.inc(rows);
    handles.inferenceSeconds.observe(latencyMs / 1000);
  }

  private countError(model: string, version: number, variant: string, err: unknown): void {
    const code = isTarmacError(err) ? err.code : 'INTERNAL';
    this.deps.metrics.errors.inc({ model, version: String(version), code });
    this.deps.onError?.({ model, version, variant, code, at: this.deps.clock.now() });
  }

  private notDeployed(model: string): TarmacError {
    return new TarmacError('SERVING_NOT_DEPLOYED', `model "${model}" is not deployed here: register it and run \`tarmac deploy ${model} <version>\``, {
      details: { model },
    });
  }
}

/** Per-row inputs of a V2 request as feature → value objects (or input → row slice for raw tensor models). */
function rowsOf(signature: Signature, feeds: Record<string, Tensor>, rows: number): unknown[] {
  const out: Record<string, unknown>[] = Array.from({ length: rows }, () => ({}));
  if (signature.features.length > 0) {
    for (const feature of signature.features) {
      const tensor = feeds[feature.input];
      if (!tensor) continue;
      const width = tensor.dims.length > 1 ? tensor.data.length / Math.max(rows, 1) : 1;
      for (let r = 0; r < rows; r++) out[r]![feature.name] = plain(tensor.data[r * width + feature.column]);
    }
    return out;
  }
  for (const [name, tensor] of Object.entries(feeds)) {
    const width = tensor.data.length / Math.max(rows, 1);
    for (let r = 0; r < rows; r++) {
      out[r]![name] = Array.from(tensor.data.slice(r * width, (r + 1) * width) as ArrayLike<unknown>, plain);
    }
  }
  return out;
}

function plain(value: unknown): unknown {
  return typeof value === 'bigint' ? Number(value) : value;
}

/** Validates at the edge and counts every violation (refused or imputed) in metrics, by field and rule. */
function applyEdgeValidationCounted(edge: EdgeValidation, records: unknown[], count: (name: string, rule: string) => void): EdgeOutcome {
  try {
    const outcome = applyEdgeValidation(edge, records);
    for (const v of outcome.violations) count(v.name, v.rule);
    return outcome;
  } catch (err) {
    for (const issue of (err as TarmacError).issues ?? []) count(issue.field.split('/').pop() ?? '', issue.rule);
    throw err;
  }
}

/**
 * Interleaves the model's answers with the fallback's (the rule's constant answer, or the fallback version's answers
 * in order), in the request's record order; fallback ones are flagged with the violations that sent them there.
 */
function mergeFallback(fallback: boolean[], fromModel: RecordPrediction[], from: FallbackAnswer | RecordPrediction[], reasons: EdgeOutcome['reasons']): RecordAnswerBody[] {
  let nextModel = 0;
  let nextFallback = 0;
  return fallback.map((useFallback, i) => {
    if (!useFallback) return fromModel[nextModel++]!;
    const violations = (reasons[i] ?? []).map((v) => ({ field: v.name, rule: v.rule }));
    if (Array.isArray(from)) return { ...from[nextFallback++]!, fallback: true as const, violations };
    return { prediction: from.prediction as RecordPrediction['prediction'], ...(from.probabilities ? { probabilities: from.probabilities } : {}), fallback: true as const, violations };
  });
}

/** A record's answer before it gets its id and version. */
/** A prediction as the log keeps it: with the experiment's unit key and the record's subject, when there are. */
function loggedOutput<P extends object>(p: P, unit: string | undefined, subject: string | null | undefined): P & { unit?: string; subject?: string } {
  const withUnit = unit === undefined ? p : { ...p, unit };
  return typeof subject === 'string' ? { ...withUnit, subject } : withUnit;
}

type RecordAnswerBody = RecordPrediction & { fallback?: true; violations?: { field: string; rule: string }[] };

/** An experiment's unit key for a request: its header, or the field of the first record; undefined when absent. */
function unitKeyOf(experiment: { unit: { header?: string; field?: string } }, headers: RequestContext['headers'], body: unknown): string | undefined {
  if (experiment.unit.header) {
    const value = headers?.[experiment.unit.header.toLowerCase()];
    const text = Array.isArray(value) ? value[0] : value;
    return text === undefined || text === '' ? undefined : text;
  }
  if (experiment.unit.field) {
    const first = (body as { records?: unknown[] } | null)?.records?.[0];
    const value = typeof first === 'object' && first !== null ? (first as Record<string, unknown>)[experiment.unit.field] : undefined;
    return value === undefined || value === null ? undefined : String(value);
  }
  return undefined;
}
