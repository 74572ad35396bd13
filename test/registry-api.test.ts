import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { loadFixture, registerViaApi, startTestTarmac, type TestTarmac } from './support.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('registry over HTTP', () => {
  let t: TestTarmac;
  before(async () => {
    t = await startTestTarmac({ TARMAC_MAX_ARTIFACT_MB: '1' });
  });
  after(async () => t.close());

  test('versions are numbered per model, immutable, with metadata, lineage and the ONNX signature', async () => {
    const wine = loadFixture('wine_logreg_zipmap');
    const torch = loadFixture('wine_torch_mlp');
    const first = await registerViaApi(t, 'wine', wine.bytes, {
      features: wine.sidecar.feature_names,
      description: 'wine classifier',
      owner: 'alice',
      tags: { team: 'cellar' },
      metrics: { accuracy: 1, val_auc: 0.998 },
      lineage: { training_data: 's3://bucket/wine.csv', training_data_sha256: 'f'.repeat(64), code_ref: 'git:abc123' },
    });
    assert.equal(first.statusCode, 201, first.body);
    assert.equal(first.headers.location, '/v1/models/wine/versions/1');
    const second = await registerViaApi(t, 'wine', torch.bytes, { features: torch.sidecar.feature_names });
    assert.equal(second.statusCode, 201, second.body);
    assert.equal((second.json() as { version: number }).version, 2);

    const v1 = (await t.call('GET', '/v1/models/wine/versions/1')).json() as Record<string, unknown> & { signature: { inputs: unknown[]; outputs: { name: string; kind: string }[]; features: { name: string }[]; classLabels: number[] } };
    assert.equal(v1.artifact_sha256, sha256(wine.bytes));
    assert.deepEqual(v1.metrics, { accuracy: 1, val_auc: 0.998 });
    assert.deepEqual(v1.tags, { team: 'cellar' });
    assert.deepEqual(v1.lineage, { training_data: 's3://bucket/wine.csv', training_data_sha256: 'f'.repeat(64), code_ref: 'git:abc123' });
    assert.deepEqual(v1.signature.features.map((f) => f.name), wine.sidecar.feature_names);
    assert.deepEqual(v1.signature.classLabels, [0, 1, 2]);
    assert.equal(v1.signature.outputs.find((o) => o.name === 'output_probability')?.kind, 'zipmap');

    const model = (await t.call('GET', '/v1/models/wine')).json() as { owner: string; versions: { version: number }[] };
    assert.equal(model.owner, 'alice');
    assert.deepEqual(model.versions.map((v) => v.version), [1, 2]);
    const latest = (await t.call('GET', '/v1/models/wine/versions/latest')).json() as { version: number };
    assert.equal(latest.version, 2);
  });

  test('the same content registered twice is refused, naming the version that holds it', async () => {
    const { bytes, sidecar } = loadFixture('wine_logreg_zipmap');
    const again = await registerViaApi(t, 'another-wine', bytes, { features: sidecar.feature_names });
    assert.equal(again.statusCode, 409);
    const problem = again.json() as { code: string; detail: string; model: string; version: number };
    assert.equal(problem.code, 'REGISTRY_DUPLICATE_ARTIFACT');
    assert.equal(problem.model, 'wine');
    assert.equal(problem.version, 1);
    assert.match(problem.detail, /wine version 1/);
  });

  test('declared features must match the model inputs', async () => {
    const { bytes } = loadFixture('iris_tree');
    const response = await registerViaApi(t, 'iris', bytes, { features: ['a', 'b', 'c'] });
    assert.equal(response.statusCode, 422);
    assert.equal((response.json() as { code: string }).code, 'REGISTRY_FEATURES_MISMATCH');
  });

  test('an artifact over the size limit is refused', async () => {
    const big = Buffer.alloc(1024 * 1024 + 10, 1);
    const response = await t.app.inject({ method: 'POST', url: '/v1/artifacts', payload: big, headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/octet-stream' } });
    assert.equal(response.statusCode, 413);
    assert.equal((response.json() as { code: string }).code, 'REGISTRY_ARTIFACT_TOO_LARGE');
  });

  test('a truncated ONNX file is refused as not a valid model', async () => {
    const { bytes } = loadFixture('iris_tree');
    const response = await t.app.inject({ method: 'POST', url: '/v1/artifacts', payload: Buffer.from(bytes.subarray(0, Math.floor(bytes.length / 2))), headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/octet-stream' } });
    assert.equal(response.statusCode, 422, response.body);
    assert.equal((response.json() as { code: string }).code, 'REGISTRY_INVALID_ONNX');
  });

  test('aliases move atomically and deployments follow them; every change is audited', async () => {
    assert.equal((await t.call('PUT', '/v1/models/wine/aliases/champion', { version: 1 })).statusCode, 200);
    assert.equal((await t.call('PUT', '/v1/models/wine/deployment', { version: 'champion' })).statusCode, 200);
    let answer = (await t.call('POST', '/v2/models/wine/infer', { inputs: [{ name: 'float_input', shape: [1, 13], datatype: 'FP32', data: loadFixture('wine_logreg_zipmap').sidecar.test.inputs as number[][] }] }));
    assert.equal(answer.statusCode, 400, 'shape [1,13] with 50 rows is refused');
    const moved = await t.call('PUT', '/v1/models/wine/aliases/champion', { version: 2 });
    assert.equal((moved.json() as { version: number }).version, 2);
    const deployed = await t.call('PUT', '/v1/models/wine/deployment', { version: 'champion' });
    assert.equal((deployed.json() as { variants: { version: number }[]; revision: number }).variants[0]!.version, 2);
    const torch = loadFixture('wine_torch_mlp');
    answer = await t.call('POST', '/v2/models/wine/infer', { inputs: [{ name: 'features', shape: [1, 13], datatype: 'FP32', data: (torch.sidecar.test.inputs as number[][])[0] }] });
    assert.equal(answer.statusCode, 200, answer.body);
    assert.equal((answer.json() as { model_version: string }).model_version, '2');
    const model = (await t.call('GET', '/v1/models/wine')).json() as { aliases: { alias: string; version: number }[] };
    assert.deepEqual(model.aliases.map((a) => [a.alias, a.version]), [['champion', 2]]);
    assert.equal((await t.call('DELETE', '/v1/models/wine/aliases/champion')).statusCode, 204);
    const audit = (await t.call('GET', '/v1/audit?limit=1000')).json() as { events: { action: string; outcome: string; hash: string; prev_hash: string }[] };
    const actions = audit.events.filter((e) => e.outcome === 'ok').map((e) => e.action);
    for (const action of ['artifact.upload', 'version.register', 'alias.set', 'deployment.set', 'alias.delete']) assert.ok(actions.includes(action), action);
    audit.events.slice(1).forEach((e, i) => assert.equal(e.prev_hash, audit.events[i]!.hash, 'the audit log is hash-chained'));
  });

  test('a stored artifact that no longer matches its hash is never loaded', async () => {
    const { bytes, sidecar } = loadFixture('diabetes_linear_f64');
    const registered = await registerViaApi(t, 'diabetes', bytes, { features: sidecar.feature_names });
    assert.equal(registered.statusCode, 201);
    const hash = sha256(bytes);
    const dir = path.join(t.dataDir, 'blobs');
    const file = findFile(dir, hash);
    assert.ok(file, 'blob file exists');
    writeFileSync(file, Buffer.concat([Buffer.from(bytes), Buffer.from([0])]));
    const deployed = await t.call('PUT', '/v1/models/diabetes/deployment', { version: 1 });
    assert.equal(deployed.statusCode, 500);
    assert.equal((deployed.json() as { code: string }).code, 'REGISTRY_INTEGRITY_FAILED');
    assert.equal((await t.call('GET', '/v2/health/live', undefined, null)).statusCode, 200);
  });
});

function findFile(dir: string, name: string): string | undefined {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      const found = findFile(full, name);
      if (found) return found;
    } else if (entry.name === name) return full;
  }
  return undefined;
}

describe('keys, roles, prediction log, feedback, metrics and OpenAPI', () => {
  let t: TestTarmac;
  const record = { income: 52000, loan_amount: 18000, age: 34, credit_history_years: 6, debt_ratio: 0.42, employment_type: 'salaried' };
  before(async () => {
    t = await startTestTarmac();
    const { installDemo } = await import('../src/cli/demo.ts');
    await installDemo(t.tarmac);
  });
  after(async () => t.close());

  test('keys are shown once, listed without secrets, enforce roles and revoke at once', async () => {
    const keys: Record<string, string> = {};
    for (const role of ['deployer', 'viewer', 'predictor']) {
      const created = await t.call('POST', '/v1/keys', { role, name: `${role}-1` });
      assert.equal(created.statusCode, 201);
      const body = created.json() as { key: string; id: string };
      assert.match(body.key, /^tmk_[A-Za-z0-9_-]{12}\.[A-Za-z0-9_-]{43}$/);
      keys[role] = body.key;
    }
    const list = await t.call('GET', '/v1/keys');
    for (const key of Object.values(keys)) assert.ok(!list.body.includes(key.split('.')[1]!), 'no secret in the list');

    const status = async (key: string, method: string, url: string, body?: unknown) => (await t.call(method, url, body, key)).statusCode;
    assert.equal(await status(keys.predictor!, 'POST', '/v1/models/loan-default/predict', { records: [record] }), 200);
    assert.equal(await status(keys.predictor!, 'GET', '/v2/models/loan-default'), 200);
    assert.equal(await status(keys.predictor!, 'PUT', '/v1/models/loan-default/deployment', { version: 1 }), 403);
    assert.equal(await status(keys.viewer!, 'GET', '/v1/models'), 200);
    assert.equal(await status(keys.viewer!, 'POST', '/v1/models/loan-default/predict', { records: [record] }), 403);
    assert.equal(await status(keys.viewer!, 'GET', '/metrics'), 200);
    assert.equal(await status(keys.deployer!, 'PUT', '/v1/models/loan-default/deployment', { version: 1 }), 200);
    assert.equal(await status(keys.deployer!, 'POST', '/v1/keys', { role: 'admin' }), 403);

    const id = keys.predictor!.slice(4, 16);
    assert.equal((await t.call('DELETE', `/v1/keys/${id}`)).statusCode, 200);
    assert.equal(await status(keys.predictor!, 'POST', '/v1/models/loan-default/predict', { records: [record] }), 401);
    assert.equal((await t.call('DELETE', '/v1/keys/nope')).statusCode, 404);
  });

  test('every answered record is logged; feedback joins it and reports unknown ids', async () => {
    const answer = await t.call('POST', '/v1/models/loan-default/predict', { records: [record, { ...record, employment_type: 'unemployed', debt_ratio: 0.9 }] });
    assert.equal(answer.statusCode, 200);
    const body = answer.json() as { request_id: string; predictions: { id: string; prediction: number; probabilities: Record<string, number> }[] };
    const p = body.predictions[0]!;
    assert.ok([0, 1].includes(p.prediction));
    assert.ok(Math.abs(p.probabilities['0']! + p.probabilities['1']! - 1) < 1e-6);

    await t.tarmac.predictionLogger.flush();
    const stored = await t.tarmac.database.db.selectFrom('predictions').selectAll().where('id', '=', p.id).executeTakeFirstOrThrow();
    assert.equal(stored.model, 'loan-default');
    assert.equal(stored.version, 1);
    assert.equal(stored.request_id, body.request_id);
    assert.deepEqual(JSON.parse(stored.inputs), record);
    assert.equal((JSON.parse(stored.outputs) as { prediction: number }).prediction, p.prediction);
    assert.ok(stored.latency_ms >= 0);

    const feedback = await t.call('POST', '/v1/models/loan-default/feedback', { items: [{ prediction_id: p.id, label: 1 }, { prediction_id: 'not-a-prediction', label: 0 }] });
    assert.equal(feedback.statusCode, 200, feedback.body);
    assert.deepEqual(feedback.json(), { accepted: 1, unknown_prediction_ids: ['not-a-prediction'] });
    const labels = await t.tarmac.database.db.selectFrom('feedback').selectAll().where('prediction_id', '=', p.id).execute();
    assert.equal(labels.length, 1);
    assert.equal(JSON.parse(labels[0]!.label), 1);

    // A prediction of another model is unknown to this one.
    const wrongModel = await t.call('POST', '/v1/models/no-model/feedback', { items: [{ prediction_id: p.id, label: 1 }] });
    assert.equal(wrongModel.statusCode, 404);
  });

  test('V2 answers are logged too, with prediction ids in the response parameters', async () => {
    const inputs = Object.entries(record).map(([name, value]) => ({ name, shape: [1, 1], datatype: typeof value === 'string' ? 'BYTES' : 'FP32', data: [value] }));
    const answer = await t.call('POST', '/v2/models/loan-default/infer', { inputs });
    assert.equal(answer.statusCode, 200, answer.body);
    const ids = (answer.json() as { parameters: { prediction_ids: string[] } }).parameters.prediction_ids;
    assert.equal(ids.length, 1);
    await t.tarmac.predictionLogger.flush();
    const stored = await t.tarmac.database.db.selectFrom('predictions').selectAll().where('id', '=', ids[0]!).executeTakeFirstOrThrow();
    assert.deepEqual(Object.keys(JSON.parse(stored.inputs) as object).sort(), Object.keys(record).sort());
  });

  test('/metrics exposes request, prediction, latency and error metrics by model and version', async () => {
    await t.call('POST', '/v1/models/loan-default/predict', { records: [{ ...record, age: 'old' }] });
    const metrics = await t.call('GET', '/metrics');
    assert.equal(metrics.statusCode, 200);
    assert.match(String(metrics.headers['content-type']), /text\/plain/);
    assert.match(metrics.body, /tarmac_predictions_total\{model="loan-default",version="1",variant="stable",api="records"\} \d+/);
    assert.match(metrics.body, /tarmac_inference_duration_seconds_bucket\{le="[^"]+",model="loan-default",version="1",variant="stable"\}/);
    assert.match(metrics.body, /tarmac_prediction_errors_total\{model="loan-default",version="1",code="SERVING_INPUT_INVALID"\} 1/);
    assert.match(metrics.body, /tarmac_http_requests_total\{method="POST",route="\/v1\/models\/:name\/predict",status="200"\}/);
    assert.match(metrics.body, /tarmac_prediction_log_dropped_total 0/);
    assert.equal((await t.call('GET', '/metrics', undefined, null)).statusCode, 401);
  });

  test('a deployment carries its batching settings; concurrent requests are coalesced and counted', async () => {
    const bad = await t.call('PUT', '/v1/models/loan-default/deployment', { version: 1, batching: { max_batch_size: 0 } });
    assert.equal(bad.statusCode, 400);
    assert.ok((bad.json() as { errors: { field: string }[] }).errors.some((e) => e.field === '/batching/max_batch_size'));
    const deployed = await t.call('PUT', '/v1/models/loan-default/deployment', { version: 1, batching: { max_batch_size: 8, max_queue_delay_ms: 5 } });
    assert.equal(deployed.statusCode, 200, deployed.body);
    assert.deepEqual((deployed.json() as { batching: unknown }).batching, { max_batch_size: 8, max_queue_delay_ms: 5 });
    const answers = await Promise.all(Array.from({ length: 20 }, () => t.call('POST', '/v1/models/loan-default/predict', { records: [record] })));
    const probabilities = answers.map((a) => (a.json() as { predictions: { probabilities: Record<string, number> }[] }).predictions[0]!.probabilities['1']);
    assert.ok(probabilities.every((p) => p === probabilities[0]), 'every request gets its own, identical answer');
    const metrics = (await t.call('GET', '/metrics')).body;
    const count = Number(/tarmac_batch_rows_count\{model="loan-default",version="1"\} (\d+)/.exec(metrics)?.[1]);
    const sum = Number(/tarmac_batch_rows_sum\{model="loan-default",version="1"\} (\d+)/.exec(metrics)?.[1]);
    assert.ok(sum > count, `rows per run (${sum}/${count}) show coalescing`);
  });

  test('/openapi.json documents every route', async () => {
    const response = await t.call('GET', '/openapi.json');
    assert.equal(response.statusCode, 200);
    const doc = response.json() as { openapi: string; paths: Record<string, unknown> };
    assert.equal(doc.openapi, '3.1.0');
    for (const route of ['/v2/health/live', '/v2/models/{name}/infer', '/v2/models/{name}/versions/{version}/infer', '/v1/models/{name}/predict', '/v1/models/{name}/feedback', '/v1/artifacts', '/v1/keys', '/metrics']) {
      assert.ok(doc.paths[route], `${route} documented`);
    }
  });
});
