import type { FastifyInstance } from 'fastify';
import { v2ModelMetadata } from '../../runtime/index.ts';
import { TarmacError } from '../../shared/errors.ts';
import type { ApiDeps } from '../deps.ts';
import {
  modelNameParam, modelVersionParams, v2InferRequestSchema, v2InferResponseSchema, v2ModelMetadataSchema,
} from '../schemas.ts';

type NameParams = { name: string };
type VersionParams = { name: string; version: string };

/** The Open Inference Protocol v2 (KServe / Triton): server and model metadata, readiness and inference. */
export function v2Routes(app: FastifyInstance, deps: ApiDeps): void {
  const tags = ['open inference protocol v2'];

  app.get('/v2', { config: { permission: 'models:read', scope: 'neutral' }, schema: { tags, summary: 'Server metadata' } }, async () => ({
    name: 'tarmac',
    version: deps.version,
    extensions: ['records', 'prediction_log', 'feedback'],
  }));

  app.get<{ Params: NameParams }>('/v2/models/:name', {
    config: { permission: 'models:read', scope: { model: 'name' } },
    schema: { tags, summary: 'Metadata of the deployed model', params: modelNameParam, response: { 200: v2ModelMetadataSchema } },
  }, async (request) => {
    const route = deps.routes.get(request.params.name);
    if (!route) {
      await deps.registry.getDeployment(request.params.name);
      throw new TarmacError('SERVING_MODEL_NOT_READY', `model "${request.params.name}" is deployed but not loaded yet`, { retryable: true });
    }
    const versions = route.variants.map((v) => String(v.loaded.version.version));
    return v2ModelMetadata(request.params.name, versions, route.variants[0]!.loaded.version.signature);
  });

  app.get<{ Params: VersionParams }>('/v2/models/:name/versions/:version', {
    config: { permission: 'models:read', scope: { model: 'name' } },
    schema: { tags, summary: 'Metadata of one version', params: modelVersionParams, response: { 200: v2ModelMetadataSchema } },
  }, async (request) => {
    const version = await deps.registry.resolveVersion(request.params.name, numeric(request.params.version));
    return v2ModelMetadata(request.params.name, [String(version.version)], version.signature);
  });

  app.get<{ Params: NameParams }>('/v2/models/:name/ready', {
    config: { permission: 'models:read', scope: { model: 'name' } },
    schema: { tags, summary: 'Model readiness', params: modelNameParam },
  }, async (request, reply) => {
    const ready = deps.predict.isReady(request.params.name);
    if (!ready) await deps.registry.getDeployment(request.params.name);
    return reply.code(ready ? 200 : 503).send({ name: request.params.name, ready });
  });

  app.get<{ Params: VersionParams }>('/v2/models/:name/versions/:version/ready', {
    config: { permission: 'models:read', scope: { model: 'name' } },
    schema: { tags, summary: 'Version readiness', params: modelVersionParams },
  }, async (request, reply) => {
    const version = await deps.registry.resolveVersion(request.params.name, numeric(request.params.version));
    const ready = deps.predict.isReady(request.params.name, String(version.version));
    return reply.code(ready ? 200 : 503).send({ name: request.params.name, version: String(version.version), ready });
  });

  app.post<{ Params: NameParams }>('/v2/models/:name/infer', {
    config: { permission: 'predict', scope: { model: 'name' } },
    schema: { tags, summary: 'Inference on the deployed model', params: modelNameParam, body: v2InferRequestSchema, response: { 200: v2InferResponseSchema } },
  }, async (request) => deps.predict.inferV2(request.params.name, undefined, request.body, { requestId: String(request.id) }));

  app.post<{ Params: VersionParams }>('/v2/models/:name/versions/:version/infer', {
    config: { permission: 'predict', scope: { model: 'name' } },
    schema: { tags, summary: 'Inference on one version', params: modelVersionParams, body: v2InferRequestSchema, response: { 200: v2InferResponseSchema } },
  }, async (request) => deps.predict.inferV2(request.params.name, numeric(request.params.version), request.body, { requestId: String(request.id) }));
}

function numeric(version: string): string {
  if (!/^[1-9][0-9]{0,9}$/.test(version)) {
    throw new TarmacError('REGISTRY_VERSION_NOT_FOUND', `"${version}" is not a version number`, {
      issues: [{ field: '/params/version', rule: 'integer', message: 'must be a positive integer' }],
    });
  }
  return version;
}
