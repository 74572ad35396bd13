import type { EventBus } from '../../bus/index.ts';
import type { RegistryService } from '../../registry/index.ts';
import type { AuditLog, Principal } from '../../security/index.ts';
import { SYSTEM_PRINCIPAL } from '../../security/index.ts';
import type { Clock } from '../../shared/clock.ts';
import { TarmacError } from '../../shared/errors.ts';
import type { FieldIssue } from '../../shared/errors.ts';
import { newTimeOrderedId } from '../../shared/ids.ts';
import type { Logger } from '../../shared/logger.ts';
import type { RolloutStore } from '../../store/index.ts';
import { analyze } from './analysis.ts';
import type { AnalysisResult, Gate, GateKind, VariantEvidence } from './analysis.ts';

/** Where a rollout stands. */
export type RolloutStatus = 'progressing' | 'paused' | 'promoted' | 'aborted';

/** One step's analysis, as the rollout keeps it. */
export interface RolloutAnalysis {
  at: number;
  step: number;
  weight: number;
  outcome: AnalysisResult['outcome'];
  gates: AnalysisResult['gates'];
  skipped?: AnalysisResult['skipped'];
}

/** A rollout: its plan and where it stands (persisted, so it survives a restart). */
export interface RolloutState {
  id: string;
  model: string;
  canaryVersion: number;
  stableVersion: number;
  /** The deployment revision before the rollout: re-applied on abort. */
  stableRevision: number;
  steps: number[];
  intervalSeconds: number;
  gates: Gate[];
  minSamples: number;
  minLabels: number;
  /** Failed analyses tolerated before the rollout aborts (Argo Rollouts' failureLimit). */
  failureLimit: number;
  /** Inconclusive analyses tolerated before the rollout pauses for a person (Argo Rollouts' inconclusiveLimit). */
  inconclusiveLimit: number;
  /** Analyses that could not run (evidence unreadable) in a row before the rollout pauses (Argo Rollouts' consecutiveErrorLimit). */
  consecutiveErrorLimit: number;
  /** Analyses that could not run, in a row. */
  consecutiveErrors?: number;
  /** How long a step may wait for enough data before it counts as inconclusive. */
  deadlineSeconds: number;
  /** How long the rollout may stay paused before it is aborted (so nothing hangs). */
  pauseDeadlineSeconds: number;
  status: RolloutStatus;
  stepIndex: number;
  stepStartedAt: number;
  failures: number;
  inconclusives: number;
  reason: string | null;
  analyses: RolloutAnalysis[];
  createdBy: string;
  createdAt: number;
  updatedAt: number;
}

/** What a client asks for when it starts a rollout. */
export interface RolloutRequest {
  version: number | string;
  steps?: number[];
  intervalSeconds?: number;
  gates?: Gate[];
  minSamples?: number;
  minLabels?: number;
  failureLimit?: number;
  inconclusiveLimit?: number;
  consecutiveErrorLimit?: number;
  deadlineSeconds?: number;
  pauseDeadlineSeconds?: number;
}

/** Where the controller reads a variant's evidence (MonitorService.variantEvidence); `profile` is the merged window profile. */
export type EvidenceSource = (model: string, version: number, variant: string, since: number, until: number) => Promise<VariantEvidence & { profile?: unknown }>;

/** The drift statistic between two variants' predictions from their merged profiles (null when they cannot be compared). */
export type OutputComparison = (canaryProfile: unknown, stableProfile: unknown) => number | null;

const GATE_KINDS: readonly GateKind[] = ['error_rate', 'latency_p99', 'accuracy', 'prediction_drift', 'shadow_disagreement', 'business_metric'];
const DEFAULT_GATES: Gate[] = [{ kind: 'error_rate', threshold: 0.01 }, { kind: 'latency_p99', threshold: 1.5 }];
const LEASE = 'rollout-controller';
const MAX_ANALYSES = 200;

/**
 * Canary rollouts: the canary takes a growing share of traffic step by step; after each step's interval an analysis
 * compares it with the stable variant on the rollout's gates. Pass advances (passing the step before the final 100%
 * promotes), fail rolls back
 * to the revision that served before (after `failureLimit` failures), inconclusive holds and pauses for a person
 * (after `inconclusiveLimit`), and "not enough data" waits — until the step's deadline, when it counts as
 * inconclusive. State lives in the store, so the controller survives a restart; a lease makes it run on one replica.
 */
export class RolloutService {
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private readonly holder = newTimeOrderedId();

  constructor(
    private readonly deps: {
      store: RolloutStore;
      registry: Pick<RegistryService, 'getDeployment' | 'setDeployment' | 'rollback' | 'resolveVersion'>;
      evidence: EvidenceSource;
      /**
       * Asked before the controller promotes on its own: undefined to go ahead, or the id of the four-eyes approval
       * the promotion waits for (the rollout then pauses until a second person approves, rejects or it times out).
       */
      promotionGate?: (state: RolloutState) => Promise<string | undefined>;
      /** Compares the variants' predictions for the prediction_drift gate (the monitor's profile drift). */
      compareOutputs?: OutputComparison;
      audit: AuditLog;
      bus: EventBus;
      clock: Clock;
      log: Logger;
    },
  ) {}

  /**
   * Starts a rollout of `request.version` against the stable variant now deployed: the canary gets the first step's
   * share at once. Throws VALIDATION_FAILED naming each bad field, SERVING_NOT_DEPLOYED, REGISTRY_VERSION_NOT_FOUND
   * or ROLLOUT_IN_PROGRESS.
   */
  async start(model: string, request: RolloutRequest, by: Principal): Promise<RolloutState> {
    const plan = parseRequest(request);
    const latest = await this.latest(model);
    if (latest && (latest.status === 'progressing' || latest.status === 'paused')) {
      throw new TarmacError('ROLLOUT_IN_PROGRESS', `a rollout of ${model} is already ${latest.status}: promote, abort or resume it first`, { details: { model, rollout: latest.id } });
    }
    const deployment = await this.deps.registry.getDeployment(model);
    const stable = deployment.spec.variants.find((v) => v.name === 'stable') ?? deployment.spec.variants[0]!;
    const canary = await this.deps.registry.resolveVersion(model, request.version);
    if (canary.version === stable.version) {
      throw new TarmacError('VALIDATION_FAILED', `version ${canary.version} is already the stable version`, { issues: [{ field: '/version', rule: 'different', message: 'must differ from the stable version' }] });
    }
    const now = this.deps.clock.now();
    const state: RolloutState = {
      id: newTimeOrderedId(), model, canaryVersion: canary.version, stableVersion: stable.version, stableRevision: deployment.revision,
      ...plan, status: 'progressing', stepIndex: 0, stepStartedAt: now, failures: 0, inconclusives: 0, reason: null, analyses: [],
      createdBy: by.id, createdAt: now, updatedAt: now,
    };
    await this.applyWeight(state, state.steps[0]!, by);
    await this.deps.audit.atomically(async () => {
      await this.save(state);
      await this.deps.audit.record(by, 'rollout.start', `model:${model}`, { rollout: state.id, canary: canary.version, stable: stable.version, steps: state.steps, gates: state.gates });
    });
    return state;
  }

  /** The model's newest rollout. Throws ROLLOUT_NOT_FOUND. */
  async status(model: string): Promise<RolloutState> {
    const state = await this.latest(model);
    if (!state) throw new TarmacError('ROLLOUT_NOT_FOUND', `model ${model} has no rollout`, { details: { model } });
    return state;
  }

  /** Pauses a progressing rollout (idempotent: a paused one stays paused). Throws ROLLOUT_NOT_FOUND or ROLLOUT_FINISHED. */
  async pause(model: string, by: Principal): Promise<RolloutState> {
    const state = await this.unfinished(model);
    if (state.status === 'paused') return state;
    return this.finishStep(state, { status: 'paused', reason: `paused by ${by.id}` }, by, 'rollout.pause');
  }

  /** Resumes a paused rollout; the current step starts over (idempotent). Throws ROLLOUT_NOT_FOUND or ROLLOUT_FINISHED. */
  async resume(model: string, by: Principal): Promise<RolloutState> {
    const state = await this.unfinished(model);
    if (state.status === 'progressing') return state;
    return this.finishStep(state, { status: 'progressing', reason: null, stepStartedAt: this.deps.clock.now(), failures: 0, inconclusives: 0 }, by, 'rollout.resume');
  }

  /** Sends all traffic to the canary now (idempotent on a promoted rollout). Throws ROLLOUT_NOT_FOUND or ROLLOUT_FINISHED (aborted). */
  async promote(model: string, by: Principal): Promise<RolloutState> {
    const state = await this.status(model);
    if (state.status === 'promoted') return state;
    if (state.status === 'aborted') throw finished(state);
    await this.deps.registry.setDeployment(model, { variants: [{ name: 'stable', version: state.canaryVersion, weight: 100 }] }, by);
    return this.finishStep(state, { status: 'promoted', reason: `promoted by ${by.id}` }, by, 'rollout.promote');
  }

  /** Re-applies the stable revision and ends the rollout (idempotent on an aborted one). Throws ROLLOUT_NOT_FOUND or ROLLOUT_FINISHED (promoted). */
  async abort(model: string, by: Principal, reason = `aborted by ${by.id}`): Promise<RolloutState> {
    const state = await this.status(model);
    if (state.status === 'aborted') return state;
    if (state.status === 'promoted') throw finished(state);
    await this.deps.registry.rollback(model, state.stableRevision, by);
    return this.finishStep(state, { status: 'aborted', reason }, by, 'rollout.abort');
  }

  /** Runs the controller every `intervalMs` on the replica that holds the lease. */
  startController(intervalMs: number): void {
    this.timer ??= setInterval(() => void this.tick().catch((err: unknown) => this.deps.log.error({ err }, 'rollout tick failed')), intervalMs);
    this.timer.unref();
  }

  /** Analyses every progressing rollout whose step interval has passed (only while holding the lease). */
  async tick(): Promise<void> {
    while (this.ticking) await this.ticking;
    this.ticking = this.runTick().finally(() => {
      this.ticking = undefined;
    });
    await this.ticking;
  }

  /** Stops the controller after its current tick. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    while (this.ticking) await this.ticking;
  }

  private async runTick(): Promise<void> {
    const now = this.deps.clock.now();
    if (!(await this.deps.store.acquireLease(LEASE, this.holder, now, now + 30_000))) return;
    for (const row of await this.deps.store.listRollouts(['progressing', 'paused'])) {
      const state = JSON.parse(row.state) as RolloutState;
      try {
        if (state.status === 'paused') {
          // A pause nobody resolves must not hold a split forever: past its deadline the stable revision returns.
          if (now >= state.updatedAt + (state.pauseDeadlineSeconds ?? 86_400) * 1000) {
            await this.deps.registry.rollback(state.model, state.stableRevision, SYSTEM_PRINCIPAL);
            await this.finishStep(state, { status: 'aborted', reason: `paused for longer than ${state.pauseDeadlineSeconds ?? 86_400}s without a decision (${state.reason ?? 'paused'})` }, SYSTEM_PRINCIPAL, 'rollout.abort');
          }
          continue;
        }
        await this.step(state, now);
      } catch (err) {
        this.deps.log.error({ err, model: state.model, rollout: state.id }, 'rollout step failed; it is retried at the next tick');
        await this.countError(state, err).catch((e: unknown) => this.deps.log.error({ err: e, rollout: state.id }, 'could not record a failed analysis'));
      }
    }
  }

  /** An analysis that could not run: counted; past `consecutiveErrorLimit` in a row the rollout pauses for a person. */
  private async countError(state: RolloutState, err: unknown): Promise<void> {
    const row = await this.deps.store.latestRollout(state.model);
    const current = row ? JSON.parse(row.state) as RolloutState : state;
    if (current.id !== state.id || current.status !== 'progressing') return;
    const errors = (current.consecutiveErrors ?? 0) + 1;
    const message = err instanceof Error ? err.message : String(err);
    if (errors > (current.consecutiveErrorLimit ?? 4)) {
      await this.finishStep(current, { status: 'paused', consecutiveErrors: errors, reason: `the analysis could not run ${errors} times in a row (${message}): needs a person (resume, promote or abort)` }, SYSTEM_PRINCIPAL, 'rollout.pause');
      return;
    }
    await this.save({ ...current, consecutiveErrors: errors, updatedAt: this.deps.clock.now() });
  }

  private async step(state: RolloutState, now: number): Promise<void> {
    if (now < state.stepStartedAt + state.intervalSeconds * 1000) return;
    const weight = state.steps[state.stepIndex]!;
    const [canary, stable] = await Promise.all([
      this.deps.evidence(state.model, state.canaryVersion, 'canary', state.stepStartedAt, now),
      this.deps.evidence(state.model, state.stableVersion, 'stable', state.stepStartedAt, now),
    ]);
    state.consecutiveErrors = 0; // the evidence was read: the analysis runs
    const wantsDrift = state.gates.some((g) => g.kind === 'prediction_drift');
    const predictionDrift = wantsDrift && this.deps.compareOutputs ? this.deps.compareOutputs(canary.profile, stable.profile) : null;
    let result = analyze({
      canary, stable, gates: state.gates, minSamples: state.minSamples, minLabels: state.minLabels, predictionDrift,
      phase: weight === 0 ? 'shadow' : 'live',
    });
    if (result.outcome === 'not_enough_data') {
      if (now < state.stepStartedAt + state.deadlineSeconds * 1000) {
        // Keep gathering: the next tick judges the whole step so far.
        if (state.analyses.at(-1)?.outcome !== 'not_enough_data' || state.analyses.at(-1)?.step !== state.stepIndex) {
          this.record(state, now, weight, result);
          await this.save({ ...state, updatedAt: now });
        }
        return;
      }
      result = { ...result, outcome: 'inconclusive' };
    }
    this.record(state, now, weight, result);
    const by = SYSTEM_PRINCIPAL;
    if (result.outcome === 'pass') {
      // The last step is 100%: with no stable traffic left to compare against, passing the step before it promotes.
      if (state.stepIndex >= state.steps.length - 2) {
        const approval = await this.deps.promotionGate?.(state);
        if (approval) {
          await this.finishStep(state, { status: 'paused', reason: `every step passed; the promotion waits for a second person's approval (tarmac approvals approve ${state.model} ${approval})` }, by, 'rollout.pause');
          return;
        }
        await this.deps.registry.setDeployment(state.model, { variants: [{ name: 'stable', version: state.canaryVersion, weight: 100 }] }, by);
        await this.finishStep(state, { status: 'promoted', reason: 'every step passed its analysis' }, by, 'rollout.promote');
        return;
      }
      const next = state.stepIndex + 1;
      await this.applyWeight(state, state.steps[next]!, by);
      await this.finishStep(state, { stepIndex: next, stepStartedAt: now, failures: 0, inconclusives: 0 }, by, 'rollout.advance');
      return;
    }
    if (result.outcome === 'fail') {
      const failures = state.failures + 1;
      if (failures > state.failureLimit) {
        await this.deps.registry.rollback(state.model, state.stableRevision, by);
        const failed = result.gates.filter((g) => g.verdict === 'fail').map((g) => g.message).join('; ');
        await this.finishStep(state, { status: 'aborted', failures, reason: `analysis failed at ${weight}%: ${failed}` }, by, 'rollout.abort');
        return;
      }
      await this.finishStep(state, { failures, stepStartedAt: now }, by, 'rollout.analysis');
      return;
    }
    const inconclusives = state.inconclusives + 1;
    if (inconclusives > state.inconclusiveLimit) {
      await this.finishStep(state, { status: 'paused', inconclusives, reason: `analysis inconclusive at ${weight}%: needs a person (resume, promote or abort)` }, by, 'rollout.pause');
      return;
    }
    await this.finishStep(state, { inconclusives, stepStartedAt: now }, by, 'rollout.analysis');
  }

  private record(state: RolloutState, at: number, weight: number, result: AnalysisResult): void {
    state.analyses.push({ at, step: state.stepIndex, weight, outcome: result.outcome, gates: result.gates, ...(result.skipped ? { skipped: result.skipped } : {}) });
    if (state.analyses.length > MAX_ANALYSES) state.analyses.splice(0, state.analyses.length - MAX_ANALYSES);
  }

  private async applyWeight(state: RolloutState, weight: number, by: Principal): Promise<void> {
    if (weight === 0) {
      // The shadow step: the stable variant answers everything; the canary gets a copy and answers nobody.
      await this.deps.registry.setDeployment(state.model, {
        variants: [{ name: 'stable', version: state.stableVersion, weight: 100 }],
        shadows: [{ name: 'canary', version: state.canaryVersion }],
      }, by);
      return;
    }
    await this.deps.registry.setDeployment(state.model, {
      variants: [
        { name: 'stable', version: state.stableVersion, weight: 100 - weight },
        { name: 'canary', version: state.canaryVersion, weight },
      ],
    }, by);
  }

  private async finishStep(state: RolloutState, change: Partial<RolloutState>, by: Principal, action: string): Promise<RolloutState> {
    const next: RolloutState = { ...state, ...change, updatedAt: this.deps.clock.now() };
    await this.deps.audit.atomically(async () => {
      await this.save(next);
      await this.deps.audit.record(by, action, `model:${state.model}`, {
        rollout: state.id, status: next.status, step: next.stepIndex, weight: next.steps[next.stepIndex], reason: next.reason,
        outcome: next.analyses.at(-1)?.outcome ?? null,
      });
    });
    return next;
  }

  private async save(state: RolloutState): Promise<void> {
    await this.deps.store.putRollout({ id: state.id, model: state.model, status: state.status, state: JSON.stringify(state), createdAt: state.createdAt, updatedAt: state.updatedAt });
  }

  private async latest(model: string): Promise<RolloutState | undefined> {
    const row = await this.deps.store.latestRollout(model);
    return row ? JSON.parse(row.state) as RolloutState : undefined;
  }

  private async unfinished(model: string): Promise<RolloutState> {
    const state = await this.status(model);
    if (state.status === 'promoted' || state.status === 'aborted') throw finished(state);
    return state;
  }
}

function finished(state: RolloutState): TarmacError {
  return new TarmacError('ROLLOUT_FINISHED', `the rollout of ${state.model} was already ${state.status}`, { details: { model: state.model, rollout: state.id, status: state.status } });
}

/** Validates a rollout plan; throws VALIDATION_FAILED with one issue per problem. */
function parseRequest(r: RolloutRequest): Pick<RolloutState, 'steps' | 'intervalSeconds' | 'gates' | 'minSamples' | 'minLabels' | 'failureLimit' | 'inconclusiveLimit' | 'consecutiveErrorLimit' | 'deadlineSeconds' | 'pauseDeadlineSeconds'> {
  const issues: FieldIssue[] = [];
  const steps = r.steps ?? [5, 25, 50, 100];
  if (!Array.isArray(steps) || steps.length === 0 || steps.length > 20) issues.push({ field: '/steps', rule: 'length', message: 'must hold 1–20 weights' });
  else {
    steps.forEach((w, i) => {
      if (i === 0 && w === 0) return; // a shadow step first: the canary gets a copy of the traffic and answers nobody
      if (!Number.isInteger(w) || w < 1 || w > 100) issues.push({ field: `/steps/${i}`, rule: 'range', message: i === 0 ? 'must be 0 (a shadow step) or a whole percentage from 1 to 100' : 'must be a whole percentage from 1 to 100' });
      else if (i > 0 && w <= steps[i - 1]!) issues.push({ field: `/steps/${i}`, rule: 'increasing', message: 'steps must increase' });
    });
    if (steps.at(-1) !== 100) issues.push({ field: `/steps/${steps.length - 1}`, rule: 'final', message: 'the last step must be 100' });
    if (steps.length < 2) issues.push({ field: '/steps', rule: 'length', message: 'needs at least one step below 100 to analyse before promoting' });
  }
  const intervalSeconds = r.intervalSeconds ?? 600;
  if (!Number.isInteger(intervalSeconds) || intervalSeconds < 1 || intervalSeconds > 7 * 86400) issues.push({ field: '/interval_seconds', rule: 'range', message: 'must be 1 s to 7 days' });
  const gates = r.gates ?? DEFAULT_GATES;
  gates.forEach((g, i) => {
    if (!GATE_KINDS.includes(g.kind)) issues.push({ field: `/gates/${i}/kind`, rule: 'enum', message: `must be one of ${GATE_KINDS.join(', ')}` });
    if (typeof g.threshold !== 'number' || !Number.isFinite(g.threshold) || g.threshold < 0) issues.push({ field: `/gates/${i}/threshold`, rule: 'range', message: 'must be a number ≥ 0' });
    if (g.kind === 'business_metric' && (typeof g.metric !== 'string' || g.metric === '')) issues.push({ field: `/gates/${i}/metric`, rule: 'required', message: 'a business_metric gate names its metric' });
    if (g.kind !== 'business_metric' && g.metric !== undefined) issues.push({ field: `/gates/${i}/metric`, rule: 'not_allowed', message: 'only a business_metric gate names a metric' });
    if (g.direction !== undefined && !['higher', 'lower'].includes(g.direction)) issues.push({ field: `/gates/${i}/direction`, rule: 'enum', message: 'must be higher or lower' });
    if (g.kind === 'shadow_disagreement' && Array.isArray(steps) && steps[0] !== 0) issues.push({ field: `/gates/${i}/kind`, rule: 'needs_shadow_step', message: 'a shadow_disagreement gate needs a shadow step: start the steps with 0 (e.g. 0,10,50,100)' });
  });
  const int = (v: number | undefined, fallback: number, field: string, min: number, max: number) => {
    const x = v ?? fallback;
    if (!Number.isInteger(x) || x < min || x > max) issues.push({ field, rule: 'range', message: `must be a whole number from ${min} to ${max}` });
    return x;
  };
  const minSamples = int(r.minSamples, 100, '/min_samples', 1, 10_000_000);
  const minLabels = int(r.minLabels, 30, '/min_labels', 1, 10_000_000);
  const failureLimit = int(r.failureLimit, 0, '/failure_limit', 0, 100);
  const inconclusiveLimit = int(r.inconclusiveLimit, 0, '/inconclusive_limit', 0, 100);
  const consecutiveErrorLimit = int(r.consecutiveErrorLimit, 4, '/consecutive_error_limit', 0, 100);
  const deadlineSeconds = int(r.deadlineSeconds, intervalSeconds * 3, '/deadline_seconds', 1, 30 * 86400);
  const pauseDeadlineSeconds = int(r.pauseDeadlineSeconds, 86_400, '/pause_deadline_seconds', 60, 30 * 86400);
  if (issues.length > 0) throw new TarmacError('VALIDATION_FAILED', `the rollout is not valid: ${issues.map((i) => `${i.field} ${i.message}`).join('; ')}`, { issues });
  return { steps, intervalSeconds, gates, minSamples, minLabels, failureLimit, inconclusiveLimit, consecutiveErrorLimit, deadlineSeconds, pauseDeadlineSeconds };
}
