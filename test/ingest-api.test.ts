import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { readParquetRows } from '../src/contracts/parquet.ts';
import pg from 'pg';
import { PG_URL, startTestTarmac, ROOT, type TestTarmac } from './support.ts';

const CONTRACT = readFileSync(path.join(ROOT, 'test/fixtures/payments.odcs.yaml'), 'utf8');

interface Counts { read: number; accepted: number; quarantined: number; duplicates: number; late: number; too_late: number }
interface Quarantined { id: number; row_number: number; raw: unknown; status: string; reasons: { field: string; rule: string; message: string }[] }

/** The same suite on SQLite and, when TARMAC_TEST_PG_URL is set, on PostgreSQL (in a database of its own). */
const pgDatabase = `tarmac_ingest_${process.pid}_${Date.now()}`;
async function pgAdmin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
const STORES: { name: string; skip: string | false; env: () => Promise<Record<string, string>>; cleanup: () => Promise<void> }[] = [
  { name: 'SQLite', skip: false, env: async () => ({}), cleanup: async () => undefined },
  {
    name: 'PostgreSQL',
    skip: PG_URL ? false : 'TARMAC_TEST_PG_URL not set: ingestion on PostgreSQL skipped',
    env: async () => {
      await pgAdmin(`CREATE DATABASE ${pgDatabase}`);
      const url = new URL(PG_URL!);
      url.pathname = `/${pgDatabase}`;
      return { TARMAC_DATABASE_URL: url.toString() };
    },
    cleanup: () => pgAdmin(`DROP DATABASE IF EXISTS ${pgDatabase} WITH (FORCE)`),
  },
];

for (const { name: storeName, skip, env, cleanup } of STORES) describe(`ingestion on ${storeName}`, { skip }, () => {
  let t: TestTarmac;

  function upload(dataset: string, body: string | Buffer, contentType: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    return t.app.inject({
      method: 'POST',
      url: `/v1/datasets/${dataset}/batches`,
      headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': contentType, ...headers },
      payload: body,
    });
  }

  function digestHeader(body: string | Buffer): string {
    return `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
  }

  async function quarantine(dataset: string, query = ''): Promise<Quarantined[]> {
    const res = await t.call('GET', `/v1/datasets/${dataset}/quarantine?limit=1000${query}`);
    assert.equal(res.statusCode, 200, res.body);
    return (res.json() as { rows: Quarantined[] }).rows;
  }

  before(async () => {
    if (skip) return;
    t = await startTestTarmac(await env());
    const res = await t.app.inject({
      method: 'POST', url: '/v1/contracts', payload: CONTRACT,
      headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/yaml' },
    });
    assert.equal(res.statusCode, 201, res.body);
  });

  after(async () => {
    if (skip) return;
    await t?.close();
    await cleanup();
  });

  describe('dataset definitions', () => {
    test('a dataset takes its key and event time from the contract by default', async () => {
      const res = await t.call('POST', '/v1/datasets', { name: 'pay-defaults', contract: 'payments' });
      assert.equal(res.statusCode, 201, res.body);
      const body = res.json() as { key: string[]; event_time: string; allowed_lateness_seconds: number; contract: { version: number } };
      assert.deepEqual(body.key, ['id']);
      assert.equal(body.event_time, 'event_time');
      assert.equal(body.allowed_lateness_seconds, 600);
      assert.equal(body.contract.version, 1);
      const again = await t.call('POST', '/v1/datasets', { name: 'pay-defaults', contract: 'payments' });
      assert.equal(again.statusCode, 409);
      assert.equal(again.json().code, 'DATASET_EXISTS');
    });

    test('a bad definition is refused with every problem named', async () => {
      const res = await t.call('POST', '/v1/datasets', {
        name: 'pay-bad', contract: 'payments', key: ['nope', 'note'], event_time: 'category', window_seconds: 0,
        transforms: [{ explode: {} }], nats_subject: 'a.*',
      });
      assert.equal(res.statusCode, 422, res.body);
      const body = res.json() as { code: string; errors: { field: string; rule: string }[] };
      assert.equal(body.code, 'DATASET_INVALID');
      const fields = body.errors.map((e) => `${e.field} ${e.rule}`);
      assert.ok(fields.includes('/key/0 unknown_field'), fields.join('\n'));
      assert.ok(fields.includes('/key/1 required'), fields.join('\n'));
      assert.ok(fields.includes('/event_time type'), fields.join('\n'));
      assert.ok(fields.includes('/window_seconds range'), fields.join('\n'));
      assert.ok(fields.some((f) => f.startsWith('/transforms/0')), fields.join('\n'));
      assert.ok(fields.includes('/nats_subject pattern'), fields.join('\n'));
      assert.equal((await t.call('POST', '/v1/datasets', { name: 'pay-x', contract: 'nope' })).json().code, 'CONTRACT_NOT_FOUND');
      assert.equal((await t.call('POST', '/v1/datasets', { name: 'Bad Name', contract: 'payments' })).statusCode, 422);
      assert.equal((await t.call('POST', '/v1/datasets', { name: 'pay-y' })).statusCode, 400);
    });

    test('unknown datasets are 404 everywhere', async () => {
      for (const [method, url] of [['GET', '/v1/datasets/nope'], ['GET', '/v1/datasets/nope/batches'], ['GET', '/v1/datasets/nope/quarantine'], ['GET', '/v1/datasets/nope/rows']] as const) {
        const res = await t.call(method, url);
        assert.equal(res.statusCode, 404, url);
        assert.equal(res.json().code, 'DATASET_NOT_FOUND');
      }
      assert.equal((await upload('nope', 'a\n1\n', 'text/csv')).json().code, 'DATASET_NOT_FOUND');
    });
  });

  describe('file ingestion', () => {
    const header = 'id,email,amount,category,note,event_time';
    const rows = [
      '1,ann@example.com,12.5,food,,2026-01-01T00:00:00Z', // good
      '2,bob@example.com,abc,food,,2026-01-01T00:01:00Z', // amount not a number
      '3,cy@example.com,NaN,travel,,2026-01-01T00:02:00Z', // "NaN" is text
      '4,,10,food,,2026-01-01T00:03:00Z', // required email missing (empty cell)
      '5,dee@example.com,10,cars,,2026-01-01T00:04:00Z', // enum
      `6,eve@example.com,10,other,${'x'.repeat(41)},2026-01-01T00:05:00Z`, // note too long
      '7,"zoë,ünïcødé@example.com",10,other,"naïve, ☕ ""quoted""",2026-01-01T00:06:00Z', // good, unicode and quotes
      '8,fay@example.com,1e400,food,,2026-01-01T00:07:00Z', // huge number stays text
      '9,gus@example.com,10,food', // wrong cell count
      '1,ann@example.com,12.5,food,,2026-01-01T00:00:00Z', // duplicate of row 1
      '10,hal@example.com,1000001,food,,2026-01-01T00:08:00Z', // above maximum
      '11,ida@example.com,0,travel,,not-a-time', // bad timestamp
      '12,jo@example.com,999999.99,travel,short,2026-01-01T00:09:00Z', // good
    ];
    const csv = [header, ...rows].join('\n') + '\n';

    test('good rows are stored once, bad rows are quarantined with every reason, and the batch is recorded', async () => {
      assert.equal((await t.call('POST', '/v1/datasets', { name: 'pay-csv', contract: 'payments' })).statusCode, 201);
      const res = await upload('pay-csv', csv, 'text/csv', { 'content-digest': digestHeader(csv), 'x-tarmac-source-name': 'payments.csv' });
      assert.equal(res.statusCode, 201, res.body);
      const batch = res.json() as { id: string; status: string; source: string; content_sha256: string; counts: Counts; contract: { version: number } };
      assert.equal(batch.status, 'completed');
      assert.equal(batch.source, 'file:payments.csv');
      assert.equal(batch.content_sha256, createHash('sha256').update(csv).digest('hex'));
      assert.deepEqual(batch.counts, { read: 13, accepted: 3, quarantined: 9, duplicates: 1, late: 0, too_late: 0 });

      const held = await quarantine('pay-csv');
      const byRow = new Map(held.map((q) => [q.row_number, q.reasons.map((r) => `${r.field} ${r.rule}`)]));
      assert.deepEqual(byRow.get(2), ['/amount type']);
      assert.deepEqual(byRow.get(3), ['/amount type']);
      assert.deepEqual(byRow.get(4), ['/email required']);
      assert.deepEqual(byRow.get(5), ['/category enum']);
      assert.deepEqual(byRow.get(6), ['/note max_length']);
      assert.deepEqual(byRow.get(8), ['/amount type']);
      assert.deepEqual(byRow.get(9), [' parse']);
      assert.deepEqual(byRow.get(11), ['/amount maximum']);
      assert.deepEqual(byRow.get(12), ['/event_time format']);
      assert.equal(held.length, 9);
      assert.ok(held.every((q) => q.status === 'open'));
      // email is PII in the contract: quarantine keeps its keyed hash (the server's PII key), never the address.
      const piiKey = readFileSync(path.join(t.dataDir, 'pii-hash.key'), 'utf8').trim();
      const bobHash = createHmac('sha256', piiKey).update('bob@example.com', 'utf8').digest('hex');
      assert.deepEqual(held.find((q) => q.row_number === 2)!.raw, { id: 2, email: bobHash, amount: 'abc', category: 'food', event_time: '2026-01-01T00:01:00Z' });

      const exported = await t.call('GET', '/v1/datasets/pay-csv/rows?format=jsonl');
      assert.equal(exported.statusCode, 200);
      const stored = exported.body.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(stored.map((r) => r.id), [1, 7, 12]);
      assert.equal(stored[1]!.email, 'zoë,ünïcødé@example.com');
      assert.equal(stored[1]!.note, 'naïve, ☕ "quoted"');
    });

    test('ingesting the same file again adds nothing: every good row is a duplicate, quarantine is unchanged', async () => {
      const res = await upload('pay-csv', csv, 'text/csv', { 'content-digest': digestHeader(csv) });
      assert.equal(res.statusCode, 201, res.body);
      const counts = (res.json() as { counts: Counts }).counts;
      assert.equal(counts.accepted, 0);
      assert.equal(counts.duplicates, 4);
      assert.equal(counts.quarantined, 9);
      assert.equal((await quarantine('pay-csv')).length, 9);
      const shown = (await t.call('GET', '/v1/datasets/pay-csv')).json() as { rows: number; quarantine_open: number };
      assert.equal(shown.rows, 3);
      assert.equal(shown.quarantine_open, 9);
      const batches = (await t.call('GET', '/v1/datasets/pay-csv/batches')).json() as { batches: { counts: Counts }[] };
      assert.equal(batches.batches.length, 2);
      const metrics = (await t.call('GET', '/metrics')).body;
      assert.match(metrics, /tarmac_ingest_rows_total\{dataset="pay-csv",outcome="accepted"\} 3\n/);
      assert.match(metrics, /tarmac_ingest_rows_total\{dataset="pay-csv",outcome="duplicate"\} 5\n/);
      assert.match(metrics, /tarmac_ingest_batches_total\{dataset="pay-csv",status="completed"\} 2\n/);
      assert.equal(batches.batches[0]!.counts.accepted, 0, 'newest first');
    });

    test('exports are CSV with the contract\'s columns, and Parquet that reads back', async () => {
      const csvOut = await t.call('GET', '/v1/datasets/pay-csv/rows?format=csv');
      assert.equal(csvOut.statusCode, 200);
      assert.match(String(csvOut.headers['content-type']), /^text\/csv/);
      const lines = csvOut.body.trimEnd().split('\r\n');
      assert.equal(lines[0], 'id,email,amount,category,note,event_time');
      assert.equal(lines[2], '7,"zoë,ünïcødé@example.com",10,other,"naïve, ☕ ""quoted""",2026-01-01T00:06:00Z');
      const parquet = await t.call('GET', '/v1/datasets/pay-csv/rows?format=parquet');
      assert.equal(parquet.statusCode, 200);
      const file = path.join(t.dataDir, 'export.parquet');
      await writeFile(file, parquet.rawPayload);
      const back: Record<string, unknown>[] = [];
      for await (const row of readParquetRows(file)) back.push(row);
      assert.deepEqual(back.map((r) => r.id), [1, 7, 12]);
      assert.equal(back[2]!.amount, 999999.99);
    });

    test('JSON Lines and Parquet uploads go through the same pipeline', async () => {
      assert.equal((await t.call('POST', '/v1/datasets', { name: 'pay-jsonl', contract: 'payments' })).statusCode, 201);
      const jsonl = [
        JSON.stringify({ id: 1, email: 'a@example.com', amount: 1, category: 'food', event_time: '2026-01-01T00:00:00Z' }),
        JSON.stringify({ id: '2', email: 'b@example.com', amount: 1, category: 'food', event_time: '2026-01-01T00:00:00Z' }),
        '{not json',
        JSON.stringify([1, 2]),
        '',
        JSON.stringify({ id: 3, email: 'c@example.com', amount: 1, category: 'food', event_time: '2026-01-01T00:00:00Z', extra: true }),
      ].join('\n');
      const res = await upload('pay-jsonl', jsonl, 'application/x-ndjson');
      assert.equal(res.statusCode, 201, res.body);
      assert.equal((res.json() as { content_sha256: string }).content_sha256, createHash('sha256').update(jsonl).digest('hex'), 'hashed as read when no digest was sent');
      assert.deepEqual((res.json() as { counts: Counts }).counts, { read: 5, accepted: 1, quarantined: 4, duplicates: 0, late: 0, too_late: 0 });
      const rules = (await quarantine('pay-jsonl')).map((q) => q.reasons[0]!.rule);
      assert.deepEqual(rules, ['type', 'parse', 'not_object', 'unknown_field']);

      const parquet = await t.call('GET', '/v1/datasets/pay-csv/rows?format=parquet');
      assert.equal((await t.call('POST', '/v1/datasets', { name: 'pay-parquet', contract: 'payments' })).statusCode, 201);
      const up = await upload('pay-parquet', parquet.rawPayload, 'application/vnd.apache.parquet');
      assert.equal(up.statusCode, 201, up.body);
      assert.equal((up.json() as { counts: Counts }).counts.accepted, 3);
    });

    test('a source that cannot be read at all is refused and the batch marked failed; a wrong digest is named', async () => {
      const res = await upload('pay-csv', 'id,id\n1,2\n', 'text/csv');
      assert.equal(res.statusCode, 422);
      assert.equal(res.json().code, 'INGEST_UNREADABLE');
      const batches = (await t.call('GET', '/v1/datasets/pay-csv/batches')).json() as { batches: { status: string; error: string }[] };
      assert.equal(batches.batches[0]!.status, 'failed');
      assert.match(batches.batches[0]!.error, /twice/);
      const wrong = await upload('pay-csv', csv, 'text/csv', { 'content-digest': digestHeader('other') });
      assert.equal(wrong.statusCode, 400);
      assert.equal(wrong.json().errors[0].field, '/headers/content-digest');
      const bad = await upload('pay-csv', csv, 'text/csv', { 'content-digest': 'md5=:abc:' });
      assert.equal(bad.statusCode, 400);
      const plain = await t.app.inject({ method: 'POST', url: '/v1/datasets/pay-csv/batches', headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'text/plain' }, payload: 'x' });
      assert.equal(plain.statusCode, 415);
    });
  });

  describe('streaming records, lateness, transformations, quarantine', () => {
    test('records over HTTP: type confusions are caught, a retried request adds nothing', async () => {
      assert.equal((await t.call('POST', '/v1/datasets', { name: 'pay-http', contract: 'payments' })).statusCode, 201);
      const records = [
        { id: 1, email: 'a@example.com', amount: 12, category: 'food', event_time: '2026-01-01T00:00:00Z' },
        { id: 2, email: 'b@example.com', amount: '12', category: 'food', event_time: '2026-01-01T00:00:00Z' },
        { id: 3, email: 'c@example.com', amount: 12, category: 'food', note: null, event_time: '2026-01-01T00:00:00Z' },
        { id: 4, email: 'd@example.com', amount: 12, category: 'food', note: '', event_time: '2026-01-01T00:00:00Z' },
        { id: 5, email: null, amount: 12, category: 'food', event_time: '2026-01-01T00:00:00Z' },
        { id: 6, email: 'f@example.com', amount: 2 ** 53 + 2, category: 'food', event_time: '2026-01-01T00:00:00Z' },
        { id: 7.5, email: 'g@example.com', amount: 1, category: 'food', event_time: '2026-01-01T00:00:00Z' },
        { id: 8, email: 'h@example.com', amount: 1, category: 'FOOD', event_time: '2026-01-01T00:00:00Z' },
      ];
      const res = await t.call('POST', '/v1/datasets/pay-http/records', { records });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual((res.json() as { counts: Counts }).counts, { read: 8, accepted: 3, quarantined: 5, duplicates: 0, late: 0, too_late: 0 });
      const reasons = (await quarantine('pay-http')).map((q) => `${q.row_number}:${q.reasons.map((r) => `${r.field} ${r.rule}`).join('|')}`);
      assert.deepEqual(reasons, ['2:/amount type', '5:/email required', '6:/amount maximum', '7:/id type', '8:/category enum']);
      assert.match(String((res.json() as { content_sha256: string }).content_sha256), /^[0-9a-f]{64}$/, 'every batch records its content hash');
      const retry = await t.call('POST', '/v1/datasets/pay-http/records', { records });
      assert.deepEqual((retry.json() as { counts: Counts }).counts, { read: 8, accepted: 0, quarantined: 5, duplicates: 3, late: 0, too_late: 0 });
      assert.equal((await quarantine('pay-http')).length, 5, 'quarantine is idempotent for a retried request');

      const ndjson = await t.app.inject({
        method: 'POST', url: '/v1/datasets/pay-http/records', payload: `${JSON.stringify({ ...records[0], id: 100 })}\n`,
        headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/x-ndjson' },
      });
      assert.equal(ndjson.statusCode, 200, ndjson.body);
      assert.equal((ndjson.json() as { counts: Counts }).counts.accepted, 1);
      assert.equal((await t.call('POST', '/v1/datasets/pay-http/records', { rows: [] })).statusCode, 400);
    });

    test('late rows inside the allowed lateness are accepted and counted; later ones are quarantined as too late', async () => {
      assert.equal((await t.call('POST', '/v1/datasets', { name: 'pay-late', contract: 'payments', window_seconds: 300 })).statusCode, 201);
      const at = (iso: string, id: number) => ({ id, email: 'x@example.com', amount: 1, category: 'food', event_time: iso });
      // Windows of 5 minutes, lateness 10 minutes (from the contract).
      const first = await t.call('POST', '/v1/datasets/pay-late/records', { records: [at('2026-01-01T10:00:00Z', 1), at('2026-01-01T10:30:00Z', 2)] });
      assert.deepEqual((first.json() as { counts: Counts }).counts, { read: 2, accepted: 2, quarantined: 0, duplicates: 0, late: 0, too_late: 0 });
      const second = await t.call('POST', '/v1/datasets/pay-late/records', {
        records: [
          at('2026-01-01T10:28:00Z', 3), // window 10:25–10:30 closes at 10:40: late, accepted
          at('2026-01-01T10:21:00Z', 4), // window 10:20–10:25 closes at 10:35: late, accepted
          at('2026-01-01T10:19:59Z', 5), // window 10:15–10:20 closed at 10:30: too late
          at('2026-01-01T10:31:00Z', 6), // on time
        ],
      });
      assert.deepEqual((second.json() as { counts: Counts }).counts, { read: 4, accepted: 3, quarantined: 1, duplicates: 0, late: 2, too_late: 1 });
      const tooLate = (await quarantine('pay-late'))[0]!;
      assert.equal(tooLate.reasons[0]!.rule, 'lateness');
      assert.equal(tooLate.reasons[0]!.field, '/event_time');
      const shown = (await t.call('GET', '/v1/datasets/pay-late')).json() as { watermark: string; windows: { window_start: string; rows: number; late: number; too_late: number }[] };
      assert.equal(shown.watermark, '2026-01-01T10:31:00.000Z');
      const w = new Map(shown.windows.map((x) => [x.window_start, x]));
      assert.deepEqual(w.get('2026-01-01T10:25:00.000Z'), { window_start: '2026-01-01T10:25:00.000Z', rows: 1, late: 1, too_late: 0 });
      assert.equal(w.get('2026-01-01T10:15:00.000Z')!.too_late, 1);

      // An operator may re-submit the too-late row: accepted whatever its event time, counted late.
      const resubmitted = await t.call('POST', `/v1/datasets/pay-late/quarantine/${tooLate.id}/resubmit`, { record: tooLate.raw });
      assert.equal(resubmitted.statusCode, 200, resubmitted.body);
      assert.equal((resubmitted.json() as { stored: boolean }).stored, true);
    });

    test('a quarantined row can be corrected and re-submitted once, or discarded', async () => {
      const held = await quarantine('pay-http', '&status=open');
      const typeRow = held.find((q) => q.row_number === 2)!;
      const stillBad = await t.call('POST', `/v1/datasets/pay-http/quarantine/${typeRow.id}/resubmit`, { record: typeRow.raw });
      assert.equal(stillBad.statusCode, 400);
      assert.equal(stillBad.json().errors[0].field, '/record/amount');
      const fixed = await t.call('POST', `/v1/datasets/pay-http/quarantine/${typeRow.id}/resubmit`, { record: { ...(typeRow.raw as object), amount: 12 } });
      assert.equal(fixed.statusCode, 200, fixed.body);
      assert.equal((fixed.json() as { stored: boolean }).stored, true);
      const twice = await t.call('POST', `/v1/datasets/pay-http/quarantine/${typeRow.id}/resubmit`, { record: { ...(typeRow.raw as object), amount: 12 } });
      assert.equal(twice.statusCode, 409);
      assert.equal(twice.json().code, 'QUARANTINE_NOT_OPEN');
      const other = held.find((q) => q.row_number === 8)!;
      assert.equal((await t.call('POST', `/v1/datasets/pay-http/quarantine/${other.id}/discard`)).statusCode, 200);
      assert.equal((await t.call('POST', `/v1/datasets/pay-http/quarantine/${other.id}/discard`)).statusCode, 409);
      assert.equal((await t.call('POST', '/v1/datasets/pay-http/quarantine/999999/discard')).json().code, 'QUARANTINE_NOT_FOUND');
      const statuses = (await quarantine('pay-http')).map((q) => q.status).sort();
      assert.deepEqual(statuses, ['discarded', 'open', 'open', 'open', 'resubmitted']);
      const audit = (await t.call('GET', '/v1/audit?limit=500')).json() as { events: { action: string }[] };
      const actions = new Set(audit.events.map((e) => e.action));
      for (const a of ['dataset.create', 'dataset.ingest', 'dataset.quarantine.resubmit', 'dataset.quarantine.discard']) assert.ok(actions.has(a), a);
    });

    test('transformations run before validation: cast, derive, rename, mask (hash) and drop', async () => {
      const transforms = [
        { rename: { from: 'mail', to: 'email' } },
        { cast: { field: 'amount', to: 'number' } },
        { derive: { field: 'note', expr: 'upper(category)' } },
        { mask: { field: 'email', method: 'hash' } },
        { drop: ['internal'] },
      ];
      const res = await t.call('POST', '/v1/datasets', { name: 'pay-tx', contract: 'payments', transforms });
      assert.equal(res.statusCode, 201, res.body);
      const ingest = await t.call('POST', '/v1/datasets/pay-tx/records', {
        records: [
          { id: 1, mail: 'a@example.com', amount: '12.5', category: 'food', event_time: '2026-01-01T00:00:00Z', internal: 'x' },
          { id: 2, mail: 'a@example.com', amount: 'twelve', category: 'food', event_time: '2026-01-01T00:00:00Z', internal: 'x' },
        ],
      });
      assert.deepEqual((ingest.json() as { counts: Counts }).counts, { read: 2, accepted: 1, quarantined: 1, duplicates: 0, late: 0, too_late: 0 });
      const rows = (await t.call('GET', '/v1/datasets/pay-tx/rows?format=jsonl')).body.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.amount, 12.5);
      assert.equal(rows[0]!.note, 'FOOD');
      assert.match(String(rows[0]!.email), /^[0-9a-f]{64}$/);
      assert.equal('internal' in rows[0]!, false);
      const held = await quarantine('pay-tx');
      assert.equal(held[0]!.reasons[0]!.rule, 'cast');
    });

    test('a viewer may read datasets but not ingest', async () => {
      const key = await t.call('POST', '/v1/keys', { name: 'viewer', role: 'viewer' });
      assert.equal(key.statusCode, 201, key.body);
      const secret = (key.json() as { key: string }).key;
      assert.equal((await t.call('GET', '/v1/datasets', undefined, secret)).statusCode, 200);
      assert.equal((await t.call('POST', '/v1/datasets/pay-http/records', { records: [] }, secret)).statusCode, 403);
      assert.equal((await t.call('GET', '/v1/datasets', undefined, null)).statusCode, 401);
    });
  });
});
