import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { installDemo } from '../src/cli/demo.ts';
import { PG_URL, startTestTarmac, type TestTarmac } from './support.ts';

/**
 * The same Tarmac on PostgreSQL: register, deploy, predict, log (through the writer thread's own pool) and feedback,
 * in a database of its own that is dropped afterwards.
 */
const skip = PG_URL ? false : 'TARMAC_TEST_PG_URL not set';
const databaseName = `tarmac_e2e_${process.pid}_${Date.now()}`;
let t: TestTarmac | undefined;

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

before(async () => {
  if (skip) return;
  await admin(`CREATE DATABASE ${databaseName}`);
  const url = new URL(PG_URL!);
  url.pathname = `/${databaseName}`;
  t = await startTestTarmac({ TARMAC_DATABASE_URL: url.toString() });
  await installDemo(t.tarmac);
});

after(async () => {
  if (skip) return;
  await t?.close();
  await admin(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`);
});

test('register → deploy → predict → log → feedback on PostgreSQL', { skip }, async () => {
  assert.equal(t!.tarmac.database.dialect, 'postgres');
  const answer = await t!.call('POST', '/v1/models/loan-default/predict', {
    records: [{ income: 52000, loan_amount: 18000, age: 34, credit_history_years: 6, debt_ratio: 0.42, employment_type: 'salaried' }],
  });
  assert.equal(answer.statusCode, 200, answer.body);
  const id = (answer.json() as { predictions: { id: string }[] }).predictions[0]!.id;
  const feedback = await t!.call('POST', '/v1/models/loan-default/feedback', { items: [{ prediction_id: id, label: 0 }] });
  assert.deepEqual(feedback.json(), { accepted: 1, unknown_prediction_ids: [] });
  const models = (await t!.call('GET', '/v1/models')).json() as { models: { name: string; deployed_versions: number[] }[] };
  assert.deepEqual(models.models.map((m) => [m.name, m.deployed_versions]), [['loan-default', [1]]]);
  const audit = (await t!.call('GET', '/v1/audit')).json() as { events: unknown[] };
  assert.ok(audit.events.length >= 4);
});
