import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchingModel } from './batcher.ts';
import { HybridEngine } from './hybrid-engine.ts';
import { OnnxEngine } from './onnx-engine.ts';
import { parseOnnxModel } from './onnx-model.ts';
import { loadFixture } from './test-fixtures.ts';
import { WorkerPoolEngine } from './worker-pool-engine.ts';
import type { Tensor } from './types.ts';

const pool = new WorkerPoolEngine({ threads: 2, intraOpThreads: 1 });
after(() => pool.close());

const wine = loadFixture('wine_torch_mlp');
const signature = parseOnnxModel(wine.bytes).signature;
const rows = wine.sidecar.test.inputs as number[][];
const expected = wine.sidecar.test.expected.probabilities as number[][];

function feeds(indices: number[]): Record<string, Tensor> {
  return { features: { type: 'float32', dims: [indices.length, 13], data: Float32Array.from(indices.flatMap((i) => rows[i]!)) } };
}

function assertRows(outputs: Record<string, Tensor>, indices: number[]): void {
  const p = outputs.probabilities!;
  assert.deepEqual(p.dims, [indices.length, 3]);
  indices.forEach((i, k) => expected[i]!.forEach((v, j) => assert.ok(Math.abs((p.data as Float32Array)[k * 3 + j]! - v) <= 1e-5)));
}

test('the worker pool runs a real model in worker threads with the framework\'s outputs', async () => {
  const model = await pool.load(wine.bytes, signature);
  assert.equal(model.placement, 'worker');
  assert.equal(model.capacity, 2);
  const answers = await Promise.all(rows.map((_, i) => model.run(feeds([i]))));
  answers.forEach((a, i) => assertRows(a, [i]));
  await model.dispose();
  await assert.rejects(model.run(feeds([0])), (err: { code?: string }) => err.code === 'SERVING_MODEL_NOT_READY');
});

test('a model the runtime cannot load is refused by the pool with REGISTRY_INVALID_ONNX', async () => {
  const broken = wine.bytes.slice(0, 200);
  await assert.rejects(pool.load(broken, signature), (err: { code?: string }) => err.code === 'REGISTRY_INVALID_ONNX');
});

test('batched requests through the pool give each request its own rows', async () => {
  const model = new BatchingModel(await pool.load(wine.bytes, signature), { enabled: true, maxBatchSize: 16, maxQueueDelayMs: 0 });
  const requests = [[0], [1, 2, 3], [4], [5, 6], [7]];
  const answers = await Promise.all(requests.map((r) => model.run(feeds(r))));
  answers.forEach((a, k) => assertRows(a, requests[k]!));
  await model.dispose();
});

test('the hybrid engine keeps cheap models inline and sends slow ones to the pool', async () => {
  const inline = new OnnxEngine({ intraOpThreads: 1 });
  const cheap = await new HybridEngine({ inline, pool, inlineMaxMicros: 1_000_000 }).load(wine.bytes, signature);
  assert.equal(cheap.placement, 'inline');
  await cheap.dispose();
  const everythingToPool = await new HybridEngine({ inline, pool, inlineMaxMicros: 0 }).load(wine.bytes, signature);
  assert.equal(everythingToPool.placement, 'worker');
  await everythingToPool.dispose();
  const slow = await new HybridEngine({ inline, pool, inlineMaxMicros: 0.001 }).load(wine.bytes, signature);
  assert.equal(slow.placement, 'worker', 'no real model answers in a nanosecond');
  assertRows(await slow.run(feeds([0, 1])), [0, 1]);
  await slow.dispose();
});

test('closing the pool lets queued runs finish instead of aborting inside ONNX Runtime', async () => {
  const own = new WorkerPoolEngine({ threads: 1, intraOpThreads: 1 });
  const model = await own.load(wine.bytes, signature);
  const queued = Array.from({ length: 200 }, (_, i) => model.run(feeds([i % rows.length])));
  const closing = own.close();
  const answers = await Promise.all(queued);
  answers.forEach((a, i) => assertRows(a, [i % rows.length]));
  await closing;
  await assert.rejects(model.run(feeds([0])), (err: { code?: string }) => err.code === 'SERVING_INFERENCE_FAILED');
});
