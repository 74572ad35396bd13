import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { newTimeOrderedId } from '../src/shared/ids.ts';
import { createStores, type DatasetStore } from '../src/store/index.ts';
import { loadFixture, registerViaApi, ROOT, startTestTarmac, type TestTarmac } from './support.ts';

/** Issue 4, lineage: a version names the dataset batches it was trained on; lineage reads data → model → deployments. */
const run = promisify(execFile);
let t: TestTarmac;
let datasets: DatasetStore;
let batchA: string;
let batchB: string;
const sha = 'ab'.repeat(32);

before(async () => {
  t = await startTestTarmac();
  datasets = createStores(t.tarmac.database).datasets;
  const yaml = readFileSync(path.join(ROOT, 'src/contracts/fixtures/loans-demo.odcs.yaml'));
  const contract = await t.app.inject({ method: 'POST', url: '/v1/contracts', payload: yaml, headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/yaml' } });
  assert.equal(contract.statusCode, 201, contract.body);
  const dataset = await datasets.create({
    name: 'loan-applications', description: 'loans', contract: { name: 'loans-demo', version: 1 }, keyFields: [], eventTimeField: null,
    windowSeconds: 3600, allowedLatenessSeconds: 0, transforms: [], natsSubject: null, createdBy: 'test', createdAt: Date.parse('2025-01-02T03:04:05Z'),
  });
  batchA = newTimeOrderedId();
  batchB = newTimeOrderedId();
  await datasets.startBatch({ id: batchA, datasetId: dataset.id, source: 'file:loans-2024.csv', contentSha256: sha, contractVersion: 1, createdBy: 'test', startedAt: Date.parse('2025-01-02T03:04:05Z') });
  await datasets.finishBatch(batchA, 'completed', Date.parse('2025-01-02T03:05:00Z'));
  await datasets.startBatch({ id: batchB, datasetId: dataset.id, source: 'http', contentSha256: null, contractVersion: 1, createdBy: 'test', startedAt: Date.parse('2025-01-03T00:00:00Z') });
});
after(async () => t.close());

test('registration refuses an unknown batch id, naming it', async () => {
  const refused = await registerViaApi(t, 'loans-lineage', new Uint8Array(readFileSync(path.join(ROOT, 'demo/loans-demo.onnx'))), {
    lineage: { dataset_batches: [batchA, 'no-such-batch'] },
  });
  assert.equal(refused.statusCode, 404, refused.body);
  const problem = refused.json() as { code: string; batch: string; errors: { field: string; rule: string }[] };
  assert.equal(problem.code, 'DATASET_BATCH_NOT_FOUND');
  assert.equal(problem.batch, 'no-such-batch');
  assert.deepEqual(problem.errors.map((e) => `${e.field} ${e.rule}`), ['/lineage/dataset_batches/1 exists']);
  assert.equal((await t.call('GET', '/v1/models/loans-lineage')).statusCode, 404, 'nothing was registered');
});

test('lineage: the batches, the version and where it serves now (alias, variant weight, fallback use)', async () => {
  const v1 = await registerViaApi(t, 'loans-lineage', new Uint8Array(readFileSync(path.join(ROOT, 'demo/loans-demo.onnx'))), {
    contract: 'loans-demo@1',
    lineage: { dataset_batches: [batchA, batchB, batchA], code_ref: 'git:abc123', training_data: 's3://loans/2024.csv' },
  });
  assert.equal(v1.statusCode, 201, v1.body);
  assert.deepEqual((v1.json() as { lineage: { dataset_batches: string[] } }).lineage.dataset_batches, [batchA, batchB], 'ids are de-duplicated');
  const v2 = await registerViaApi(t, 'loans-lineage', loadFixture('loans_pipeline_multi_input').bytes, { lineage: { dataset_batches: [batchB] } });
  assert.equal(v2.statusCode, 201, v2.body);
  assert.equal((await t.call('PUT', '/v1/models/loans-lineage/aliases/champion', { version: 1 })).statusCode, 200);
  assert.equal((await t.call('PUT', '/v1/models/loans-lineage/deployment', { version: 'champion' })).statusCode, 200);

  const response = await t.call('GET', '/v1/models/loans-lineage/versions/champion/lineage');
  assert.equal(response.statusCode, 200, response.body);
  const lineage = response.json() as {
    model: string; version: number;
    data: { batches: Record<string, unknown>[]; training_data: string };
    version_info: { artifact_sha256: string; contract: string; code_ref: string };
    serving: { aliases: string[]; serves_as: unknown[]; fallback_for: unknown[]; deployment: { revision: number } };
  };
  assert.equal(lineage.version, 1);
  assert.deepEqual(lineage.data.batches[0], {
    id: batchA, dataset: 'loan-applications', source: 'file:loans-2024.csv', content_sha256: sha, status: 'completed',
    counts: lineage.data.batches[0]!.counts, contract: 'loans-demo@1', started_at: '2025-01-02T03:04:05.000Z', finished_at: '2025-01-02T03:05:00.000Z',
  });
  assert.deepEqual(Object.keys(lineage.data.batches[0]!.counts as object).sort(), ['accepted', 'duplicates', 'late', 'quarantined', 'read', 'tooLate']);
  assert.equal(lineage.data.batches[1]!.status, 'running');
  assert.equal(lineage.data.training_data, 's3://loans/2024.csv');
  assert.equal(lineage.version_info.contract, 'loans-demo@1');
  assert.equal(lineage.version_info.code_ref, 'git:abc123');
  assert.deepEqual(lineage.serving.aliases, ['champion']);
  assert.deepEqual(lineage.serving.serves_as, [{ variant: 'stable', weight: 100 }]);
  assert.deepEqual(lineage.serving.fallback_for, []);

  const v2Lineage = (await t.call('GET', '/v1/models/loans-lineage/versions/2/lineage')).json() as typeof lineage;
  assert.deepEqual(v2Lineage.serving.serves_as, []);
  assert.deepEqual(v2Lineage.data.batches.map((b) => b.id), [batchB]);

  const unknown = await t.call('GET', '/v1/models/loans-lineage/versions/9/lineage');
  assert.equal(unknown.statusCode, 404);
  assert.equal((unknown.json() as { code: string }).code, 'REGISTRY_VERSION_NOT_FOUND');
});

test('tarmac lineage prints the tree, and JSON with --json', { timeout: 120_000 }, async () => {
  const url = await t.tarmac.listen();
  const env = { ...process.env, TARMAC_URL: url, TARMAC_API_KEY: t.adminKey };
  const tree = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', 'lineage', 'loans-lineage', '1'], { cwd: ROOT, env });
  assert.match(tree.stdout, /^data\n/);
  assert.match(tree.stdout, new RegExp(`batch ${batchA}: dataset loan-applications, file:loans-2024\\.csv, sha256 abababababab…`));
  assert.match(tree.stdout, /└─► model loans-lineage version 1/);
  assert.match(tree.stdout, /contract loans-demo@1/);
  assert.match(tree.stdout, /aliases: champion/);
  assert.match(tree.stdout, /variant stable: 100% of traffic/);
  // Version 2 serving with version 1 as its fallback version: version 1's lineage says so.
  const deployed = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', 'deploy', 'loans-lineage', '2', '--validation', 'fallback', '--fallback-version', '1'], { cwd: ROOT, env });
  assert.match(deployed.stdout, /now serves version 2 .*contract violations answered by version 1/);
  const usage = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', 'deploy', 'loans-lineage', '2', '--fallback-version', '1'], { cwd: ROOT, env }).catch((err: { code: number; stderr: string }) => err);
  assert.equal((usage as { code: number }).code, 2);
  assert.match((usage as { stderr: string }).stderr, /--fallback-version needs --validation fallback/);
  const json = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', 'lineage', 'loans-lineage', 'champion', '--json'], { cwd: ROOT, env });
  const view = JSON.parse(json.stdout) as { version: number; serving: { serves_as: unknown[]; fallback_for: unknown[] } };
  assert.equal(view.version, 1);
  assert.deepEqual(view.serving.serves_as, []);
  assert.deepEqual(view.serving.fallback_for, [{ variant: 'stable', version: 2 }]);
  const fallbackTree = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', 'lineage', 'loans-lineage', '1'], { cwd: ROOT, env });
  assert.match(fallbackTree.stdout, /fallback version for variant stable \(version 2\)/);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tarmac-lineage-'));
  try {
    const file = path.join(dir, 'iris.onnx');
    await writeFile(file, loadFixture('iris_tree').bytes);
    const registered = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', '--json', 'models', 'register', 'iris-lineage', file, '--trained-on', batchA, '--trained-on', batchB], { cwd: ROOT, env });
    assert.deepEqual((JSON.parse(registered.stdout) as { lineage: { dataset_batches: string[] } }).lineage.dataset_batches, [batchA, batchB]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const missing = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', 'lineage', 'loans-lineage', '9'], { cwd: ROOT, env }).catch((err: { code: number; stderr: string }) => err);
  assert.equal((missing as { code: number }).code, 4);
});
