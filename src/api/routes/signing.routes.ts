import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../deps.ts';
import { modelVersionParams } from '../schemas.ts';

type VersionParams = { name: string; version: string };

const manifestSchema = { type: 'object', additionalProperties: true, description: 'the version manifest (model, version, artifact sha256 and size, inputs/outputs/features, created time)' } as const;

const signatureViewSchema = {
  type: 'object',
  properties: {
    model: { type: 'string' },
    version: { type: 'integer' },
    key_id: { type: 'string' },
    signature: { type: 'string' },
    signed_by: { type: 'string' },
    signed_at: { type: 'string' },
    verified: { type: 'boolean' },
    manifest: manifestSchema,
  },
} as const;

/** Signed version manifests: the manifest to sign, attaching a signature, and reading it back with its verification. */
export function signingRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const tags = ['registry'];

  app.get<{ Params: VersionParams }>('/v1/models/:name/versions/:version/manifest', {
    config: { permission: 'models:read' },
    schema: {
      tags, summary: 'The version manifest and its canonical JSON (RFC 8785): the exact text an Ed25519 signature covers',
      params: modelVersionParams,
      response: { 200: { type: 'object', properties: { manifest: manifestSchema, canonical: { type: 'string' } } } },
    },
  }, async (request) => deps.signing.manifest(request.params.name, request.params.version));

  app.post<{ Params: VersionParams; Body: { signature: string; key_id?: string } }>('/v1/models/:name/versions/:version/signature', {
    config: { permission: 'models:write' },
    schema: {
      tags, summary: 'Attach an Ed25519 signature of the canonical manifest; it must verify against a trusted key (TARMAC_TRUSTED_SIGNING_KEYS)',
      params: modelVersionParams,
      body: {
        type: 'object', required: ['signature'], additionalProperties: false,
        properties: {
          signature: { type: 'string', minLength: 1, maxLength: 200, description: 'base64 of the 64-byte Ed25519 signature' },
          key_id: { type: 'string', pattern: '^[0-9a-f]{32}$', description: 'the trusted key to check it with (default: every trusted key)' },
        },
      },
      response: { 201: signatureViewSchema },
    },
  }, async (request, reply) => reply.code(201).send(await deps.signing.attach(request.params.name, request.params.version, {
    signature: request.body.signature, ...(request.body.key_id === undefined ? {} : { keyId: request.body.key_id }),
  }, request.principal)));

  app.get<{ Params: VersionParams }>('/v1/models/:name/versions/:version/signature', {
    config: { permission: 'models:read' },
    schema: { tags, summary: 'The version\'s signature and whether it verifies against the keys trusted now', params: modelVersionParams, response: { 200: signatureViewSchema } },
  }, async (request) => deps.signing.get(request.params.name, request.params.version));
}
