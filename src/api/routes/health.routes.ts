import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../deps.ts';

/** Liveness and readiness probes (no authentication: Kubernetes and load balancers call them). */
export function healthRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get('/v2/health/live', { config: { public: true }, schema: { tags: ['health'], summary: 'Liveness' } }, async () => ({ live: true }));
  app.get('/v2/health/ready', { config: { public: true }, schema: { tags: ['health'], summary: 'Readiness: every deployment is loaded' } }, async (_request, reply) => {
    const ready = deps.routes.ready;
    return reply.code(ready ? 200 : 503).send({ ready });
  });
}
