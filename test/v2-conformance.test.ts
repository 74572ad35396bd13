import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { FIXTURES_DIR, loadFixture, registerViaApi, startTestTarmac, type TestTarmac } from './support.ts';

/** Conformance: Tarmac's V2 answers validate against the official Open Inference Protocol OpenAPI schemas. */
const specPath = path.join(FIXTURES_DIR, '..', 'specs', 'open_inference_rest.yaml');
const spec = parse(readFileSync(specPath, 'utf8')) as { components: { schemas: Record<string, object> } };
const ajv = new Ajv({ strict: false, allErrors: true });
for (const [name, schema] of Object.entries(spec.components.schemas)) ajv.addSchema(schema, `#/components/schemas/${name}`);
const check = (schema: string, value: unknown) => {
  const validate = ajv.getSchema(`#/components/schemas/${schema}`)!;
  assert.ok(validate(value), `${schema}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(value).slice(0, 300)}`);
};

let t: TestTarmac;
before(async () => {
  t = await startTestTarmac();
  for (const fixture of ['iris_tree', 'loans_pipeline_multi_input']) {
    const { bytes, sidecar } = loadFixture(fixture);
    const reg = await registerViaApi(t, fixture.replace(/_/g, '-'), bytes, sidecar.input_layout === 'matrix' ? { features: sidecar.feature_names } : {});
    assert.equal(reg.statusCode, 201);
    await t.call('PUT', `/v1/models/${fixture.replace(/_/g, '-')}/deployment`, { version: 1 });
  }
});
after(async () => t.close());

test('server metadata', async () => {
  check('metadata_server_response', (await t.call('GET', '/v2')).json());
});

test('model metadata, deployed and by version', async () => {
  check('metadata_model_response', (await t.call('GET', '/v2/models/iris-tree')).json());
  check('metadata_model_response', (await t.call('GET', '/v2/models/loans-pipeline-multi-input/versions/1')).json());
});

test('inference requests we accept and responses we send', async () => {
  const request = { id: '42', inputs: [{ name: 'input', shape: [2, 4], datatype: 'FP32', data: [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]] }], outputs: [{ name: 'label' }] };
  check('inference_request', request);
  const response = await t.call('POST', '/v2/models/iris-tree/infer', request);
  assert.equal(response.statusCode, 200);
  const body = response.json() as { outputs: { name: string }[] };
  check('inference_response', body);
  assert.deepEqual(body.outputs.map((o) => o.name), ['label'], 'only the requested outputs');

  const loans = loadFixture('loans_pipeline_multi_input').sidecar;
  const columns = loans.test.inputs as Record<string, unknown[][]>;
  const multi = { inputs: loans.inputs.map((i) => ({ name: i.name, shape: [2, 1], datatype: i.dtype === 'string' ? 'BYTES' : 'FP32', data: columns[i.name]!.slice(0, 2) })) };
  check('inference_request', multi);
  const answer = await t.call('POST', '/v2/models/loans-pipeline-multi-input/infer', multi);
  assert.equal(answer.statusCode, 200, answer.body);
  check('inference_response', answer.json());
});

test('errors carry the protocol error string', async () => {
  const bad = await t.call('POST', '/v2/models/iris-tree/infer', { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [1, 2] }] });
  assert.equal(bad.statusCode, 400);
  check('inference_error_response', bad.json());
  const missing = await t.call('GET', '/v2/models/nothing');
  check('metadata_model_error_response', missing.json());
});
