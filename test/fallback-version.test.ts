import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import { loadFixture, registerViaApi, ROOT, startTestTarmac, type TestTarmac } from './support.ts';

/** Issue 4, serving edge: a deployment's fallback version answers the records that break the bound contract. */
const { onnx } = onnxProto;
const NUMERIC = ['income', 'loan_amount', 'age', 'credit_history_years', 'debt_ratio'];

/** A real ONNX logistic model over the numeric loan features only (no employment_type): P(default) grows with debt_ratio. */
function numericOnlyModel(): Uint8Array {
  const float = onnx.TensorProto.DataType.FLOAT;
  const info = (name: string, elemType: number, dims: (number | string)[]) => ({
    name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
  const attr = onnx.AttributeProto.AttributeType;
  const weights = [0, 0, 0, 0, 1];
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 15 }, { domain: 'ai.onnx.ml', version: 1 }],
    producerName: 'tarmac-test-fallback',
    graph: {
      name: 'numeric_fallback',
      node: [
        { opType: 'Concat', name: 'concat', input: NUMERIC, output: ['features'], attribute: [{ name: 'axis', type: attr.INT, i: 1 }] },
        {
          opType: 'LinearClassifier', name: 'logistic', domain: 'ai.onnx.ml', input: ['features'], output: ['label', 'scores'], attribute: [
            { name: 'classlabels_ints', type: attr.INTS, ints: [0, 1] },
            { name: 'coefficients', type: attr.FLOATS, floats: [...weights.map((w) => -w), ...weights] },
            { name: 'intercepts', type: attr.FLOATS, floats: [2, -2] },
            { name: 'post_transform', type: attr.STRING, s: new TextEncoder().encode('LOGISTIC') },
          ],
        },
        { opType: 'Normalizer', name: 'normalizer', domain: 'ai.onnx.ml', input: ['scores'], output: ['probabilities'], attribute: [{ name: 'norm', type: attr.STRING, s: new TextEncoder().encode('L1') }] },
      ],
      input: NUMERIC.map((f) => info(f, float, ['N', 1])),
      output: [info('label', onnx.TensorProto.DataType.INT64, ['N']), info('probabilities', float, ['N', 2])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** The demo model with another doc string: the same graph under a different content hash. */
function demoCopy(): Uint8Array {
  const model = onnx.ModelProto.decode(readFileSync(path.join(ROOT, 'demo/loans-demo.onnx')));
  model.docString = 'a copy of the demo model';
  return onnx.ModelProto.encode(model).finish();
}

let t: TestTarmac;
const good = { income: 52000, loan_amount: 18000, age: 34, credit_history_years: 6, debt_ratio: 0.42, employment_type: 'salaried' };
const bad = { ...good, employment_type: 'pirate' };
const deploy = (validation: unknown) => t.call('PUT', '/v1/models/loans-fb/deployment', { version: 1, validation });
const predict = (records: unknown[]) => t.call('POST', '/v1/models/loans-fb/predict', { records });

before(async () => {
  t = await startTestTarmac();
  const yaml = readFileSync(path.join(ROOT, 'src/contracts/fixtures/loans-demo.odcs.yaml'));
  const registered = await t.app.inject({ method: 'POST', url: '/v1/contracts', payload: yaml, headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/yaml' } });
  assert.equal(registered.statusCode, 201, registered.body);
  const versions = [
    await registerViaApi(t, 'loans-fb', new Uint8Array(readFileSync(path.join(ROOT, 'demo/loans-demo.onnx'))), { contract: 'loans-demo@1' }),
    await registerViaApi(t, 'loans-fb', numericOnlyModel(), { class_labels: [0, 1] }),
    await registerViaApi(t, 'loans-fb', loadFixture('loans_pipeline_multi_input').bytes),
    await registerViaApi(t, 'loans-fb', demoCopy(), { contract: 'loans-demo@1' }),
  ];
  versions.forEach((v, i) => assert.equal(v.statusCode, 201, `version ${i + 1}: ${v.body}`));
});
after(async () => t.close());

test('a fallback version is checked when the deployment is submitted: 4xx naming the field and the rule', async () => {
  const cases: [unknown, string, string][] = [
    [{ policy: 'fallback' }, '/validation/fallback', 'one_of'],
    [{ policy: 'fallback', fallback: { prediction: 0 }, fallback_version: 2 }, '/validation/fallback_version', 'one_of'],
    [{ policy: 'reject', fallback_version: 2 }, '/validation/fallback_version', 'policy'],
    [{ policy: 'fallback', fallback_version: 99 }, '/validation/fallback_version', 'exists'],
    [{ policy: 'fallback', fallback_version: 1 }, '/validation/fallback_version', 'not_self'],
    // Version 3 also reads "region", which records under the contract do not carry.
    [{ policy: 'fallback', fallback_version: 3 }, '/validation/fallback_version', 'features_subset'],
    // Version 4 is bound to the same contract version, so it would refuse the same records.
    [{ policy: 'fallback', fallback_version: 4 }, '/validation/fallback_version', 'contract'],
    [{ policy: 'fallback', fallback_version: 0 }, '/validation/fallback_version', 'minimum'],
  ];
  for (const [validation, field, rule] of cases) {
    const refused = await deploy(validation);
    assert.equal(refused.statusCode, 400, `${JSON.stringify(validation)}: ${refused.body}`);
    assert.match(refused.headers['content-type'] as string, /application\/problem\+json/);
    const problem = refused.json() as { code: string; errors: { field: string; rule: string }[] };
    assert.equal(problem.code, 'VALIDATION_FAILED');
    assert.deepEqual(problem.errors.map((e) => `${e.field} ${e.rule}`), [`${field} ${rule}`], JSON.stringify(validation));
  }
  const region = (await deploy({ policy: 'fallback', fallback_version: 3 })).json() as { detail: string };
  assert.match(region.detail, /region/);
  assert.equal((await t.call('GET', '/v1/models/loans-fb/deployment')).statusCode, 404, 'nothing was deployed by a refused request');
});

test('violating records are answered by the fallback version, flagged with it; valid ones by the deployed version', async () => {
  const deployed = await deploy({ policy: 'fallback', fallback_version: 2 });
  assert.equal(deployed.statusCode, 200, deployed.body);
  assert.deepEqual((deployed.json() as { validation: unknown }).validation, { policy: 'fallback', fallback_version: 2 });
  const audit = (await t.call('GET', '/v1/audit?limit=1000')).json() as { events: { action: string; details: { validation?: unknown } }[] };
  assert.deepEqual(audit.events.filter((e) => e.action === 'deployment.set').at(-1)?.details.validation, { policy: 'fallback', fallbackVersion: 2 });

  const answer = await predict([bad, good, { ...good, debt_ratio: 42 }]);
  assert.equal(answer.statusCode, 200, answer.body);
  const body = answer.json() as { version: number; predictions: { id: string; version: number; fallback?: boolean; violations?: { field: string; rule: string }[]; prediction: number; probabilities: Record<string, number> }[] };
  assert.equal(body.version, 1);
  assert.deepEqual(body.predictions.map((p) => [p.version, p.fallback ?? false]), [[2, true], [1, false], [2, true]]);
  assert.deepEqual(body.predictions[0]!.violations, [{ field: 'employment_type', rule: 'enum' }]);
  assert.deepEqual(body.predictions[2]!.violations, [{ field: 'debt_ratio', rule: 'maximum' }]);
  assert.equal(body.predictions[1]!.violations, undefined);
  // The fallback model reads the out-of-range debt ratio it is there for: P(default) = sigmoid(42 - 2).
  assert.ok(body.predictions[2]!.probabilities['1']! > 0.99, JSON.stringify(body.predictions[2]));
  assert.ok(Math.abs(body.predictions[0]!.probabilities['1']! - 1 / (1 + Math.exp(2 - 0.42))) < 1e-4, JSON.stringify(body.predictions[0]));

  await t.tarmac.predictionLogger.flush();
  const rows = await t.tarmac.database.db.selectFrom('predictions').selectAll().where('id', 'in', body.predictions.map((p) => p.id)).execute();
  const byId = new Map(rows.map((r) => [r.id, r]));
  const fallbackRow = byId.get(body.predictions[0]!.id)!;
  assert.equal(fallbackRow.version, 2, 'logged under the version that answered');
  assert.equal((JSON.parse(fallbackRow.inputs) as { employment_type: string }).employment_type, 'pirate', 'the log keeps what was sent');
  const outputs = JSON.parse(fallbackRow.outputs) as { fallback: boolean; fallback_for_version: number; violations: unknown[] };
  assert.equal(outputs.fallback, true);
  assert.equal(outputs.fallback_for_version, 1);
  assert.equal(byId.get(body.predictions[1]!.id)!.version, 1);

  const metrics = (await t.call('GET', '/metrics')).body;
  assert.match(metrics, /tarmac_predictions_total\{[^}]*version="2"[^}]*\} 2/);
});

test('a violating record the fallback version cannot read is refused, naming record, field and rule', async () => {
  const withoutEmployment: Record<string, unknown> = { ...good };
  delete withoutEmployment.employment_type;
  const answered = await predict([withoutEmployment]);
  assert.equal(answered.statusCode, 200, 'the fallback version does not read employment_type');
  assert.equal((answered.json() as { predictions: { version: number }[] }).predictions[0]!.version, 2);

  const withoutDebt: Record<string, unknown> = { ...good };
  delete withoutDebt.debt_ratio;
  const refused = await predict([good, withoutDebt]);
  assert.equal(refused.statusCode, 400, refused.body);
  const problem = refused.json() as { code: string; errors: { field: string; rule: string }[]; fallback_version: number };
  assert.equal(problem.code, 'SERVING_INPUT_INVALID');
  assert.deepEqual(problem.errors.map((e) => `${e.field} ${e.rule}`), ['/records/1/debt_ratio required']);
  assert.equal(problem.fallback_version, 2);

  const wrongType = await predict([good, good, { ...good, employment_type: 'pirate', income: 'lots' }]);
  assert.equal(wrongType.statusCode, 400);
  assert.deepEqual((wrongType.json() as { errors: { field: string; rule: string }[] }).errors.map((e) => `${e.field} ${e.rule}`), ['/records/2/income type']);
});

test('the rule fallback still works and names the violations; moving off the fallback version releases it', async () => {
  const rule = await deploy({ policy: 'fallback', fallback: { prediction: 0 } });
  assert.equal(rule.statusCode, 200, rule.body);
  const answer = (await predict([bad])).json() as { predictions: { version: number; fallback: boolean; violations: unknown[]; prediction: number }[] };
  assert.deepEqual(answer.predictions[0], { ...answer.predictions[0], version: 1, fallback: true, prediction: 0, violations: [{ field: 'employment_type', rule: 'enum' }] });
  const off = await deploy({ policy: 'reject' });
  assert.equal(off.statusCode, 200);
  assert.equal((await predict([bad])).statusCode, 400);
});
