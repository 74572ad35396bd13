import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import onnxProto from 'onnx-proto';
import { createTarmac, type Tarmac } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { ensureAdminKey } from '../src/security/index.ts';
import { FakeClock } from '../src/shared/clock.ts';
import { createLogger } from '../src/shared/logger.ts';
import { ROOT } from './support.ts';

// Gated canary rollouts end to end, on a fake clock: a good canary is promoted step by step; a worse one (it refuses
// records the stable version answers) is rolled back automatically; a canary with too little traffic holds, then
// pauses at its deadline; and a rollout survives a restart of the process mid-way.

const { onnx } = onnxProto;
const WINDOW_MS = 60_000;
const clock = new FakeClock(Date.UTC(2026, 8, 1, 8, 0, 0));
const good = { income: 52000, loan_amount: 18000, age: 34, credit_history_years: 6, debt_ratio: 0.42, employment_type: 'salaried' };
const pirate = { ...good, employment_type: 'pirate' };
let dataDir = '';
let tarmac: Tarmac;
let key = '';

async function start(): Promise<Tarmac> {
  const config = loadConfig({ TARMAC_DATA_DIR: dataDir, TARMAC_LOG_LEVEL: 'silent', TARMAC_PORT: '0', TARMAC_MONITOR_WINDOW_SECONDS: '60', TARMAC_MONITOR_GRACE_SECONDS: '1' });
  return createTarmac(config, { log: createLogger({ level: 'silent' }), clock });
}

function call(method: string, url: string, body?: unknown) {
  return tarmac.api.inject({
    method: method as 'GET', url, payload: body === undefined ? undefined : JSON.stringify(body),
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
  });
}

async function register(tag: string, contract?: string): Promise<void> {
  const model = onnx.ModelProto.decode(await readFile(path.join(ROOT, 'demo/loans-demo.onnx')));
  model.docString = tag;
  const upload = await tarmac.api.inject({
    method: 'POST', url: '/v1/artifacts', payload: Buffer.from(onnx.ModelProto.encode(model).finish()),
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/octet-stream' },
  });
  const sha = (upload.json() as { artifact_sha256: string }).artifact_sha256;
  const res = await call('POST', '/v1/models/loans/versions', { artifact_sha256: sha, ...(contract ? { contract } : {}) });
  assert.equal(res.statusCode, 201, res.body);
}

/** Sends `n` requests (a share of them with a record only an unbound version accepts); returns answers by variant. */
async function traffic(n: number, pirates = 0): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const res = await call('POST', '/v1/models/loans/predict', { records: [i < pirates ? pirate : good] });
    const variant = res.statusCode === 200 ? (res.json() as { variant: string }).variant : `refused-${res.statusCode}`;
    seen[variant] = (seen[variant] ?? 0) + 1;
  }
  await tarmac.predictionLogger.flush();
  return seen;
}

async function tickAfter(ms: number): Promise<{ status: string; weight: number; step: number; reason: string | null; analyses: { outcome: string }[] }> {
  clock.advance(ms);
  await tarmac.rollouts.tick();
  return (await call('GET', '/v1/models/loans/rollout')).json() as { status: string; weight: number; step: number; reason: string | null; analyses: { outcome: string }[] };
}

before(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'tarmac-rollout-'));
  tarmac = await start();
  key = (await ensureAdminKey(tarmac.keys, dataDir))!.key;
  const yaml = await readFile(path.join(ROOT, 'src/contracts/fixtures/loans-demo.odcs.yaml'));
  const contract = await tarmac.api.inject({ method: 'POST', url: '/v1/contracts', payload: yaml, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/yaml' } });
  assert.equal(contract.statusCode, 201, contract.body);
  await register('v1');
  await register('v2');
  await register('v3-strict', 'loans-demo@1');
  assert.equal((await call('PUT', '/v1/models/loans/deployment', { version: 1 })).statusCode, 200);
});

after(async () => {
  await tarmac.close();
  await rm(dataDir, { recursive: true, force: true });
});

test('a good canary is promoted step by step', async () => {
  const started = await call('POST', '/v1/models/loans/rollout', { version: 2, steps: [20, 50, 100], interval_seconds: 60, min_samples: 25, gates: [{ kind: 'error_rate', threshold: 0.02 }, { kind: 'prediction_drift', threshold: 0.2 }] });
  assert.equal(started.statusCode, 201, started.body);
  assert.equal((started.json() as { weight: number }).weight, 20);
  // Variants are chosen at random by weight: 400 requests give the canary about 80 (at least 25 with overwhelming odds).
  const split = await traffic(400, 5);
  assert.ok((split.canary ?? 0) >= 25 && (split.stable ?? 0) >= 25, JSON.stringify(split));
  let state = await tickAfter(WINDOW_MS + 1000);
  assert.equal(state.status, 'progressing');
  assert.equal(state.weight, 50, 'the first analysis passed: the canary takes the next step');
  const first = ((await call('GET', '/v1/models/loans/rollout')).json() as { analyses: { gates: { kind: string; verdict: string; canary: number }[] }[] }).analyses[0]!;
  const drift = first.gates.find((g) => g.kind === 'prediction_drift')!;
  assert.equal(drift.verdict, 'pass', 'the same model gives the same predictions on both sides');
  assert.ok(drift.canary >= 0 && drift.canary < 0.2);
  await traffic(300, 5);
  state = await tickAfter(WINDOW_MS + 1000);
  assert.equal(state.status, 'promoted', JSON.stringify(state));
  const deployment = (await call('GET', '/v1/models/loans/deployment')).json() as { variants: { name: string; version: number; weight: number }[] };
  assert.deepEqual(deployment.variants, [{ name: 'stable', version: 2, weight: 100 }]);
  assert.equal((await call('POST', '/v1/models/loans/rollout/promote')).statusCode, 200, 'promote is idempotent');
  assert.equal((await call('POST', '/v1/models/loans/rollout/abort')).json().code, 'ROLLOUT_FINISHED');
});

test('a bad rollout plan is refused whole, naming each problem', async () => {
  const res = await call('POST', '/v1/models/loans/rollout', { version: 3, steps: [50, 40], interval_seconds: 0, gates: [{ kind: 'vibes', threshold: -1 }] });
  assert.equal(res.statusCode, 400, res.body);
  const fields = (res.json() as { errors: { field: string }[] }).errors.map((e) => e.field);
  for (const f of ['/steps/1', '/interval_seconds', '/gates/0/kind', '/gates/0/threshold']) assert.ok(fields.includes(f), `${f} in ${fields.join(', ')}`);
  assert.equal((await call('POST', '/v1/models/loans/rollout', { version: 2 })).statusCode, 400, 'the stable version cannot be its own canary');
});

test('a worse canary is rolled back automatically, and a new rollout can start at once', async () => {
  const started = await call('POST', '/v1/models/loans/rollout', { version: 3, steps: [50, 100], interval_seconds: 60, min_samples: 50, gates: [{ kind: 'error_rate', threshold: 0.02 }] });
  assert.equal(started.statusCode, 201, started.body);
  // A fifth of the records break the contract only version 3 is bound to: the canary refuses them, the stable answers.
  const split = await traffic(300, 60);
  assert.ok((split['refused-400'] ?? 0) > 10, JSON.stringify(split));
  const state = await tickAfter(WINDOW_MS + 1000);
  assert.equal(state.status, 'aborted');
  assert.match(state.reason!, /error share/);
  const deployment = (await call('GET', '/v1/models/loans/deployment')).json() as { variants: { version: number; weight: number }[] };
  assert.deepEqual(deployment.variants.map((v) => [v.version, v.weight]), [[2, 100]], 'the stable revision is re-applied');
  assert.equal((await call('POST', '/v1/models/loans/rollout/abort')).statusCode, 200, 'abort is idempotent');
  const audit = (await call('GET', '/v1/audit?limit=500')).json() as { events: { action: string }[] };
  assert.ok(audit.events.some((e) => e.action === 'rollout.abort'));
});

test('too little traffic holds (neither pass nor fail), then pauses at the deadline; the rollout survives a restart', async () => {
  const started = await call('POST', '/v1/models/loans/rollout', { version: 3, steps: [20, 100], interval_seconds: 60, deadline_seconds: 150, min_samples: 100, gates: [{ kind: 'error_rate', threshold: 0.02 }] });
  assert.equal(started.statusCode, 201, started.body);
  assert.equal((await call('POST', '/v1/models/loans/rollout', { version: 1 })).json().code, 'ROLLOUT_IN_PROGRESS');
  await traffic(20);
  let state = await tickAfter(WINDOW_MS + 1000);
  assert.equal(state.status, 'progressing', 'not enough data holds the step');
  assert.equal(state.weight, 20);
  assert.equal(state.analyses.at(-1)!.outcome, 'not_enough_data');
  state = await tickAfter(WINDOW_MS + 30_000);
  assert.equal(state.status, 'paused', 'past the deadline without enough data: a person decides');
  assert.match(state.reason!, /inconclusive/);

  // Restart the process: the rollout's state is in the store.
  await tarmac.close();
  tarmac = await start();
  assert.equal(((await call('GET', '/v1/models/loans/rollout')).json() as { status: string }).status, 'paused');
  const resumed = await call('POST', '/v1/models/loans/rollout/resume');
  assert.equal(resumed.statusCode, 200, resumed.body);
  assert.equal((await call('POST', '/v1/models/loans/rollout/resume')).statusCode, 200, 'resume is idempotent');
  await traffic(700);
  state = await tickAfter(WINDOW_MS + 1000);
  assert.equal(state.status, 'promoted', 'after the restart the controller judges the step and promotes');
});

test('a rollout left paused past its deadline is aborted, so no split hangs', async () => {
  const started = await call('POST', '/v1/models/loans/rollout', { version: 1, steps: [30, 100], interval_seconds: 60, pause_deadline_seconds: 120 });
  assert.equal(started.statusCode, 201, started.body);
  assert.equal((await call('POST', '/v1/models/loans/rollout/pause')).statusCode, 200);
  let state = await tickAfter(60_000);
  assert.equal(state.status, 'paused');
  state = await tickAfter(61_000);
  assert.equal(state.status, 'aborted');
  assert.match(state.reason!, /paused for longer than 120s/);
  const deployment = (await call('GET', '/v1/models/loans/deployment')).json() as { variants: { version: number; weight: number }[] };
  assert.deepEqual(deployment.variants.map((v) => [v.version, v.weight]), [[3, 100]]);
});
