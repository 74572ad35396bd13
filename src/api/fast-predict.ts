import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { Ajv } from 'ajv';
import fastJson from 'fast-json-stringify';
import { authorize } from '../security/index.ts';
import { TarmacError } from '../shared/errors.ts';
import type { ApiDeps } from './deps.ts';
import type { HttpMetricsRecorder } from './plugins/http-metrics.ts';
import { cannotPoisonPrototypes } from './plugins/request-limits.ts';
import { recordSpansOfValidBody, scanJson } from './plugins/json-scan.ts';
import { problemOf, toTarmacError } from './problem.ts';
import { recordsRequestSchema, recordsResponseSchema } from './schemas.ts';

/** The route pattern the fast path answers, as the HTTP metrics label it. */
export const FAST_PREDICT_ROUTE = '/v1/models/:name/predict';

const PATH = /^\/v1\/models\/([A-Za-z0-9._-]{1,200})\/predict$/;
const JSON_TYPE = /^application\/json\s*(;\s*charset=utf-8\s*)?$/i;
const BEARER = /^Bearer\s+(tmk_\S+)\s*$/i;
/** Hop-by-hop and per-connection headers of a replayed answer that the real connection sets itself. */
const CONNECTION_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date', 'content-length']);

/** How deep a body the records request schema accepts nests: the body, `records`, a record. */
const VALID_BODY_DEPTH = 3;

const paths = new WeakMap<FastifyInstance, FastPredictPath>();

/** The fast path in front of `app`'s server, if any (tests read how many requests it took). */
export function fastPredictPathOf(app: FastifyInstance): FastPredictPath | undefined {
  return paths.get(app);
}

/** What the fast path needs besides the domain services. */
export interface FastPredictOptions {
  app: FastifyInstance;
  deps: Pick<ApiDeps, 'keys' | 'authFailures' | 'routes' | 'predict' | 'log'>;
  protection: NonNullable<ApiDeps['protection']>;
  bodyLimitBytes: number;
  securityHeaders: Readonly<Record<string, string>>;
  requestId: (req: IncomingMessage) => string;
  recordMetrics: HttpMetricsRecorder;
}

/**
 * The records API's predict route without the framework's per-request machinery, for the common request only: an
 * API key that may predict on this model, a JSON body of known length, no per-key rate limit or quota to charge.
 * It decides from the headers alone whether it takes a request; everything else (other routes, no or bad
 * credentials, OIDC tokens, limits, chunked bodies, an undeployed model, a closing server) is left untouched to
 * Fastify. A body it cannot accept (broken JSON, too deep, not the request schema) is replayed through Fastify
 * in-process, so those answers are Fastify's own, byte for byte; errors from the model's codec are answered as the
 * Fastify error handler answers them. Every answer carries the same headers and counts in the same HTTP metrics.
 *
 * Why by hand: at ~100 µs of CPU per small-model request, the framework's hooks, routing, reply object, schema and
 * serializer wrappers cost about a third of it (bench/perf.bench.ts); this path keeps the same checks and the same
 * compiled schemas (ajv, fast-json-stringify) without them. `test/fast-predict.test.ts` holds it to the Fastify
 * route's answers.
 */
export class FastPredictPath {
  /** Requests this path took (answered itself or replayed through Fastify). */
  taken = 0;
  private closing = false;
  private readonly validate;
  private readonly serialize;
  /** The secure headers as a flat [name, value, …] list, the form writeHead takes without walking an object. */
  private readonly fixedHeaders: readonly string[];

  constructor(private readonly o: FastPredictOptions) {
    // The route's own schemas, with the options build-app gives Fastify's ajv: a body this accepts, Fastify accepts.
    this.validate = new Ajv({ removeAdditional: false, coerceTypes: false, allErrors: false, useDefaults: false, strict: false })
      .compile(recordsRequestSchema);
    this.serialize = fastJson(recordsResponseSchema);
    this.fixedHeaders = Object.entries(o.securityHeaders).flat();
    paths.set(o.app, this);
    o.app.addHook('preClose', (done) => {
      this.closing = true;
      done();
    });
  }

  /** Answers `req` and returns true, or returns false without touching it (Fastify answers it). */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'POST' || this.closing) return false;
    const url = req.url;
    if (url === undefined) return false;
    const path = PATH.exec(url);
    if (!path) return false;
    const headers = req.headers;
    const type = headers['content-type'];
    const length = headers['content-length'];
    if (type === undefined || !JSON_TYPE.test(type) || length === undefined || headers['transfer-encoding'] !== undefined) return false;
    const bytes = Number(length);
    if (!Number.isSafeInteger(bytes) || bytes <= 0 || bytes > this.o.bodyLimitBytes) return false;
    const token = headers.authorization === undefined ? undefined : BEARER.exec(headers.authorization)?.[1];
    if (token === undefined) return false;
    const ip = req.socket.remoteAddress ?? '';
    if (this.o.deps.authFailures.retryAfterSeconds(ip) > 0) return false;
    const principal = this.o.deps.keys.authenticate(token);
    if (principal === undefined) return false;
    const model = path[1]!;
    if (authorize(principal, { permission: 'predict', scope: { model: 'name' } }, { name: model }) !== undefined) return false;
    if (this.o.protection.quota.enabled || this.o.protection.rates.limitFor(principal) > 0) return false;
    if (this.o.deps.routes.get(model) === undefined) return false;

    this.taken++;
    const started = performance.now();
    const requestId = this.o.requestId(req);
    const chunks: Buffer[] = [];
    // A client that goes away mid-body: nothing to answer (an 'error' without a listener would throw).
    req.on('error', () => res.destroy());
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      this.answer(req, res, model, body, requestId, started);
    });
    return true;
  }

  private answer(req: IncomingMessage, res: ServerResponse, model: string, raw: Buffer, requestId: string, started: number): void {
    const text = raw.toString('utf8');
    // A valid records body nests 3 deep at most (the schema allows only scalars in a record), so the depth limit needs
    // no scan of its own here: a deeper body fails the schema and is replayed, and Fastify's depth check answers it.
    // JSON.parse is iterative in V8, so parsing such a body first costs its length, never the stack.
    let body: unknown;
    if (this.o.protection.maxJsonDepth >= VALID_BODY_DEPTH && cannotPoisonPrototypes(text)) {
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
    }
    if (body === undefined || !this.validate(body)) {
      this.replay(req, res, raw);
      return;
    }
    const count = (body as { records: unknown[] }).records.length;
    const spans = recordSpansOfValidBody(text, count) ?? scanJson(text, VALID_BODY_DEPTH).records;
    const rawRecords = spans?.map(([start, end]) => text.slice(start, end));
    this.o.deps.predict.predictRecords(model, body, { requestId, headers: req.headers, ...(rawRecords ? { rawRecords } : {}) }).then(
      (answer) => this.send(res, 200, 'application/json; charset=utf-8', this.serialize(answer), requestId, started),
      (err: unknown) => {
        const error = toTarmacError(err);
        if (error.status >= 500) this.o.deps.log.error({ err, code: error.code, requestId }, 'request failed');
        const problem = problemOf(error, req.url!, requestId);
        this.send(res, problem.status, 'application/problem+json; charset=utf-8', JSON.stringify(problem), requestId, started, error.retryable);
      },
    );
  }

  private send(res: ServerResponse, status: number, type: string, payload: string, requestId: string, started: number, retryable = false): void {
    const headers = [...this.fixedHeaders, 'x-request-id', requestId, 'content-type', type, 'content-length', String(Buffer.byteLength(payload))];
    if (retryable) headers.push('retry-after', '1');
    res.writeHead(status, headers);
    res.end(payload);
    this.o.recordMetrics('POST', FAST_PREDICT_ROUTE, status, (performance.now() - started) / 1000);
  }

  /** Runs the request through Fastify in-process (its parser, schema and error handler) and relays the answer. */
  private replay(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    this.o.app.inject({
      method: 'POST', url: req.url!, headers: req.headers, payload: body, remoteAddress: req.socket.remoteAddress ?? '127.0.0.1',
    }).then((answer) => {
      const headers: Record<string, string | string[] | number> = {};
      for (const [name, value] of Object.entries(answer.headers)) {
        if (value !== undefined && !CONNECTION_HEADERS.has(name)) headers[name] = value;
      }
      headers['content-length'] = answer.rawPayload.length;
      res.writeHead(answer.statusCode, headers);
      res.end(answer.rawPayload);
    }, (err: unknown) => {
      this.o.deps.log.error({ err }, 'replaying a request through the API failed');
      res.destroy(err instanceof Error ? err : new TarmacError('INTERNAL', String(err)));
    });
  }
}
