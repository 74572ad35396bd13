import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import onnxProto from 'onnx-proto';
import { ReferenceAccumulator } from '../src/serving/reference-stats.ts';
import { registerViaApi, ROOT, startTestTarmac, type TestTarmac } from './support.ts';

/** Issue 4, serving edge: policy impute falls back from the contract's declared defaults to the version's reference medians and modes. */
const run = promisify(execFile);
let t: TestTarmac;
const good = { income: 52000, loan_amount: 18000, age: 34, credit_history_years: 6, debt_ratio: 0.42, employment_type: 'salaried' };
const demoBytes = () => new Uint8Array(readFileSync(path.join(ROOT, 'demo/loans-demo.onnx')));

/** The demo model under another doc string, so it can be registered again under a new content hash. */
function demoCopy(doc: string): Uint8Array {
  const model = onnxProto.onnx.ModelProto.decode(demoBytes());
  model.docString = doc;
  return onnxProto.onnx.ModelProto.encode(model).finish();
}

before(async () => {
  t = await startTestTarmac();
  const yaml = readFileSync(path.join(ROOT, 'src/contracts/fixtures/loans-demo.odcs.yaml'));
  const registered = await t.app.inject({ method: 'POST', url: '/v1/contracts', payload: yaml, headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/yaml' } });
  assert.equal(registered.statusCode, 201, registered.body);
});
after(async () => t.close());

test('reference medians: the lower median of a reservoir sample, exact for small inputs; modes by count', () => {
  const small = new ReferenceAccumulator();
  for (const row of [{ a: 3, b: 'x', c: true }, { a: 1, b: 'y', c: false }, { a: 2, b: 'x', c: true }, { a: 10, b: null, c: true }]) small.add(row);
  assert.deepEqual(small.result('s.csv'), { rows: 4, medians: { a: 2 }, modes: { b: 'x', c: true }, source: 's.csv' });

  // 200,001 values through a 1,000-value reservoir: the median of the sample is close to the true one (100,000).
  const big = new ReferenceAccumulator({ sampleSize: 1000, maxDistinct: 10 });
  for (let i = 0; i <= 200_000; i++) big.add({ n: (i * 7919) % 200_001, id: `id-${i}`, kind: i % 3 === 0 ? 'rare' : 'common' });
  const stats = big.result('big');
  assert.ok(Math.abs(stats.medians.n! - 100_000) < 10_000, String(stats.medians.n));
  assert.equal(stats.modes.kind, 'common', 'a heavy hitter survives the bounded counter');
  assert.equal(typeof stats.modes.id, 'string');
});

test('registration checks the reference: known features, the right types, a median or a mode', async () => {
  const cases: [unknown, string, string][] = [
    [{ rows: 10, medians: { default: 0 } }, '/reference/medians/default', 'feature'],
    [{ rows: 10, medians: { age: 40 }, modes: { age: 40 } }, '/reference/modes/age', 'one_of'],
    [{ rows: -1 }, '/reference/rows', 'minimum'],
    [{ rows: 1, medians: { age: 'forty' } }, '/reference/medians/age', 'type'],
  ];
  for (const [reference, field, rule] of cases) {
    const refused = await registerViaApi(t, 'loans-ref-bad', demoBytes(), { contract: 'loans-demo@1', reference });
    assert.equal(refused.statusCode, 400, refused.body);
    assert.deepEqual((refused.json() as { errors: { field: string; rule: string }[] }).errors.map((e) => `${e.field} ${e.rule}`), [`${field} ${rule}`]);
  }
});

test('impute: the declared default first, then the reference median or mode, flagged with its source; else refused', async () => {
  const reference = { rows: 5000, medians: { debt_ratio: 0.31, age: 40.5, income: 48000 }, modes: { employment_type: 'contractor' }, source: 'train.csv' };
  const registered = await registerViaApi(t, 'loans-ref', demoBytes(), { contract: 'loans-demo@1', reference });
  assert.equal(registered.statusCode, 201, registered.body);
  assert.deepEqual((registered.json() as { reference: unknown }).reference, reference);
  assert.deepEqual(((await t.call('GET', '/v1/models/loans-ref/versions/1')).json() as { reference: unknown }).reference, reference);
  const deployed = await t.call('PUT', '/v1/models/loans-ref/deployment', { version: 1, validation: { policy: 'impute' } });
  assert.equal(deployed.statusCode, 200, deployed.body);

  const answer = await t.call('POST', '/v1/models/loans-ref/predict', { records: [{ ...good, debt_ratio: 42, employment_type: 'pirate', income: -5 }, good] });
  assert.equal(answer.statusCode, 200, answer.body);
  const predictions = (answer.json() as { predictions: { id: string; imputed?: string[]; imputed_from?: Record<string, string>; probabilities: Record<string, number> }[] }).predictions;
  assert.deepEqual(predictions[0]!.imputed?.slice().sort(), ['debt_ratio', 'employment_type', 'income']);
  // employment_type declares tarmac.default (salaried), which wins over the reference mode.
  assert.deepEqual(predictions[0]!.imputed_from, { debt_ratio: 'median', employment_type: 'default', income: 'median' });
  assert.equal(predictions[1]!.imputed_from, undefined);
  const same = await t.call('POST', '/v1/models/loans-ref/predict', { records: [{ ...good, debt_ratio: 0.31, income: 48000 }] });
  assert.deepEqual((same.json() as { predictions: { probabilities: unknown }[] }).predictions[0]!.probabilities, predictions[0]!.probabilities, 'answered as the imputed values');

  await t.tarmac.predictionLogger.flush();
  const row = await t.tarmac.database.db.selectFrom('predictions').selectAll().where('id', '=', predictions[0]!.id).executeTakeFirstOrThrow();
  assert.equal((JSON.parse(row.inputs) as { debt_ratio: number }).debt_ratio, 42, 'the log keeps what was sent');
  assert.deepEqual((JSON.parse(row.outputs) as { imputed_from: unknown }).imputed_from, { debt_ratio: 'median', employment_type: 'default', income: 'median' });

  // The age median 40.5 breaks the integer type, so it is never imputed: a bad age is refused as before.
  const refused = await t.call('POST', '/v1/models/loans-ref/predict', { records: [good, { ...good, age: 7 }] });
  assert.equal(refused.statusCode, 400, refused.body);
  assert.deepEqual((refused.json() as { errors: { field: string; rule: string }[] }).errors.map((e) => `${e.field} ${e.rule}`), ['/records/1/age minimum']);
  const missing: Record<string, unknown> = { ...good };
  delete missing.loan_amount;
  const noReference = await t.call('POST', '/v1/models/loans-ref/predict', { records: [missing] });
  assert.equal(noReference.statusCode, 400, 'no default and no reference value for loan_amount');
});

test('tarmac models register --reference computes medians and modes of the model\'s features from a training file', { timeout: 120_000 }, async () => {
  const url = await t.tarmac.listen();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tarmac-reference-'));
  try {
    const onnxFile = path.join(dir, 'model.onnx');
    await writeFile(onnxFile, demoCopy('reference cli'));
    const train = path.join(dir, 'train.csv');
    await writeFile(train, [
      'income,loan_amount,age,credit_history_years,debt_ratio,employment_type,default',
      '30000,10000,30,2,0.2,salaried,0',
      '40000,20000,41,4,0.4,contractor,1',
      '50000,30000,52,6,0.6,contractor,0',
      '60000,,63,8,0.8,salaried,0',
      '70000,50000,74,10,1.0,contractor,1',
    ].join('\n'));
    const env = { ...process.env, TARMAC_URL: url, TARMAC_API_KEY: t.adminKey };
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', '--json', 'models', 'register', 'loans-cli', onnxFile, '--contract', 'loans-demo@1', '--reference', train], { cwd: ROOT, env });
    const version = JSON.parse(stdout) as { reference: { rows: number; medians: Record<string, number>; modes: Record<string, unknown>; source: string } };
    assert.deepEqual(version.reference, {
      rows: 5,
      medians: { income: 50000, loan_amount: 20000, age: 52, credit_history_years: 6, debt_ratio: 0.6 },
      modes: { employment_type: 'contractor' },
      source: 'train.csv',
    }, 'the label column is not a feature and is left out; loan_amount\'s lower median is over its 4 values');

    const bad = path.join(dir, 'bad.csv');
    await writeFile(bad, 'a,b\n1,2,3\n');
    const failed = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', 'models', 'register', 'loans-cli', onnxFile, '--reference', bad], { cwd: ROOT, env }).catch((err: { code: number; stderr: string }) => err);
    assert.equal((failed as { code: number }).code, 2);
    assert.match((failed as { stderr: string }).stderr, /--reference: .*line 2/);
    const versions = (await t.call('GET', '/v1/models/loans-cli')).json() as { versions: unknown[] };
    assert.equal(versions.versions.length, 1, 'a bad training file uploads nothing');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
