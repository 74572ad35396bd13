import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { registerViaApi, ROOT, startTestTarmac, type TestTarmac } from './support.ts';

const DEMO_CONTRACT = readFileSync(path.join(ROOT, 'src/contracts/fixtures/loans-demo.odcs.yaml'), 'utf8');
const DEMO = JSON.parse(readFileSync(path.join(ROOT, 'demo/loans-demo.json'), 'utf8')) as { features: string[] };
const DEMO_ONNX = new Uint8Array(readFileSync(path.join(ROOT, 'demo/loans-demo.onnx')));

/** The demo contract under another name, with `age` renamed to `applicant_age`. */
const MISMATCHED = DEMO_CONTRACT
  .replace(/^id: loans-demo$/m, 'id: loans-renamed')
  .replace(/^name: loans-demo$/m, 'name: loans-renamed')
  .replace('- name: age\n', '- name: applicant_age\n');

interface ContractView {
  name: string;
  version: number;
  odcs_version: string;
  created: boolean;
  compatibility: string;
  fields: { name: string; logical_type: string; pii: boolean }[];
  document: string;
}

describe('contracts over HTTP', () => {
  let t: TestTarmac;
  const announced: unknown[] = [];
  before(async () => {
    t = await startTestTarmac();
    t.tarmac.bus.subscribe('contract.registered', (event) => {
      announced.push(event);
    });
  });
  after(async () => t.close());

  const postYaml = (body: string, contentType = 'application/yaml') => t.app.inject({
    method: 'POST', url: '/v1/contracts', payload: body,
    headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': contentType },
  });

  test('the demo contract registers as version 1, and again identically adds nothing', async () => {
    const first = await postYaml(DEMO_CONTRACT);
    assert.equal(first.statusCode, 201, first.body);
    assert.equal(first.headers.location, '/v1/contracts/loans-demo/versions/1');
    const view = first.json() as ContractView;
    assert.equal(view.name, 'loans-demo');
    assert.equal(view.version, 1);
    assert.equal(view.odcs_version, '1.0.0');
    assert.equal(view.created, true);
    assert.equal(view.compatibility, 'backward');
    assert.deepEqual(view.fields.map((f) => f.name), DEMO.features);
    assert.equal(view.fields.find((f) => f.name === 'income')?.pii, true);
    assert.equal(view.document, DEMO_CONTRACT);

    const again = await postYaml(DEMO_CONTRACT, 'text/yaml');
    assert.equal(again.statusCode, 200, again.body);
    assert.deepEqual({ ...(again.json() as ContractView), created: true }, view);

    const audit = (await t.call('GET', '/v1/audit?limit=1000')).json() as { events: { action: string; target: string; outcome: string; details: { created?: boolean } }[] };
    const registrations = audit.events.filter((e) => e.action === 'contract.register');
    assert.deepEqual(registrations.map((e) => [e.target, e.outcome, e.details.created]), [
      ['contract:loans-demo/1', 'ok', true], ['contract:loans-demo/1', 'ok', false],
    ]);
  });

  test('contracts are listed, shown by number or latest, and their versions listed', async () => {
    const list = (await t.call('GET', '/v1/contracts')).json() as { contracts: { name: string; version: number }[] };
    assert.deepEqual(list.contracts.map((c) => [c.name, c.version]), [['loans-demo', 1]]);
    const versions = (await t.call('GET', '/v1/contracts/loans-demo')).json() as { latest: number; versions: { version: number }[] };
    assert.equal(versions.latest, 1);
    assert.deepEqual(versions.versions.map((v) => v.version), [1]);
    const latest = (await t.call('GET', '/v1/contracts/loans-demo/versions/latest')).json() as ContractView;
    const one = (await t.call('GET', '/v1/contracts/loans-demo/versions/1')).json() as ContractView;
    assert.deepEqual(latest, one);
    assert.equal(one.document, DEMO_CONTRACT);

    for (const url of ['/v1/contracts/nope', '/v1/contracts/loans-demo/versions/9', '/v1/contracts/loans-demo/versions/x', '/v1/contracts/nope/versions/latest']) {
      const missing = await t.call('GET', url);
      assert.equal(missing.statusCode, 404, url);
      assert.equal((missing.json() as { code: string }).code, 'CONTRACT_NOT_FOUND', url);
    }
  });

  test('an incompatible change is refused naming each breaking difference', async () => {
    const narrowed = DEMO_CONTRACT.replace('          maximum: 120', '          maximum: 110').concat('      - name: purpose\n        logicalType: string\n        required: true\n');
    const refused = await postYaml(narrowed);
    assert.equal(refused.statusCode, 409, refused.body);
    const problem = refused.json() as { code: string; errors: { field: string; rule: string; message: string }[] };
    assert.equal(problem.code, 'CONTRACT_INCOMPATIBLE');
    assert.deepEqual(problem.errors.map((e) => e.field).sort(), ['/schema/properties/age', '/schema/properties/purpose']);
    assert.ok(problem.errors.every((e) => e.rule.length > 0 && e.message.length > 0));
    const versions = (await t.call('GET', '/v1/contracts/loans-demo')).json() as { latest: number };
    assert.equal(versions.latest, 1);
    assert.equal(announced.length, 1, 'only the new version is announced');
  });

  test('a compatible change becomes version 2, and diff names the changed fields', async () => {
    const changed = DEMO_CONTRACT.replace('version: 1.0.0', 'version: 1.1.0').replace('          maximum: 120', '          maximum: 130');
    const second = await postYaml(changed);
    assert.equal(second.statusCode, 201, second.body);
    assert.equal((second.json() as ContractView).version, 2);
    const diff = await t.call('GET', '/v1/contracts/loans-demo/diff?from=1&to=2');
    assert.equal(diff.statusCode, 200, diff.body);
    const body = diff.json() as {
      from: number; to: number; contract: { attribute: string }[];
      fields: { field: string; change: string; attributes: { attribute: string; from: unknown; to: unknown }[] }[];
      compatibility: { mode: string; compatible: boolean; changes: { field: string; change: string }[] };
    };
    assert.equal(body.from, 1);
    assert.equal(body.to, 2);
    assert.deepEqual(body.contract.map((c) => c.attribute), ['odcs_version']);
    assert.deepEqual(body.fields, [{ field: 'age', change: 'changed', attributes: [{ attribute: 'maximum', from: 120, to: 130 }] }]);
    assert.equal(body.compatibility.mode, 'backward');
    assert.equal(body.compatibility.compatible, true);
    assert.deepEqual(body.compatibility.changes.map((c) => [c.field, c.change]), [['age', 'range_widened']]);

    const noQuery = await t.call('GET', '/v1/contracts/loans-demo/diff');
    assert.equal(noQuery.statusCode, 400);
    assert.equal((noQuery.json() as { code: string }).code, 'VALIDATION_FAILED');
  });

  test('bad input is refused as problem+json', async () => {
    const broken = await postYaml('name: [unclosed\n');
    assert.equal(broken.statusCode, 422, broken.body);
    assert.match(String(broken.headers['content-type']), /application\/problem\+json/);
    assert.equal((broken.json() as { code: string }).code, 'CONTRACT_INVALID');

    const notOdcs = await postYaml('just: a map\n');
    assert.equal(notOdcs.statusCode, 422);
    assert.equal((notOdcs.json() as { code: string; errors: unknown[] }).code, 'CONTRACT_INVALID');

    const badName = await postYaml(DEMO_CONTRACT.replace(/^name: loans-demo$/m, 'name: Loans Demo!'));
    assert.equal(badName.statusCode, 422, badName.body);
    const problem = badName.json() as { code: string; errors: { field: string }[] };
    assert.equal(problem.code, 'CONTRACT_INVALID');
    assert.equal(problem.errors[0]?.field, '/name');

    const huge = await postYaml(`${DEMO_CONTRACT}# ${'x'.repeat(1024 * 1024)}\n`);
    assert.equal(huge.statusCode, 413, huge.body);
    assert.equal((huge.json() as { code: string }).code, 'REQUEST_TOO_LARGE');

    const json = await t.call('POST', '/v1/contracts', { name: 'x' });
    assert.equal(json.statusCode, 415);
    assert.equal((json.json() as { code: string }).code, 'REQUEST_UNSUPPORTED_MEDIA_TYPE');

    const viewer = await t.call('POST', '/v1/keys', { role: 'viewer' });
    const viewerKey = (viewer.json() as { key: string }).key;
    const forbidden = await t.app.inject({ method: 'POST', url: '/v1/contracts', payload: DEMO_CONTRACT, headers: { authorization: `Bearer ${viewerKey}`, 'content-type': 'application/yaml' } });
    assert.equal(forbidden.statusCode, 403);
    assert.equal((await t.call('GET', '/v1/contracts', undefined, viewerKey)).statusCode, 200);
  });

  test('a model version binds to a matching contract and is refused with a mismatching one', async () => {
    const renamed = await postYaml(MISMATCHED);
    assert.equal(renamed.statusCode, 201, renamed.body);

    const refused = await registerViaApi(t, 'loan-default', DEMO_ONNX, { features: DEMO.features, contract: 'loans-renamed' });
    assert.equal(refused.statusCode, 422, refused.body);
    const problem = refused.json() as { code: string; errors: { field: string; rule: string }[] };
    assert.equal(problem.code, 'CONTRACT_FEATURES_MISMATCH');
    assert.deepEqual(problem.errors.map((e) => [e.field, e.rule]), [['/features/applicant_age', 'missing'], ['/features/age', 'extra']]);

    // The artifact was uploaded by the refused attempt; only the binding is wrong now.
    const sha = createHash('sha256').update(DEMO_ONNX).digest('hex');
    for (const contract of ['nope', 'loans-demo@7']) {
      const unknown = await t.call('POST', '/v1/models/loan-default/versions', { artifact_sha256: sha, features: DEMO.features, contract });
      assert.equal(unknown.statusCode, 404, unknown.body);
      assert.equal((unknown.json() as { code: string }).code, 'CONTRACT_NOT_FOUND');
    }
    assert.equal((await t.call('GET', '/v1/models/loan-default')).statusCode, 404);

    const bound = await registerViaApi(t, 'loan-default', DEMO_ONNX, { features: DEMO.features, contract: 'loans-demo@1' });
    assert.equal(bound.statusCode, 201, bound.body);
    assert.deepEqual((bound.json() as { contract: unknown }).contract, { name: 'loans-demo', version: 1 });
    const shown = (await t.call('GET', '/v1/models/loan-default/versions/1')).json() as { contract: unknown };
    assert.deepEqual(shown.contract, { name: 'loans-demo', version: 1 });
  });
});
