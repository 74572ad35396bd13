import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { parseSince, toExportLine } from '../../security/index.ts';
import { invalid } from '../../shared/errors.ts';
import type { KeyLimits } from '../../store/index.ts';
import type { ApiDeps } from '../deps.ts';
import type { CreateKeyInput } from '../../security/index.ts';
import { createKeySchema, rotateKeySchema } from '../schemas.ts';
import { auditView } from '../views.ts';

/** API keys, the audit log and Prometheus metrics. */
export function adminRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.post<{ Body: CreateKeyInput }>('/v1/keys', {
    config: { permission: 'keys:manage' },
    schema: { tags: ['security'], summary: 'Create an API key, optionally scoped to models/datasets and expiring (the key is shown once)', body: createKeySchema },
  }, async (request, reply) => reply.code(201).send(await deps.keys.create(request.body, request.principal)));

  app.post<{ Params: { id: string }; Body: { grace_seconds?: number } | undefined }>('/v1/keys/:id/rotate', {
    config: { permission: 'keys:manage' },
    schema: {
      tags: ['security'],
      summary: 'Issue a new secret for a key (shown once); the old secret keeps working for the grace period',
      params: { type: 'object', properties: { id: { type: 'string', maxLength: 100 } } },
      body: rotateKeySchema,
    },
    // The body is optional (no body: the default grace); the schema would otherwise refuse a missing one.
    preValidation: async (request) => {
      request.body ??= {};
    },
  }, async (request) => deps.keys.rotate(request.params.id, request.body ?? {}, request.principal));

  app.put<{ Params: { id: string }; Body: KeyLimits }>('/v1/keys/:id/limits', {
    config: { permission: 'keys:manage' },
    schema: {
      tags: ['security'],
      summary: 'Give a key its own request rate and daily records quota (an empty body: back to the server defaults); applied at once on every replica',
      params: { type: 'object', properties: { id: { type: 'string', maxLength: 100 } } },
      body: { $ref: 'keyLimits#' },
    },
  }, async (request) => deps.keys.setLimits(request.params.id, request.body, request.principal));

  app.get('/v1/keys', { config: { permission: 'keys:manage' }, schema: { tags: ['security'], summary: 'List API keys (never secrets)' } }, async () => ({
    keys: await deps.keys.list(),
  }));

  app.delete<{ Params: { id: string } }>('/v1/keys/:id', {
    config: { permission: 'keys:manage' },
    schema: { tags: ['security'], summary: 'Revoke an API key at once', params: { type: 'object', properties: { id: { type: 'string', maxLength: 100 } } } },
  }, async (request) => deps.keys.revoke(request.params.id, request.principal));

  app.get<{ Querystring: { limit?: string; after?: string } }>('/v1/audit', {
    config: { permission: 'audit:read' },
    schema: {
      tags: ['security'], summary: 'The hash-chained audit log, oldest first',
      querystring: { type: 'object', properties: { limit: { type: 'string', pattern: '^[0-9]{1,5}$' }, after: { type: 'string', pattern: '^[0-9]{1,15}$' } }, additionalProperties: false },
    },
  }, async (request) => ({
    events: (await deps.audit.list({ limit: Number(request.query.limit ?? 100), afterSeq: Number(request.query.after ?? 0) })).map(auditView),
  }));

  app.get('/v1/audit/verify', {
    config: { permission: 'audit:read' },
    schema: {
      tags: ['security'],
      summary: 'Recompute the audit chain and compare it with the signed checkpoints; lists every problem with its seq or checkpoint line',
    },
  }, async () => deps.auditVerify.verify());

  app.get<{ Querystring: { since?: string } }>('/v1/audit/export', {
    config: { permission: 'audit:read' },
    schema: {
      tags: ['security'],
      summary: 'The audit log as JSON Lines (application/x-ndjson) for a SIEM: since a seq (exclusive) or an ISO 8601 time (inclusive)',
      querystring: { type: 'object', properties: { since: { type: 'string', maxLength: 40 } }, additionalProperties: false },
    },
  }, async (request, reply) => {
    const since = parseSince(request.query.since);
    if (since === undefined) {
      throw invalid('since must be a seq (a non-negative integer) or an ISO 8601 time', [
        { field: '/querystring/since', rule: 'format', message: 'must be a seq or an ISO 8601 time such as 2026-01-31T00:00:00Z' },
      ]);
    }
    const lines = async function* () {
      for await (const record of deps.auditVerify.entries(since)) yield `${JSON.stringify(toExportLine(record))}\n`;
    };
    return reply.type('application/x-ndjson').send(Readable.from(lines()));
  });

  app.get('/metrics', { config: { permission: 'metrics:read' }, schema: { tags: ['operations'], summary: 'Prometheus metrics' } }, async (_request, reply) => {
    const body = await deps.metrics.metrics();
    return reply.type(deps.metrics.contentType).send(body);
  });
}
