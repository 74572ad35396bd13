import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../deps.ts';
import { feedbackRequestSchema, modelNameParam, recordsRequestSchema, recordsResponseSchema } from '../schemas.ts';

type NameParams = { name: string };

/** The records API for people: predictions from JSON objects, and ground-truth feedback. */
export function recordsRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const tags = ['records'];
  app.post<{ Params: NameParams }>('/v1/models/:name/predict', {
    config: { permission: 'predict', scope: { model: 'name' } },
    schema: { tags, summary: 'Predict from records', params: modelNameParam, body: recordsRequestSchema, response: { 200: recordsResponseSchema } },
  }, async (request) => deps.predict.predictRecords(request.params.name, request.body, { requestId: String(request.id), headers: request.headers, rawRecords: request.rawRecords ?? undefined }));

  app.post<{ Params: NameParams }>('/v1/models/:name/feedback', {
    config: { permission: 'feedback:write', scope: { model: 'name' } },
    schema: {
      tags, summary: 'Store ground truth for predictions', params: modelNameParam, body: feedbackRequestSchema,
      response: { 200: { type: 'object', properties: { accepted: { type: 'integer' }, unknown_prediction_ids: { type: 'array', items: { type: 'string' } } } } },
    },
  }, async (request) => {
    await deps.registry.getDeployment(request.params.name).catch(async (err: unknown) => {
      // Feedback for an undeployed but registered model is still valid; only an unknown model is refused.
      if ((err as { code?: string }).code !== 'SERVING_NOT_DEPLOYED') throw err;
    });
    const result = await deps.feedback.submit(request.params.name, request.body, request.principal);
    await deps.audit.record(request.principal, 'feedback.submit', `model:${request.params.name}`, { accepted: result.accepted, unknown: result.unknown_prediction_ids.length });
    return result;
  });
}
