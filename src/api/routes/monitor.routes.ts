import type { FastifyInstance } from 'fastify';
import { buildMonitorReport, renderMonitorReportHtml } from '../../monitoring/index.ts';
import { TarmacError } from '../../shared/errors.ts';
import type { ApiDeps } from '../deps.ts';
import { HTML_CSP } from '../plugins/security-headers.ts';

type VersionParams = { name: string; version: string };

const versionParams = {
  type: 'object',
  required: ['name', 'version'],
  properties: { name: { type: 'string', maxLength: 200 }, version: { type: 'string', pattern: '^[1-9][0-9]{0,9}$' } },
} as const;

/** Monitoring over HTTP: a version's reference profile, and the monitor's windows (drift, quality) per variant. */
export function monitorRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const tags = ['monitoring'];

  app.put<{ Params: VersionParams; Body: { profile: unknown; source?: string; sample?: { records: Record<string, unknown>[]; labels?: unknown[] } } }>('/v1/models/:name/versions/:version/reference-profile', {
    config: { permission: 'models:write', scope: { model: 'name' } },
    bodyLimit: 64 * 1024 * 1024,
    schema: {
      tags,
      summary: 'Set the version\'s reference profile (per feature: fixed bins, categories, sketch, sample), which live windows are compared with',
      description: '`tarmac models register --reference FILE` and `tarmac monitor reference` build the profile from training data and send it.',
      params: versionParams,
      body: {
        type: 'object', required: ['profile'], additionalProperties: false,
        properties: {
          profile: { type: 'object' },
          source: { type: 'string', maxLength: 500 },
          sample: {
            type: 'object', required: ['records'], additionalProperties: false,
            description: 'reference records the version scores, so its outputs get a reference (prediction drift); with their labels, a binary classifier gets a CBPE calibration',
            properties: {
              records: { type: 'array', maxItems: 10_000, items: { type: 'object' } },
              labels: { type: 'array', maxItems: 10_000, items: { anyOf: [{ type: 'number' }, { type: 'string' }, { type: 'boolean' }] } },
            },
          },
        },
      },
    },
  }, async (request) => {
    const { name, version } = request.params;
    const result = await deps.monitor.setReference(name, Number(version), request.body.profile, request.body.source ?? '', request.principal, request.body.sample);
    return { model: name, version: Number(version), rows: result.rows, columns: result.columns, cbpe_calibrated: result.calibrated };
  });

  app.post<{ Params: VersionParams; Body: { batch_id: string; label?: string } }>('/v1/models/:name/versions/:version/reference-profile/from-batch', {
    config: { permission: 'models:write', scope: { model: 'name' } },
    schema: {
      tags,
      summary: 'Build and set the version\'s reference from an ingested dataset batch (its stored rows, up to 200,000; the label column for CBPE)',
      params: versionParams,
      body: {
        type: 'object', required: ['batch_id'], additionalProperties: false,
        properties: { batch_id: { type: 'string', maxLength: 64 }, label: { type: 'string', maxLength: 200 } },
      },
    },
  }, async (request) => {
    const { name, version } = request.params;
    const result = await deps.monitor.referenceFromBatch(name, Number(version), request.body.batch_id, request.body.label, request.principal);
    return { model: name, version: Number(version), rows: result.rows, columns: result.columns, cbpe_calibrated: result.calibrated };
  });

  app.get<{ Params: VersionParams }>('/v1/models/:name/versions/:version/reference-profile', {
    config: { permission: 'models:read', scope: { model: 'name' } },
    schema: { tags, summary: 'The version\'s reference profile', params: versionParams },
  }, async (request) => {
    const { name, version } = request.params;
    const ref = await deps.monitor.reference(name, Number(version));
    if (!ref) {
      throw new TarmacError('REGISTRY_VERSION_NOT_FOUND', `model ${name} version ${version} has no reference profile`, { details: { model: name, version: Number(version), reference: false } });
    }
    return { model: name, version: Number(version), rows: ref.rows, source: ref.source, profile: ref.profile.toJSON() };
  });

  app.get<{ Params: { name: string }; Querystring: { format?: 'html' | 'json'; version?: string; variant?: string; since?: string; window?: string } }>('/v1/models/:name/monitor/report', {
    config: { permission: 'models:read', scope: { model: 'name' } },
    schema: {
      tags,
      summary: 'The monitoring report: reference vs current histograms per feature, drift over time, quality, performance — a self-contained HTML page or its JSON twin',
      params: { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 200 } } },
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          format: { type: 'string', enum: ['html', 'json'] },
          version: { type: 'string', pattern: '^[1-9][0-9]{0,9}$' },
          variant: { type: 'string', maxLength: 100 },
          since: { type: 'string', format: 'date-time' },
          window: { type: 'string', pattern: '^[1-9][0-9]{0,6}[smhd]?$', description: 'report windows of this size (e.g. 1h): stored windows merged exactly' },
        },
      },
    },
  }, async (request, reply) => {
    const q = request.query;
    const version = q.version === undefined ? undefined : Number(q.version);
    const since = q.since === undefined ? Date.now() - 24 * 3600_000 : Date.parse(q.since);
    const input = await deps.monitor.reportInput(request.params.name, {
      version, variant: q.variant, since, limit: 2_000, sizeSeconds: q.window === undefined ? undefined : durationSeconds(q.window),
    });
    const report = buildMonitorReport({ model: request.params.name, version, variant: q.variant, generatedAt: Date.now(), ...input });
    if (q.format === 'json') return report;
    // The report's own inline styles and images; everything else stays refused (the API's CSP is default-src 'none').
    return reply.type('text/html; charset=utf-8').header('content-security-policy', HTML_CSP).send(renderMonitorReportHtml(report));
  });

  app.put<{ Params: { name: string }; Body: { metrics: unknown } }>('/v1/models/:name/monitor/business-metrics', {
    config: { permission: 'models:write', scope: { model: 'name' } },
    schema: {
      tags,
      summary: 'Replace the model\'s business metrics: safe expressions over each answer (features, prediction, confidence) or each labelled answer (also label), aggregated per window as a mean or a sum',
      params: { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 200 } } },
      body: { type: 'object', required: ['metrics'], additionalProperties: false, properties: { metrics: { type: 'array' } } },
    },
  }, async (request) => ({ model: request.params.name, metrics: await deps.monitor.setBusinessMetrics(request.params.name, request.body.metrics, request.principal) }));

  app.put<{ Params: { name: string }; Body: unknown }>('/v1/models/:name/monitor/drift-settings', {
    config: { permission: 'models:write', scope: { model: 'name' } },
    schema: {
      tags,
      summary: 'How windows are compared with the reference: {method, threshold, per_feature: {name: {method, threshold}}, drift_share}',
      params: { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 200 } } },
      body: { type: 'object' },
    },
  }, async (request) => ({ model: request.params.name, settings: await deps.monitor.setDriftSettings(request.params.name, request.body, request.principal) }));

  app.get<{ Params: { name: string } }>('/v1/models/:name/monitor/drift-settings', {
    config: { permission: 'models:read', scope: { model: 'name' } },
    schema: { tags, summary: 'The model\'s drift settings ({} for the defaults)', params: { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 200 } } } },
  }, async (request) => ({ model: request.params.name, settings: await deps.monitor.driftSettings(request.params.name) }));

  app.get<{ Params: { name: string } }>('/v1/models/:name/monitor/business-metrics', {
    config: { permission: 'models:read', scope: { model: 'name' } },
    schema: { tags, summary: 'The model\'s business metrics', params: { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 200 } } } },
  }, async (request) => ({ model: request.params.name, metrics: await deps.monitor.businessMetrics(request.params.name) }));

  app.get<{ Params: { name: string }; Querystring: { version?: string; variant?: string; since?: string; limit?: string; size?: string } }>('/v1/models/:name/monitor/windows', {
    config: { permission: 'models:read', scope: { model: 'name' } },
    schema: {
      tags,
      summary: 'The monitor\'s windows of a model, newest first (open windows of this replica first): drift per feature and for the dataset, data quality, volume',
      params: { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 200 } } },
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          version: { type: 'string', pattern: '^[1-9][0-9]{0,9}$' },
          variant: { type: 'string', maxLength: 100 },
          since: { type: 'string', format: 'date-time' },
          limit: { type: 'string', pattern: '^[1-9][0-9]{0,2}$' },
          size: { type: 'string', pattern: '^[1-9][0-9]{0,6}[smhd]?$', description: 'roll windows up to this size (e.g. 1h, 1d, 3600): stored windows merged exactly' },
        },
      },
    },
  }, async (request) => {
    const q = request.query;
    if (q.size !== undefined) {
      const sizeSeconds = durationSeconds(q.size);
      const windows = await deps.monitor.rollup(request.params.name, {
        version: q.version === undefined ? undefined : Number(q.version), variant: q.variant,
        since: q.since === undefined ? undefined : Date.parse(q.since), sizeSeconds, limit: Number(q.limit ?? 50),
      });
      return { model: request.params.name, windows };
    }
    const windows = await deps.monitor.windows(request.params.name, {
      version: q.version === undefined ? undefined : Number(q.version),
      variant: q.variant,
      since: q.since === undefined ? undefined : Date.parse(q.since),
      limit: Number(q.limit ?? 50),
    });
    return { model: request.params.name, windows };
  });
}

/** `90`, `90s`, `15m`, `1h`, `2d` → seconds (the pattern in the schema has checked the shape). */
function durationSeconds(text: string): number {
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[/[smhd]$/.test(text) ? text.slice(-1) as 's' | 'm' | 'h' | 'd' : 's'];
  return Number(text.replace(/[smhd]$/, '')) * unit;
}
