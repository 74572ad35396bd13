import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { pipeline as pipe } from 'node:stream/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  csvItems, EXPORT_MEDIA_TYPES, FORMAT_MEDIA_TYPES, formatOfMediaType, jsonLinesItems, parquetItems, toCsv, toJsonLines,
  toParquetFile,
} from '../../pipelines/index.ts';
import type { DatasetSpec, ExportFormat, SourceFormat, SourceItem } from '../../pipelines/index.ts';
import { TarmacError } from '../../shared/errors.ts';
import { mayList } from '../../security/index.ts';
import type { ApiDeps } from '../deps.ts';
import { batchView, datasetView, ingestResultView, quarantineView, windowView } from '../dataset-views.ts';

type NameParams = { name: string };

const NAME_PARAM = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', maxLength: 200, description: 'dataset name' } },
} as const;

const UPLOAD_TYPES = [...FORMAT_MEDIA_TYPES.csv, ...FORMAT_MEDIA_TYPES.jsonl, ...FORMAT_MEDIA_TYPES.parquet];
/** RFC 9530 Content-Digest with a sha-256 member: `sha-256=:BASE64:`. */
const CONTENT_DIGEST = /(?:^|,)\s*sha-256=:([A-Za-z0-9+/]{43}=):/i;
// eslint-disable-next-line no-control-regex -- control characters are exactly what a source name must not hold
const SOURCE_NAME = /^[^\x00-\x1f/\\]{1,200}$/;

const datasetSpecSchema = {
  type: 'object',
  required: ['name', 'contract'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', maxLength: 200 },
    contract: { type: 'string', minLength: 1, maxLength: 200, description: 'NAME (latest version) or NAME@VERSION' },
    description: { type: 'string', maxLength: 10_000 },
    key: { type: 'array', maxItems: 32, items: { type: 'string', minLength: 1, maxLength: 200 }, description: 'de-duplication key fields (default: the contract\'s primary key; [] for whole-record content)' },
    event_time: { type: 'string', minLength: 1, maxLength: 200, description: 'event-time field (default: the contract\'s tarmac.eventTime field)' },
    window_seconds: { type: 'integer', description: 'tumbling window size (default 3600)' },
    allowed_lateness_seconds: { type: 'integer', description: 'how long after its end a window still accepts rows (default: the contract\'s tarmac.maxLatenessSeconds, else 3600)' },
    transforms: { type: 'array', maxItems: 200, items: { type: 'object' }, description: 'transformation steps (see docs/ingestion.md)' },
    nats_subject: { type: 'string', minLength: 1, maxLength: 200, description: 'a NATS JetStream subject to consume' },
  },
} as const;

interface DatasetBody {
  name: string; contract: string; description?: string; key?: string[]; event_time?: string;
  window_seconds?: number; allowed_lateness_seconds?: number; transforms?: unknown[]; nats_subject?: string;
}

/** Hashes and counts the bytes that pass, failing the stream once more than `limit` bytes arrived. */
class DigestingLimit extends Transform {
  private readonly hash = createHash('sha256');
  private hex: string | undefined;
  bytes = 0;

  /** The sha-256 (hex) of every byte that passed; call once the stream has ended. */
  digest(): string {
    this.hex ??= this.hash.digest('hex');
    return this.hex;
  }

  constructor(private readonly limit: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      callback(new TarmacError('REQUEST_TOO_LARGE', `the upload is larger than the limit of ${this.limit} bytes`, {
        details: { limit: this.limit },
        issues: [{ field: '/body', rule: 'max_size', message: `must be at most ${this.limit} bytes` }],
      }));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }
}

/** Datasets over HTTP: define, ingest (file upload or records), inspect batches and quarantine, re-submit, export. */
export function datasetsRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const tags = ['datasets'];

  // Uploads are streamed, never buffered: the route reads the raw request stream itself.
  app.addContentTypeParser(UPLOAD_TYPES, (_request, payload, done) => done(null, payload));

  app.post<{ Body: DatasetBody }>('/v1/datasets', {
    config: { permission: 'datasets:write' },
    schema: { tags, summary: 'Create a dataset governed by a contract version', body: datasetSpecSchema },
  }, async (request, reply) => {
    const b = request.body;
    const spec: DatasetSpec = {
      name: b.name, contract: b.contract, description: b.description, key: b.key, eventTime: b.event_time,
      windowSeconds: b.window_seconds, allowedLatenessSeconds: b.allowed_lateness_seconds, transforms: b.transforms,
      natsSubject: b.nats_subject,
    };
    const dataset = await deps.datasets.create(spec, request.principal);
    return reply.code(201).header('location', `/v1/datasets/${dataset.name}`).send(datasetView(dataset));
  });

  app.get('/v1/datasets', {
    config: { permission: 'datasets:read', scope: { filter: 'datasets' } },
    schema: { tags, summary: 'List datasets' },
  }, async (request) => ({ datasets: (await deps.datasets.list()).filter((d) => mayList(request.principal, 'dataset', d.name)).map(datasetView) }));

  app.get<{ Params: NameParams }>('/v1/datasets/:name', {
    config: { permission: 'datasets:read', scope: { dataset: 'name' } },
    schema: { tags, summary: 'A dataset with its row and open-quarantine counts and recent event-time windows', params: NAME_PARAM },
  }, async (request) => {
    const { dataset, rows, quarantineOpen, windows } = await deps.datasets.describe(request.params.name);
    return { ...datasetView(dataset), rows, quarantine_open: quarantineOpen, windows: windows.map(windowView) };
  });

  app.patch<{ Params: NameParams; Body: { contract: string } }>('/v1/datasets/:name', {
    config: { permission: 'datasets:write', scope: { dataset: 'name' } },
    schema: {
      tags, summary: 'Move the dataset to another version of its contract', params: NAME_PARAM,
      body: { type: 'object', required: ['contract'], additionalProperties: false, properties: { contract: { type: 'string', minLength: 1, maxLength: 200 } } },
    },
  }, async (request) => datasetView(await deps.datasets.setContract(request.params.name, request.body.contract, request.principal)));

  app.post<{ Params: NameParams; Querystring: { format?: SourceFormat } }>('/v1/datasets/:name/batches', {
    config: { permission: 'datasets:write', scope: { dataset: 'name' } },
    schema: {
      tags,
      summary: 'Ingest a file (the raw body: CSV, JSON Lines or Parquet) as one batch; 201 with its counts whatever it quarantined',
      description: 'Send `Content-Digest: sha-256=:…:` (RFC 9530) so an interrupted upload of the same bytes resumes from its last checkpoint, and `X-Tarmac-Source-Name` to name the source.',
      consumes: UPLOAD_TYPES,
      params: NAME_PARAM,
      querystring: { type: 'object', additionalProperties: false, properties: { format: { type: 'string', enum: ['csv', 'jsonl', 'parquet'] } } },
    },
  }, async (request, reply) => {
    const body = request.body;
    if (!(body instanceof Readable)) {
      throw new TarmacError('REQUEST_UNSUPPORTED_MEDIA_TYPE', 'post the file as the raw body with its media type', {
        issues: [{ field: '/headers/content-type', rule: 'media_type', message: `must be one of ${UPLOAD_TYPES.join(', ')}` }],
      });
    }
    const format = request.query.format ?? formatOfMediaType(request.headers['content-type'])!;
    const expected = expectedDigest(request);
    const sourceName = sourceNameOf(request);
    const dataset = await deps.datasets.get(request.params.name);
    const pipeline = await deps.ingest.pipeline(dataset);
    const counter = new DigestingLimit(deps.limits.maxUploadBytes);
    let spool: string | undefined;
    try {
      let items: AsyncIterable<SourceItem>;
      if (format === 'parquet') {
        await mkdir(deps.spoolDir, { recursive: true });
        spool = await mkdtemp(path.join(deps.spoolDir, 'upload-'));
        const file = path.join(spool, 'upload.parquet');
        await pipe(body, counter, createWriteStream(file));
        items = parquetItems(file);
      } else {
        body.pipe(counter);
        body.on('error', (err) => counter.destroy(err));
        items = format === 'csv' ? csvItems(counter, pipeline.typeCsvCell) : jsonLinesItems(counter);
      }
      const result = await deps.ingest.ingest(dataset.name, items, {
        source: `file:${sourceName ?? `upload.${format}`}`,
        by: request.principal,
        contentSha256: expected,
        finalSha256: () => counter.digest(),
      });
      const actual = counter.digest();
      if (expected !== undefined && actual !== expected) {
        throw new TarmacError('VALIDATION_FAILED', `the body's sha-256 ${actual} differs from the Content-Digest ${expected}: the upload was altered or cut short (rows read so far are stored; send the file again)`, {
          issues: [{ field: '/headers/content-digest', rule: 'digest', message: 'does not match the body' }],
          details: { batch: result.batch.id },
        });
      }
      return reply.code(201).header('location', `/v1/datasets/${dataset.name}/batches/${result.batch.id}`).send(ingestResultView(result));
    } finally {
      if (spool !== undefined) await rm(spool, { recursive: true, force: true });
    }
  });

  app.post<{ Params: NameParams; Body: unknown }>('/v1/datasets/:name/records', {
    config: { permission: 'datasets:write', scope: { dataset: 'name' } },
    schema: {
      tags,
      summary: 'Ingest records (JSON `{"records": [...]}` or a JSON Lines body) as one batch; a retried identical request adds nothing',
      description: 'An `Idempotency-Key` header names the request; without one, the body\'s content identifies it.',
      params: NAME_PARAM,
    },
  }, async (request) => {
    const dataset = await deps.datasets.get(request.params.name);
    if (request.body instanceof Readable) {
      if (formatOfMediaType(request.headers['content-type']) !== 'jsonl') {
        throw new TarmacError('REQUEST_UNSUPPORTED_MEDIA_TYPE', 'records are JSON ({"records": [...]}) or JSON Lines; upload files to /batches', {
          issues: [{ field: '/headers/content-type', rule: 'media_type', message: 'must be application/json or application/x-ndjson' }],
        });
      }
      const counter = new DigestingLimit(deps.limits.bodyLimitBytes);
      request.body.pipe(counter);
      const collected: SourceItem[] = [];
      for await (const item of jsonLinesItems(counter)) {
        collected.push(item);
        checkRecordCount(collected.length, deps.limits.maxIngestRecords);
      }
      const sha256 = counter.digest();
      const ref = idempotencyRef(request) ?? `http:${sha256}`;
      return ingestResultView(await deps.ingest.ingest(dataset.name, collected, { source: 'http', by: request.principal, sourceRef: ref, finalSha256: () => sha256 }));
    }
    const body = request.body as { records?: unknown } | null;
    if (typeof body !== 'object' || body === null || !Array.isArray(body.records)) {
      throw new TarmacError('VALIDATION_FAILED', 'the body must be {"records": [ ... ]}', {
        issues: [{ field: '/records', rule: 'required', message: 'must be an array of records' }],
      });
    }
    const records = body.records;
    checkRecordCount(records.length, deps.limits.maxIngestRecords);
    const sha256 = createHash('sha256').update(JSON.stringify(records)).digest('hex');
    const ref = idempotencyRef(request) ?? `http:${sha256}`;
    return ingestResultView(await deps.ingest.ingestRecords(dataset.name, records, { source: 'http', by: request.principal, sourceRef: ref, finalSha256: () => sha256 }));
  });

  app.get<{ Params: NameParams; Querystring: { limit?: string } }>('/v1/datasets/:name/batches', {
    config: { permission: 'datasets:read', scope: { dataset: 'name' } },
    schema: {
      tags, summary: 'The dataset\'s ingestion batches, newest first', params: NAME_PARAM,
      querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'string', pattern: '^[1-9][0-9]{0,2}$', description: '1–999' } } },
    },
  }, async (request) => ({ batches: (await deps.datasets.batches(request.params.name, Number(request.query.limit ?? 100))).map(batchView) }));

  app.get<{ Params: NameParams & { id: string } }>('/v1/datasets/:name/batches/:id', {
    config: { permission: 'datasets:read', scope: { dataset: 'name' } },
    schema: {
      tags, summary: 'One ingestion batch',
      params: { type: 'object', required: ['name', 'id'], properties: { name: { type: 'string', maxLength: 200 }, id: { type: 'string', maxLength: 64 } } },
    },
  }, async (request) => {
    const batch = await deps.datasets.batch(request.params.id);
    if (batch.datasetName !== request.params.name) {
      throw new TarmacError('DATASET_BATCH_NOT_FOUND', `dataset ${request.params.name} has no batch ${request.params.id}`, { details: { batch: request.params.id } });
    }
    return batchView(batch);
  });

  app.get<{ Params: NameParams; Querystring: { status?: 'open' | 'resubmitted' | 'discarded'; limit?: string; after?: string } }>('/v1/datasets/:name/quarantine', {
    config: { permission: 'datasets:read', scope: { dataset: 'name' } },
    schema: {
      tags, summary: 'Quarantined rows with every reason, oldest first; page with `after` (the last id seen)', params: NAME_PARAM,
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          status: { type: 'string', enum: ['open', 'resubmitted', 'discarded'] },
          limit: { type: 'string', pattern: '^[1-9][0-9]{0,3}$', description: '1–9999 (default 100)' },
          after: { type: 'string', pattern: '^[0-9]{1,15}$' },
        },
      },
    },
  }, async (request) => {
    const rows = await deps.datasets.quarantine(request.params.name, {
      status: request.query.status, limit: Number(request.query.limit ?? 100),
      afterId: request.query.after === undefined ? undefined : Number(request.query.after),
    });
    return { rows: rows.map(quarantineView), next_after: rows.length > 0 ? rows.at(-1)!.id : null };
  });

  const quarantineParams = {
    type: 'object', required: ['name', 'id'],
    properties: { name: { type: 'string', maxLength: 200 }, id: { type: 'string', pattern: '^[1-9][0-9]{0,14}$' } },
  } as const;

  app.post<{ Params: NameParams & { id: string }; Body: { record: unknown } }>('/v1/datasets/:name/quarantine/:id/resubmit', {
    config: { permission: 'datasets:write', scope: { dataset: 'name' } },
    schema: {
      tags, summary: 'Re-submit a corrected quarantined row through the dataset\'s pipeline', params: quarantineParams,
      body: { type: 'object', required: ['record'], additionalProperties: false, properties: { record: { type: 'object' } } },
    },
  }, async (request) => {
    const { batch, stored } = await deps.ingest.resubmit(request.params.name, Number(request.params.id), request.body.record, request.principal);
    return { stored, batch: batchView(batch) };
  });

  app.post<{ Params: NameParams & { id: string } }>('/v1/datasets/:name/quarantine/:id/discard', {
    config: { permission: 'datasets:write', scope: { dataset: 'name' } },
    schema: { tags, summary: 'Discard a quarantined row (kept, marked discarded)', params: quarantineParams },
  }, async (request) => {
    await deps.ingest.discard(request.params.name, Number(request.params.id), request.principal);
    return { id: Number(request.params.id), status: 'discarded' };
  });

  app.get<{ Params: NameParams; Querystring: { format?: ExportFormat } }>('/v1/datasets/:name/rows', {
    config: { permission: 'datasets:read', scope: { dataset: 'name' } },
    schema: {
      tags, summary: 'Export the accepted rows (CSV, JSON Lines or Parquet), streamed', params: NAME_PARAM,
      querystring: { type: 'object', additionalProperties: false, properties: { format: { type: 'string', enum: ['csv', 'jsonl', 'parquet'] } } },
    },
  }, async (request, reply) => exportRows(deps, request.params.name, request.query.format ?? 'jsonl', reply));
}

async function exportRows(deps: ApiDeps, name: string, format: ExportFormat, reply: FastifyReply): Promise<FastifyReply> {
  const dataset = await deps.datasets.get(name);
  const contract = await deps.datasets.contractOf(dataset);
  const rows = (async function* () {
    for await (const r of deps.datasets.rows(name)) yield r.data;
  })();
  reply.header('content-type', EXPORT_MEDIA_TYPES[format])
    .header('content-disposition', `attachment; filename="${dataset.name}.${format}"`);
  if (format === 'parquet') {
    const { file, cleanup } = await toParquetFile(contract.fields, rows);
    const stream = createReadStream(file);
    stream.on('close', () => void cleanup());
    return reply.send(stream);
  }
  const text = format === 'csv' ? toCsv(contract.fields.map((f) => f.name), rows) : toJsonLines(rows);
  return reply.send(Readable.from(text));
}

function expectedDigest(request: FastifyRequest): string | undefined {
  const header = request.headers['content-digest'];
  if (header === undefined) return undefined;
  const match = CONTENT_DIGEST.exec(Array.isArray(header) ? header.join(',') : header);
  if (!match) {
    throw new TarmacError('VALIDATION_FAILED', 'Content-Digest must carry a sha-256 member: sha-256=:<base64>: (RFC 9530)', {
      issues: [{ field: '/headers/content-digest', rule: 'format', message: 'must be sha-256=:<base64 of the 32-byte digest>:' }],
    });
  }
  return Buffer.from(match[1]!, 'base64').toString('hex');
}

function sourceNameOf(request: FastifyRequest): string | undefined {
  const header = request.headers['x-tarmac-source-name'];
  if (header === undefined) return undefined;
  const value = Array.isArray(header) ? header[0]! : header;
  if (!SOURCE_NAME.test(value)) {
    throw new TarmacError('VALIDATION_FAILED', 'X-Tarmac-Source-Name must be a file name (1–200 characters, no path separators or control characters)', {
      issues: [{ field: '/headers/x-tarmac-source-name', rule: 'pattern', message: 'must be a plain file name' }],
    });
  }
  return value;
}

function idempotencyRef(request: FastifyRequest): string | undefined {
  const header = request.headers['idempotency-key'];
  if (header === undefined) return undefined;
  const value = Array.isArray(header) ? header[0]! : header;
  if (value.length < 1 || value.length > 200) {
    throw new TarmacError('VALIDATION_FAILED', 'Idempotency-Key must be 1–200 characters', {
      issues: [{ field: '/headers/idempotency-key', rule: 'max_length', message: 'must be 1–200 characters' }],
    });
  }
  return `http:key:${value}`;
}

function checkRecordCount(n: number, max: number): void {
  if (n > max) {
    throw new TarmacError('REQUEST_TOO_LARGE', `${n} records exceed the limit of ${max} per request; upload a file to /batches instead`, {
      details: { limit: max },
      issues: [{ field: '/records', rule: 'max_items', message: `must hold at most ${max} records` }],
    });
  }
}
