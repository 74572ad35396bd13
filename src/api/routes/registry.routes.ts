import type { FastifyInstance } from 'fastify';
import type { Task } from '../../runtime/types.ts';
import { TarmacError } from '../../shared/errors.ts';
import type { DeploymentSpec } from '../../store/index.ts';
import { mayList } from '../../security/index.ts';
import type { ApiDeps } from '../deps.ts';
import { approvalView } from '../views.ts';
import { sendProblem, toTarmacError } from '../problem.ts';
import { aliasView, deploymentView, lineageView, modelView, versionView } from '../views.ts';
import { aliasBodySchema, deploymentBodySchema, modelNameParam, modelVersionParams, registerVersionSchema } from '../schemas.ts';

type NameParams = { name: string };
type VersionParams = { name: string; version: string };
type AliasParams = { name: string; alias: string };

interface RegisterBody {
  artifact_sha256: string;
  features?: string[];
  task?: Task;
  class_labels?: (string | number)[];
  contract?: string;
  description?: string;
  owner?: string;
  tags?: Record<string, string>;
  metrics?: Record<string, number>;
  lineage?: { training_data?: string; training_data_sha256?: string; code_ref?: string; parent_version?: number; dataset_batches?: string[] };
  reference?: { rows: number; medians?: Record<string, number>; modes?: Record<string, string | number | boolean>; source?: string };
}

/** The contract policy as the JSON API takes it. */
interface ValidationBody {
  policy: 'reject' | 'impute' | 'fallback' | 'off';
  fallback?: { prediction: number | string | boolean; probabilities?: Record<string, number> };
  fallback_version?: number;
}

const aliasParams = {
  type: 'object',
  required: ['name', 'alias'],
  properties: { name: { type: 'string', maxLength: 200 }, alias: { type: 'string', maxLength: 200 } },
} as const;

/** The model registry over HTTP: artifacts, models, versions, aliases and deployments. */
export function registryRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const tags = ['registry'];

  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: deps.limits.maxArtifactBytes + 1 }, (_request, body, done) => {
    done(null, body);
  });

  app.post('/v1/artifacts', {
    config: { permission: 'models:write', scope: 'neutral' },
    bodyLimit: deps.limits.maxArtifactBytes + 1,
    schema: {
      tags, summary: 'Upload an ONNX artifact (application/octet-stream); returns its sha256 and signature',
      consumes: ['application/octet-stream'],
    },
    errorHandler: (err, request, reply) => {
      // Over the route's body limit means over the artifact limit: say so in the registry's own words.
      const error = (err as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? new TarmacError('REGISTRY_ARTIFACT_TOO_LARGE', `the artifact is larger than the limit of ${deps.limits.maxArtifactBytes} bytes (TARMAC_MAX_ARTIFACT_MB)`, {
          details: { limit: deps.limits.maxArtifactBytes },
          issues: [{ field: '/body', rule: 'max_size', message: `must be at most ${deps.limits.maxArtifactBytes} bytes` }],
        })
        : toTarmacError(err);
      return sendProblem(request, reply, error);
    },
  }, async (request, reply) => {
    if (!Buffer.isBuffer(request.body)) {
      throw new TarmacError('REQUEST_UNSUPPORTED_MEDIA_TYPE', 'upload the ONNX file as the raw body with Content-Type: application/octet-stream', {
        issues: [{ field: '/headers/content-type', rule: 'media_type', message: 'must be application/octet-stream' }],
      });
    }
    const uploaded = await deps.registry.uploadArtifact(new Uint8Array(request.body.buffer, request.body.byteOffset, request.body.byteLength), request.principal);
    return reply.code(201).send({ artifact_sha256: uploaded.sha256, size: uploaded.size, signature: uploaded.signature, producer: uploaded.producer, ir_version: uploaded.irVersion, opsets: uploaded.opsets });
  });

  app.get('/v1/models', { config: { permission: 'models:read', scope: { filter: 'models' } }, schema: { tags, summary: 'List models (a scoped caller sees the ones its scope covers)' } }, async (request) => {
    const [models, deployments] = await Promise.all([deps.registry.listModels(), deps.registry.listDeployments()]);
    const byModel = new Map(deployments.map((d) => [d.modelName, d]));
    return {
      models: models.filter((m) => mayList(request.principal, 'model', m.name)).map((m) => ({
        ...modelView(m),
        deployed_versions: byModel.get(m.name)?.spec.variants.map((v) => v.version) ?? [],
      })),
    };
  });

  app.get<{ Params: NameParams }>('/v1/models/:name', {
    config: { permission: 'models:read', scope: { model: 'name' } },
    schema: { tags, summary: 'A model with its versions, aliases and deployment', params: modelNameParam },
  }, async (request) => {
    const { model, versions, aliases, deployment } = await deps.registry.describeModel(request.params.name);
    return {
      ...modelView(model),
      versions: versions.map((v) => versionView(v, aliases)),
      aliases: aliases.map(aliasView),
      deployment: deployment ? deploymentView(deployment, deps.predict.isReady(model.name)) : null,
    };
  });

  app.post<{ Params: NameParams; Body: RegisterBody }>('/v1/models/:name/versions', {
    config: { permission: 'models:write', scope: { model: 'name' } },
    schema: { tags, summary: 'Register the next version from an uploaded artifact', params: modelNameParam, body: registerVersionSchema },
  }, async (request, reply) => {
    const b = request.body;
    const version = await deps.registry.registerVersion({
      name: request.params.name,
      artifactSha256: b.artifact_sha256,
      features: b.features,
      task: b.task,
      classLabels: b.class_labels,
      contract: b.contract,
      description: b.description,
      owner: b.owner,
      tags: b.tags,
      metrics: b.metrics,
      lineage: b.lineage && {
        trainingData: b.lineage.training_data,
        trainingDataSha256: b.lineage.training_data_sha256,
        codeRef: b.lineage.code_ref,
        parentVersion: b.lineage.parent_version,
        datasetBatches: b.lineage.dataset_batches,
      },
      reference: b.reference && { rows: b.reference.rows, medians: b.reference.medians ?? {}, modes: b.reference.modes ?? {}, source: b.reference.source ?? '' },
    }, request.principal);
    return reply.code(201).header('location', `/v1/models/${version.modelName}/versions/${version.version}`).send(versionView(version));
  });

  app.get<{ Params: VersionParams }>('/v1/models/:name/versions/:version', {
    config: { permission: 'models:read', scope: { model: 'name' } },
    schema: { tags, summary: 'One version (a number, an alias or "latest")', params: modelVersionParams },
  }, async (request) => {
    const version = await deps.registry.resolveVersion(request.params.name, request.params.version);
    const { aliases } = await deps.registry.describeModel(request.params.name);
    return versionView(version, aliases);
  });

  app.get<{ Params: VersionParams }>('/v1/models/:name/versions/:version/lineage', {
    config: { permission: 'models:read', scope: { model: 'name' } },
    schema: { tags, summary: 'Data → model → deployments: the batches a version was trained on, the version, and where it serves now', params: modelVersionParams },
  }, async (request) => lineageView(await deps.registry.lineage(request.params.name, request.params.version)));

  app.put<{ Params: AliasParams; Body: { version: number | string } }>('/v1/models/:name/aliases/:alias', {
    config: { permission: 'models:write', scope: { model: 'name' } },
    schema: { tags, summary: 'Point an alias at a version (atomic)', params: aliasParams, body: aliasBodySchema },
  }, async (request) => aliasView(await deps.registry.setAlias(request.params.name, request.params.alias, request.body.version, request.principal)));

  app.delete<{ Params: AliasParams }>('/v1/models/:name/aliases/:alias', {
    config: { permission: 'models:write', scope: { model: 'name' } },
    schema: { tags, summary: 'Remove an alias', params: aliasParams },
  }, async (request, reply) => {
    await deps.registry.deleteAlias(request.params.name, request.params.alias, request.principal);
    return reply.code(204).send();
  });

  app.get<{ Params: NameParams }>('/v1/models/:name/deployment', {
    config: { permission: 'models:read', scope: { model: 'name' } },
    schema: { tags: ['deployments'], summary: 'What serves the model', params: modelNameParam },
  }, async (request) => deploymentView(await deps.registry.getDeployment(request.params.name), deps.predict.isReady(request.params.name)));

  app.put<{ Params: NameParams; Body: {
    version?: number | string; variants?: { name: string; version: number | string; weight: number }[]; shadows?: { name: string; version: number | string }[];
    batching?: { enabled?: boolean; max_batch_size?: number; max_queue_delay_ms?: number }; validation?: ValidationBody;
  } }>('/v1/models/:name/deployment', {
    config: { permission: 'deployments:write', scope: { model: 'name' } },
    schema: { tags: ['deployments'], summary: 'Serve one version (number or alias) or a traffic split with optional shadows; loads every version before switching traffic. Under a four-eyes policy a change that gives a version the majority of the traffic waits for a second person (202 with the pending approval)', params: modelNameParam, body: deploymentBodySchema },
  }, async (request, reply) => {
    const b = request.body.batching;
    const batching = b && Object.fromEntries(Object.entries({
      enabled: b.enabled, maxBatchSize: b.max_batch_size, maxQueueDelayMs: b.max_queue_delay_ms,
    }).filter(([, v]) => v !== undefined));
    const v = request.body.validation;
    const validation: DeploymentSpec['validation'] = v && {
      policy: v.policy,
      ...(v.fallback !== undefined ? { fallback: v.fallback } : {}),
      ...(v.fallback_version !== undefined ? { fallbackVersion: v.fallback_version } : {}),
    };
    const gated = await deps.approvals.deploy(request.params.name, {
      ...(request.body.variants ? { variants: request.body.variants, shadows: request.body.shadows } : { version: request.body.version! }),
      batching, validation,
    }, request.principal);
    // Four-eyes: a promotion waits for a second person.
    if ('pending' in gated) return reply.code(202).send({ approval: approvalView(gated.pending) });
    // Answer once this replica serves the new version, so a client that deploys then predicts sees it.
    await deps.routes.refresh(request.params.name);
    return deploymentView(gated.applied, deps.predict.isReady(request.params.name));
  });

  app.get<{ Params: NameParams; Querystring: { limit?: string; at?: string } }>('/v1/models/:name/deployment/revisions', {
    config: { permission: 'models:read', scope: { model: 'name' } },
    schema: {
      tags: ['deployments'],
      summary: 'The deployment\'s revisions, newest first; with `at`, those made at or before that time (the first is what served then)',
      params: modelNameParam,
      querystring: {
        type: 'object', additionalProperties: false,
        properties: { limit: { type: 'string', pattern: '^[1-9][0-9]{0,3}$' }, at: { type: 'string', format: 'date-time' } },
      },
    },
  }, async (request) => ({
    model: request.params.name,
    revisions: (await deps.registry.deploymentHistory(request.params.name, {
      limit: Number(request.query.limit ?? 50), at: request.query.at === undefined ? undefined : Date.parse(request.query.at),
    })).map((d) => deploymentView(d, false)),
  }));

  app.post<{ Params: NameParams; Body: { revision?: number } }>('/v1/models/:name/deployment/rollback', {
    config: { permission: 'deployments:write', scope: { model: 'name' } },
    schema: {
      tags: ['deployments'],
      summary: 'Return to the previous deployment revision, or restore any earlier one by number (as a new revision)',
      params: modelNameParam,
      body: { type: 'object', additionalProperties: false, properties: { revision: { type: 'integer', minimum: 1 } } },
    },
  }, async (request) => {
    const record = await deps.registry.rollback(request.params.name, request.body?.revision, request.principal);
    await deps.routes.refresh(request.params.name);
    return deploymentView(record, deps.predict.isReady(request.params.name));
  });

  app.get('/v1/deployments', { config: { permission: 'models:read', scope: { filter: 'models' } }, schema: { tags: ['deployments'], summary: 'Every deployment' } }, async (request) => ({
    deployments: (await deps.registry.listDeployments()).filter((d) => mayList(request.principal, 'model', d.modelName)).map((d) => deploymentView(d, deps.predict.isReady(d.modelName))),
  }));
}
