import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import ort from 'onnxruntime-node';
import {
  buildDemoArtifacts,
  DEMO_PATHS,
  EMPLOYMENT_TYPES,
  labelOf,
  mulberry32,
  NUMERIC_FEATURES,
  parseCsv,
  predictProbability,
  rocAuc,
  sha256Hex,
} from '../scripts/make-demo-model.ts';
import type { LoanRow } from '../scripts/make-demo-model.ts';

const root = new URL('../', import.meta.url);
const readRepoFile = (path: string): Buffer => readFileSync(new URL(path, root));
const artifacts = buildDemoArtifacts();

test('mulberry32 is seeded and deterministic', () => {
  const a = mulberry32(42);
  const b = mulberry32(42);
  const first = Array.from({ length: 5 }, () => a());
  assert.deepEqual(Array.from({ length: 5 }, () => b()), first);
  assert.ok(first.every((x) => x >= 0 && x < 1));
  assert.notDeepEqual(Array.from({ length: 5 }, mulberry32(43)), first);
});

test('committed demo artefacts are byte-identical to a fresh in-memory regeneration', () => {
  for (const path of Object.values(DEMO_PATHS)) {
    const committed = readRepoFile(path);
    const generated = Buffer.from(artifacts.files[path]);
    assert.ok(committed.equals(generated), `${path} drifted from scripts/make-demo-model.ts; rerun npm run demo:model`);
  }
  // A second regeneration in the same process is identical too (no hidden state).
  const again = buildDemoArtifacts();
  for (const path of Object.values(DEMO_PATHS)) assert.ok(Buffer.from(again.files[path]).equals(Buffer.from(artifacts.files[path])));
});

test('dataset and metadata are consistent', () => {
  const rows = parseCsv(readRepoFile(DEMO_PATHS.csv).toString('utf8'));
  assert.deepEqual(rows, artifacts.rows, 'CSV round-trips to exactly the training rows');
  assert.equal(rows.length, 4000);
  const rate = rows.filter((r) => r.default === 1).length / rows.length;
  assert.ok(rate > 0.1 && rate < 0.15, `default rate ${rate}`);
  for (const cat of EMPLOYMENT_TYPES) assert.ok(rows.some((r) => r.employment_type === cat));

  const meta = JSON.parse(readRepoFile(DEMO_PATHS.metadata).toString('utf8'));
  assert.equal(meta.name, 'loan-default');
  assert.deepEqual(meta.features, [...NUMERIC_FEATURES, 'employment_type']);
  assert.deepEqual(meta.classLabels, [0, 1]);
  assert.equal(meta.lineage.trainingDataSha256, sha256Hex(readRepoFile(DEMO_PATHS.csv)));
  assert.equal(meta.onnxSha256, sha256Hex(readRepoFile(DEMO_PATHS.onnx)));
  assert.ok(readRepoFile(DEMO_PATHS.onnx).byteLength < 50 * 1024);

  const samples = JSON.parse(readRepoFile(DEMO_PATHS.samples).toString('utf8'));
  assert.equal(samples.records.length, 3);
  assert.ok(artifacts.sampleProbabilities.some((p) => p > 0.5), 'one sample record is a likely default');
  assert.ok(artifacts.sampleProbabilities.some((p) => p < 0.1), 'one sample record is low risk');
});

test('ONNX Runtime reproduces the TypeScript model on the validation rows', async () => {
  const session = await ort.InferenceSession.create(readRepoFile(DEMO_PATHS.onnx));
  assert.deepEqual(session.inputNames, [...NUMERIC_FEATURES, 'employment_type']);
  assert.deepEqual(session.outputNames, ['label', 'probabilities']);

  const rows = artifacts.split.validation.map((i) => artifacts.rows[i] as LoanRow);
  const n = rows.length;
  const feeds: Record<string, ort.Tensor> = {};
  for (const f of NUMERIC_FEATURES) feeds[f] = new ort.Tensor('float32', Float32Array.from(rows, (r) => r[f]), [n, 1]);
  feeds.employment_type = new ort.Tensor('string', rows.map((r) => r.employment_type), [n, 1]);
  const out = await session.run(feeds);

  const label = out.label as ort.Tensor;
  const probs = out.probabilities as ort.Tensor;
  assert.equal(label.type, 'int64');
  assert.deepEqual(label.dims, [n]);
  assert.equal(probs.type, 'float32');
  assert.deepEqual(probs.dims, [n, 2]);
  const labels = label.data as BigInt64Array;
  const p = probs.data as Float32Array;

  let maxErr = 0;
  const onnxP1: number[] = [];
  for (let i = 0; i < n; i++) {
    const expected = predictProbability(artifacts.model, rows[i] as LoanRow);
    assert.equal(expected, artifacts.validationProbabilities[i]);
    const p0 = p[2 * i] as number;
    const p1 = p[2 * i + 1] as number;
    maxErr = Math.max(maxErr, Math.abs(p1 - expected), Math.abs(p0 - (1 - expected)));
    assert.ok(Math.abs(p0 + p1 - 1) <= 1e-6, `row ${i}: probabilities sum to ${p0 + p1}`);
    assert.equal(Number(labels[i]), labelOf(expected), `row ${i}: label`);
    onnxP1.push(p1);
  }
  assert.ok(maxErr <= 1e-5, `max abs probability error ${maxErr}`);

  const auc = rocAuc(rows.map((r) => r.default), onnxP1);
  assert.ok(auc > 0.7, `validation AUC ${auc}`);
  assert.ok(Math.abs(auc - artifacts.metrics.auc) < 1e-3);
});

test('unknown employment types encode as all zeros instead of failing', async () => {
  const session = await ort.InferenceSession.create(readRepoFile(DEMO_PATHS.onnx));
  const record = { income: 50000, loan_amount: 12000, age: 35, credit_history_years: 8, debt_ratio: 0.3 };
  const feeds: Record<string, ort.Tensor> = {};
  for (const f of NUMERIC_FEATURES) feeds[f] = new ort.Tensor('float32', Float32Array.of(record[f]), [1, 1]);
  feeds.employment_type = new ort.Tensor('string', ['retired'], [1, 1]);
  const out = await session.run(feeds);
  const p = out.probabilities?.data as Float32Array;
  assert.ok(Math.abs((p[0] as number) + (p[1] as number) - 1) <= 1e-6);
  // The TypeScript model also one-hot encodes an unknown category as all zeros.
  const expected = predictProbability(artifacts.model, { ...record, employment_type: 'retired' as LoanRow['employment_type'] });
  assert.ok(Math.abs((p[1] as number) - expected) <= 1e-5);
});
