import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { InjectOptions } from 'fastify';
import { installDemo } from '../src/cli/demo.ts';
import { loadFixture, registerViaApi, startTestTarmac, type TestTarmac } from './support.ts';

/**
 * Fuzz: 10,000 generated malformed or hostile requests (bad JSON, huge numbers, deep nesting, path traversal, NUL,
 * header abuse, oversized bodies, wrong methods, unicode junk, mutated valid bodies) spread over every route of the
 * route table, from a fixed seed. Every answer must be a 4xx (or a 2xx for a request that happens to be valid), never
 * a 5xx, and the server must be ready afterwards.
 */
const SEED = Number(process.env.TARMAC_FUZZ_SEED ?? 0x7a4ac);
const REQUESTS = 10_000;
let t: TestTarmac;
let viewerKey: string;

before(async () => {
  // Failed-authentication blocking is lifted so the hostile requests (all from one address) reach every handler.
  t = await startTestTarmac({ TARMAC_BODY_LIMIT_MB: '1', TARMAC_MONITOR: 'off', TARMAC_MAX_JSON_DEPTH: '32', TARMAC_AUTH_MAX_FAILURES: '1000000' });
  await installDemo(t.tarmac);
  const { bytes, sidecar } = loadFixture('iris_tree');
  assert.equal((await registerViaApi(t, 'iris', bytes, { features: sidecar.feature_names })).statusCode, 201);
  assert.equal((await t.call('PUT', '/v1/models/iris/deployment', { version: 1 })).statusCode, 200);
  viewerKey = ((await t.call('POST', '/v1/keys', { role: 'viewer' })).json() as { key: string }).key;
  // The admin key must not be throttled away half-way: the limiter is exercised by its own test.
  const admin = t.tarmac.keys.authenticate(t.adminKey)!.id.slice('key:'.length);
  assert.equal((await t.call('PUT', `/v1/keys/${admin}/limits`, { requests_per_minute: 0 })).statusCode, 200);
});
after(async () => t.close());

/** mulberry32: a small deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const random = prng(SEED);
const int = (n: number) => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;

const HOSTILE_SEGMENTS = [
  '..', '../..', '..%2f..%2fetc%2fpasswd', '%2e%2e', '%2e%2e%2f', '%00', 'a%00b', '%ff%fe', '%', '%zz', '....//', '%c0%ae%c0%ae',
  'x'.repeat(300), '💥', '%F0%9F%92%A5', 'CON', '.', '-', '_', ' ', '%20', '%0d%0aSet-Cookie:%20x=1', '<script>', "'%20OR%201=1--",
  '0', '-1', '99999999999999999999', '1e400', 'NaN', 'latest', 'champion', '1.5', '0x10', '%u2215', '\u202e',
];
const GOOD_SEGMENTS: Record<string, string[]> = {
  name: ['loan-default', 'iris', 'no-such-model'],
  version: ['1', '2', 'latest', 'champion'],
  alias: ['champion', 'canary'],
  id: ['00000000-0000-0000-0000-000000000000', 'abc'],
};

const HUGE = ['1e308', '-1e308', '1e400', '-1e400', '123456789012345678901234567890', '0.0000000000000000000000000001', '-0', '1E+999'];
const JUNK_VALUES: unknown[] = [
  null, true, false, 0, -1, 1.5, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 1e308, -1e308, '', ' ', 'x'.repeat(5000),
  '\u0000', '\ud800', '💥🔥', 'ａｂｃ', '\u202e', '../../etc/passwd', '%00', '__proto__', [], [[]], {}, { __proto__: { polluted: 1 } },
  { constructor: { prototype: { polluted: 1 } } }, [null], [1, 'a', null, {}], { a: { b: { c: { d: [] } } } },
];

/** Plausible bodies per route, to be mutated so that requests get past parsing into the handlers. */
const TEMPLATES: Record<string, unknown[]> = {
  '/v1/models/{name}/predict': [{ records: [{ income: 52000, loan_amount: 18000, age: 34, credit_history_years: 6, debt_ratio: 0.42, employment_type: 'salaried' }] }],
  '/v2/models/{name}/infer': [{ inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }, { id: 'x', inputs: [{ name: 'input', shape: [2, 4], datatype: 'FP64', data: [[1, 2, 3, 4], [5, 6, 7, 8]] }], outputs: [{ name: 'label' }] }],
  '/v2/models/{name}/versions/{version}/infer': [{ inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }],
  '/v1/models/{name}/feedback': [{ items: [{ prediction_id: 'abc', label: 1 }] }],
  '/v1/models/{name}/versions': [{ artifact_sha256: 'a'.repeat(64), features: ['a', 'b'], task: 'classification', tags: { a: 'b' }, metrics: { auc: 0.9 }, lineage: { code_ref: 'x' } }],
  '/v1/models/{name}/aliases/{alias}': [{ version: 1 }, { version: 'latest' }],
  '/v1/models/{name}/deployment': [{ version: 1 }, { variants: [{ name: 'a', version: 1, weight: 50 }, { name: 'b', version: 1, weight: 50 }] }, { version: 1, validation: { policy: 'fallback', fallback_version: 1 } }],
  '/v1/models/{name}/deployment/rollback': [{ revision: 1 }, {}],
  '/v1/models/{name}/versions/{version}/signature': [{ signature: 'A'.repeat(86) + '==' }, { signature: 'x', key_id: '0'.repeat(32) }],
  '/v1/contracts': [{ yaml: 'apiVersion: v3.1.0\nkind: DataContract\n' }],
  '/v1/datasets': [{ name: 'ds', contract: 'loan-default' }],
  '/v1/datasets/{name}': [{ contract: 'loan-default@1' }],
  '/v1/datasets/{name}/records': [{ records: [{ a: 1 }] }],
  '/v1/datasets/{name}/quarantine/{id}/resubmit': [{ record: { a: 1 } }],
  '/v1/models/{name}/versions/{version}/reference-profile': [{ profile: {} }],
  '/v1/models/{name}/versions/{version}/reference-profile/from-batch': [{ batch: 'abc' }],
  '/v1/models/{name}/monitor/business-metrics': [{ metrics: [{ name: 'revenue', field: 'x', aggregate: 'sum' }] }],
  '/v1/models/{name}/monitor/drift-settings': [{ method: 'psi', threshold: 0.2 }],
  '/v1/alerts/config': [{ channels: [{ name: 'a', type: 'webhook', url: 'http://127.0.0.1:9/x', secret: 'x'.repeat(20) }], rules: [] }, { channels: [], rules: [{ name: 'r', metric: 'm', op: '>', threshold: 1, forSeconds: 0, severity: 'warning', channels: [] }] }],
  '/v1/alerts/silences': [{ matchers: { model: 'x' }, endsAt: '2030-01-01T00:00:00Z' }],
  '/v1/models/{name}/rollout': [{ version: 1, steps: [10, 50], step_seconds: 60, gates: [{ kind: 'error_rate', threshold: 0.01 }] }],
  '/v1/models/{name}/experiment': [{ variants: ['a', 'b'], weights: [50, 50], unit: 'user', metric: 'accuracy' }],
  '/v1/keys': [{ role: 'viewer', name: 'k' }, { role: 'root' }],
};

function mutate(value: unknown, depth = 0): unknown {
  if (depth > 6 || random() < 0.25) return pick(JUNK_VALUES);
  if (Array.isArray(value)) {
    const copy = value.map((v) => (random() < 0.5 ? mutate(v, depth + 1) : v));
    if (random() < 0.2) copy.push(pick(JUNK_VALUES));
    return copy;
  }
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (random() < 0.1) continue;
      copy[k] = random() < 0.5 ? mutate(v, depth + 1) : v;
    }
    if (random() < 0.15) copy[pick(['__proto__', 'constructor', 'extra', '', '💥', 'x'.repeat(200)])] = pick(JUNK_VALUES);
    return copy;
  }
  return random() < 0.5 ? pick(JUNK_VALUES) : value;
}

function deepNesting(levels: number): string {
  const open = random() < 0.5 ? '[' : '{"a":';
  const close = open === '[' ? ']' : '}';
  return open.repeat(levels) + '1' + close.repeat(levels);
}

/** A raw body: malformed JSON text, huge numbers, deep nesting, binary, or a mutated valid document. */
function body(template: unknown): { payload?: string | Buffer; contentType?: string } {
  const kind = int(14);
  const json = 'application/json';
  switch (kind) {
    case 0: return { payload: pick(['{', '{"records": [', '}', 'nul', '{"a":1,}', "{'a':1}", '[1,2', '"\\u12"', '{"a":NaN}', '{"a":Infinity}', '\u0000', '\ufeff{}', '{"a":1}{"b":2}']), contentType: json };
    case 1: return { payload: `{"records":[{"income":${pick(HUGE)}}],"inputs":[{"name":"input","shape":[${pick(HUGE)},4],"datatype":"FP32","data":[${pick(HUGE)}]}],"version":${pick(HUGE)}}`, contentType: json };
    case 2: return { payload: deepNesting(pick([10, 31, 33, 100, 5000, 100_000])), contentType: json };
    case 3: return { payload: Buffer.from(Array.from({ length: int(200) }, () => int(256))), contentType: pick([json, 'application/octet-stream', 'text/plain', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded']) };
    case 4: return { payload: JSON.stringify(template), contentType: pick(['text/plain', 'application/xml', 'application/json; charset=utf-16', 'application/JSON', 'application/json;;', 'application/vnd.api+json', '*/*', '', 'application/json, text/plain']) };
    case 5: return random() < 0.05 ? { payload: `{"records":[{"x":"${'y'.repeat(1_100_000)}"}]}`, contentType: json } : { payload: '', contentType: json };
    case 6: return { payload: JSON.stringify(pick(JUNK_VALUES)), contentType: json };
    case 7: return {};
    default: return { payload: JSON.stringify(mutate(template)), contentType: json };
  }
}

function fillPath(pattern: string): string {
  return pattern.replace(/\{(\w+)\}/g, (_, param: string) => {
    if (random() < 0.55) return encodeURIComponent(pick(GOOD_SEGMENTS[param] ?? ['x']));
    return pick(HOSTILE_SEGMENTS);
  });
}

function query(): string {
  if (random() < 0.6) return '';
  const pairs = Array.from({ length: 1 + int(4) }, () => `${pick(['limit', 'format', 'version', 'variant', 'since', 'window', 'at', 'from', 'to', 'status', 'offset', 'x', '__proto__', 'limit[]'])}=${pick([...HOSTILE_SEGMENTS, '10', '-5', '1e9', 'html', 'json', '2026-01-01T00:00:00Z'])}`);
  return `?${pairs.join('&')}`;
}

function headers(contentType: string | undefined): Record<string, string | string[]> {
  const h: Record<string, string | string[]> = {};
  const auth = int(10);
  if (auth < 6) h.authorization = `Bearer ${t.adminKey}`;
  else if (auth === 6) h.authorization = pick([`Bearer ${viewerKey}`, 'Bearer', 'Bearer ', 'Basic YWRtaW46YWRtaW4=', `bearer  ${t.adminKey}  `, 'Bearer tmk_x.y', `Bearer ${t.adminKey}\u0000`, 'Bearer ' + 'A'.repeat(10_000)]);
  else if (auth === 7) h.authorization = [`Bearer ${t.adminKey}`, `Bearer ${viewerKey}`];
  if (contentType !== undefined && contentType !== '') h['content-type'] = contentType;
  if (random() < 0.15) h['x-request-id'] = pick(['../../x', 'x'.repeat(300), '\u0000', 'ok-id', '💥']);
  if (random() < 0.1) h[pick(['x-junk', 'accept', 'accept-encoding', 'content-encoding', 'transfer-encoding', 'expect', 'x-forwarded-for', 'cookie'])] = pick(['gzip', 'x'.repeat(20_000), '100-continue', 'chunked', '*/*', '1.1.1.1, 2.2.2.2', 'a=b; c']);
  return h;
}

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'] as const;

test(`${REQUESTS} hostile requests over every route: never a 5xx, and the server stays ready`, { timeout: 170_000 }, async () => {
  const doc = t.app.swagger() as { paths: Record<string, Record<string, unknown>> };
  const routes = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => ({ method: m.toUpperCase(), path: p })));
  for (const extra of [{ method: 'GET', path: '/openapi.json' }, { method: 'GET', path: '/metrics' }]) {
    if (!routes.some((r) => r.method === extra.method && r.path === extra.path)) routes.push(extra);
  }
  assert.ok(routes.length > 60, `found ${routes.length} routes`);
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  const covered = new Set<string>();
  for (let i = 0; i < REQUESTS; i++) {
    const route = routes[i % routes.length]!;
    const method = random() < 0.1 ? pick(METHODS) : route.method;
    const { payload, contentType } = body(pick(TEMPLATES[route.path] ?? [{ a: 1 }]));
    const options: InjectOptions = {
      method, url: fillPath(route.path) + query(), headers: headers(contentType),
      ...(payload === undefined || method === 'GET' || method === 'HEAD' ? {} : { payload }),
    };
    let status: number;
    let text: string;
    try {
      const res = await t.app.inject(options);
      status = res.statusCode;
      text = res.body.slice(0, 300);
    } catch (err) {
      status = 599;
      text = String(err);
    }
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    covered.add(`${route.method} ${route.path}`);
    if (status >= 500) failures.push(`#${i} ${method} ${String(options.url).slice(0, 200)} → ${status} ${text}`);
  }
  if (process.env.FUZZ_VERBOSE) console.log(JSON.stringify([...statuses].sort((a, b) => a[0] - b[0])));
  assert.deepEqual(failures.slice(0, 25), [], `${failures.length} requests got a 5xx`);
  assert.equal(covered.size, routes.length, 'every route was exercised');
  assert.ok([...statuses.keys()].some((s) => s >= 400 && s < 500));
  const ready = await t.call('GET', '/v2/health/ready');
  assert.equal(ready.statusCode, 200, ready.body);
  const predict = await t.call('POST', '/v2/models/iris/infer', { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }] });
  assert.equal(predict.statusCode, 200, predict.body);
});
