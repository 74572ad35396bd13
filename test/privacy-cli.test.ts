import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runCli } from './cli-support.ts';
import { features, installPrivateModel, keyed, PII_KEY, record } from './privacy-support.ts';
import { startTestTarmac, type TestTarmac } from './support.ts';

// The privacy commands against a running Tarmac: the decision register and the policy statement, retention, and
// data subject export and erase, with their exit codes.

let t: TestTarmac;
let env: Record<string, string>;

before(async () => {
  t = await startTestTarmac({ TARMAC_PII_HASH_KEY: PII_KEY, TARMAC_MONITOR: 'off' });
  await installPrivateModel(t);
  const url = await t.tarmac.listen();
  env = { TARMAC_URL: url, TARMAC_API_KEY: t.adminKey };
});

after(async () => {
  await t.close();
});

test('decision register over HTTP and the CLI: validated, derived PII kinds, audited; the statement follows it', async () => {
  assert.equal((await t.call('GET', '/v1/models/loans-private/decision-register')).json().code, 'PRIVACY_REGISTER_NOT_FOUND');
  const bad = await t.call('PUT', '/v1/models/loans-private/decision-register', { decision: 'x', automation: 'sometimes', effect: 'legal', purpose: 'p', contact: 'c' });
  assert.equal(bad.statusCode, 400);
  assert.equal((await t.call('PUT', '/v1/models/nope/decision-register', { decision: 'x', automation: 'solely_automated', effect: 'legal', purpose: 'p', contact: 'c' })).statusCode, 404);

  const set = await runCli(['privacy', 'register', 'set', 'loans-private', '--decision', 'whether a personal loan application is approved',
    '--automation', 'solely_automated', '--effect', 'similarly_significant', '--personal-information', 'financial information,employment details',
    '--purpose', 'assessing credit risk', '--contact', 'privacy@example.com.au'], env);
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /personal information: financial information, employment details, income/);

  const shown = (await t.call('GET', '/v1/models/loans-private/decision-register')).json() as { pii_fields: string[]; automation: string };
  assert.deepEqual(shown.pii_fields, ['income'], 'derived from the contract bound to the deployed version');
  assert.equal(shown.automation, 'solely_automated');
  const audit = (await t.call('GET', '/v1/audit?limit=1000')).json() as { events: { action: string; target: string }[] };
  assert.ok(audit.events.some((e) => e.action === 'privacy.decision_register.set' && e.target === 'model:loans-private'));

  const statement = await runCli(['privacy', 'statement', '--organisation', 'Acme Lending Pty Ltd'], env);
  assert.equal(statement.code, 0, statement.stderr);
  assert.match(statement.stdout, /^## Automated decisions\n\nAcme Lending Pty Ltd uses computer programs/);
  assert.match(statement.stdout, /### Kinds of personal information used by these computer programs\n\n- Financial information\n- Employment details\n- Income\n/);
  assert.match(statement.stdout, /### Kinds of decisions made solely by the operation of computer programs\n\n- Whether a personal loan application is approved \(purpose: assessing credit risk;/);

  const missing = await runCli(['privacy', 'register', 'show', 'nope'], env);
  assert.equal(missing.code, 4);
});

test('retention from the CLI: days, forever and default', async () => {
  const set = await runCli(['--json', 'retention', 'set', 'model', 'loans-private', '--predictions-days', '90', '--feedback-days', 'forever'], env);
  assert.equal(set.code, 0, set.stderr);
  assert.deepEqual((JSON.parse(set.stdout) as { settings: unknown }).settings, { predictions_days: 90, feedback_days: 0 });
  const shown = await runCli(['retention', 'show', 'dataset', 'applications'], env);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /records +default +kept forever/);
  const wrong = await runCli(['retention', 'set', 'dataset', 'applications', '--predictions-days', '3'], env);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /--predictions-days does not apply to a dataset/);
});

test('tarmac data export and erase find the subject by key and delete what is held', async () => {
  const answer = await t.call('POST', '/v1/models/loans-private/predict', { records: [features(record('C-9'))], subjects: ['C-9'] });
  assert.equal(answer.statusCode, 200, answer.body);
  assert.equal((await t.call('POST', '/v1/datasets/applications/records', { records: [record('C-9')] })).statusCode, 200);
  const exported = await runCli(['data', 'export', '--subject', 'C-9'], env);
  assert.equal(exported.code, 0, exported.stderr);
  const body = JSON.parse(exported.stdout) as { subject_hash: string; predictions: unknown[]; dataset_records: unknown[] };
  assert.equal(body.subject_hash, keyed('C-9'));
  assert.deepEqual([body.predictions.length, body.dataset_records.length], [1, 1]);
  const erased = await runCli(['data', 'erase', '--subject', 'C-9'], env);
  assert.equal(erased.code, 0, erased.stderr);
  assert.match(erased.stdout, /predictions 1, feedback 0, quarantine 0, dataset_rows 1/);
  const denied = await runCli(['data', 'erase', '--subject', 'C-9'], { ...env, TARMAC_API_KEY: 'tmk_nope' });
  assert.equal(denied.code, 3);
});
