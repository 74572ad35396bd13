import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { HotCounter, HotHistogram } from '../../shared/hot-metrics.ts';

/** Records one answered request in the HTTP metrics (for answers given outside Fastify's hooks, see fast-predict). */
export type HttpMetricsRecorder = (method: string, route: string, status: number, seconds: number) => void;

/**
 * Counts every HTTP response and times it, labelled by route pattern (never the raw URL, to bound cardinality);
 * returns the recorder the hook uses.
 */
export function registerHttpMetrics(app: FastifyInstance, registry: Registry): HttpMetricsRecorder {
  const requests = new HotCounter('tarmac_http_requests_total', 'HTTP requests answered, by method, route pattern and status code',
    ['method', 'route', 'status'], registry);
  const duration = new HotHistogram('tarmac_http_request_duration_seconds', 'HTTP request latency from arrival to response, by method and route pattern',
    ['method', 'route'], [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registry);
  // Bound handles per label set, found by one string key.
  const bound = new Map<string, { count: { inc(): void }; time: { observe(v: number): void } }>();
  const record: HttpMetricsRecorder = (method, route, status, seconds) => {
    const key = `${method} ${route} ${status}`;
    let handles = bound.get(key);
    if (!handles) {
      handles = {
        count: requests.labels({ method, route, status: String(status) }),
        time: duration.labels({ method, route }),
      };
      bound.set(key, handles);
    }
    handles.count.inc();
    handles.time.observe(seconds);
  };
  app.addHook('onResponse', (request, reply, done) => {
    record(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
  return record;
}
