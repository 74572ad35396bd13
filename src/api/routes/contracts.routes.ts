import type { FastifyInstance } from 'fastify';
import { TarmacError } from '../../shared/errors.ts';
import type { ApiDeps } from '../deps.ts';
import { sendProblem, toTarmacError } from '../problem.ts';
import { contractDiffQuery, contractNameParam, contractVersionParams } from '../schemas.ts';
import { contractSummaryView, contractView } from '../views.ts';

type NameParams = { name: string };
type VersionParams = { name: string; version: string };

/** YAML media types a contract may be posted as. */
const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml'];

/** The default size limit of a posted contract document. */
const DEFAULT_MAX_CONTRACT_BYTES = 1024 * 1024;

/** The data contract registry over HTTP: register (raw YAML), list, show and diff contract versions. */
export function contractsRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const tags = ['contracts'];
  const limit = deps.limits.maxContractBytes ?? DEFAULT_MAX_CONTRACT_BYTES;

  app.addContentTypeParser(YAML_TYPES, { parseAs: 'string', bodyLimit: limit }, (_request, body, done) => {
    done(null, body);
  });

  app.post('/v1/contracts', {
    config: { permission: 'models:write' },
    bodyLimit: limit,
    schema: {
      tags,
      summary: 'Register an ODCS v3 contract (the YAML as the raw body); 201 for a new version, 200 when identical to the latest',
      consumes: YAML_TYPES,
    },
    errorHandler: (err, request, reply) => {
      const error = (err as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? new TarmacError('REQUEST_TOO_LARGE', `the contract is larger than the limit of ${limit} bytes`, {
          details: { limit },
          issues: [{ field: '/body', rule: 'max_size', message: `must be at most ${limit} bytes` }],
        })
        : toTarmacError(err);
      return sendProblem(request, reply, error);
    },
  }, async (request, reply) => {
    if (typeof request.body !== 'string') {
      throw new TarmacError('REQUEST_UNSUPPORTED_MEDIA_TYPE', 'post the contract YAML as the raw body with Content-Type: application/yaml', {
        issues: [{ field: '/headers/content-type', rule: 'media_type', message: `must be one of ${YAML_TYPES.join(', ')}` }],
      });
    }
    const { record, contract, created } = await deps.contracts.register(request.body, request.principal);
    return reply
      .code(created ? 201 : 200)
      .header('location', `/v1/contracts/${record.name}/versions/${record.version}`)
      .send({ ...contractView(record, contract), created });
  });

  app.get('/v1/contracts', {
    config: { permission: 'models:read', scope: 'neutral' },
    schema: { tags, summary: 'List contracts (the latest version of each)' },
  }, async () => ({ contracts: (await deps.contracts.list()).map(contractSummaryView) }));

  app.get<{ Params: NameParams }>('/v1/contracts/:name', {
    config: { permission: 'models:read', scope: 'neutral' },
    schema: { tags, summary: 'A contract with its versions, oldest first', params: contractNameParam },
  }, async (request) => {
    const versions = await deps.contracts.versions(request.params.name);
    return { name: request.params.name, latest: versions.at(-1)!.version, versions: versions.map(contractSummaryView) };
  });

  app.get<{ Params: VersionParams }>('/v1/contracts/:name/versions/:version', {
    config: { permission: 'models:read', scope: 'neutral' },
    schema: { tags, summary: 'One contract version (a number or "latest"): what Tarmac read from it, and the YAML', params: contractVersionParams },
  }, async (request) => {
    const { record, contract } = await deps.contracts.get(request.params.name, request.params.version);
    return contractView(record, contract);
  });

  app.get<{ Params: NameParams; Querystring: { from: string; to: string } }>('/v1/contracts/:name/diff', {
    config: { permission: 'models:read', scope: 'neutral' },
    schema: { tags, summary: 'The differences between two versions of a contract', params: contractNameParam, querystring: contractDiffQuery },
  }, async (request) => deps.contracts.diff(request.params.name, request.query.from, request.query.to));
}
