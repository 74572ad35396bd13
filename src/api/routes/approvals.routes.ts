import type { FastifyInstance } from 'fastify';
import type { ApprovalStatus } from '../../delivery/approvals/index.ts';
import { TarmacError } from '../../shared/errors.ts';
import type { ApiDeps } from '../deps.ts';
import { approvalView } from '../views.ts';

type NameParams = { name: string };
type ApprovalParams = { name: string; id: string };
const nameParam = { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 200 } } } as const;
const approvalParams = {
  type: 'object', required: ['name', 'id'],
  properties: { name: { type: 'string', maxLength: 200 }, id: { type: 'string', maxLength: 64 } },
} as const;

/** Four-eyes promotion over HTTP: a model's policy, its pending and decided approvals, approve and reject. */
export function approvalsRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const tags = ['approvals'];
  const policyView = (p: { fourEyes: boolean; expiresAfterSeconds: number }) => ({ four_eyes: p.fourEyes, expires_after_seconds: p.expiresAfterSeconds });

  app.get<{ Params: NameParams }>('/v1/models/:name/policy', {
    config: { permission: 'models:read', scope: { model: 'name' } },
    schema: { tags, summary: 'The model\'s promotion policy (four-eyes)', params: nameParam },
  }, async (request) => policyView(await deps.approvals.policy(request.params.name)));

  app.put<{ Params: NameParams; Body: { four_eyes?: boolean; expires_after_seconds?: number } }>('/v1/models/:name/policy', {
    config: { permission: 'policies:write', scope: { model: 'name' } },
    schema: {
      tags, params: nameParam,
      summary: 'Set the model\'s promotion policy: with four_eyes, a change that gives a version the majority of the traffic waits for a second person',
      body: {
        type: 'object', additionalProperties: false,
        properties: { four_eyes: { type: 'boolean' }, expires_after_seconds: { type: 'integer', description: 'how long a request waits for its approver (default one day)' } },
      },
    },
  }, async (request) => {
    await deps.registry.describeModel(request.params.name); // REGISTRY_MODEL_NOT_FOUND for an unknown model
    return policyView(await deps.approvals.setPolicy(request.params.name, { fourEyes: request.body.four_eyes, expiresAfterSeconds: request.body.expires_after_seconds }, request.principal));
  });

  app.get<{ Params: NameParams; Querystring: { status?: ApprovalStatus } }>('/v1/models/:name/approvals', {
    config: { permission: 'models:read', scope: { model: 'name' } },
    schema: {
      tags, params: nameParam, summary: 'The model\'s approvals, newest first',
      querystring: { type: 'object', additionalProperties: false, properties: { status: { type: 'string', enum: ['pending', 'approved', 'rejected', 'expired', 'failed'] } } },
    },
  }, async (request) => ({ approvals: (await deps.approvals.list(request.params.name, { status: request.query.status })).map(approvalView) }));

  app.get<{ Params: ApprovalParams }>('/v1/models/:name/approvals/:id', {
    config: { permission: 'models:read', scope: { model: 'name' } },
    schema: { tags, params: approvalParams, summary: 'One approval' },
  }, async (request) => approvalView(await deps.approvals.get(request.params.name, request.params.id)));

  app.post<{ Params: ApprovalParams }>('/v1/models/:name/approvals/:id/approve', {
    config: { permission: 'deployments:promote', scope: { model: 'name' } },
    schema: { tags, params: approvalParams, summary: 'Approve a pending change and apply it; the person who asked cannot approve it' },
  }, async (request) => {
    const { approval } = await deps.approvals.approve(request.params.name, request.params.id, request.principal);
    await deps.routes.refresh(request.params.name);
    return approvalView(approval);
  });

  app.post<{ Params: ApprovalParams; Body: { reason?: string } | undefined }>('/v1/models/:name/approvals/:id/reject', {
    config: { permission: 'deployments:promote', scope: { model: 'name' } },
    schema: { tags, params: approvalParams, summary: 'Reject a pending change (the person who asked may withdraw it); an optional body {"reason": "…"}' },
  }, async (request) => {
    // The body is optional, so it is checked here rather than by a schema (which would refuse an empty POST).
    const reason = (request.body as { reason?: unknown } | undefined)?.reason;
    if (reason !== undefined && (typeof reason !== 'string' || reason.length > 500)) {
      throw new TarmacError('VALIDATION_FAILED', 'reason must be a string of at most 500 characters', { issues: [{ field: '/reason', rule: 'type', message: 'must be a string of at most 500 characters' }] });
    }
    return approvalView(await deps.approvals.reject(request.params.name, request.params.id, request.principal, reason));
  });
}
