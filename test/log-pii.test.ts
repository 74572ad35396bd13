import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createLogger } from '../src/shared/logger.ts';
import { features, installPrivateModel, PII_KEY, record } from './privacy-support.ts';
import { startTestTarmac, type TestTarmac } from './support.ts';

// Redaction of personal data: a real run at trace level that predicts for people (PII inputs and subject keys),
// ingests their records (some quarantined, some refused), sends feedback, exports and erases a subject, and fails on
// purpose along the way; no personal value may appear in any log line.

const lines: string[] = [];
let t: TestTarmac;

// Values distinctive enough that a match can only be a leak.
const people = ['CUST-7f3a91', 'CUST-b2c4d8', 'CUST-e9a0f1'];
const income = 61_337.25;
const pii = [...people, ...people.map((p) => `${p.toLowerCase()}@example.com`), String(income), '-7777.5'];

before(async () => {
  t = await startTestTarmac({ TARMAC_PII_HASH_KEY: PII_KEY, TARMAC_LOG_LEVEL: 'trace', TARMAC_MONITOR_WINDOW_SECONDS: '60' }, {
    log: createLogger({ level: 'trace', destination: { write: (line: string) => { lines.push(line); } } }),
  });
  await installPrivateModel(t);
});

after(async () => t.close());

test('no PII value of a contract reaches any log line', async () => {
  const records = people.map((p) => record(p, { income }));
  const predicted = await t.call('POST', '/v1/models/loans-private/predict', { records: records.map(features), subjects: people });
  assert.equal(predicted.statusCode, 200, predicted.body);
  // Refused at the serving edge: the bad value is personal (income is PII in the contract).
  const refused = await t.call('POST', '/v1/models/loans-private/predict', { records: [features(record(people[0]!, { income: -7777.5 }))], subjects: [people[0]] });
  assert.ok(refused.statusCode >= 400 && refused.statusCode < 500, refused.body);
  const ids = (predicted.json() as { predictions: { id: string }[] }).predictions.map((p) => p.id);
  assert.equal((await t.call('POST', '/v1/models/loans-private/feedback', { items: ids.map((id) => ({ prediction_id: id, label: 1 })) })).statusCode, 200);
  const ingested = await t.call('POST', '/v1/datasets/applications/records', {
    records: [record(people[0]!, { income }), record(people[1]!, { income: -7777.5 }), record(people[2]!, { email: 42 })],
  });
  assert.equal(ingested.statusCode, 200, ingested.body);
  assert.equal((await t.call('GET', `/v1/privacy/export?subject=${people[1]}`)).statusCode, 200);
  assert.equal((await t.call('POST', '/v1/privacy/erase', { subject: people[2] })).statusCode, 200);
  // A refused access whose query carries a subject key (audited and logged by path only).
  assert.equal((await t.call('GET', `/v1/privacy/export?subject=${people[0]}`, undefined, 'tmk_AAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB')).statusCode, 401);
  // A body that is not JSON, carrying personal values: refused, and the parser's complaint is logged without them.
  const broken = await t.app.inject({
    method: 'POST', url: '/v1/models/loans-private/predict', payload: `{"records":[{"email":"${people[0]!.toLowerCase()}@example.com","income":${income}`,
    headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/json' },
  });
  assert.equal(broken.statusCode, 400, broken.body);
  await t.tarmac.predictionLogger.flush();
  await t.tarmac.monitor.settle();

  assert.ok(lines.length > 0, `captured ${lines.length} lines`);
  if (process.env.LOG_PII_VERBOSE) console.log(lines.join(""));
  for (const line of lines) {
    for (const value of pii) assert.ok(!line.includes(value), `a log line carries a personal value (${value}): ${line.slice(0, 400)}`);
  }
});
