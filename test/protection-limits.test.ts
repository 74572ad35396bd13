import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { installDemo } from '../src/cli/demo.ts';
import { DailyQuota } from '../src/security/index.ts';
import { loadFixture, registerViaApi, startTestTarmac, type TestTarmac } from './support.ts';

/** Rate limits, quotas, request-shape limits, secure headers and TLS, through the real app. */
let t: TestTarmac;
let predictorKey: string;
let clock = Date.UTC(2026, 10, 27, 23, 59, 0);
const good = { income: 52000, loan_amount: 18000, age: 34, credit_history_years: 6, debt_ratio: 0.42, employment_type: 'salaried' };

before(async () => {
  t = await startTestTarmac(
    { TARMAC_RATE_LIMIT_PER_MINUTE: '30', TARMAC_QUOTA_RECORDS_PER_DAY: '5', TARMAC_MAX_BATCH_RECORDS: '8', TARMAC_MAX_JSON_DEPTH: '10', TARMAC_MAX_HEADER_KB: '4' },
    { clock: { now: () => clock } },
  );
  await installDemo(t.tarmac);
  const { bytes, sidecar } = loadFixture('iris_tree');
  assert.equal((await registerViaApi(t, 'iris', bytes, { features: sidecar.feature_names })).statusCode, 201);
  assert.equal((await t.call('PUT', '/v1/models/iris/deployment', { version: 1 })).statusCode, 200);
  predictorKey = ((await t.call('POST', '/v1/keys', { role: 'predictor' })).json() as { key: string }).key;
  // The admin key is used for set-up above and in the other tests: give it no limit so only the predictor is limited.
  const admin = t.tarmac.keys.authenticate(t.adminKey)!.id.slice('key:'.length);
  assert.equal((await t.call('PUT', `/v1/keys/${admin}/limits`, { requests_per_minute: 0, records_per_day: 0 })).statusCode, 200);
});
after(async () => t.close());

const predict = (records: unknown[], key = predictorKey) => t.call('POST', '/v1/models/loan-default/predict', { records }, key);

test('the daily records quota refuses with 429 QUOTA_EXCEEDED and Retry-After until the UTC day rolls', async () => {
  assert.equal((await predict([good, good, good])).statusCode, 200);
  const over = await predict([good, good, good]);
  assert.equal(over.statusCode, 429, over.body);
  assert.equal(over.headers['content-type'], 'application/problem+json; charset=utf-8');
  assert.equal(over.json().code, 'QUOTA_EXCEEDED');
  assert.equal(over.json().errors[0].rule, 'quota');
  assert.equal(over.headers['retry-after'], '60');
  assert.equal((await predict([good, good])).statusCode, 200, 'what still fits is answered');
  assert.equal((await predict([good])).statusCode, 429);
  // V2 rows count too.
  const v2 = await t.call('POST', '/v2/models/iris/infer', { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }, predictorKey);
  assert.equal(v2.statusCode, 429);
  clock += 60_000;
  assert.equal((await predict([good])).statusCode, 200, 'a new UTC day renews the quota');
});

test('the quota counts per UTC day and refuses one record past it', () => {
  let now = Date.UTC(2026, 0, 1, 12);
  const quota = new DailyQuota(10, () => now);
  assert.equal(quota.charge('a', 10).allowed, true);
  const refused = quota.charge('a', 1);
  assert.equal(refused.allowed, false);
  assert.equal(refused.allowed === false && refused.retryAfterSeconds, 12 * 3600);
  assert.equal(quota.charge('b', 1).allowed, true, 'another principal has its own count');
  now += 12 * 3600 * 1000;
  assert.equal(quota.charge('a', 10).allowed, true);
});

test('the rate limit is per principal: 429 RATE_LIMITED with Retry-After, other keys unaffected', async () => {
  const other = ((await t.call('POST', '/v1/keys', { role: 'viewer' })).json() as { key: string }).key;
  let limited;
  for (let i = 0; i < 40 && !limited; i++) {
    const res = await t.call('GET', '/v1/models', undefined, predictorKey);
    if (res.statusCode === 429) limited = res;
    else assert.equal(res.statusCode, 200);
  }
  assert.ok(limited, 'the 31st request in a minute is refused');
  assert.equal(limited.json().code, 'RATE_LIMITED');
  assert.match(limited.headers['content-type'] as string, /^application\/problem\+json/);
  assert.ok(Number(limited.headers['retry-after']) >= 1);
  assert.equal((await t.call('GET', '/v1/models', undefined, other)).statusCode, 200, 'another key has its own budget');
  const metrics = await t.call('GET', '/metrics');
  assert.match(metrics.body, /tarmac_http_refusals_total\{reason="rate_limit"\} [1-9]/);
  assert.match(metrics.body, /tarmac_http_refusals_total\{reason="quota"\} [1-9]/);
});

test('unauthenticated requests are limited per IP address', async () => {
  let limited = false;
  for (let i = 0; i < 40 && !limited; i++) {
    const res = await t.app.inject({ method: 'GET', url: '/v2/health/live', remoteAddress: '203.0.113.9' });
    limited = res.statusCode === 429;
  }
  assert.ok(limited);
  assert.equal((await t.app.inject({ method: 'GET', url: '/v2/health/live', remoteAddress: '203.0.113.10' })).statusCode, 200);
});

test('failed authentication is throttled per address before authentication runs', async () => {
  const from = (remoteAddress: string, key: string) =>
    t.app.inject({ method: 'GET', url: '/v1/models', remoteAddress, headers: { authorization: `Bearer ${key}` } });
  const guess = 'tmk_AAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';
  const auditedBefore = ((await t.call('GET', '/v1/audit?limit=1000')).json() as { events: unknown[] }).events.length;
  for (let i = 0; i < 20; i++) assert.equal((await from('198.51.100.7', guess)).statusCode, 401);
  const throttled = await from('198.51.100.7', guess);
  assert.equal(throttled.statusCode, 429, throttled.body);
  assert.equal(throttled.json().code, 'AUTH_RATE_LIMITED');
  assert.equal((await from('198.51.100.7', t.adminKey)).statusCode, 429, 'blocked before the credentials are looked at');
  assert.ok(Number(throttled.headers['retry-after']) >= 1);
  assert.equal((await from('198.51.100.8', t.adminKey)).statusCode, 200, 'other addresses are unaffected');
  const auditedAfter = ((await t.call('GET', '/v1/audit?limit=1000')).json() as { events: unknown[] }).events.length;
  assert.ok(auditedAfter - auditedBefore <= 22, 'throttled guesses are not audited one by one');
});

test('request-shape limits: JSON depth 400, V2 batch 400, records batch 400, each naming the limit', async () => {
  let deep: unknown = 1;
  for (let i = 0; i < 11; i++) deep = [deep];
  const tooDeep = await t.call('POST', '/v1/models/loan-default/predict', { records: deep });
  assert.equal(tooDeep.statusCode, 400);
  assert.equal(tooDeep.json().code, 'REQUEST_TOO_DEEP');
  assert.equal(tooDeep.json().errors[0].rule, 'max_depth');
  const deepString = await t.call('POST', '/v1/models/loan-default/predict', { records: [{ ...good, employment_type: '[[[[[[[[[[[[[[[[' }] });
  assert.notEqual(deepString.json().code, 'REQUEST_TOO_DEEP', 'brackets inside strings do not count');
  const v2 = await t.call('POST', '/v2/models/iris/infer', { inputs: [{ name: 'input', shape: [9, 4], datatype: 'FP32', data: Array(36).fill(1) }] });
  assert.equal(v2.statusCode, 400, v2.body);
  assert.equal(v2.json().errors[0].rule, 'max_batch');
  assert.match(v2.json().detail, /TARMAC_MAX_BATCH_RECORDS/);
  const records = await predict(Array(9).fill(good), t.adminKey);
  assert.equal(records.statusCode, 400);
  assert.equal(records.json().errors[0].rule, 'max_items');
});

test('secure headers on every answer, refusals included; the HTML report keeps a CSP that lets it render', async () => {
  for (const res of [await t.call('GET', '/v1/models'), await t.call('GET', '/v1/models', undefined, null), await t.call('GET', '/nope')]) {
    assert.equal(res.headers['content-security-policy'], "default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'");
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['referrer-policy'], 'no-referrer');
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.equal(res.headers['strict-transport-security'], undefined, 'no HSTS over plain HTTP');
  }
  const html = await t.call('GET', '/v1/models/loan-default/monitor/report?format=html');
  if (html.statusCode === 200) assert.match(html.headers['content-security-policy'] as string, /style-src 'unsafe-inline'/);
});

test('prototype poisoning is refused however the key is spelt; a body without those words parses directly', async () => {
  const record = JSON.stringify(good).slice(1, -1);
  const send = (payload: string) => t.app.inject({
    method: 'POST', url: '/v1/models/loan-default/predict', payload,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` },
  });
  for (const key of ['__proto__', '\\u005f_proto__', 'constructor', '\\u0063onstructor']) {
    const inner = key.includes('constructor') ? '{"prototype": {"polluted": 1}}' : '{"polluted": 1}';
    const res = await send(`{"records": [{${record}, "${key}": ${inner}}]}`);
    assert.equal(res.statusCode, 400, `${key}: ${res.body}`);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  }
  const escaped = await send(`{"records": [{${record.replace('"salaried"', '"\\u0073alaried"')}}]}`);
  assert.equal(escaped.statusCode, 200, 'an escape that spells no dangerous key is parsed by the careful path and accepted');
  assert.equal((await send(`{"records": [{${record}}]}`)).statusCode, 200);
  const broken = await send('{"records": [');
  assert.equal(broken.statusCode, 400);
  assert.equal(broken.headers['content-type'], 'application/problem+json; charset=utf-8');
  assert.equal((await send('')).statusCode, 400);
});

test('the prediction log stores each record as the client sent it; a record the edge could not scan is serialised', async () => {
  const record = JSON.stringify(good).slice(1, -1).replace('"debt_ratio":0.42', '"debt_ratio" : 0.420');
  const send = (payload: string) => t.app.inject({
    method: 'POST', url: '/v1/models/loan-default/predict', payload,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` },
  });
  const asSent = await send(`{"records": [ {${record}} ,{${record}}]}`);
  assert.equal(asSent.statusCode, 200, asSent.body);
  const escaped = await send(`{"records": [{${record.replace('"salaried"', '"\\u0073alaried"')}}]}`);
  assert.equal(escaped.statusCode, 200, escaped.body);
  await t.tarmac.predictionLogger.flush();
  const ids = [...(asSent.json() as { predictions: { id: string }[] }).predictions, ...(escaped.json() as { predictions: { id: string }[] }).predictions].map((p) => p.id);
  const stored = await t.tarmac.database.db.selectFrom('predictions').select(['id', 'inputs']).where('id', 'in', ids).execute();
  const byId = new Map(stored.map((r) => [r.id, r.inputs]));
  assert.equal(byId.get(ids[0]!), `{${record}}`, 'verbatim');
  assert.equal(byId.get(ids[1]!), `{${record}}`);
  assert.deepEqual(JSON.parse(byId.get(ids[2]!)!), { ...good }, 'an escape in the body: the parsed record, serialised');
});

test('a header block over TARMAC_MAX_HEADER_KB gets 431 problem+json on a real socket', async () => {
  const url = new URL(await t.tarmac.listen());
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => {
      socket.write(`GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Junk: ${'a'.repeat(8 * 1024)}\r\n\r\n`);
    });
    let data = '';
    socket.on('data', (d) => { data += d.toString(); });
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
  assert.match(answer, /^HTTP\/1.1 431 /);
  assert.match(answer, /application\/problem\+json/);
  assert.match(answer, /REQUEST_HEADERS_TOO_LARGE/);
  assert.match(answer, /TARMAC_MAX_HEADER_KB/);
});

test('TARMAC_TLS_CERT/KEY: the API speaks HTTPS with HSTS', async (tt) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tarmac-tls-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  } catch {
    tt.skip('openssl is not installed');
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  const secure = await startTestTarmac({ TARMAC_TLS_CERT: cert, TARMAC_TLS_KEY: key, TARMAC_MONITOR: 'off' });
  try {
    const url = await secure.tarmac.listen();
    assert.match(url, /^https:/);
    const ca = readFileSync(cert);
    const res = await new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const req = httpsRequest(`${url}/v2/health/live`, { ca }, (r) => {
        let body = '';
        r.on('data', (d) => { body += d; });
        r.on('end', () => resolve({ status: r.statusCode!, headers: r.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(res.status, 200, res.body);
    assert.match(String(res.headers['strict-transport-security']), /max-age=31536000/);
  } finally {
    await secure.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a key can carry its own rate limit and daily quota, set at creation or later, audited, applied at once', async () => {
  const bad = await t.call('POST', '/v1/keys', { role: 'predictor', limits: { requests_per_minute: -1 } });
  assert.equal(bad.statusCode, 400, bad.body);
  assert.match(JSON.stringify(bad.json().errors), /limits/);
  const created = await t.call('POST', '/v1/keys', { role: 'predictor', name: 'metered', limits: { requests_per_minute: 3, records_per_day: 100 } });
  assert.equal(created.statusCode, 201, created.body);
  const { key, id, limits } = created.json() as { key: string; id: string; limits: unknown };
  assert.deepEqual(limits, { requests_per_minute: 3, records_per_day: 100 });
  for (let i = 0; i < 3; i++) assert.equal((await predict([good], key)).statusCode, 200);
  const limited = await predict([good], key);
  assert.equal(limited.statusCode, 429, limited.body);
  assert.equal(limited.json().code, 'RATE_LIMITED');
  assert.ok(Number(limited.headers['retry-after']) >= 1);
  assert.equal((await t.call('GET', '/v1/models')).statusCode, 200, 'other keys keep the default');

  // The rate lifted (0: unlimited); its own records quota (5, of which 3 are used today) replaces the 100 it had.
  const changed = await t.call('PUT', `/v1/keys/${id}/limits`, { requests_per_minute: 0, records_per_day: 5 });
  assert.equal(changed.statusCode, 200, changed.body);
  const both = await predict([good, good], key);
  assert.equal(both.statusCode, 200, both.body);
  const overQuota = await predict([good], key);
  assert.equal(overQuota.statusCode, 429, overQuota.body);
  assert.equal(overQuota.json().code, 'QUOTA_EXCEEDED');
  assert.equal((await t.call('PUT', `/v1/keys/${id}/limits`, { requests_per_minute: 'many' })).statusCode, 400);
  assert.equal((await t.call('PUT', '/v1/keys/nope/limits', {})).statusCode, 404);
  const audit = (await t.call('GET', '/v1/audit?limit=1000')).json() as { events: { action: string; details: { after?: unknown } }[] };
  assert.ok(audit.events.some((e) => e.action === 'key.limits' && JSON.stringify(e.details.after) === JSON.stringify({ requests_per_minute: 0, records_per_day: 5 })));
});
