import type { FastifyInstance } from 'fastify';
import type { ExperimentRequest } from '../../delivery/experiments/index.ts';
import type { RolloutRequest, RolloutState } from '../../delivery/rollouts/index.ts';
import type { ApiDeps } from '../deps.ts';
import { approvalView } from '../views.ts';

type NameParams = { name: string };
const nameParam = { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 200 } } } as const;
const iso = (ms: number) => new Date(ms).toISOString();

/** A rollout as the API shows it. */
function rolloutView(s: RolloutState) {
  return {
    id: s.id, model: s.model, status: s.status, reason: s.reason,
    canary_version: s.canaryVersion, stable_version: s.stableVersion, stable_revision: s.stableRevision,
    steps: s.steps, step: s.stepIndex, weight: s.steps[s.stepIndex], step_started_at: iso(s.stepStartedAt),
    interval_seconds: s.intervalSeconds, deadline_seconds: s.deadlineSeconds, pause_deadline_seconds: s.pauseDeadlineSeconds, gates: s.gates, min_samples: s.minSamples, min_labels: s.minLabels,
    failure_limit: s.failureLimit, inconclusive_limit: s.inconclusiveLimit, consecutive_error_limit: s.consecutiveErrorLimit ?? 4, consecutive_errors: s.consecutiveErrors ?? 0,
    failures: s.failures, inconclusives: s.inconclusives,
    analyses: s.analyses.map((a) => ({ ...a, at: iso(a.at) })),
    created_by: s.createdBy, created_at: iso(s.createdAt), updated_at: iso(s.updatedAt),
  };
}

/** Canary rollouts over HTTP: start one, read its state and analyses, pause, resume, promote or abort it (all idempotent). */
export function rolloutsRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const tags = ['rollouts'];

  app.post<{ Params: NameParams; Body: { version: number | string; steps?: number[]; interval_seconds?: number; gates?: { kind: string; threshold: number; metric?: string; direction?: string }[]; min_samples?: number; min_labels?: number; failure_limit?: number; inconclusive_limit?: number; consecutive_error_limit?: number; deadline_seconds?: number; pause_deadline_seconds?: number } }>('/v1/models/:name/rollout', {
    config: { permission: 'deployments:write', scope: { model: 'name' } },
    schema: {
      tags,
      summary: 'Start a canary rollout: the canary takes each step\'s share in turn, each step gated by an analysis against the stable variant',
      params: nameParam,
      body: {
        type: 'object', required: ['version'], additionalProperties: false,
        properties: {
          version: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string', maxLength: 100 }] },
          steps: { type: 'array', items: { type: 'integer' }, maxItems: 20, description: 'canary shares ending at 100; a first step of 0 runs the canary as a shadow' },
          interval_seconds: { type: 'integer' },
          gates: { type: 'array', maxItems: 10, items: { type: 'object', required: ['kind', 'threshold'], additionalProperties: false, properties: {
            kind: { type: 'string', description: 'error_rate, latency_p99, accuracy, prediction_drift, shadow_disagreement or business_metric' },
            threshold: { type: 'number' },
            metric: { type: 'string', maxLength: 63, description: 'business_metric: the metric\'s name' },
            direction: { type: 'string', description: 'business_metric: higher (default) or lower is better' },
          } } },
          min_samples: { type: 'integer' }, min_labels: { type: 'integer' },
          failure_limit: { type: 'integer' }, inconclusive_limit: { type: 'integer' }, deadline_seconds: { type: 'integer' },
          consecutive_error_limit: { type: 'integer', description: 'analyses that could not run, in a row, before the rollout pauses (default 4)' },
          pause_deadline_seconds: { type: 'integer', description: 'a rollout paused longer than this is aborted (default one day)' },
        },
      },
    },
  }, async (request, reply) => {
    const b = request.body;
    const req: RolloutRequest = {
      version: b.version, steps: b.steps, intervalSeconds: b.interval_seconds, gates: b.gates as RolloutRequest['gates'],
      minSamples: b.min_samples, minLabels: b.min_labels, failureLimit: b.failure_limit, inconclusiveLimit: b.inconclusive_limit, consecutiveErrorLimit: b.consecutive_error_limit, deadlineSeconds: b.deadline_seconds,
      pauseDeadlineSeconds: b.pause_deadline_seconds,
    };
    const state = await deps.rollouts.start(request.params.name, req, request.principal);
    await deps.routes.refresh(request.params.name);
    return reply.code(201).send(rolloutView(state));
  });

  app.get<{ Params: NameParams }>('/v1/models/:name/rollout', {
    config: { permission: 'models:read', scope: { model: 'name' } },
    schema: { tags, summary: 'The model\'s newest rollout: status, step, every analysis with each gate\'s numbers', params: nameParam },
  }, async (request) => rolloutView(await deps.rollouts.status(request.params.name)));

  for (const action of ['pause', 'resume', 'abort'] as const) {
    app.post<{ Params: NameParams }>(`/v1/models/:name/rollout/${action}`, {
      // Promoting a canary to all traffic is its own permission (below); pausing, resuming and aborting are ordinary changes.
      config: { permission: 'deployments:write', scope: { model: 'name' } },
      schema: { tags, summary: `${action[0]!.toUpperCase()}${action.slice(1)} the rollout (idempotent)`, params: nameParam },
    }, async (request) => {
      const state = await deps.rollouts[action](request.params.name, request.principal);
      await deps.routes.refresh(request.params.name);
      return rolloutView(state);
    });
  }

  app.post<{ Params: NameParams }>('/v1/models/:name/rollout/promote', {
    config: { permission: 'deployments:promote', scope: { model: 'name' } },
    schema: {
      tags, params: nameParam,
      summary: 'Promote the rollout now (idempotent); under a four-eyes policy the promotion waits for a second person (202 with the pending approval)',
    },
  }, async (request, reply) => {
    const gated = await deps.approvals.promoteRollout(request.params.name, request.principal);
    if ('pending' in gated) return reply.code(202).send({ approval: approvalView(gated.pending) });
    await deps.routes.refresh(request.params.name);
    return rolloutView(gated.applied);
  });
}

/** Live A/B experiments over HTTP: start (sticky assignment of units to the deployment's variants), read out, stop. */
export function experimentsRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const tags = ['experiments'];
  app.post<{ Params: NameParams; Body: { variants?: string[]; weights?: number[]; unit_header?: string; unit_field?: string; metric?: 'binary' | 'continuous'; guardrails?: { kind: string; threshold: number }[] } }>('/v1/models/:name/experiment', {
    config: { permission: 'deployments:write', scope: { model: 'name' } },
    schema: {
      tags,
      summary: 'Start an A/B experiment on the deployment\'s variants: units (a header or a record field) stick to a variant by a deterministic hash',
      params: nameParam,
      body: {
        type: 'object', additionalProperties: false,
        properties: {
          variants: { type: 'array', minItems: 2, maxItems: 10, items: { type: 'string', maxLength: 32 } },
          weights: { type: 'array', maxItems: 10, items: { type: 'number' } },
          unit_header: { type: 'string', maxLength: 64 },
          unit_field: { type: 'string', maxLength: 200 },
          metric: { type: 'string', enum: ['binary', 'continuous'] },
          guardrails: { type: 'array', maxItems: 5, items: { type: 'object', required: ['kind', 'threshold'], additionalProperties: false, properties: {
            kind: { type: 'string', description: 'error_rate, latency_p99, accuracy, prediction_drift, shadow_disagreement or business_metric' },
            threshold: { type: 'number' },
            metric: { type: 'string', maxLength: 63, description: 'business_metric: the metric\'s name' },
            direction: { type: 'string', description: 'business_metric: higher (default) or lower is better' },
          } } },
        },
      },
    },
  }, async (request, reply) => {
    const b = request.body;
    const spec = await deps.experiments.start(request.params.name, { variants: b.variants, weights: b.weights, unitHeader: b.unit_header, unitField: b.unit_field, metric: b.metric, guardrails: b.guardrails as ExperimentRequest['guardrails'] }, request.principal);
    return reply.code(201).send(spec);
  });

  app.get<{ Params: NameParams }>('/v1/models/:name/experiment', {
    config: { permission: 'models:read', scope: { model: 'name' } },
    schema: { tags, summary: 'The experiment and its readout from the feedback so far (lifts, tests, CIs, sequential p-values, SRM, Holm)', params: nameParam },
  }, async (request) => deps.experiments.status(request.params.name));

  app.post<{ Params: NameParams }>('/v1/models/:name/experiment/stop', {
    config: { permission: 'deployments:write', scope: { model: 'name' } },
    schema: { tags, summary: 'Stop the experiment (idempotent): traffic goes back to the deployment\'s weights', params: nameParam },
  }, async (request) => deps.experiments.stop(request.params.name, request.principal));
}
