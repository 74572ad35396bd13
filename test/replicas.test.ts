import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createTarmac, type Tarmac } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { ensureAdminKey } from '../src/security/index.ts';
import { createLogger } from '../src/shared/logger.ts';
import { PG_URL, ROOT } from './support.ts';

// Scale-out: two replicas on one PostgreSQL database, one NATS server and one artifact volume (a shared data dir). A
// change made through one — a deployment, a new key — is applied by the other through the bus, within a second.

const NATS_URL = process.env.TARMAC_TEST_NATS_URL;
const skip = PG_URL && NATS_URL ? false : 'TARMAC_TEST_PG_URL and TARMAC_TEST_NATS_URL are both needed: replica test skipped';
const suffix = randomBytes(4).toString('hex');
const database = `tarmac_replicas_${suffix}`;
const record = { income: 52000, loan_amount: 18000, age: 34, credit_history_years: 6, debt_ratio: 0.42, employment_type: 'salaried' };
let a: Tarmac;
let b: Tarmac;
let dirs: string[] = [];
let key = '';

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

let replicas = 0;

async function replica(): Promise<Tarmac> {
  replicas++;
  // Artifacts live on a volume every replica mounts (blobs/ in the data dir).
  const dir = dirs[0] ?? await mkdtemp(path.join(os.tmpdir(), 'tarmac-replica-'));
  if (dirs.length === 0) dirs.push(dir);
  const url = new URL(PG_URL!);
  url.pathname = `/${database}`;
  return createTarmac(loadConfig({
    TARMAC_DATA_DIR: dir, TARMAC_DATABASE_URL: url.toString(), TARMAC_NATS_URL: NATS_URL!, TARMAC_CLUSTER: `replicas-${suffix}`,
    TARMAC_LOG_LEVEL: 'silent', TARMAC_PORT: '0', TARMAC_PII_HASH_KEY: 'shared-key-for-the-test', TARMAC_REPLICA_ID: `replica-${replicas}`,
  }), { log: createLogger({ level: 'silent' }) });
}

const call = (t: Tarmac, method: string, url: string, body?: unknown, contentType = 'application/json') => t.api.inject({
  method: method as 'GET', url, payload: body === undefined ? undefined : (Buffer.isBuffer(body) ? body : JSON.stringify(body)),
  headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': contentType }) },
});

let answered = 0;

async function servedBy(t: Tarmac): Promise<number | undefined> {
  const res = await call(t, 'POST', '/v1/models/loans/predict', { records: [record] });
  if (res.statusCode !== 200) return undefined;
  answered++;
  return (res.json() as { version: number }).version;
}

/** Polls until `probe` holds; returns the milliseconds it took (throws after 5 s). */
async function within(probe: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  while (!(await probe())) {
    if (performance.now() - started > 5_000) throw new Error('the other replica did not apply the change within 5 s');
    await new Promise((r) => setTimeout(r, 10));
  }
  return performance.now() - started;
}

before(async () => {
  if (skip) return;
  await admin(`CREATE DATABASE ${database}`);
  a = await replica();
  b = await replica();
  key = (await ensureAdminKey(a.keys, dirs[0]!))!.key;
  await b.keys.refresh();
});

after(async () => {
  if (skip) return;
  await a?.close();
  await b?.close();
  await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
  dirs = [];
});

test('a deployment and a new key made on one replica are applied by the other within a second', { skip, timeout: 60_000 }, async () => {
  const onnx = await readFile(path.join(ROOT, 'demo/loans-demo.onnx'));
  const upload = await call(a, 'POST', '/v1/artifacts', onnx, 'application/octet-stream');
  assert.equal(upload.statusCode, 201, upload.body);
  const sha = (upload.json() as { artifact_sha256: string }).artifact_sha256;
  assert.equal((await call(a, 'POST', '/v1/models/loans/versions', { artifact_sha256: sha })).statusCode, 201);

  assert.equal(await servedBy(b), undefined, 'nothing deployed yet');
  assert.equal((await call(a, 'PUT', '/v1/models/loans/deployment', { version: 1 })).statusCode, 200);
  const deployMs = await within(async () => (await servedBy(b)) === 1);

  const created = await call(a, 'POST', '/v1/keys', { name: 'reader', role: 'viewer' });
  assert.equal(created.statusCode, 201, created.body);
  const secret = (created.json() as { key: string }).key;
  const keyMs = await within(async () => (await b.api.inject({ method: 'GET', url: '/v1/models', headers: { authorization: `Bearer ${secret}` } })).statusCode === 200);

  process.stdout.write(`# replica B served the new deployment after ${deployMs.toFixed(0)} ms and accepted the new key after ${keyMs.toFixed(0)} ms\n`);
  assert.ok(deployMs < 5_000 && keyMs < 5_000);
});

test('the monitor merges what each replica saw of a window', { skip, timeout: 60_000 }, async () => {
  for (let i = 0; i < 30; i++) assert.equal(await servedBy(a), 1);
  for (let i = 0; i < 20; i++) assert.equal(await servedBy(b), 1);
  await a.predictionLogger.flush();
  await b.predictionLogger.flush();
  // Close both replicas' windows (as their timers would after the window and its grace period).
  const later = Date.now() + 3_600_000;
  await a.monitor.tick(later);
  await b.monitor.tick(later);
  const res = await call(a, 'GET', '/v1/models/loans/monitor/windows');
  const windows = (res.json() as { windows: { rows: number; closed: boolean }[] }).windows;
  assert.equal(windows.reduce((n, w) => n + w.rows, 0), answered, 'every answer of both replicas (the deploy probes too), merged');
  assert.ok(windows.every((w) => w.closed));
});
