import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchingModel, isBatchable } from './batcher.ts';
import type { LoadedModel } from './onnx-engine.ts';
import type { Signature, Tensor } from './types.ts';

const signature: Signature = {
  inputs: [{ name: 'x', type: 'float32', shape: [null, 2] }, { name: 's', type: 'string', shape: [null, 1] }],
  outputs: [{ name: 'y', type: 'float32', shape: [null, 1], kind: 'tensor' }],
  layout: 'tensor',
  features: [],
  task: 'regression',
  predictionOutput: 'y',
};

/** A model that sums each row (and fails on a row whose string is "boom"), recording the batch sizes it saw. */
class SummingModel implements LoadedModel {
  readonly signature = signature;
  readonly placement = 'inline';
  batches: number[] = [];
  private gate: Promise<void> = Promise.resolve();
  private release: () => void = () => undefined;
  constructor(readonly capacity = 1) {}

  hold(): void {
    this.gate = new Promise((resolve) => {
      this.release = resolve;
    });
  }

  open(): void {
    this.release();
  }

  async run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    await this.gate;
    const x = feeds.x!;
    const s = feeds.s!.data as string[];
    const rows = x.dims[0]!;
    this.batches.push(rows);
    if (s.includes('boom')) throw new Error('boom');
    const y = new Float32Array(rows);
    for (let r = 0; r < rows; r++) y[r] = (x.data as Float32Array)[2 * r]! + (x.data as Float32Array)[2 * r + 1]!;
    return { y: { type: 'float32', dims: [rows, 1], data: y } };
  }

  async dispose(): Promise<void> {}
}

function request(values: number[][], tag = 'ok'): Record<string, Tensor> {
  return {
    x: { type: 'float32', dims: [values.length, 2], data: Float32Array.from(values.flat()) },
    s: { type: 'string', dims: [values.length, 1], data: values.map(() => tag) },
  };
}

const on = { enabled: true, maxBatchSize: 64, maxQueueDelayMs: 0 };

test('concurrent requests are stacked into one run and each gets its own rows back', async () => {
  const model = new SummingModel();
  const batcher = new BatchingModel(model, on);
  model.hold();
  const first = batcher.run(request([[1, 1]]));
  const rest = [batcher.run(request([[1, 2], [3, 4]])), batcher.run(request([[10, 10]])), batcher.run(request([[5, 5]]))];
  model.open();
  const answers = await Promise.all([first, ...rest]);
  assert.deepEqual(model.batches, [1, 4], 'the first runs alone; the three that queued behind it run as one batch');
  assert.deepEqual(answers.map((a) => Array.from(a.y!.data as Float32Array)), [[2], [3, 7], [20], [10]]);
  assert.deepEqual(answers[1]!.y!.dims, [2, 1]);
});

test('batches never exceed maxBatchSize rows, except a single larger request that runs alone', async () => {
  const model = new SummingModel();
  const batcher = new BatchingModel(model, { ...on, maxBatchSize: 3 });
  model.hold();
  const all = [batcher.run(request([[0, 0]])), batcher.run(request([[1, 1], [1, 1]])), batcher.run(request([[2, 2], [2, 2]])),
    batcher.run(request([[3, 3]])), batcher.run(request([[4, 4], [4, 4], [4, 4], [4, 4]]))];
  model.open();
  await Promise.all(all);
  // Arrival order is kept: 2 rows cannot join the next 2 (4 > 3), so it goes alone; then 2 + 1; then the 4 alone.
  assert.deepEqual(model.batches, [1, 2, 3, 4]);
});

test('one failing request does not fail the requests batched with it', async () => {
  const model = new SummingModel();
  const batcher = new BatchingModel(model, on);
  model.hold();
  const first = batcher.run(request([[1, 1]]));
  const good = batcher.run(request([[2, 2]]));
  const bad = batcher.run(request([[3, 3]], 'boom'));
  const alsoGood = batcher.run(request([[4, 4]]));
  model.open();
  await first;
  assert.deepEqual(Array.from((await good).y!.data as Float32Array), [4]);
  await assert.rejects(bad, /boom/);
  assert.deepEqual(Array.from((await alsoGood).y!.data as Float32Array), [8]);
});

test('with a queue delay, a lone request waits for company up to the delay', async () => {
  const model = new SummingModel();
  const batcher = new BatchingModel(model, { enabled: true, maxBatchSize: 8, maxQueueDelayMs: 30 });
  const a = batcher.run(request([[1, 1]]));
  await new Promise((r) => setTimeout(r, 5));
  const b = batcher.run(request([[2, 2]]));
  await Promise.all([a, b]);
  assert.deepEqual(model.batches, [2]);
});

test('disabled batching and unbatchable signatures run each request as it is', async () => {
  const model = new SummingModel(2);
  const batcher = new BatchingModel(model, { ...on, enabled: false });
  await Promise.all([batcher.run(request([[1, 1]])), batcher.run(request([[2, 2]]))]);
  assert.deepEqual(model.batches, [1, 1]);
  assert.equal(isBatchable({ ...signature, inputs: [{ name: 'x', type: 'float32', shape: [1, 2] }] }), false);
  assert.equal(isBatchable(signature), true);
});
