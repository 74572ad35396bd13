import type { FastifyInstance, FastifyRequest } from 'fastify';
import { runWithRequestContext, type RequestContext } from '../../security/index.ts';

const MAX_USER_AGENT = 512;
const CONTEXT = Symbol('tarmac.requestContext');

type WithContext = FastifyRequest & { [CONTEXT]?: RequestContext };

/**
 * Runs every request (its later hooks and its handler) inside a request context holding the client address, the
 * request id and the user agent, so the audit log records where an action came from without services passing it.
 * Register it before the auth hook, so refused accesses carry it too.
 */
export function registerRequestContext(app: FastifyInstance): void {
  // Callback hooks, not async ones: the rest of the request runs inside `done`, so inside the context.
  app.addHook('onRequest', (request: WithContext, _reply, done) => {
    const agent = request.headers['user-agent'];
    const context: RequestContext = {
      ip: request.ip ?? null,
      requestId: request.id,
      userAgent: typeof agent === 'string' ? agent.slice(0, MAX_USER_AGENT) : null,
    };
    request[CONTEXT] = context;
    runWithRequestContext(context, done);
  });
  // Defensive, as @fastify/request-context does: a body parser driven by stream events could leave the context;
  // entering it again after parsing guarantees the handler runs inside it.
  app.addHook('preValidation', (request: WithContext, _reply, done) => {
    const context = request[CONTEXT];
    if (context) runWithRequestContext(context, done);
    else done();
  });
}
