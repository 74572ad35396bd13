import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import onnxProto from 'onnx-proto';
import { registerViaApi, ROOT, startTestTarmac, type TestTarmac } from './support.ts';

// Deployment revisions and rollback: every change is a numbered revision, the previous one (or any by number) is
// restored in one call, and traffic never fails while deploys, promotions and rollbacks follow each other.

const { onnx } = onnxProto;
const record = { income: 52000, loan_amount: 18000, age: 34, credit_history_years: 6, debt_ratio: 0.42, employment_type: 'salaried' };
let t: TestTarmac;

/** The demo model under another doc string: the same graph with its own content hash, so a new version. */
function demoCopy(tag: string): Uint8Array {
  const model = onnx.ModelProto.decode(readFileSync(path.join(ROOT, 'demo/loans-demo.onnx')));
  model.docString = tag;
  return onnx.ModelProto.encode(model).finish();
}

before(async () => {
  t = await startTestTarmac();
  for (const tag of ['v1', 'v2', 'v3']) {
    const res = await registerViaApi(t, 'loans', demoCopy(tag));
    assert.equal(res.statusCode, 201, res.body);
  }
});

after(async () => {
  await t.close();
});

const deploy = (version: number) => t.call('PUT', '/v1/models/loans/deployment', { version });
const rollback = (revision?: number) => t.call('POST', '/v1/models/loans/deployment/rollback', revision === undefined ? {} : { revision });
const served = async () => ((await t.call('POST', '/v1/models/loans/predict', { records: [record] })).json() as { version: number }).version;

test('every change is a revision; rollback returns to the previous one, or to any by number', async () => {
  assert.equal((await rollback()).json().code, 'SERVING_NOT_DEPLOYED');
  const r1 = (await deploy(1)).json() as { revision: number; updated_at: string };
  assert.equal((await rollback()).json().code, 'DEPLOYMENT_NOTHING_TO_ROLL_BACK');
  await deploy(2);
  await deploy(3);
  assert.equal(await served(), 3);

  const back = await rollback();
  assert.equal(back.statusCode, 200, back.body);
  assert.equal((back.json() as { revision: number }).revision, 4, 'a rollback is itself a new revision');
  assert.equal(await served(), 2, 'the previous revision serves again');

  const restored = await rollback(1);
  assert.equal(restored.statusCode, 200, restored.body);
  assert.equal(await served(), 1);
  assert.equal((await rollback(99)).json().code, 'DEPLOYMENT_REVISION_NOT_FOUND');

  const history = (await t.call('GET', '/v1/models/loans/deployment/revisions')).json() as { revisions: { revision: number; variants: { version: number }[] }[] };
  assert.deepEqual(history.revisions.map((r) => [r.revision, r.variants[0]!.version]), [[5, 1], [4, 2], [3, 3], [2, 2], [1, 1]]);
  const then = (await t.call('GET', `/v1/models/loans/deployment/revisions?at=${encodeURIComponent(r1.updated_at)}`)).json() as { revisions: { revision: number }[] };
  assert.equal(then.revisions[0]!.revision, 1, 'what served at the time of revision 1');
  const audit = (await t.call('GET', '/v1/audit?limit=200')).json() as { events: { action: string }[] };
  assert.equal(audit.events.filter((e) => e.action === 'deployment.rollback').length, 2);
});

test('under load, 10 deploy / promote / rollback cycles: no failed request, every answer names its version', { timeout: 120_000 }, async () => {
  const url = await t.tarmac.listen();
  const headers = { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/json' };
  const body = JSON.stringify({ records: [record] });
  let stop = false;
  const outcomes = { ok: 0, failed: 0, versions: new Map<number, number>(), unnamed: 0 };
  const worker = async () => {
    while (!stop) {
      try {
        const res = await fetch(`${url}/v1/models/loans/predict`, { method: 'POST', headers, body });
        const answer = await res.json() as { version?: number; predictions?: { version?: number }[] };
        if (res.status !== 200) outcomes.failed++;
        else {
          outcomes.ok++;
          const v = answer.predictions?.[0]?.version;
          if (typeof v !== 'number' || v !== answer.version) outcomes.unnamed++;
          else outcomes.versions.set(v, (outcomes.versions.get(v) ?? 0) + 1);
        }
      } catch {
        outcomes.failed++;
      }
    }
  };
  const workers = Array.from({ length: 8 }, () => worker());
  const timings: number[] = [];
  for (let cycle = 0; cycle < 10; cycle++) {
    assert.equal((await deploy(2)).statusCode, 200); // deploy a candidate
    assert.equal((await deploy(3)).statusCode, 200); // promote the next one
    const started = performance.now();
    assert.equal((await rollback()).statusCode, 200); // and roll it back
    timings.push(performance.now() - started);
    await new Promise((r) => setTimeout(r, 50));
  }
  stop = true;
  await Promise.all(workers);
  assert.equal(outcomes.failed, 0, `failed requests: ${outcomes.failed}`);
  assert.equal(outcomes.unnamed, 0, 'every answer names the version that answered');
  assert.ok(outcomes.ok > 100, `requests answered: ${outcomes.ok}`);
  assert.ok([...outcomes.versions.keys()].every((v) => [1, 2, 3].includes(v)));
  t.tarmac.log.info({ rollbackMs: timings }, 'rollback timings');
  process.stdout.write(`# ${outcomes.ok} requests, 0 failed; rollbacks took ${Math.max(...timings).toFixed(1)} ms at most (median ${timings.sort((a, b) => a - b)[5]!.toFixed(1)} ms)\n`);
});

test('a traffic split serves each variant its share; a shadow answers a copy, logged and compared, never returned', async () => {
  const split = await t.call('PUT', '/v1/models/loans/deployment', {
    variants: [{ name: 'stable', version: 1, weight: 70 }, { name: 'canary', version: 2, weight: 30 }],
    shadows: [{ name: 'shadow', version: 3 }],
  });
  assert.equal(split.statusCode, 200, split.body);
  const view = split.json() as { variants: { name: string; version: number; weight: number }[]; shadows: { name: string; version: number }[] };
  assert.deepEqual(view.shadows, [{ name: 'shadow', version: 3 }]);
  const seen = new Map<string, number>();
  for (let i = 0; i < 400; i++) {
    const res = await t.call('POST', '/v1/models/loans/predict', { records: [record] });
    const answer = res.json() as { variant: string; version: number };
    assert.notEqual(answer.variant, 'shadow', 'a shadow never answers');
    assert.equal(answer.version, answer.variant === 'stable' ? 1 : 2);
    seen.set(answer.variant, (seen.get(answer.variant) ?? 0) + 1);
  }
  const canaryShare = (seen.get('canary') ?? 0) / 400;
  assert.ok(canaryShare > 0.2 && canaryShare < 0.4, `canary share ${canaryShare}`);
  await new Promise((r) => setTimeout(r, 50));
  await t.tarmac.predictionLogger.flush();
  const metrics = (await t.call('GET', '/metrics')).body;
  assert.match(metrics, /tarmac_shadow_predictions_total\{model="loans",shadow="shadow",version="3"\} 400/);
  assert.doesNotMatch(metrics, /tarmac_shadow_errors_total\{model="loans"/);

  const refused = await t.call('PUT', '/v1/models/loans/deployment', { variants: [{ name: 'a', version: 1, weight: 0 }, { name: 'a', version: 9, weight: 0 }] });
  assert.equal(refused.statusCode, 400);
  assert.deepEqual((refused.json() as { errors: { field: string }[] }).errors.map((e) => e.field).sort(), ['/variants', '/variants/1/name']);
  assert.equal((await t.call('PUT', '/v1/models/loans/deployment', { variants: [{ name: 'a', version: 9, weight: 1 }] })).statusCode, 404);
});

test('a live experiment: units stick to a variant, the readout comes from feedback, stopping restores the weights', async () => {
  assert.equal((await t.call('PUT', '/v1/models/loans/deployment', { variants: [{ name: 'control', version: 1, weight: 50 }, { name: 'b', version: 2, weight: 50 }] })).statusCode, 200);
  const bad = await t.call('POST', '/v1/models/loans/experiment', { variants: ['control', 'nope'], unit_header: 'x-user', unit_field: 'age' });
  assert.equal(bad.statusCode, 400);
  assert.deepEqual((bad.json() as { errors: { field: string }[] }).errors.map((e) => e.field).sort(), ['/unit', '/variants/1']);
  const started = await t.call('POST', '/v1/models/loans/experiment', { unit_header: 'x-user', metric: 'binary', guardrails: [{ kind: 'error_rate', threshold: 0.01 }] });
  assert.equal(started.statusCode, 201, started.body);
  assert.equal((await t.call('POST', '/v1/models/loans/experiment', { unit_header: 'x-user' })).json().code, 'EXPERIMENT_RUNNING');

  const assigned = new Map<string, string>();
  const items: { prediction_id: string; label: number }[] = [];
  for (let round = 0; round < 3; round++) {
    for (let u = 0; u < 200; u++) {
      const res = await t.app.inject({
        method: 'POST', url: '/v1/models/loans/predict', payload: JSON.stringify({ records: [record] }),
        headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/json', 'x-user': `user-${u}` },
      });
      const answer = res.json() as { variant: string; predictions: { id: string }[] };
      const before = assigned.get(`user-${u}`);
      if (before !== undefined) assert.equal(answer.variant, before, `user-${u} stays on ${before}`);
      assigned.set(`user-${u}`, answer.variant);
      // Variant b converts better: 70% against 30% (assignment depends on the experiment's random seed, so the gap is
      // wide enough that the lift is positive whatever the split).
      const converts = answer.variant === 'b' ? u % 10 < 7 : u % 10 < 3;
      if (round < 2) items.push({ prediction_id: answer.predictions[0]!.id, label: converts ? 1 : 0 });
    }
  }
  const share = [...assigned.values()].filter((v) => v === 'b').length / assigned.size;
  assert.ok(share > 0.35 && share < 0.65, `b share ${share}`);
  assert.equal((await t.call('POST', '/v1/models/loans/feedback', { items })).statusCode, 200);

  const status = await t.call('GET', '/v1/models/loans/experiment');
  assert.equal(status.statusCode, 200, status.body);
  const { readout } = status.json() as { readout: { metric: string; arms: { variant: string; n: number }[]; comparisons: { variant: string; p_value: number; absolute_lift: number; sequential_p_value: number }[]; srm: { mismatch: boolean } } };
  assert.equal(readout.metric, 'binary');
  assert.deepEqual(readout.arms.map((a) => a.variant), ['control', 'b']);
  assert.equal(readout.arms.reduce((n, a) => n + a.n, 0), 200, 'two labelled answers per user, one observation per user');
  assert.ok(readout.comparisons[0]!.absolute_lift > 0.1);
  assert.equal(readout.srm.mismatch, false);
  const guardrails = (status.json() as { guardrails: { variant: string; outcome: string }[] }).guardrails;
  assert.deepEqual(guardrails.map((g) => [g.variant, g.outcome]), [['b', 'pass']], 'no more errors on b than on the control');

  const stopped = await t.call('POST', '/v1/models/loans/experiment/stop');
  assert.equal((stopped.json() as { status: string }).status, 'stopped');
  assert.equal((await t.call('POST', '/v1/models/loans/experiment/stop')).statusCode, 200, 'stop is idempotent');
});
