import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../deps.ts';

const iso = (ms: number) => new Date(ms).toISOString();

/** Alerting over HTTP: configuration (channels and rules), active alerts (Prometheus' shape), history and silences. */
export function alertsRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const tags = ['alerts'];

  app.put<{ Body: unknown }>('/v1/alerts/config', {
    config: { permission: 'alerts:write' },
    schema: {
      tags,
      summary: 'Replace the alerting configuration: channels (webhook, slack, email) and rules over the monitor\'s signals; a bad configuration changes nothing',
      body: { type: 'object', required: ['channels', 'rules'], properties: { channels: { type: 'array' }, rules: { type: 'array' } } },
    },
  }, async (request) => deps.alerting.configure(request.body, request.principal));

  app.get('/v1/alerts/config', {
    config: { permission: 'models:read' },
    schema: { tags, summary: 'The alerting configuration, secrets redacted' },
  }, async () => deps.alerting.config());

  // The same path and shape as Prometheus' GET /api/v1/alerts, so tools that read Prometheus alerts read Tarmac's.
  app.get('/api/v1/alerts', {
    config: { permission: 'models:read' },
    schema: { tags, summary: 'Pending and firing alerts, in the shape of Prometheus\' /api/v1/alerts' },
  }, async () => ({
    status: 'success',
    data: {
      alerts: deps.alerting.active().map((a) => ({
        labels: { alertname: a.rule, severity: a.severity, ...a.labels },
        annotations: {},
        state: a.state,
        activeAt: iso(a.activeAt),
        value: String(a.value),
        fingerprint: a.fingerprint,
        silencedBy: a.silencedBy,
      })),
    },
  }));

  app.get<{ Querystring: { limit?: string } }>('/v1/alerts/history', {
    config: { permission: 'models:read' },
    schema: {
      tags, summary: 'Recent alert transitions, newest first (every transition is also in the audit log)',
      querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'string', pattern: '^[1-9][0-9]{0,3}$' } } },
    },
  }, async (request) => ({
    events: deps.alerting.history(Number(request.query.limit ?? 100)).map((e) => ({ ...e, at: iso(e.at) })),
  }));

  app.get('/v1/alerts/silences', {
    config: { permission: 'models:read' },
    schema: { tags, summary: 'Silences with their state (pending, active, expired)' },
  }, async () => ({ silences: deps.alerting.silences() }));

  app.post<{ Body: unknown }>('/v1/alerts/silences', {
    config: { permission: 'alerts:write' },
    schema: { tags, summary: 'Silence notifications of alerts whose labels match (alerts still change state)', body: { type: 'object' } },
  }, async (request, reply) => reply.code(201).send(await deps.alerting.addSilence(request.body, request.principal)));

  app.delete<{ Params: { id: string } }>('/v1/alerts/silences/:id', {
    config: { permission: 'alerts:write' },
    schema: { tags, summary: 'End a silence now', params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 100 } } } },
  }, async (request) => deps.alerting.expireSilence(request.params.id, request.principal));
}
