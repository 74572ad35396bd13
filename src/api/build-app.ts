import { createServer as createHttpServer, type IncomingMessage, type RequestListener } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { newId } from '../shared/ids.ts';
import { TarmacError } from '../shared/errors.ts';
import type { ApiDeps } from './deps.ts';
import { registerAuth } from './plugins/auth.ts';
import { registerHttpMetrics } from './plugins/http-metrics.ts';
import { registerRateLimits } from './plugins/rate-limit.ts';
import { clientErrorHandler, registerJsonDepthLimit } from './plugins/request-limits.ts';
import { registerSecurityHeaders, securityHeaders } from './plugins/security-headers.ts';
import { FastPredictPath } from './fast-predict.ts';
import { DailyQuota, RateLimits } from '../security/index.ts';
import { sendProblem, toTarmacError } from './problem.ts';
import { keyLimitsSchema, problemSchema } from './schemas.ts';
import { adminRoutes } from './routes/admin.routes.ts';
import { contractsRoutes } from './routes/contracts.routes.ts';
import { datasetsRoutes } from './routes/datasets.routes.ts';
import { monitorRoutes } from './routes/monitor.routes.ts';
import { alertsRoutes } from './routes/alerts.routes.ts';
import { approvalsRoutes } from './routes/approvals.routes.ts';
import { experimentsRoutes, rolloutsRoutes } from './routes/rollouts.routes.ts';
import { healthRoutes } from './routes/health.routes.ts';
import { privacyRoutes } from './routes/privacy.routes.ts';
import { recordsRoutes } from './routes/records.routes.ts';
import { registryRoutes } from './routes/registry.routes.ts';
import { signingRoutes } from './routes/signing.routes.ts';
import { v2Routes } from './routes/v2.routes.ts';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request id: the client's `x-request-id` when it is a sane token, else a new UUID. */
function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : newId();
}

/**
 * Builds the HTTP API (without listening): routes, authentication, problem+json errors, metrics and the OpenAPI
 * document. Tests drive it with `app.inject()`.
 */
export async function buildApp(deps: ApiDeps): Promise<FastifyInstance> {
  const protection = deps.protection ?? { rates: new RateLimits(0), quota: new DailyQuota(0), maxJsonDepth: 64, maxHeaderBytes: 16 * 1024 };
  // Set once the app is ready: the records API's predict requests it can take skip Fastify (see FastPredictPath).
  const fast: { path?: FastPredictPath } = {};
  const app = Fastify({
    // Still read by Fastify for the scheme of the address it reports; the server itself comes from serverFactory.
    ...(deps.tls
      ? { https: { cert: deps.tls.cert, key: deps.tls.key, maxHeaderSize: protection.maxHeaderBytes } }
      : { http: { maxHeaderSize: protection.maxHeaderBytes } }),
    // The server Fastify would create, with the fast path in front of Fastify's handler.
    serverFactory: (handler, options) => {
      const listener: RequestListener = (req, res) => {
        if (fast.path === undefined || !fast.path.handle(req, res)) handler(req, res);
      };
      const server = deps.tls
        ? createHttpsServer({ cert: deps.tls.cert, key: deps.tls.key, maxHeaderSize: protection.maxHeaderBytes }, listener)
        : createHttpServer({ maxHeaderSize: protection.maxHeaderBytes }, listener);
      // As Fastify sets them on a server it creates (its defaults are filled in by then).
      const timeouts = options as { keepAliveTimeout?: number; requestTimeout?: number; connectionTimeout?: number };
      server.keepAliveTimeout = timeouts.keepAliveTimeout ?? 72_000;
      server.requestTimeout = timeouts.requestTimeout ?? 0;
      server.setTimeout(timeouts.connectionTimeout ?? 0);
      return server;
    },
    clientErrorHandler: clientErrorHandler(protection.maxHeaderBytes),
    loggerInstance: deps.log.child({ component: 'api' }) as FastifyBaseLogger,
    // Per-request access lines cost the hot path; failures are logged by the error handler, traffic is in /metrics.
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger per request (with redaction on, pino builds one in ~9 µs): the few request logs name the id.
    childLoggerFactory: (logger) => logger,
    bodyLimit: deps.limits.bodyLimitBytes,
    requestIdHeader: false,
    genReqId: requestIdOf,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true, useDefaults: false } },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });

  // Only JSON (and octet-stream for artifacts) is accepted: a text/plain body gets a 415, not a confusing 400.
  app.removeContentTypeParser('text/plain');
  registerJsonDepthLimit(app, protection.maxJsonDepth);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tarmac API',
        version: deps.version,
        description: 'Model registry, serving (Open Inference Protocol v2 and a records API), feedback and operations.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A Tarmac API key (tmk_…) or, when OIDC is configured, an access token from the pinned issuer' } } },
      security: [{ bearer: [] }],
    },
  });
  app.addSchema(problemSchema);
  app.addSchema(keyLimitsSchema);

  const recordMetrics = registerHttpMetrics(app, deps.metrics);
  registerSecurityHeaders(app, { tls: deps.tls !== undefined });
  registerAuth(app, deps);
  await registerRateLimits(app, { rates: protection.rates, quota: protection.quota, metrics: deps.metrics });

  app.setErrorHandler((err, request, reply) => {
    const error = toTarmacError(err);
    if (error.status >= 500) request.log.error({ err, code: error.code, requestId: request.id }, 'request failed');
    return sendProblem(request, reply, error);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(request, reply, new TarmacError('REQUEST_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}; see GET /openapi.json`)));

  healthRoutes(app, deps);
  v2Routes(app, deps);
  recordsRoutes(app, deps);
  registryRoutes(app, deps);
  signingRoutes(app, deps);
  contractsRoutes(app, deps);
  datasetsRoutes(app, deps);
  monitorRoutes(app, deps);
  alertsRoutes(app, deps);
  rolloutsRoutes(app, deps);
  approvalsRoutes(app, deps);
  experimentsRoutes(app, deps);
  adminRoutes(app, deps);
  privacyRoutes(app, deps);

  // The API's shape is no secret: clients and generators fetch it before they hold a key.
  app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());

  const fastPath = new FastPredictPath({
    app, deps, protection, bodyLimitBytes: deps.limits.bodyLimitBytes, securityHeaders: securityHeaders({ tls: deps.tls !== undefined }),
    requestId: requestIdOf, recordMetrics,
  });
  await app.ready();
  fast.path = fastPath;
  return app;
}
