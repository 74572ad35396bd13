import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { roleAllows, type Permission, type Principal } from '../../security/index.ts';
import { TarmacError } from '../../shared/errors.ts';
import type { ApiDeps } from '../deps.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The permission a route needs; routes without one are public (health checks only). */
    permission?: Permission;
    /** The audit action name for a refused access, defaults to the permission. */
    action?: string;
  }
  interface FastifyRequest {
    principal: Principal;
  }
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/**
 * Sets `x-request-id`, authenticates `Authorization: Bearer <key>` from memory and checks the route's permission;
 * refusals are audited. Unmatched routes (404) are answered without authentication.
 */
export function registerAuth(app: FastifyInstance, deps: Pick<ApiDeps, 'keys' | 'audit'>): void {
  app.decorateRequest('principal', null as unknown as Principal);
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    // Every answer, refusals included, names its request id (one hook instead of two on the hot path).
    void reply.header('x-request-id', request.id);
    const permission = request.routeOptions.config?.permission;
    if (!permission) return;
    // The path only: a query string may carry personal data (GET /v1/privacy/export?subject=…) that the audit must not keep.
    const target = request.url.split('?')[0]!;
    const header = request.headers.authorization;
    if (!header) {
      await deps.audit.denied('anonymous', permission, target, { reason: 'missing', ip: request.ip });
      throw new TarmacError('AUTH_MISSING', 'send an API key as "Authorization: Bearer <key>" (create one with `tarmac keys create`)', {
        issues: [{ field: '/headers/authorization', rule: 'required', message: 'is required' }],
      });
    }
    const match = BEARER.exec(header);
    const principal = match ? deps.keys.authenticate(match[1]!) : undefined;
    if (!principal) {
      await deps.audit.denied('anonymous', permission, target, { reason: 'invalid key', ip: request.ip });
      throw new TarmacError('AUTH_INVALID', 'the API key is unknown, malformed or revoked', {
        issues: [{ field: '/headers/authorization', rule: 'valid_key', message: 'must carry an active API key' }],
      });
    }
    if (!roleAllows(principal.role, permission)) {
      await deps.audit.denied(principal.id, permission, target, { reason: 'forbidden', role: principal.role, ip: request.ip });
      throw new TarmacError('AUTH_FORBIDDEN', `role "${principal.role}" may not ${permission}`, {
        details: { role: principal.role, permission },
      });
    }
    request.principal = principal;
  });
}
