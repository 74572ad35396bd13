import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { registerViaApi, ROOT, startTestTarmac, type TestTarmac } from './support.ts';

/** Issue 4, serving edge: a version bound to a contract is guarded by its compiled validator under the deployment's policy. */
let t: TestTarmac;
const good = { income: 52000, loan_amount: 18000, age: 34, credit_history_years: 6, debt_ratio: 0.42, employment_type: 'salaried' };
const bad = { ...good, employment_type: 'pirate' };

before(async () => {
  t = await startTestTarmac();
  const yaml = readFileSync(path.join(ROOT, 'src/contracts/fixtures/loans-demo.odcs.yaml'));
  const registered = await t.app.inject({ method: 'POST', url: '/v1/contracts', payload: yaml, headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/yaml' } });
  assert.equal(registered.statusCode, 201, registered.body);
  const version = await registerViaApi(t, 'loans-edge', new Uint8Array(readFileSync(path.join(ROOT, 'demo/loans-demo.onnx'))), { contract: 'loans-demo@1' });
  assert.equal(version.statusCode, 201, version.body);
});
after(async () => t.close());

const predict = (records: unknown[]) => t.call('POST', '/v1/models/loans-edge/predict', { records });

test('reject (the default): a record that breaks the contract is refused naming row, field and rule, and counted', async () => {
  const deployed = await t.call('PUT', '/v1/models/loans-edge/deployment', { version: 1 });
  assert.equal(deployed.statusCode, 200, deployed.body);
  assert.equal((await predict([good])).statusCode, 200);
  const refused = await predict([good, bad]);
  assert.equal(refused.statusCode, 400);
  const problem = refused.json() as { code: string; errors: { field: string; rule: string }[]; contract: string };
  assert.equal(problem.code, 'SERVING_INPUT_INVALID');
  assert.equal(problem.contract, 'loans-demo@1.0.0');
  assert.deepEqual(problem.errors.map((e) => `${e.field} ${e.rule}`), ['/records/1/employment_type enum']);
  const metrics = (await t.call('GET', '/metrics')).body;
  assert.match(metrics, /tarmac_contract_violations_total\{model="loans-edge",version="1",field="employment_type",rule="enum"\} 1/);
  // The monitor's window counts the violation (and the refused request) too.
  await t.tarmac.predictionLogger.flush();
  const windows = ((await t.call('GET', '/v1/models/loans-edge/monitor/windows')).json() as {
    windows: { quality: { contract: { by_field_rule: Record<string, number> } }; system: { errors: { by_code: Record<string, number> } } }[];
  }).windows;
  assert.equal(windows[0]!.quality.contract.by_field_rule['employment_type:enum'], 1);
  assert.equal(windows[0]!.system.errors.by_code.SERVING_INPUT_INVALID, 1);
});

test('impute: the declared default answers in its place and the record is flagged in the answer and the log', async () => {
  const deployed = await t.call('PUT', '/v1/models/loans-edge/deployment', { version: 1, validation: { policy: 'impute' } });
  assert.deepEqual((deployed.json() as { validation: unknown }).validation, { policy: 'impute' });
  const answer = await predict([good, bad]);
  assert.equal(answer.statusCode, 200, answer.body);
  const predictions = (answer.json() as { predictions: { id: string; imputed?: string[]; probabilities: Record<string, number> }[] }).predictions;
  assert.equal(predictions[0]!.imputed, undefined);
  assert.deepEqual(predictions[1]!.imputed, ['employment_type']);
  assert.deepEqual(predictions[1]!.probabilities, predictions[0]!.probabilities, 'answered as the default value');
  await t.tarmac.predictionLogger.flush();
  const row = await t.tarmac.database.db.selectFrom('predictions').selectAll().where('id', '=', predictions[1]!.id).executeTakeFirstOrThrow();
  assert.equal((JSON.parse(row.inputs) as { employment_type: string }).employment_type, 'pirate', 'the log keeps what was sent');
  assert.deepEqual((JSON.parse(row.outputs) as { imputed: string[] }).imputed, ['employment_type']);
});

test('fallback: the declared rule answers violating records, flagged; the others are answered by the model', async () => {
  const missing = await t.call('PUT', '/v1/models/loans-edge/deployment', { version: 1, validation: { policy: 'fallback' } });
  assert.equal(missing.statusCode, 400, 'the fallback policy needs its answer');
  const deployed = await t.call('PUT', '/v1/models/loans-edge/deployment', { version: 1, validation: { policy: 'fallback', fallback: { prediction: 0, probabilities: { '0': 1, '1': 0 } } } });
  assert.equal(deployed.statusCode, 200, deployed.body);
  const answer = await predict([bad, good, { ...good, debt_ratio: 42 }]);
  assert.equal(answer.statusCode, 200, answer.body);
  const predictions = (answer.json() as { predictions: { fallback?: boolean; prediction: number; probabilities: Record<string, number> }[] }).predictions;
  assert.deepEqual(predictions.map((p) => p.fallback ?? false), [true, false, true]);
  assert.deepEqual(predictions[0]!.probabilities, { '0': 1, '1': 0 });
  assert.notDeepEqual(predictions[1]!.probabilities, { '0': 1, '1': 0 }, 'the valid record is answered by the model');
  const onlyBad = await predict([bad]);
  assert.equal(onlyBad.statusCode, 200, 'a request of only violating records never reaches the model');
});

test('off: the contract is not applied', async () => {
  await t.call('PUT', '/v1/models/loans-edge/deployment', { version: 1, validation: { policy: 'off' } });
  const answer = await predict([bad]);
  assert.equal(answer.statusCode, 200);
  assert.equal((answer.json() as { predictions: { imputed?: string[] }[] }).predictions[0]!.imputed, undefined);
  const refused = await t.call('PUT', '/v1/models/loans-edge/deployment', { version: 1, validation: { policy: 'maybe' } });
  assert.equal(refused.statusCode, 400);
});
