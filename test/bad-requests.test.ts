import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { installDemo } from '../src/cli/demo.ts';
import { loadFixture, registerViaApi, startTestTarmac, type TestTarmac } from './support.ts';

/**
 * Acceptance: a table of bad requests, each answered with the right 4xx problem+json naming the field and the rule;
 * the server stays healthy afterwards.
 */
let t: TestTarmac;
let predictorKey: string;

const good = { income: 52000, loan_amount: 18000, age: 34, credit_history_years: 6, debt_ratio: 0.42, employment_type: 'salaried' };
const iris = (data: unknown, over: Record<string, unknown> = {}) => ({ inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data, ...over }] });

before(async () => {
  t = await startTestTarmac({ TARMAC_MAX_BATCH_RECORDS: '50', TARMAC_BODY_LIMIT_MB: '1' });
  await installDemo(t.tarmac);
  const { bytes, sidecar } = loadFixture('iris_tree');
  const reg = await registerViaApi(t, 'iris', bytes, { features: sidecar.feature_names });
  assert.equal(reg.statusCode, 201, reg.body);
  assert.equal((await t.call('PUT', '/v1/models/iris/deployment', { version: 1 })).statusCode, 200);
  predictorKey = ((await t.call('POST', '/v1/keys', { role: 'predictor' })).json() as { key: string }).key;
});
after(async () => t.close());

interface Case {
  name: string;
  send: () => Promise<LightMyRequestResponse>;
  status: number;
  code: string;
  field?: string;
  rule?: string;
}

const raw = (method: string, url: string, payload: string | Buffer, contentType: string | undefined, key: string | null = 'admin') => {
  const headers: Record<string, string> = {};
  if (contentType) headers['content-type'] = contentType;
  if (key) headers.authorization = `Bearer ${key === 'admin' ? t.adminKey : key}`;
  return t.app.inject({ method: method as 'POST', url, headers, payload });
};
const predict = (body: unknown) => t.call('POST', '/v1/models/loan-default/predict', body);
const infer = (body: unknown, url = '/v2/models/iris/infer') => t.call('POST', url, body);

const cases: Case[] = [
  { name: 'body is not JSON', send: () => raw('POST', '/v1/models/loan-default/predict', '{"records": [', 'application/json'), status: 400, code: 'REQUEST_MALFORMED_JSON', field: '/body', rule: 'json' },
  { name: 'NaN literal is not JSON', send: () => raw('POST', '/v1/models/loan-default/predict', '{"records":[{"income": NaN}]}', 'application/json'), status: 400, code: 'REQUEST_MALFORMED_JSON', field: '/body', rule: 'json' },
  { name: 'empty body with a JSON content type', send: () => raw('POST', '/v1/models/loan-default/predict', '', 'application/json'), status: 400, code: 'REQUEST_MALFORMED_JSON' },
  { name: 'text/plain content type', send: () => raw('POST', '/v1/models/loan-default/predict', JSON.stringify({ records: [good] }), 'text/plain'), status: 415, code: 'REQUEST_UNSUPPORTED_MEDIA_TYPE', field: '/headers/content-type', rule: 'media_type' },
  { name: 'form content type', send: () => raw('POST', '/v1/models/loan-default/predict', 'a=b', 'application/x-www-form-urlencoded'), status: 415, code: 'REQUEST_UNSUPPORTED_MEDIA_TYPE' },
  { name: 'body over the size limit', send: () => predict({ records: [{ ...good, employment_type: 'x'.repeat(1_100_000) }] }), status: 413, code: 'REQUEST_TOO_LARGE', field: '/body', rule: 'max_size' },
  { name: 'records missing', send: () => predict({}), status: 400, code: 'VALIDATION_FAILED', field: '/records', rule: 'required' },
  { name: 'records not an array', send: () => predict({ records: { a: 1 } }), status: 400, code: 'VALIDATION_FAILED', field: '/records', rule: 'type' },
  { name: 'empty batch', send: () => predict({ records: [] }), status: 400, code: 'VALIDATION_FAILED', field: '/records', rule: 'min_items' },
  { name: 'too many records', send: () => predict({ records: Array.from({ length: 51 }, () => good) }), status: 400, code: 'VALIDATION_FAILED', field: '/records', rule: 'max_items' },
  { name: 'unknown top-level field', send: () => predict({ records: [good], extra: 1 }), status: 400, code: 'VALIDATION_FAILED', field: '/extra', rule: 'unknown_field' },
  { name: 'record is not an object', send: () => predict({ records: [[1, 2, 3]] }), status: 400, code: 'VALIDATION_FAILED', field: '/records/0', rule: 'type' },
  { name: 'missing feature', send: () => predict({ records: [good, { ...good, income: undefined }] }), status: 400, code: 'SERVING_INPUT_INVALID', field: '/records/1/income', rule: 'required' },
  { name: 'unknown feature', send: () => predict({ records: [{ ...good, favourite_colour: 'red' }] }), status: 400, code: 'SERVING_INPUT_INVALID', field: '/records/0/favourite_colour', rule: 'unknown_field' },
  { name: 'string where a number is needed', send: () => predict({ records: [{ ...good, income: '52000' }] }), status: 400, code: 'SERVING_INPUT_INVALID', field: '/records/0/income', rule: 'type' },
  { name: '"NaN" string where a number is needed', send: () => predict({ records: [{ ...good, debt_ratio: 'NaN' }] }), status: 400, code: 'SERVING_INPUT_INVALID', field: '/records/0/debt_ratio', rule: 'type' },
  { name: 'null feature value', send: () => predict({ records: [{ ...good, age: null }] }), status: 400, code: 'SERVING_INPUT_INVALID', field: '/records/0/age', rule: 'required' },
  { name: 'number where a string is needed', send: () => predict({ records: [{ ...good, employment_type: 3 }] }), status: 400, code: 'SERVING_INPUT_INVALID', field: '/records/0/employment_type', rule: 'type' },
  { name: 'string longer than allowed', send: () => predict({ records: [{ ...good, employment_type: 'x'.repeat(10_001) }] }), status: 400, code: 'SERVING_INPUT_INVALID', field: '/records/0/employment_type', rule: 'max_length' },
  { name: 'model not deployed / unknown', send: () => t.call('POST', '/v1/models/no-such-model/predict', { records: [good] }), status: 404, code: 'SERVING_NOT_DEPLOYED' },
  { name: 'V2: inputs missing', send: () => infer({ id: 'x' }), status: 400, code: 'SERVING_INPUT_INVALID', field: '/inputs', rule: 'required' },
  { name: 'V2: empty inputs', send: () => infer({ inputs: [] }), status: 400, code: 'SERVING_INPUT_INVALID', field: '/inputs' },
  { name: 'V2: unknown input name', send: () => infer(iris([5.1, 3.5, 1.4, 0.2], { name: 'pixels' })), status: 400, code: 'SERVING_INPUT_INVALID', field: '/inputs/0/name', rule: 'unknown_input' },
  { name: 'V2: datatype differs from the model', send: () => infer(iris([5.1, 3.5, 1.4, 0.2], { datatype: 'FP64' })), status: 400, code: 'SERVING_INPUT_INVALID', field: '/inputs/0/datatype', rule: 'datatype' },
  { name: 'V2: datatype is not a protocol type', send: () => infer(iris([5.1, 3.5, 1.4, 0.2], { datatype: 'FLOAT' })), status: 400, code: 'SERVING_INPUT_INVALID', field: '/inputs/0/datatype', rule: 'enum' },
  { name: 'V2: data does not fill the shape', send: () => infer(iris([5.1, 3.5, 1.4])), status: 400, code: 'SERVING_INPUT_INVALID', field: '/inputs/0/data', rule: 'shape' },
  { name: 'V2: wrong number of columns', send: () => infer(iris([5.1, 3.5, 1.4], { shape: [1, 3] })), status: 400, code: 'SERVING_INPUT_INVALID', field: '/inputs/0/shape', rule: 'shape' },
  { name: 'V2: negative dimension', send: () => infer(iris([5.1, 3.5, 1.4, 0.2], { shape: [-1, 4] })), status: 400, code: 'SERVING_INPUT_INVALID', field: '/inputs/0/shape' },
  { name: 'V2: string in FP32 data', send: () => infer(iris([5.1, 'wide', 1.4, 0.2])), status: 400, code: 'SERVING_INPUT_INVALID', field: '/inputs/0/data/1', rule: 'type' },
  { name: 'V2: unknown requested output', send: () => infer({ ...iris([5.1, 3.5, 1.4, 0.2]), outputs: [{ name: 'embedding' }] }), status: 400, code: 'SERVING_INPUT_INVALID', field: '/outputs/0/name', rule: 'unknown_output' },
  { name: 'V2: version that does not exist', send: () => infer(iris([5.1, 3.5, 1.4, 0.2]), '/v2/models/iris/versions/9/infer'), status: 404, code: 'REGISTRY_VERSION_NOT_FOUND' },
  { name: 'V2: version that is not a number', send: () => infer(iris([5.1, 3.5, 1.4, 0.2]), '/v2/models/iris/versions/abc/infer'), status: 404, code: 'REGISTRY_VERSION_NOT_FOUND', field: '/params/version', rule: 'integer' },
  { name: 'V2: metadata of an unknown model', send: () => t.call('GET', '/v2/models/nope'), status: 404, code: 'REGISTRY_MODEL_NOT_FOUND' },
  { name: 'no Authorization header', send: () => t.call('POST', '/v1/models/loan-default/predict', { records: [good] }, null), status: 401, code: 'AUTH_MISSING', field: '/headers/authorization', rule: 'required' },
  { name: 'unknown API key', send: () => t.call('POST', '/v1/models/loan-default/predict', { records: [good] }, 'tmk_AAAAAAAAAAAA.' + 'B'.repeat(43)), status: 401, code: 'AUTH_INVALID' },
  { name: 'malformed Authorization header', send: () => t.app.inject({ method: 'GET', url: '/v1/models', headers: { authorization: 'Basic Zm9vOmJhcg==' } }), status: 401, code: 'AUTH_INVALID' },
  { name: 'predictor may not create keys', send: () => t.call('POST', '/v1/keys', { role: 'admin' }, predictorKey), status: 403, code: 'AUTH_FORBIDDEN' },
  { name: 'key with an unknown role', send: () => t.call('POST', '/v1/keys', { role: 'superuser' }), status: 400, code: 'VALIDATION_FAILED', field: '/role', rule: 'enum' },
  { name: 'feedback without items', send: () => t.call('POST', '/v1/models/loan-default/feedback', {}), status: 400, code: 'VALIDATION_FAILED', field: '/items', rule: 'required' },
  { name: 'feedback with an object label', send: () => t.call('POST', '/v1/models/loan-default/feedback', { items: [{ prediction_id: 'p', label: { a: 1 } }] }), status: 400, code: 'VALIDATION_FAILED', field: '/items/0/label' },
  { name: 'register with a bad model name', send: () => t.call('POST', '/v1/models/Bad%20Name!/versions', { artifact_sha256: 'a'.repeat(64) }), status: 400, code: 'REGISTRY_INVALID_NAME', field: '/name', rule: 'pattern' },
  { name: 'register an artifact never uploaded', send: () => t.call('POST', '/v1/models/ok-name/versions', { artifact_sha256: 'a'.repeat(64) }), status: 400, code: 'VALIDATION_FAILED', field: '/artifact_sha256', rule: 'exists' },
  { name: 'upload a file that is not ONNX', send: () => raw('POST', '/v1/artifacts', Buffer.from('this is not a model'), 'application/octet-stream'), status: 422, code: 'REGISTRY_INVALID_ONNX' },
  { name: 'alias pointing at a missing version', send: () => t.call('PUT', '/v1/models/iris/aliases/champion', { version: 42 }), status: 404, code: 'REGISTRY_VERSION_NOT_FOUND' },
  { name: 'deploy an unknown alias', send: () => t.call('PUT', '/v1/models/iris/deployment', { version: 'challenger' }), status: 404, code: 'REGISTRY_ALIAS_NOT_FOUND' },
  { name: 'unknown route', send: () => t.call('GET', '/v1/nothing-here'), status: 404, code: 'REQUEST_NOT_FOUND' },
];

test(`${cases.length} kinds of bad request each get the right problem+json`, async (tt) => {
  assert.ok(cases.length >= 25);
  for (const c of cases) {
    await tt.test(c.name, async () => {
      const response = await c.send();
      assert.equal(response.statusCode, c.status, `${c.name}: ${response.body.slice(0, 500)}`);
      assert.match(String(response.headers['content-type']), /^application\/problem\+json/);
      const problem = response.json() as { status: number; code: string; title: string; detail: string; type: string; error?: string; errors?: { field: string; rule: string; message: string }[] };
      assert.equal(problem.status, c.status);
      assert.equal(problem.code, c.code, problem.detail);
      assert.ok(problem.title && problem.detail && problem.type, 'RFC 9457 members present');
      if ((problem as { instance?: string }).instance?.startsWith('/v2')) assert.equal(typeof problem.error, 'string', 'V2 errors carry the protocol\'s error string');
      if (c.field) {
        const issue = problem.errors?.find((e) => e.field === c.field && (c.rule === undefined || e.rule === c.rule));
        assert.ok(issue, `expected an issue at ${c.field} (${c.rule ?? 'any rule'}), got ${JSON.stringify(problem.errors)}`);
      }
    });
  }
});

test('the server is healthy after every bad request, and good requests still work', async () => {
  assert.equal((await t.call('GET', '/v2/health/live', undefined, null)).statusCode, 200);
  assert.equal((await t.call('GET', '/v2/health/ready', undefined, null)).statusCode, 200);
  const ok = await predict({ records: [good] });
  assert.equal(ok.statusCode, 200, ok.body);
});

test('refused accesses are audited', async () => {
  const audit = await t.call('GET', '/v1/audit?limit=1000');
  const events = (audit.json() as { events: { outcome: string; action: string }[] }).events;
  assert.ok(events.some((e) => e.outcome === 'denied' && e.action === 'keys:manage'));
  assert.ok(events.some((e) => e.outcome === 'denied' && e.action === 'predict'));
});
