import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { Counter, type Registry } from 'prom-client';
import type { DailyQuota, RateLimits } from '../../security/index.ts';
import { TarmacError } from '../../shared/errors.ts';

/** The routes whose records count against the daily quota (matched by route pattern, never by raw URL). */
const PREDICT_ROUTES = new Set(['/v1/models/:name/predict', '/v2/models/:name/infer', '/v2/models/:name/versions/:version/infer']);

/** What the limiter needs: the per-principal rates, the daily quota and the metrics registry. */
export interface RateLimitDeps {
  rates: RateLimits;
  quota: DailyQuota;
  metrics: Registry;
}

/** The key requests are counted under: the authenticated principal, else the client's IP address. */
export function limiterKey(request: FastifyRequest): string {
  return request.principal ? request.principal.id : `ip:${request.ip}`;
}

/**
 * The records a predict body asks for: `records.length` on the records API, dim 0 of the first V2 input (1 for a
 * scalar or an input without a shape). Malformed bodies count 0 and are refused later by validation.
 */
export function recordsAsked(body: unknown): number {
  if (typeof body !== 'object' || body === null) return 0;
  const { records, inputs } = body as { records?: unknown; inputs?: unknown };
  if (Array.isArray(records)) return records.length;
  if (Array.isArray(inputs) && inputs.length > 0) {
    const shape = (inputs[0] as { shape?: unknown } | null)?.shape;
    if (Array.isArray(shape) && shape.length > 0 && Number.isSafeInteger(shape[0]) && (shape[0] as number) >= 0) return shape[0] as number;
    return 1;
  }
  return 0;
}

/**
 * Registers the request-rate limiter (@fastify/rate-limit, a one-minute window per principal) and the daily records
 * quota on predict routes. Both run as preHandler hooks, after authentication set `request.principal`, and cost O(1)
 * in memory per request. Refusals are 429 problem+json (RATE_LIMITED, QUOTA_EXCEEDED) with `Retry-After`, counted in
 * `tarmac_http_refusals_total{reason}`. Must be registered before the routes.
 */
export async function registerRateLimits(app: FastifyInstance, deps: RateLimitDeps): Promise<void> {
  const refusals = new Counter({
    name: 'tarmac_http_refusals_total',
    help: 'Requests refused by protection limits, by reason (rate_limit, quota)',
    labelNames: ['reason'],
    registers: [deps.metrics],
  });
  const rateRefused = refusals.labels({ reason: 'rate_limit' });
  const quotaRefused = refusals.labels({ reason: 'quota' });

  // Always registered, so keys with limits of their own are limited even when the server default is off; principals
  // without a limit leave at the allow-list check.
  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    timeWindow: 60_000,
    // Unlimited principals (an override of 0) are let through before any counting.
    allowList: (request) => deps.rates.limitFor(request.principal) <= 0,
    max: (request) => deps.rates.limitFor(request.principal),
    keyGenerator: limiterKey,
    cache: 50_000,
    onExceeded: () => rateRefused.inc(),
    errorResponseBuilder: (request, context) => new TarmacError('RATE_LIMITED', `more than ${context.max} requests per minute for ${request.principal ? 'this key' : 'this address'}; retry after ${context.after}`, {
      details: { limit: context.max, window_seconds: 60, retry_after_seconds: Math.ceil(context.ttl / 1000) },
      issues: [{ field: '/headers/authorization', rule: 'rate_limit', message: `at most ${context.max} requests per minute (TARMAC_RATE_LIMIT_PER_MINUTE)` }],
    }),
  });

  // The quota runs after the rate limit (a request the limiter refuses must not use up records): the limiter adds its
  // check to each route as it is declared, so the quota is appended to the same route-level list, after it.
  // Callback style, not async: on the predict path every promise counts.
  const chargeQuota = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    if (!deps.quota.enabled || !request.principal) return done();
    const charge = deps.quota.charge(request.principal.id, recordsAsked(request.body));
    if (charge.allowed) return done();
    quotaRefused.inc();
    void reply.header('retry-after', String(charge.retryAfterSeconds));
    done(new TarmacError('QUOTA_EXCEEDED', `this key predicted ${charge.used} of its ${charge.limit} records today (UTC); the quota renews in ${charge.retryAfterSeconds} s`, {
      details: { limit: charge.limit, used: charge.used, retry_after_seconds: charge.retryAfterSeconds },
      issues: [{ field: '/records', rule: 'quota', message: `at most ${charge.limit} records per key per UTC day (TARMAC_QUOTA_RECORDS_PER_DAY)` }],
    }));
  };
  app.addHook('onRoute', (route) => {
    if (!PREDICT_ROUTES.has(route.url)) return;
    const existing = route.preHandler === undefined ? [] : Array.isArray(route.preHandler) ? route.preHandler : [route.preHandler];
    route.preHandler = [...existing, chargeQuota];
  });
}
