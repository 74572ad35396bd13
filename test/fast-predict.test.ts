import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fastPredictPathOf } from '../src/api/fast-predict.ts';
import { installDemo } from '../src/cli/demo.ts';
import { startTestTarmac, type TestTarmac } from './support.ts';

// The records API's fast path (src/api/fast-predict.ts) answers over a real socket what the Fastify route answers
// in-process (app.inject): the same status, body and headers for successes, codec errors, bodies it hands back to
// Fastify (broken JSON, schema, depth, prototype poisoning) and requests it never takes (credentials, scopes, media
// types, unknown models). Ids, request ids and dates differ by construction and are compared by shape.

let t: TestTarmac;
let base: string;
let predictorKey: string;
let otherScopeKey: string;
const good = { income: 52000, loan_amount: 18000, age: 34, credit_history_years: 6, debt_ratio: 0.42, employment_type: 'salaried' };

before(async () => {
  t = await startTestTarmac({});
  await installDemo(t.tarmac);
  base = await t.tarmac.listen();
  const create = async (body: unknown) => ((await t.call('POST', '/v1/keys', body)).json() as { key: string }).key;
  predictorKey = await create({ role: 'predictor', name: 'fast' });
  otherScopeKey = await create({ role: 'predictor', name: 'elsewhere', scope: { models: ['fraud-*'] } });
});

after(async () => {
  await t.close();
});

interface Exchange {
  path?: string;
  payload: string;
  headers?: Record<string, string>;
}

const VARIABLE_HEADERS = new Set(['x-request-id', 'date', 'connection', 'keep-alive', 'content-length']);

/** The answer without what differs between two runs of the same request: ids, request ids, dates. */
function normalise(status: number, headers: Record<string, unknown>, body: string): unknown {
  const stable = Object.fromEntries(Object.entries(headers).filter(([k]) => !VARIABLE_HEADERS.has(k.toLowerCase())).map(([k, v]) => [k.toLowerCase(), String(v)]));
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = body;
  }
  const scrub = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(scrub);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k === 'id' || k === 'request_id' ? typeof x : scrub(x)]));
    }
    return v;
  };
  return { status, headers: stable, body: scrub(json), headerNames: Object.keys(headers).map((k) => k.toLowerCase()).filter((k) => !['connection', 'keep-alive', 'date'].includes(k)).sort() };
}

async function both(ex: Exchange, key: string | null = t.adminKey): Promise<{ socket: unknown; inject: unknown; status: number }> {
  const url = ex.path ?? '/v1/models/loan-default/predict';
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(key === null ? {} : { authorization: `Bearer ${key}` }), ...ex.headers };
  const real = await fetch(base + url, { method: 'POST', headers, body: ex.payload });
  const realHeaders: Record<string, string> = {};
  real.headers.forEach((v, k) => (realHeaders[k] = v));
  const socket = normalise(real.status, realHeaders, await real.text());
  const injected = await t.app.inject({ method: 'POST', url, headers, payload: ex.payload });
  return { socket, inject: normalise(injected.statusCode, injected.headers, injected.body), status: real.status };
}

test('the cases it answers itself: the same answers as the Fastify route, counted in the same metrics', async () => {
  const fast = fastPredictPathOf(t.app)!;
  const before = fast.taken;
  const cases: [string, Exchange, number][] = [
    ['one record', { payload: JSON.stringify({ records: [good] }) }, 200],
    ['three records and subjects', { payload: JSON.stringify({ records: [good, good, good], subjects: ['a', 'b', 'c'] }) }, 200],
    ['a charset', { payload: JSON.stringify({ records: [good] }), headers: { 'content-type': 'application/json; charset=utf-8' } }, 200],
    ['a value of the wrong type', { payload: JSON.stringify({ records: [{ ...good, income: 'lots' }] }) }, 400],
    ['a missing feature', { payload: JSON.stringify({ records: [{ income: 1 }] }) }, 400],
  ];
  for (const [name, ex, status] of cases) {
    const { socket, inject } = await both(ex);
    assert.deepEqual(socket, inject, name);
    assert.equal((socket as { status: number }).status, status, name);
  }
  assert.equal(fast.taken - before, cases.length, 'each of these went through the fast path');
  const asked = await fetch(`${base}/v1/models/loan-default/predict`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${predictorKey}`, 'x-request-id': 'my-trace-1' }, body: JSON.stringify({ records: [good] }),
  });
  assert.equal(asked.headers.get('x-request-id'), 'my-trace-1');
  assert.equal(((await asked.json()) as { request_id: string }).request_id, 'my-trace-1');
  const metrics = (await t.call('GET', '/metrics')).body;
  const count = (status: number) => Number(new RegExp(`tarmac_http_requests_total\\{method="POST",route="/v1/models/:name/predict",status="${status}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
  assert.equal(count(200), 7, 'three 200s by socket, three by inject, one with a request id');
  assert.equal(count(400), 4);
});

test('bodies it hands back to Fastify get Fastify\'s own answers', async () => {
  const fast = fastPredictPathOf(t.app)!;
  const before = fast.taken;
  let deep: unknown = [good];
  for (let i = 0; i < 70; i++) deep = [deep];
  const cases: [string, Exchange][] = [
    ['broken JSON', { payload: '{"records": [' }],
    ['not an object', { payload: '[1, 2]' }],
    ['an unknown field', { payload: JSON.stringify({ records: [good], extra: 1 }) }],
    ['no records', { payload: JSON.stringify({ records: [] }) }],
    ['a record that is not an object', { payload: JSON.stringify({ records: [1] }) }],
    ['too deep', { payload: JSON.stringify({ records: deep }) }],
    ['prototype poisoning', { payload: `{"records": [${JSON.stringify(good).slice(0, -1)}, "__proto__": {"x": 1}}]}` }],
    ['an escaped key', { payload: `{"records": [${JSON.stringify(good).slice(0, -1)}, "\\u005f_proto__": {"x": 1}}]}` }],
  ];
  for (const [name, ex] of cases) {
    const { socket, inject, status } = await both(ex);
    assert.deepEqual(socket, inject, name);
    assert.ok(status >= 400 && status < 500, `${name}: ${status}`);
  }
  assert.equal(fast.taken - before, cases.length);
});

test('requests it never takes: credentials, scope, media type, model, route', async () => {
  const fast = fastPredictPathOf(t.app)!;
  const before = fast.taken;
  const payload = JSON.stringify({ records: [good] });
  const checks: [string, Exchange, string | null, number][] = [
    ['no key', { payload }, null, 401],
    ['a wrong key', { payload }, 'tmk_AAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB', 401],
    ['out of scope', { payload }, otherScopeKey, 403],
    ['text/plain', { payload, headers: { 'content-type': 'text/plain' } }, t.adminKey, 415],
    ['an unknown model', { payload, path: '/v1/models/nope/predict' }, t.adminKey, 404],
    ['a query string', { payload, path: '/v1/models/loan-default/predict?x=1' }, t.adminKey, 200],
  ];
  for (const [name, ex, key, status] of checks) {
    const { socket, inject } = await both(ex, key);
    assert.deepEqual(socket, inject, name);
    assert.equal((socket as { status: number }).status, status, name);
  }
  assert.equal(fast.taken, before, 'none of them went through the fast path');
});

test('hostile bodies over a real socket: never a 5xx, always the status the Fastify route gives', async () => {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const values = [null, true, -1, 1e308, 'x', '', '💥', [], {}, [1], { a: 1 }, '\u0000', 'constructor', 1.5];
  for (let i = 0; i < 150; i++) {
    const record: Record<string, unknown> = { ...good };
    for (const k of Object.keys(record)) if (random() < 0.2) record[k] = pick(values);
    if (random() < 0.2) record[pick(['extra', '__proto__', 'prototype', ''])] = pick(values);
    if (random() < 0.2) delete record[pick(Object.keys(good))];
    const body: Record<string, unknown> = random() < 0.9 ? { records: random() < 0.8 ? [record] : [record, pick(values)] } : { recs: [record] };
    if (random() < 0.1) body.subjects = [pick(values)];
    let payload = JSON.stringify(body);
    if (random() < 0.1) payload = payload.slice(0, Math.floor(random() * payload.length));
    const { socket, inject, status } = await both({ payload });
    assert.ok(status < 500, `${payload}: ${status}`);
    assert.deepEqual(socket, inject, payload);
  }
});
