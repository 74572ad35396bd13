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

// The rollout gates that need more than error counts, end to end on a fake clock: a shadow step (0%) where the
// canary answers nobody and its disagreement with the answers returned is measured, and a business-metric gate.
// Version 2 is the same model as version 1 (it agrees); version 3 has its coefficients negated (it disagrees).

const { onnx } = onnxProto;
const WINDOW_MS = 60_000;
const clock = new FakeClock(Date.UTC(2026, 9, 1, 8, 0, 0));
const records = [
  { income: 72000, loan_amount: 15000, age: 41, credit_history_years: 16.5, debt_ratio: 0.22, employment_type: 'salaried' },
  { income: 48000, loan_amount: 20000, age: 33, credit_history_years: 7, debt_ratio: 0.35, employment_type: 'self_employed' },
  { income: 14000, loan_amount: 25000, age: 24, credit_history_years: 1.5, debt_ratio: 0.62, employment_type: 'unemployed' },
];
let dataDir = '';
let tarmac: Tarmac;
let key = '';

function call(method: string, url: string, body?: unknown) {
  return tarmac.api.inject({
    method: method as 'GET', url, payload: body === undefined ? undefined : JSON.stringify(body),
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
  });
}

async function register(tag: string, flip = false): Promise<void> {
  const model = onnx.ModelProto.decode(await readFile(path.join(ROOT, 'demo/loans-demo.onnx')));
  model.docString = tag;
  if (flip) {
    const classifier = model.graph!.node!.find((n) => n.opType === 'LinearClassifier')!;
    for (const a of classifier.attribute!) if (a.name === 'coefficients' || a.name === 'intercepts') a.floats = a.floats!.map((x) => -x);
  }
  const upload = await tarmac.api.inject({
    method: 'POST', url: '/v1/artifacts', payload: Buffer.from(onnx.ModelProto.encode(model).finish()),
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/octet-stream' },
  });
  const res = await call('POST', '/v1/models/loans/versions', { artifact_sha256: (upload.json() as { artifact_sha256: string }).artifact_sha256 });
  assert.equal(res.statusCode, 201, res.body);
}

/** Sends `n` requests and waits until the monitor has every shadow answer of them (shadows run after the response). */
async function traffic(n: number, shadowVersion?: number): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const res = await call('POST', '/v1/models/loans/predict', { records: [records[i % records.length]] });
    assert.equal(res.statusCode, 200, res.body);
    const variant = (res.json() as { variant: string }).variant;
    seen[variant] = (seen[variant] ?? 0) + 1;
  }
  for (let attempt = 0; ; attempt++) {
    await tarmac.predictionLogger.flush();
    if (shadowVersion === undefined) break;
    const evidence = await tarmac.monitor.variantEvidence('loans', shadowVersion, 'canary', clock.now() - 10 * WINDOW_MS, clock.now() + WINDOW_MS);
    if (evidence.shadowCompared >= n) break;
    assert.ok(attempt < 200, `shadow answers arrived: ${evidence.shadowCompared} of ${n}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return seen;
}

type State = { status: string; weight: number; reason: string | null; analyses: { outcome: string; weight: number; gates: { kind: string; verdict: string; canary: number | null }[]; skipped?: { kind: string }[] }[] };

async function tickAfter(ms: number): Promise<State> {
  clock.advance(ms);
  await tarmac.rollouts.tick();
  return (await call('GET', '/v1/models/loans/rollout')).json() as State;
}

async function deployment() {
  return (await call('GET', '/v1/models/loans/deployment')).json() as { variants: { name: string; version: number; weight: number }[]; shadows?: { name: string; version: number }[] };
}

before(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'tarmac-rollout-gates-'));
  const config = loadConfig({ TARMAC_DATA_DIR: dataDir, TARMAC_LOG_LEVEL: 'silent', TARMAC_PORT: '0', TARMAC_MONITOR_WINDOW_SECONDS: '60', TARMAC_MONITOR_GRACE_SECONDS: '1' });
  tarmac = await createTarmac(config, { log: createLogger({ level: 'silent' }), clock });
  key = (await ensureAdminKey(tarmac.keys, dataDir))!.key;
  await register('v1');
  await register('v2');
  await register('v3-flipped', true);
  assert.equal((await call('PUT', '/v1/models/loans/deployment', { version: 1 })).statusCode, 200);
});

after(async () => {
  await tarmac.close();
  await rm(dataDir, { recursive: true, force: true });
});

test('a shadow step needs a first step of 0; the gate and the step are checked when the rollout is submitted', async () => {
  const res = await call('POST', '/v1/models/loans/rollout', { version: 2, steps: [10, 100], gates: [{ kind: 'shadow_disagreement', threshold: 0.05 }, { kind: 'business_metric', threshold: 0.1 }] });
  assert.equal(res.statusCode, 400, res.body);
  const fields = (res.json() as { errors: { field: string; rule: string }[] }).errors.map((e) => `${e.field}:${e.rule}`);
  assert.ok(fields.includes('/gates/0/kind:needs_shadow_step'), fields.join(', '));
  assert.ok(fields.includes('/gates/1/metric:required'), fields.join(', '));
});

test('a canary that agrees with the stable version passes its shadow step, then goes live and is promoted', async () => {
  const started = await call('POST', '/v1/models/loans/rollout', {
    version: 2, steps: [0, 50, 100], interval_seconds: 60, min_samples: 30,
    gates: [{ kind: 'shadow_disagreement', threshold: 0.05 }, { kind: 'error_rate', threshold: 0.02 }],
  });
  assert.equal(started.statusCode, 201, started.body);
  let d = await deployment();
  assert.deepEqual(d.variants.map((v) => [v.name, v.version, v.weight]), [['stable', 1, 100]], 'the shadow step answers everything from the stable version');
  assert.deepEqual(d.shadows?.map((s) => [s.name, s.version]), [['canary', 2]]);
  const split = await traffic(90, 2);
  assert.deepEqual(split, { stable: 90 }, 'a shadow answers nobody');
  let state = await tickAfter(WINDOW_MS + 1000);
  const shadowStep = state.analyses.at(-1)!;
  assert.equal(shadowStep.outcome, 'pass', JSON.stringify(shadowStep));
  const gate = shadowStep.gates.find((g) => g.kind === 'shadow_disagreement')!;
  assert.equal(gate.canary, 0, 'the same model never disagrees');
  assert.equal(state.weight, 50);
  d = await deployment();
  assert.deepEqual(d.shadows ?? [], [], 'the live step has no shadow');
  await traffic(200);
  state = await tickAfter(WINDOW_MS + 1000);
  assert.equal(state.status, 'promoted', JSON.stringify(state.analyses.at(-1)));
  assert.deepEqual(state.analyses.at(-1)!.skipped?.map((s) => s.kind), ['shadow_disagreement'], 'a live step says what it did not judge');
});

test('a canary that disagrees with the answers returned fails its shadow step and is rolled back before it answers anyone', async () => {
  const started = await call('POST', '/v1/models/loans/rollout', {
    version: 3, steps: [0, 50, 100], interval_seconds: 60, min_samples: 30, gates: [{ kind: 'shadow_disagreement', threshold: 0.05 }],
  });
  assert.equal(started.statusCode, 201, started.body);
  const split = await traffic(60, 3);
  assert.deepEqual(split, { stable: 60 });
  const state = await tickAfter(WINDOW_MS + 1000);
  assert.equal(state.status, 'aborted', JSON.stringify(state.analyses.at(-1)));
  assert.match(state.reason!, /shadow answers differ on 100\.00% of 60 records/);
  const d = await deployment();
  assert.deepEqual(d.variants.map((v) => [v.name, v.version, v.weight]), [['stable', 2, 100]]);
  assert.deepEqual(d.shadows ?? [], [], 'the stable revision, without the shadow, is re-applied');
});

test('a business-metric gate rolls back a canary that hurts the metric and promotes one that does not', async () => {
  // The metric: the share of answers that agree with what version 2 says about each record (1 for v2, 0 for v3).
  const answers = await call('POST', '/v1/models/loans/predict', { records });
  const expected = (answers.json() as { predictions: { prediction: number }[] }).predictions.map((p) => p.prediction);
  const expr = records.map((r, i) => `(income == ${r.income} and prediction == ${expected[i]})`).join(' or ');
  const set = await call('PUT', '/v1/models/loans/monitor/business-metrics', { metrics: [{ name: 'agrees', expr }] });
  assert.equal(set.statusCode, 200, set.body);
  const gates = [{ kind: 'business_metric', metric: 'agrees', threshold: 0.05 }];
  let started = await call('POST', '/v1/models/loans/rollout', { version: 3, steps: [50, 100], interval_seconds: 60, min_samples: 30, gates });
  assert.equal(started.statusCode, 201, started.body);
  await traffic(200);
  let state = await tickAfter(WINDOW_MS + 1000);
  assert.equal(state.status, 'aborted', JSON.stringify(state.analyses.at(-1)));
  const gate = state.analyses.at(-1)!.gates[0]!;
  assert.equal(gate.canary, 0);
  assert.match(state.reason!, /agrees: canary 0 vs stable 1/);

  started = await call('POST', '/v1/models/loans/rollout', { version: 1, steps: [50, 100], interval_seconds: 60, min_samples: 30, gates });
  assert.equal(started.statusCode, 201, started.body);
  await traffic(200);
  state = await tickAfter(WINDOW_MS + 1000);
  assert.equal(state.status, 'promoted', JSON.stringify(state.analyses.at(-1)));
});
