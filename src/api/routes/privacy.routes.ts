import type { FastifyInstance } from 'fastify';
import { buildPolicyStatement } from '../../privacy/index.ts';
import type { ApiDeps } from '../deps.ts';

const tags = ['privacy'];
const nameParams = { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 200 } } } as const;
const days = { type: ['integer', 'null'], minimum: 0, maximum: 36_500 } as const;

/** Retention periods, data subject requests, the automated-decision register and the privacy-policy statement. */
export function privacyRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { retention, subjects, decisions } = deps.privacy;

  app.get<{ Params: { name: string } }>('/v1/models/:name/retention', {
    config: { permission: 'models:read', scope: { model: 'name' } },
    schema: { tags, summary: 'The model\'s retention periods (predictions, feedback) and what applies after the global default', params: nameParams },
  }, async (request) => retention.get('model', request.params.name));

  app.put<{ Params: { name: string }; Body: unknown }>('/v1/models/:name/retention', {
    config: { permission: 'privacy:write', scope: { model: 'name' } },
    schema: {
      tags, summary: 'Set the model\'s retention periods in days (0: keep forever; null: the global default TARMAC_RETENTION_DAYS)', params: nameParams,
      body: { type: 'object', additionalProperties: false, properties: { predictions_days: days, feedback_days: days } },
    },
  }, async (request) => retention.put('model', request.params.name, request.body, request.principal));

  app.get<{ Params: { name: string } }>('/v1/datasets/:name/retention', {
    config: { permission: 'datasets:read', scope: { dataset: 'name' } },
    schema: { tags, summary: 'The dataset\'s retention periods (records, quarantine, batches)', params: nameParams },
  }, async (request) => retention.get('dataset', request.params.name));

  app.put<{ Params: { name: string }; Body: unknown }>('/v1/datasets/:name/retention', {
    config: { permission: 'privacy:write', scope: { dataset: 'name' } },
    schema: {
      tags, summary: 'Set the dataset\'s retention periods in days (0: keep forever; null: the global default)', params: nameParams,
      body: { type: 'object', additionalProperties: false, properties: { records_days: days, quarantine_days: days, batches_days: days } },
    },
  }, async (request) => retention.put('dataset', request.params.name, request.body, request.principal));

  app.get<{ Querystring: { subject: string; field?: string } }>('/v1/privacy/export', {
    config: { permission: 'privacy:read' },
    schema: {
      tags, summary: 'Everything held about a data subject (prediction logs, feedback, quarantine, dataset records), matched by the raw key or its keyed hash',
      querystring: {
        type: 'object', required: ['subject'], additionalProperties: false,
        properties: { subject: { type: 'string', minLength: 1, maxLength: 1000 }, field: { type: 'string', minLength: 1, maxLength: 200 } },
      },
    },
  }, async (request) => subjects.export(request.query.subject, request.query.field, request.principal));

  app.post<{ Body: { subject: string; field?: string } }>('/v1/privacy/erase', {
    config: { permission: 'privacy:write' },
    schema: {
      tags, summary: 'Erase everything held about a data subject; the audit log records the counts and the key\'s keyed hash, never the key',
      body: {
        type: 'object', required: ['subject'], additionalProperties: false,
        properties: { subject: { type: 'string', minLength: 1, maxLength: 1000 }, field: { type: 'string', minLength: 1, maxLength: 200 } },
      },
    },
  }, async (request) => subjects.erase(request.body.subject, request.body.field, request.principal));

  app.get<{ Params: { name: string } }>('/v1/models/:name/decision-register', {
    config: { permission: 'models:read', scope: { model: 'name' } },
    schema: { tags, summary: 'The model\'s automated-decision register entry, with the PII fields its contracts mark', params: nameParams },
  }, async (request) => decisions.get(request.params.name));

  app.put<{ Params: { name: string }; Body: unknown }>('/v1/models/:name/decision-register', {
    config: { permission: 'privacy:write', scope: { model: 'name' } },
    schema: {
      tags, summary: 'Declare the decisions the model makes or assists: automation, effect on individuals, personal information, purpose, contact', params: nameParams,
      body: {
        type: 'object', additionalProperties: false, required: ['decision', 'automation', 'effect', 'purpose', 'contact'],
        properties: {
          decision: { type: 'string', minLength: 1, maxLength: 500 },
          automation: { type: 'string', enum: ['solely_automated', 'substantially_assisted'] },
          human_review: { type: 'string', minLength: 1, maxLength: 1000 },
          effect: { type: 'string', enum: ['legal', 'similarly_significant', 'not_significant'] },
          effect_description: { type: 'string', minLength: 1, maxLength: 1000 },
          personal_information: { type: 'array', maxItems: 50, items: { type: 'string', minLength: 1, maxLength: 200 } },
          purpose: { type: 'string', minLength: 1, maxLength: 1000 },
          contact: { type: 'string', minLength: 1, maxLength: 500 },
        },
      },
    },
  }, async (request) => decisions.put(request.params.name, request.body, request.principal));

  app.delete<{ Params: { name: string } }>('/v1/models/:name/decision-register', {
    config: { permission: 'privacy:write', scope: { model: 'name' } },
    schema: { tags, summary: 'Remove the model\'s automated-decision register entry', params: nameParams },
  }, async (request, reply) => {
    await decisions.delete(request.params.name, request.principal);
    return reply.code(204).send();
  });

  app.get('/v1/privacy/decision-register', {
    config: { permission: 'models:read' },
    schema: { tags, summary: 'Every model\'s automated-decision register entry' },
  }, async () => ({ entries: await decisions.list() }));

  app.get<{ Querystring: { organisation?: string } }>('/v1/privacy/policy-statement', {
    config: { permission: 'models:read' },
    schema: {
      tags, summary: 'The privacy-policy wording on automated decisions (Australian Privacy Principles 1.7–1.9), generated from the register',
      querystring: { type: 'object', additionalProperties: false, properties: { organisation: { type: 'string', minLength: 1, maxLength: 200 } } },
    },
  }, async (request) => buildPolicyStatement(await decisions.list(), request.query.organisation));
}
