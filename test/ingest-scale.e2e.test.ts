import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { BAD_KINDS, writePaymentsCsv, type PaymentsFile } from '../bench/ingest-data.ts';
import { REPO_ROOT, runCli, startServer, type CliResult, type ServerProcess } from './cli-support.ts';

// Acceptance at scale, end to end: a real `tarmac up`, the real `tarmac ingest` CLI, a 1,000,000-row CSV with 5% bad
// rows and 2% duplicates, and a kill -9 of the server in the middle of an ingestion.

const ROWS = Number(process.env.TARMAC_TEST_INGEST_ROWS ?? 1_000_000);
const SLOW = { timeout: 600_000 };

let tmp = '';
let dataDir = '';
let csv = '';
let info: PaymentsFile;
let server: ServerProcess | undefined;

const cli = (args: string[], timeoutMs = 300_000): Promise<CliResult> =>
  runCli(['--url', server!.url, ...args], { TARMAC_DATA_DIR: dataDir }, timeoutMs);

async function up(): Promise<ServerProcess> {
  return startServer(['up', '--port', '0', '--data-dir', dataDir], { TARMAC_LOG_LEVEL: 'warn' }, /Tarmac is up on/);
}

interface Counts { read: number; accepted: number; quarantined: number; duplicates: number; late: number; too_late: number }

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tarmac-ingest-scale-'));
  dataDir = path.join(tmp, 'data');
  csv = path.join(tmp, 'payments.csv');
  info = await writePaymentsCsv(csv, ROWS);
  server = await up();
  const contract = await cli(['contracts', 'register', path.join(REPO_ROOT, 'test/fixtures/payments.odcs.yaml')]);
  assert.equal(contract.code, 0, contract.stderr);
  const created = await cli(['datasets', 'create', 'payments', '--contract', 'payments']);
  assert.equal(created.code, 0, created.stderr);
});

after(async () => {
  try {
    await server?.stop();
  } finally {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }
});

/** What the store holds for the dataset, read straight from the SQLite file. */
function stored(): { rows: number; distinctKeys: number; idSum: number; quarantine: number; reasons: Map<string, number> } {
  const db = new Database(path.join(dataDir, 'tarmac.db'), { readonly: true, fileMustExist: true });
  try {
    const r = db.prepare(`select count(*) as n, count(distinct record_key) as k, sum(json_extract(data, '$.id')) as s from dataset_rows`).get() as { n: number; k: number; s: number };
    const q = db.prepare('select count(*) as n from quarantine').get() as { n: number };
    const reasons = new Map<string, number>();
    for (const row of db.prepare('select reasons from quarantine').iterate() as Iterable<{ reasons: string }>) {
      const list = JSON.parse(row.reasons) as { field: string; rule: string }[];
      const key = list.map((x) => `${x.field} ${x.rule}`).join('|');
      reasons.set(key, (reasons.get(key) ?? 0) + 1);
    }
    return { rows: r.n, distinctKeys: r.k, idSum: r.s, quarantine: q.n, reasons };
  } finally {
    db.close();
  }
}

/** Polls the batch list until the running batch has committed at least `rows` rows. */
async function waitForProgress(rows: number, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const key = readFileSync(path.join(dataDir, 'admin.key'), 'utf8').trim();
  for (;;) {
    const res = await fetch(`${server!.url}/v1/datasets/payments/batches?limit=1`, { headers: { authorization: `Bearer ${key}` } });
    const { batches } = await res.json() as { batches: { status: string; counts: Counts }[] };
    const read = batches[0]?.status === 'running' ? batches[0].counts.read : 0;
    if (read >= rows) return read;
    if (Date.now() > deadline) throw new Error(`ingestion did not reach ${rows} rows within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test(`a kill -9 in the middle of ingesting ${ROWS} rows, a restart and the same command again: each good row stored exactly once`, SLOW, async () => {
  const ingest = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--url', server!.url, '--json', 'ingest', 'payments', csv], {
    cwd: REPO_ROOT, env: { ...process.env, TARMAC_DATA_DIR: dataDir }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ingestExit = new Promise<number | null>((resolve) => ingest.once('exit', (code) => resolve(code)));
  const reached = await waitForProgress(Math.floor(ROWS * 0.3));
  server!.child.kill('SIGKILL');
  await new Promise<void>((resolve) => server!.child.once('exit', () => resolve()));
  const interrupted = await ingestExit;
  assert.notEqual(interrupted, 0, 'the interrupted ingestion must not report success');
  const partial = stored();
  assert.ok(partial.rows > 0 && partial.rows < info.good, `some rows were committed before the kill (${partial.rows}, progress ${reached})`);

  server = await up();
  const again = await cli(['--json', 'ingest', 'payments', csv]);
  assert.equal(again.code, 0, again.stderr);
  const batch = JSON.parse(again.stdout) as { status: string; counts: Counts; resumed_from_row: number | null };
  assert.equal(batch.status, 'completed');
  assert.ok(batch.resumed_from_row !== null && batch.resumed_from_row >= reached, `resumed from the checkpoint (${batch.resumed_from_row})`);
  assert.deepEqual(batch.counts, { read: ROWS, accepted: info.good, quarantined: info.bad, duplicates: info.duplicates, late: 0, too_late: 0 });

  const after = stored();
  assert.equal(after.rows, info.good, 'each good row stored');
  assert.equal(after.distinctKeys, info.good, 'no key stored twice');
  assert.equal(after.idSum, info.goodIdSum, 'exactly the good rows');
  assert.equal(after.quarantine, info.bad, 'exactly the bad rows quarantined');
  for (const bad of BAD_KINDS) {
    assert.equal(after.reasons.get(`${bad.field} ${bad.rule}`), info.badByKind[bad.kind], `${bad.kind}: quarantined with reason ${bad.field} ${bad.rule}`);
  }
});

test('a second ingestion of the same file adds 0 rows and quarantines nothing new', SLOW, async () => {
  const again = await cli(['--json', 'ingest', 'payments', csv]);
  assert.equal(again.code, 0, again.stderr);
  const batch = JSON.parse(again.stdout) as { counts: Counts; resumed_from_row: number | null };
  assert.equal(batch.resumed_from_row, null);
  assert.deepEqual(batch.counts, { read: ROWS, accepted: 0, quarantined: info.bad, duplicates: info.good + info.duplicates, late: 0, too_late: 0 });
  const now = stored();
  assert.equal(now.rows, info.good);
  assert.equal(now.quarantine, info.bad);

  const quarantine = await cli(['--json', 'datasets', 'quarantine', 'payments', '--limit', '3']);
  assert.equal(quarantine.code, 0, quarantine.stderr);
  const listed = JSON.parse(quarantine.stdout) as { rows: { row_number: number; reasons: unknown[] }[] };
  assert.equal(listed.rows.length, 3);
  assert.equal(listed.rows[0]!.row_number, 8, 'the first bad row is line 8 of the data (row index 7)');
});
