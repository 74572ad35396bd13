import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { installDemo } from '../src/cli/demo.ts';
import { ROOT, startTestTarmac, type TestTarmac } from './support.ts';

// A version's reference built from an ingested dataset batch: data → reference → monitoring, without a file.

let t: TestTarmac;
let batchId = '';

before(async () => {
  t = await startTestTarmac();
  await installDemo(t.tarmac);
  const yaml = readFileSync(path.join(ROOT, 'src/contracts/fixtures/loans-demo.odcs.yaml'));
  const contract = await t.app.inject({ method: 'POST', url: '/v1/contracts', payload: yaml, headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/yaml' } });
  assert.ok([200, 201].includes(contract.statusCode), contract.body);
  const dataset = await t.call('POST', '/v1/datasets', { name: 'loans', contract: 'loans-demo', key: [], transforms: [{ drop: ['default'] }] });
  assert.equal(dataset.statusCode, 201, dataset.body);
  const upload = await t.app.inject({
    method: 'POST', url: '/v1/datasets/loans/batches', payload: readFileSync(path.join(ROOT, 'demo/loans-demo.csv')),
    headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'text/csv' },
  });
  assert.equal(upload.statusCode, 201, upload.body);
  const batch = upload.json() as { id: string; counts: { accepted: number } };
  assert.ok(batch.counts.accepted > 3900, JSON.stringify(batch.counts));
  batchId = batch.id;
});

after(async () => {
  await t.close();
});

test('a reference from a dataset batch: its stored rows profiled, a sample scored for the outputs', async () => {
  const res = await t.call('POST', '/v1/models/loan-default/versions/1/reference-profile/from-batch', { batch_id: batchId });
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json() as { rows: number; columns: string[] };
  assert.ok(body.rows > 3900);
  assert.ok(body.columns.includes('income') && body.columns.includes('output.prediction'));
  const shown = (await t.call('GET', '/v1/models/loan-default/versions/1/reference-profile')).json() as { source: string };
  assert.equal(shown.source, `dataset:loans/batch:${batchId}`);
  const missing = await t.call('POST', '/v1/models/loan-default/versions/1/reference-profile/from-batch', { batch_id: 'nope' });
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json().code, 'DATASET_BATCH_NOT_FOUND');
  const noLabel = await t.call('POST', '/v1/models/loan-default/versions/1/reference-profile/from-batch', { batch_id: batchId, label: 'default' });
  assert.equal(noLabel.statusCode, 400, 'the label column was dropped by the dataset\'s transformations');
});
