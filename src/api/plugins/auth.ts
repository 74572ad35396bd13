import type { FastifyContextConfig, FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { authorize, requestOrigin, type Permission, type Principal, type RouteScope } from '../../security/index.ts';
import { isTarmacError, TarmacError } from '../../shared/errors.ts';
import type { ApiDeps } from '../deps.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The permission a route needs. A route with neither this nor `public` is refused (deny by default). */
    permission?: Permission;
    /** Answered without authentication: only health, readiness and the OpenAPI document. */
    public?: true;
    /** How the route names the model or dataset it acts on, for scoped keys and tokens (see RouteScope). */
    scope?: RouteScope;
  }
  interface FastifyRequest {
    principal: Principal;
  }
}

/** A route as declared: its method, URL and access configuration. */
export interface DeclaredRoute {
  method: string;
  url: string;
  config: FastifyContextConfig;
}

const declared = new WeakMap<FastifyInstance, DeclaredRoute[]>();

/** Every route registered on `app` after registerAuth, with its access config (the route × role test reads it). */
export function declaredRoutes(app: FastifyInstance): readonly DeclaredRoute[] {
  return declared.get(app) ?? [];
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;
const API_KEY_PREFIX = 'tmk_';
const CHALLENGE = 'Bearer realm="tarmac"';

/**
 * Sets `x-request-id`, then for every matched route that is not public: refuses addresses blocked for failing too
 * often (429), authenticates `Authorization: Bearer <API key | OIDC token>`, and checks the route's permission and
 * scope. API keys are checked synchronously from memory; only OIDC tokens take an async path. Refusals are audited
 * (a block once, not each request in it). Unmatched routes (404) are answered without authentication.
 */
export function registerAuth(app: FastifyInstance, deps: Pick<ApiDeps, 'keys' | 'audit' | 'oidc' | 'authFailures'>): void {
  app.decorateRequest('principal', null as unknown as Principal);
  const routes: DeclaredRoute[] = [];
  declared.set(app, routes);
  app.addHook('onRoute', (route) => {
    const config = (route.config ?? {}) as FastifyContextConfig;
    for (const method of [route.method].flat()) routes.push({ method, url: route.url, config });
    if (config.public !== true && config.permission === undefined) {
      app.log.warn({ method: route.method, url: route.url }, 'route declares no permission and is not public: every request to it will be refused');
    }
  });

  /** Audits a refusal, then answers it; the audit write never fails the refusal (AuditLog.denied swallows errors). */
  const refuse = (done: HookHandlerDoneFunction, error: TarmacError, actor: string, action: string, request: FastifyRequest, details: Record<string, unknown>) => {
    // The path only: a query string may carry personal data (GET /v1/privacy/export?subject=…) that the audit must not keep.
    void deps.audit.denied(actor, action, request.url.split('?')[0]!, { ...details, ip: request.ip }, requestOrigin(request)).then(() => done(error));
  };

  /** Counts a failed authentication; the failure that starts a block is audited as such, once. */
  const failed = (done: HookHandlerDoneFunction, error: TarmacError, action: string, request: FastifyRequest, reply: FastifyReply, details: Record<string, unknown>) => {
    void reply.header('www-authenticate', CHALLENGE);
    const blocks = deps.authFailures.recordFailure(request.ip);
    if (blocks) {
      void deps.audit.denied('anonymous', 'auth.blocked', request.ip, { ip: request.ip, reason: 'too many failed authentications' }, requestOrigin(request));
    }
    refuse(done, error, 'anonymous', action, request, details);
  };

  const authorized = (done: HookHandlerDoneFunction, request: FastifyRequest, principal: Principal, permission: Permission, scope: RouteScope | undefined) => {
    const refusal = authorize(principal, { permission, scope }, request.params as Record<string, string | undefined>);
    if (refusal === undefined) {
      // The principal as this request carries it: where the request came from rides along for the audit log.
      request.principal = { ...principal, origin: requestOrigin(request) };
      done();
      return;
    }
    refuse(done, new TarmacError(refusal.code, refusal.message, { details: refusal.details }), principal.id, permission, request, {
      reason: refusal.code === 'AUTH_FORBIDDEN' ? 'forbidden' : 'out_of_scope', role: principal.role, ...refusal.details,
    });
  };

  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    // Every answer, refusals included, names its request id (one hook instead of two on the hot path).
    void reply.header('x-request-id', request.id);
    if (request.is404) return done();
    const config = request.routeOptions.config;
    if (config.public === true) return done();
    const permission = config.permission;
    if (permission === undefined) {
      refuse(done, new TarmacError('AUTH_ROUTE_UNDECLARED', `${request.method} ${request.routeOptions.url} declares no permission, so it is refused`), 'anonymous', 'undeclared', request, { reason: 'undeclared' });
      return;
    }
    const retryAfter = deps.authFailures.retryAfterSeconds(request.ip);
    if (retryAfter > 0) {
      void reply.header('retry-after', String(retryAfter));
      done(new TarmacError('AUTH_RATE_LIMITED', `too many failed authentications from this address; try again in ${retryAfter} s`, {
        details: { retry_after_seconds: retryAfter }, retryable: true,
      }));
      return;
    }
    const header = request.headers.authorization;
    if (!header) {
      void reply.header('www-authenticate', CHALLENGE);
      refuse(done, new TarmacError('AUTH_MISSING', 'send an API key or OIDC token as "Authorization: Bearer <token>" (create a key with `tarmac keys create`)', {
        issues: [{ field: '/headers/authorization', rule: 'required', message: 'is required' }],
      }), 'anonymous', permission, request, { reason: 'missing' });
      return;
    }
    const token = BEARER.exec(header)?.[1];
    if (token === undefined || token.startsWith(API_KEY_PREFIX) || deps.oidc === undefined) {
      const principal = token === undefined ? undefined : deps.keys.authenticate(token);
      if (principal !== undefined) return authorized(done, request, principal, permission, config.scope);
      const reason = token === undefined ? 'malformed' : deps.keys.refusalReason(token);
      failed(done, new TarmacError('AUTH_INVALID', `the API key is ${reason === 'wrong_secret' ? 'not valid (a rotated-out secret past its grace, or a wrong one)' : reason}`, {
        details: { reason },
        issues: [{ field: '/headers/authorization', rule: 'valid_key', message: 'must carry an active API key or a valid token' }],
      }), permission, request, reply, { reason: `invalid key: ${reason}` });
      return;
    }
    deps.oidc.verify(token).then(
      (principal) => authorized(done, request, principal, permission, config.scope),
      (err: unknown) => {
        const error = isTarmacError(err) ? err : new TarmacError('AUTH_PROVIDER_UNAVAILABLE', 'the token could not be verified', { cause: err, retryable: true });
        if (error.code === 'AUTH_INVALID') {
          failed(done, error, permission, request, reply, { reason: `invalid token: ${String(error.details.reason)}` });
        } else {
          refuse(done, error, error.code === 'AUTH_NO_ROLE' ? String(error.details.subject) : 'anonymous', permission, request, { reason: error.code.toLowerCase() });
        }
      },
    );
  });
}
