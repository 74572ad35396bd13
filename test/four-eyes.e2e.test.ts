import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import onnxProto from 'onnx-proto';
import { createTarmac, type Tarmac } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { ensureAdminKey, SYSTEM_PRINCIPAL } from '../src/security/index.ts';
import { FakeClock } from '../src/shared/clock.ts';
import { createLogger } from '../src/shared/logger.ts';
import { ROOT } from './support.ts';

// Four-eyes promotion end to end: under the policy a change that gives a version the majority of the traffic waits
// for a second person (never the one who asked); splits below a majority and rollbacks are not held; a rollout's
// automatic promotion pauses for approval; every step is audited.

const { onnx } = onnxProto;
const clock = new FakeClock(Date.UTC(2026, 10, 2, 9, 0, 0));
const record = { income: 52000, loan_amount: 18000, age: 34, credit_history_years: 6, debt_ratio: 0.42, employment_type: 'salaried' };
let dataDir = '';
let tarmac: Tarmac;
let alice = ''; // admin: asks
let bob = ''; // deployer: approves
let vic = ''; // viewer: may not approve

function call(key: string, method: string, url: string, body?: unknown) {
  return tarmac.api.inject({
    method: method as 'GET', url, payload: body === undefined ? undefined : JSON.stringify(body),
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
  });
}

async function register(tag: string): Promise<void> {
  const model = onnx.ModelProto.decode(await readFile(path.join(ROOT, 'demo/loans-demo.onnx')));
  model.docString = tag;
  const upload = await tarmac.api.inject({
    method: 'POST', url: '/v1/artifacts', payload: Buffer.from(onnx.ModelProto.encode(model).finish()),
    headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/octet-stream' },
  });
  const res = await call(alice, 'POST', '/v1/models/loans/versions', { artifact_sha256: (upload.json() as { artifact_sha256: string }).artifact_sha256 });
  assert.equal(res.statusCode, 201, res.body);
}

const served = async () => ((await call(alice, 'GET', '/v1/models/loans/deployment')).json() as { variants: { version: number; weight: number }[] }).variants.map((v) => [v.version, v.weight]);

before(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'tarmac-four-eyes-'));
  const config = loadConfig({ TARMAC_DATA_DIR: dataDir, TARMAC_LOG_LEVEL: 'silent', TARMAC_PORT: '0', TARMAC_MONITOR_WINDOW_SECONDS: '60', TARMAC_MONITOR_GRACE_SECONDS: '1' });
  tarmac = await createTarmac(config, { log: createLogger({ level: 'silent' }), clock });
  alice = (await ensureAdminKey(tarmac.keys, dataDir))!.key;
  bob = (await tarmac.keys.create({ role: 'deployer', name: 'bob' }, SYSTEM_PRINCIPAL)).key;
  vic = (await tarmac.keys.create({ role: 'viewer', name: 'vic' }, SYSTEM_PRINCIPAL)).key;
  for (const tag of ['v1', 'v2', 'v3']) await register(tag);
  assert.equal((await call(alice, 'PUT', '/v1/models/loans/deployment', { version: 1 })).statusCode, 200, 'no policy yet: applied at once');
});

after(async () => {
  await tarmac.close();
  await rm(dataDir, { recursive: true, force: true });
});

test('the policy is set by a role allowed to and refused to others, naming the field when it is bad', async () => {
  assert.equal((await call(bob, 'PUT', '/v1/models/loans/policy', { four_eyes: false })).statusCode, 403, 'a deployer cannot switch four-eyes off');
  assert.equal((await call(alice, 'PUT', '/v1/models/loans/policy', { expires_after_seconds: 5 })).json().errors[0].field, '/expires_after_seconds');
  const set = await call(alice, 'PUT', '/v1/models/loans/policy', { four_eyes: true });
  assert.equal(set.statusCode, 200, set.body);
  assert.deepEqual(set.json(), { four_eyes: true, expires_after_seconds: 86_400 });
  assert.equal((await call(alice, 'PUT', '/v1/models/nope/policy', { four_eyes: true })).statusCode, 404);
});

test('a promotion waits for a second person; the one who asked cannot approve it, a viewer cannot either', async () => {
  const asked = await call(alice, 'PUT', '/v1/models/loans/deployment', { version: 2 });
  assert.equal(asked.statusCode, 202, asked.body);
  const approval = (asked.json() as { approval: { id: string; status: string; summary: string; requested_by: string } }).approval;
  assert.equal(approval.status, 'pending');
  assert.match(approval.summary, /version 2 takes 100% of the traffic; it had 0%/);
  assert.deepEqual(await served(), [[1, 100]], 'nothing changed yet');
  const self = await call(alice, 'POST', `/v1/models/loans/approvals/${approval.id}/approve`);
  assert.equal(self.statusCode, 403);
  assert.equal(self.json().code, 'APPROVAL_SELF');
  assert.equal((await call(vic, 'POST', `/v1/models/loans/approvals/${approval.id}/approve`)).statusCode, 403);
  const approved = await call(bob, 'POST', `/v1/models/loans/approvals/${approval.id}/approve`);
  assert.equal(approved.statusCode, 200, approved.body);
  assert.equal(approved.json().decided_by.startsWith('key:'), true);
  assert.deepEqual(await served(), [[2, 100]], 'applied in the approver\'s name');
  const again = await call(bob, 'POST', `/v1/models/loans/approvals/${approval.id}/approve`);
  assert.equal(again.json().code, 'APPROVAL_NOT_PENDING', 'an approval is used once');
  const predicted = await call(bob, 'POST', '/v1/models/loans/predict', { records: [record] });
  assert.equal(predicted.json().version, 2);
});

test('a split below a majority and a rollback are not held; a 99/1 split that hands over the majority is', async () => {
  const canary = await call(alice, 'PUT', '/v1/models/loans/deployment', { variants: [{ name: 'stable', version: 2, weight: 90 }, { name: 'canary', version: 3, weight: 10 }] });
  assert.equal(canary.statusCode, 200, canary.body);
  const flip = await call(alice, 'PUT', '/v1/models/loans/deployment', { variants: [{ name: 'stable', version: 2, weight: 1 }, { name: 'canary', version: 3, weight: 99 }] });
  assert.equal(flip.statusCode, 202, flip.body);
  const rollback = await call(alice, 'POST', '/v1/models/loans/deployment/rollback', {});
  assert.equal(rollback.statusCode, 200, rollback.body);
  assert.deepEqual(await served(), [[2, 100]]);
  // The held flip is withdrawn by the one who asked.
  const id = (flip.json() as { approval: { id: string } }).approval.id;
  const withdrawn = await call(alice, 'POST', `/v1/models/loans/approvals/${id}/reject`, { reason: 'changed my mind' });
  assert.equal(withdrawn.json().status, 'rejected');
});

test('a request nobody approves expires', async () => {
  const asked = await call(alice, 'PUT', '/v1/models/loans/deployment', { version: 3 });
  const id = (asked.json() as { approval: { id: string } }).approval.id;
  clock.advance(86_401_000);
  const late = await call(bob, 'POST', `/v1/models/loans/approvals/${id}/approve`);
  assert.equal(late.statusCode, 409);
  assert.equal(late.json().code, 'APPROVAL_NOT_PENDING');
  const list = (await call(vic, 'GET', '/v1/models/loans/approvals?status=expired')).json() as { approvals: { id: string }[] };
  assert.ok(list.approvals.some((a) => a.id === id));
  assert.deepEqual(await served(), [[2, 100]]);
});

test('a manual rollout promotion and the controller\'s own promotion both wait for a second person', async () => {
  const started = await call(alice, 'POST', '/v1/models/loans/rollout', { version: 3, steps: [50, 100], interval_seconds: 60, min_samples: 20, gates: [{ kind: 'error_rate', threshold: 0.05 }] });
  assert.equal(started.statusCode, 201, started.body);
  const manual = await call(alice, 'POST', '/v1/models/loans/rollout/promote');
  assert.equal(manual.statusCode, 202, manual.body);
  const manualId = (manual.json() as { approval: { id: string } }).approval.id;
  assert.equal((await call(alice, 'POST', `/v1/models/loans/approvals/${manualId}/reject`)).statusCode, 200);

  for (let i = 0; i < 120; i++) assert.equal((await call(bob, 'POST', '/v1/models/loans/predict', { records: [record] })).statusCode, 200);
  await tarmac.predictionLogger.flush();
  clock.advance(61_000);
  await tarmac.rollouts.tick();
  const paused = (await call(alice, 'GET', '/v1/models/loans/rollout')).json() as { status: string; reason: string };
  assert.equal(paused.status, 'paused');
  const id = /approvals approve loans (\S+)\)/.exec(paused.reason)![1]!;
  const pending = (await call(alice, 'GET', `/v1/models/loans/approvals/${id}`)).json() as { kind: string; requested_by: string };
  assert.equal(pending.kind, 'rollout.promote');
  assert.equal((await call(alice, 'POST', `/v1/models/loans/approvals/${id}/approve`)).json().code, 'APPROVAL_SELF', 'the person who started the rollout is the first pair of eyes');
  assert.equal((await call(bob, 'POST', `/v1/models/loans/approvals/${id}/approve`)).statusCode, 200);
  const promoted = (await call(alice, 'GET', '/v1/models/loans/rollout')).json() as { status: string };
  assert.equal(promoted.status, 'promoted');
  assert.deepEqual(await served(), [[3, 100]]);
  const audit = (await call(alice, 'GET', '/v1/audit?limit=1000')).json() as { events: { action: string; outcome: string }[] };
  for (const action of ['policy.set', 'approval.request', 'approval.approve', 'approval.reject']) assert.ok(audit.events.some((e) => e.action === action), action);
  assert.ok(audit.events.some((e) => e.action === 'approval.approve' && e.outcome === 'denied'), 'a self-approval is recorded as refused');
});
