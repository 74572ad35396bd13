import type { EventBus } from '../../bus/index.ts';
import type { RegistryService } from '../../registry/index.ts';
import type { AuditLog, Principal } from '../../security/index.ts';
import type { RouteTable } from '../../serving/index.ts';
import type { Clock } from '../../shared/clock.ts';
import { TarmacError } from '../../shared/errors.ts';
import type { FieldIssue } from '../../shared/errors.ts';
import { newTimeOrderedId } from '../../shared/ids.ts';
import type { AlertConfigStore, PredictionStore } from '../../store/index.ts';
import { analyze } from '../rollouts/analysis.ts';
import type { AnalysisResult, Gate, VariantEvidence } from '../rollouts/analysis.ts';
import { assignVariant, fixedBucketRanges } from './assign.ts';
import { analyzeExperiment, armFromValues, inferMetricType } from './stats.ts';
import type { ExperimentReadout, MetricType } from './stats.ts';

/** A live A/B experiment on a model's deployment variants. */
export interface ExperimentSpec {
  id: string;
  model: string;
  status: 'running' | 'stopped';
  /** The variants in the experiment, control first (names of the deployment's variants). */
  variants: string[];
  /** Intended share per variant (sums to 1). */
  weights: number[];
  unit: { header?: string; field?: string };
  /** The primary metric, read from feedback labels: binary (0/1, true/false) or continuous; inferred when unset. */
  metric?: MetricType;
  /** Guardrails: each treatment against the control on the rollout gates (error share, p99 latency, accuracy). */
  guardrails?: Gate[];
  /** The hash seed (the experiment's id), so assignments differ between experiments. */
  seed: string;
  startedAt: number;
  stoppedAt: number | null;
  createdBy: string;
}

/** What a client asks for when it starts an experiment. */
export interface ExperimentRequest {
  variants?: string[];
  weights?: number[];
  unitHeader?: string;
  unitField?: string;
  metric?: MetricType;
  guardrails?: Gate[];
}

/** One treatment's guardrail verdicts against the control. */
export interface GuardrailReadout {
  variant: string;
  outcome: AnalysisResult['outcome'];
  gates: AnalysisResult['gates'];
}

const HEADER = /^[A-Za-z0-9-]{1,64}$/;

/**
 * Live A/B experiments: units (a header or a record field) are assigned to the deployment's variants by GrowthBook's
 * FNV-1a hash with fixed slot ranges — sticky, stateless, the same on every replica — and the primary metric comes
 * from feedback labels joined to the answers' variants. The readout is the offline one (experiments analyze):
 * per-variant means, lifts, tests, CIs, the always-valid sequential p-value and CI, sample-ratio mismatch and Holm.
 * Each unit is one observation (the mean of its labels); answers logged without a unit key count one each.
 */
export class ExperimentService {
  constructor(
    private readonly deps: {
      settings: Pick<AlertConfigStore, 'getSetting' | 'putSetting'>;
      registry: Pick<RegistryService, 'getDeployment' | 'listDeployments'>;
      /** Each variant's requests, errors, latency and accuracy since the experiment started (MonitorService.variantEvidence). */
      evidence?: (model: string, version: number, variant: string, since: number, until: number) => Promise<VariantEvidence>;
      routes: Pick<RouteTable, 'setExperiment'>;
      predictions: Pick<PredictionStore, 'labelsByVariant'>;
      audit: AuditLog;
      bus: EventBus;
      clock: Clock;
    },
  ) {}

  /** Puts every running experiment on this replica's routes (at start, and when another replica changes one). */
  async load(model?: string): Promise<void> {
    const models = model ? [model] : (await this.deps.registry.listDeployments()).map((d) => d.modelName);
    for (const m of models) {
      const spec = await this.spec(m);
      this.apply(m, spec?.status === 'running' ? spec : undefined);
    }
  }

  /**
   * Starts an experiment on the deployment's variants (all of them by default, the first as control). Throws
   * SERVING_NOT_DEPLOYED, VALIDATION_FAILED naming each bad field, or EXPERIMENT_RUNNING when one is running.
   */
  async start(model: string, request: ExperimentRequest, by: Principal): Promise<ExperimentSpec> {
    const deployment = await this.deps.registry.getDeployment(model);
    const existing = await this.spec(model);
    if (existing?.status === 'running') {
      throw new TarmacError('EXPERIMENT_RUNNING', `an experiment on ${model} is running: stop it first`, { details: { model, experiment: existing.id } });
    }
    const names = deployment.spec.variants.map((v) => v.name);
    const variants = request.variants ?? names;
    const issues: FieldIssue[] = [];
    if (variants.length < 2) issues.push({ field: '/variants', rule: 'min_items', message: 'an experiment needs a control and at least one treatment' });
    variants.forEach((v, i) => {
      if (!names.includes(v)) issues.push({ field: `/variants/${i}`, rule: 'deployed', message: `${v} is not a variant of the deployment (${names.join(', ')})` });
      if (variants.indexOf(v) !== i) issues.push({ field: `/variants/${i}`, rule: 'unique', message: `${v} is named twice` });
    });
    const raw = request.weights ?? variants.map(() => 1);
    if (raw.length !== variants.length || raw.some((w) => !(w > 0) || !Number.isFinite(w))) issues.push({ field: '/weights', rule: 'positive', message: 'one positive weight per variant' });
    if ((request.unitHeader === undefined) === (request.unitField === undefined)) issues.push({ field: '/unit', rule: 'one_of', message: 'give unit_header or unit_field (one of them)' });
    if (request.unitHeader !== undefined && !HEADER.test(request.unitHeader)) issues.push({ field: '/unit_header', rule: 'pattern', message: 'must be a header name' });
    (request.guardrails ?? []).forEach((g, i) => {
      if (!['error_rate', 'latency_p99', 'accuracy'].includes(g.kind)) issues.push({ field: `/guardrails/${i}/kind`, rule: 'enum', message: 'must be error_rate, latency_p99 or accuracy' });
      if (!(typeof g.threshold === 'number' && g.threshold >= 0)) issues.push({ field: `/guardrails/${i}/threshold`, rule: 'range', message: 'must be a number ≥ 0' });
    });
    if (issues.length > 0) throw new TarmacError('VALIDATION_FAILED', `the experiment is not valid: ${issues.map((i) => `${i.field} ${i.message}`).join('; ')}`, { issues });
    const total = raw.reduce((a, b) => a + b, 0);
    const id = newTimeOrderedId();
    const spec: ExperimentSpec = {
      id, model, status: 'running', variants, weights: raw.map((w) => w / total),
      unit: request.unitHeader !== undefined ? { header: request.unitHeader.toLowerCase() } : { field: request.unitField! },
      ...(request.metric ? { metric: request.metric } : {}),
      ...(request.guardrails?.length ? { guardrails: request.guardrails } : {}),
      seed: id, startedAt: this.deps.clock.now(), stoppedAt: null, createdBy: by.id,
    };
    await this.save(spec, by, () => this.deps.audit.record(by, 'experiment.start', `model:${model}`, { experiment: id, variants, weights: spec.weights, unit: spec.unit }));
    return spec;
  }

  /** Stops the running experiment (idempotent); traffic goes back to the deployment's weights. Throws EXPERIMENT_NOT_FOUND without one. */
  async stop(model: string, by: Principal): Promise<ExperimentSpec> {
    const spec = await this.require(model);
    if (spec.status === 'stopped') return spec;
    const stopped: ExperimentSpec = { ...spec, status: 'stopped', stoppedAt: this.deps.clock.now() };
    await this.save(stopped, by, () => this.deps.audit.record(by, 'experiment.stop', `model:${model}`, { experiment: spec.id }));
    return stopped;
  }

  /** The experiment with its readout from the labels so far (null until every variant has a label). */
  async status(model: string): Promise<{ experiment: ExperimentSpec; readout: ExperimentReadout | null; guardrails: GuardrailReadout[]; message: string | null }> {
    const spec = await this.require(model);
    const guardrails = await this.guardrails(spec);
    const labelled = await this.deps.predictions.labelsByVariant(model, spec.startedAt);
    // One observation per unit (the mean of its labels), as GrowthBook counts users; answers without a unit key count alone.
    const perUnit = new Map<string, Map<string, { sum: number; n: number }>>(spec.variants.map((v) => [v, new Map()]));
    let skipped = 0;
    let anonymous = 0;
    for (const { variant, label, unit } of labelled) {
      const units = perUnit.get(variant);
      if (!units) continue;
      const x = typeof label === 'boolean' ? (label ? 1 : 0) : typeof label === 'number' ? label : Number.NaN;
      if (!Number.isFinite(x)) {
        skipped++;
        continue;
      }
      const key = unit ?? `answer:${anonymous++}`;
      const acc = units.get(key) ?? { sum: 0, n: 0 };
      acc.sum += x;
      acc.n++;
      units.set(key, acc);
    }
    const values = new Map<string, number[]>([...perUnit].map(([v, units]) => [v, [...units.values()].map((u) => u.sum / u.n)]));
    if ([...values.values()].some((v) => v.length < 2)) {
      return { experiment: spec, readout: null, guardrails, message: 'every variant needs at least two labelled answers before a readout' };
    }
    const metric = spec.metric ?? inferMetricType([...values.values()].flat());
    const arms = spec.variants.map((v) => armFromValues(v, values.get(v)!));
    const readout = analyzeExperiment(arms, {
      control: spec.variants[0]!, metric, weights: Object.fromEntries(spec.variants.map((v, i) => [v, spec.weights[i]!])),
    });
    return { experiment: spec, readout, guardrails, message: skipped > 0 ? `${skipped} labels were not numeric and were left out` : null };
  }

  /** Each treatment against the control on the guardrails, from the monitor's windows since the experiment started. */
  private async guardrails(spec: ExperimentSpec): Promise<GuardrailReadout[]> {
    if (!spec.guardrails?.length || !this.deps.evidence) return [];
    const deployment = await this.deps.registry.getDeployment(spec.model);
    const versionOf = (name: string) => deployment.spec.variants.find((v) => v.name === name)?.version;
    const until = spec.stoppedAt ?? this.deps.clock.now();
    const controlVersion = versionOf(spec.variants[0]!);
    if (controlVersion === undefined) return [];
    const control = await this.deps.evidence(spec.model, controlVersion, spec.variants[0]!, spec.startedAt, until);
    const out: GuardrailReadout[] = [];
    for (const variant of spec.variants.slice(1)) {
      const version = versionOf(variant);
      if (version === undefined) continue;
      const treatment = await this.deps.evidence(spec.model, version, variant, spec.startedAt, until);
      const result = analyze({ canary: treatment, stable: control, gates: spec.guardrails, minSamples: 1, minLabels: 30 });
      out.push({ variant, outcome: result.outcome, gates: result.gates });
    }
    return out;
  }

  /** Stores the experiment and its audit entry in one transaction, then applies it here and announces it. */
  private async save(spec: ExperimentSpec, by: Principal, audit: () => Promise<unknown>): Promise<void> {
    await this.deps.audit.atomically(async () => {
      await this.deps.settings.putSetting(`experiment:${spec.model}`, JSON.stringify(spec), by.id, this.deps.clock.now());
      await audit();
    });
    this.apply(spec.model, spec.status === 'running' ? spec : undefined);
    await this.deps.bus.publish('experiment.changed', { model: spec.model, status: spec.status, by: by.id });
  }

  private apply(model: string, spec: ExperimentSpec | undefined): void {
    if (!spec) {
      this.deps.routes.setExperiment(model, undefined);
      return;
    }
    const ranges = fixedBucketRanges(spec.weights, spec.weights);
    this.deps.routes.setExperiment(model, {
      assign: (unitKey) => assignVariant(unitKey, { seed: spec.seed, variants: spec.variants, ranges }),
      unit: spec.unit,
      control: spec.variants[0]!,
    });
  }

  private async spec(model: string): Promise<ExperimentSpec | undefined> {
    const stored = await this.deps.settings.getSetting(`experiment:${model}`);
    return stored ? JSON.parse(stored.document) as ExperimentSpec : undefined;
  }

  private async require(model: string): Promise<ExperimentSpec> {
    const spec = await this.spec(model);
    if (!spec) throw new TarmacError('EXPERIMENT_NOT_FOUND', `model ${model} has no experiment`, { details: { model } });
    return spec;
  }
}
