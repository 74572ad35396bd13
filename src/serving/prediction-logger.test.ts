import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { FakeClock } from '../shared/clock.ts';
import { createLogger } from '../shared/logger.ts';
import { KyselyPredictionStore, migrateToLatest, openDatabase, type PredictionRecord } from '../store/index.ts';
import { PredictionLogger, type PredictionBatch } from './prediction-logger.ts';
import { WorkerPredictionSink, type PredictionSink } from './prediction-sink.ts';
import { ServingMetrics } from './serving-metrics.ts';

const log = createLogger({ level: 'silent' });

function batch(n: number, model = 'm'): PredictionBatch {
  const ids = Array.from({ length: n }, (_, i) => `${model}-${Math.random().toString(36).slice(2)}-${i}`);
  return {
    model, version: 1, variant: 'stable', requestId: 'r', createdAt: 1, latencyMs: 0.5, ids,
    inputs: () => ids.map((_, i) => ({ x: i })),
    outputs: () => ids.map((_, i) => ({ prediction: i })),
  };
}

class MemorySink implements PredictionSink {
  rows: PredictionRecord[] = [];
  fail = false;
  async write(rows: PredictionRecord[]): Promise<void> {
    if (this.fail) throw new Error('disk full');
    this.rows.push(...rows);
  }
  async close(): Promise<void> {}
}

async function dropped(metrics: ServingMetrics): Promise<number> {
  return (await metrics.logDropped.get()).values[0]?.value ?? 0;
}

test('batches are written on flush, with one row per record', async () => {
  const sink = new MemorySink();
  const metrics = new ServingMetrics(new Registry());
  const logger = new PredictionLogger({ sink, metrics, clock: new FakeClock(), log, bufferSize: 100, batchSize: 50, flushIntervalMs: 10_000 });
  assert.equal(logger.enqueue(batch(3)), true);
  assert.equal(sink.rows.length, 0, 'nothing is written on the request path');
  await logger.flush();
  assert.equal(sink.rows.length, 3);
  assert.deepEqual(sink.rows[2]!.inputs, { x: 2 });
  assert.deepEqual(sink.rows[2]!.outputs, { prediction: 2 });
  await logger.close();
});

test('a full buffer drops and counts instead of blocking', async () => {
  const sink = new MemorySink();
  const metrics = new ServingMetrics(new Registry());
  const logger = new PredictionLogger({ sink, metrics, clock: new FakeClock(), log, bufferSize: 10, batchSize: 1000, flushIntervalMs: 10_000 });
  assert.equal(logger.enqueue(batch(8)), true);
  assert.equal(logger.enqueue(batch(5)), false);
  assert.equal(await dropped(metrics), 5);
  await logger.close();
  assert.equal(sink.rows.length, 8);
});

test('a backed-up buffer is written in bounded slices, and flush waits for what was buffered when it was called', async () => {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const sink = new (class extends MemorySink {
    override async write(rows: PredictionRecord[]): Promise<void> {
      await gate;
      await super.write(rows);
    }
  })();
  const metrics = new ServingMetrics(new Registry());
  const logger = new PredictionLogger({ sink, metrics, clock: new FakeClock(), log, bufferSize: 10_000, batchSize: 10, flushIntervalMs: 10_000 });
  const slices: number[] = [];
  logger.addObserver((rows) => slices.push(rows.length));
  for (let i = 0; i < 30; i++) assert.equal(logger.enqueue(batch(10)), true);
  const flushed = logger.flush();
  open();
  await flushed;
  assert.equal(sink.rows.length, 300, 'everything buffered before the call is stored when flush resolves');
  assert.ok(Math.max(...slices) <= 80, `no slice above 8 batches of rows: ${slices.join(', ')}`);
  assert.equal(slices.reduce((a, b) => a + b, 0), 300);
  assert.equal(new Set(sink.rows.map((r) => r.id)).size, 300, 'no row written twice');
  await logger.close();
});

test('full batches arriving during a write join the running drain; a smaller remainder waits for the timer', async () => {
  const gates: (() => void)[] = [];
  const sink = new (class extends MemorySink {
    writes: number[] = [];
    override async write(rows: PredictionRecord[]): Promise<void> {
      this.writes.push(rows.length);
      await new Promise<void>((resolve) => gates.push(resolve));
      await super.write(rows);
    }
  })();
  const metrics = new ServingMetrics(new Registry());
  const logger = new PredictionLogger({ sink, metrics, clock: new FakeClock(), log, bufferSize: 10_000, batchSize: 10, flushIntervalMs: 60_000 });
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  const release = async () => {
    while (gates.length > 0) {
      gates.shift()!();
      await settle();
    }
  };
  for (let i = 0; i < 10; i++) logger.enqueue(batch(1));
  await settle();
  assert.deepEqual(sink.writes, [10], 'a full batch starts a write');
  for (let i = 0; i < 25; i++) logger.enqueue(batch(1));
  gates.shift()!();
  await settle();
  assert.deepEqual(sink.writes, [10, 10, 10, 5], 'the drain goes on with what piled up during its write, in batch-sized writes sent together');
  for (let i = 0; i < 3; i++) logger.enqueue(batch(1));
  await release();
  await settle();
  assert.deepEqual(sink.writes, [10, 10, 10, 5], 'three rows are not a batch: no write of their own before the timer');
  const closing = logger.close();
  await release();
  await closing;
  assert.deepEqual(sink.writes, [10, 10, 10, 5, 3]);
  assert.equal(sink.rows.length, 38);
});

test('while the writer works, nothing of the rows it was handed stays reachable from the logger', async () => {
  const v8 = await import('node:v8');
  const vm = await import('node:vm');
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let handed = 0;
  // Like the worker sink: takes what it needs at once and keeps nothing of the rows while the write is pending.
  const sink: PredictionSink = { write: (rows) => ((handed += rows.length), gate), close: async () => {} };
  const metrics = new ServingMetrics(new Registry());
  const logger = new PredictionLogger({ sink, metrics, clock: new FakeClock(), log, bufferSize: 10_000, batchSize: 4, flushIntervalMs: 60_000 });
  const refs: WeakRef<object>[] = [];
  const enqueue = () => {
    const inputs = [{ x: 1 }, { x: 2 }, { x: 3 }, { x: 4 }];
    const outputs = inputs.map((_, i) => ({ prediction: i }));
    refs.push(new WeakRef(inputs[0]!), new WeakRef(outputs[3]!));
    logger.enqueue({ ...batch(4), inputs: () => inputs, outputs: () => outputs });
  };
  enqueue();
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  await settle();
  assert.equal(handed, 4, 'the rows were handed to the sink and its write is pending');
  gc();
  await settle();
  gc();
  assert.deepEqual(refs.map((r) => r.deref() === undefined), [true, true], 'inputs and outputs were collected while the write waits');
  open();
  await logger.close();
});

test('a sink that throws instead of rejecting loses that chunk only, and the logger keeps going', async () => {
  let calls = 0;
  const stored: PredictionRecord[] = [];
  const sink: PredictionSink = {
    write: (rows) => {
      if (++calls === 1) throw new Error('cannot pack');
      stored.push(...rows);
      return Promise.resolve();
    },
    close: async () => {},
  };
  const metrics = new ServingMetrics(new Registry());
  const logger = new PredictionLogger({ sink, metrics, clock: new FakeClock(), log, bufferSize: 100, batchSize: 2, flushIntervalMs: 60_000 });
  logger.enqueue(batch(4));
  await logger.flush();
  assert.equal(await dropped(metrics), 2, 'the first chunk is dropped and counted');
  assert.equal(stored.length, 2, 'the second chunk of the same flush is stored');
  logger.enqueue(batch(1));
  await logger.close();
  assert.equal(stored.length, 3);
});

test('a failed write is counted as dropped and the logger keeps going', async () => {
  const sink = new MemorySink();
  const metrics = new ServingMetrics(new Registry());
  const logger = new PredictionLogger({ sink, metrics, clock: new FakeClock(), log, bufferSize: 100, batchSize: 1000, flushIntervalMs: 10_000 });
  sink.fail = true;
  logger.enqueue(batch(4));
  await logger.flush();
  assert.equal(await dropped(metrics), 4);
  sink.fail = false;
  logger.enqueue(batch(2));
  await logger.flush();
  assert.equal(sink.rows.length, 2);
  await logger.close();
});

test('the worker-thread writer stores rows through its own SQLite connection', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tarmac-log-'));
  const database = await openDatabase({ dataDir: dir });
  try {
    await migrateToLatest(database);
    const sink = new WorkerPredictionSink({ url: undefined, dataDir: dir });
    const metrics = new ServingMetrics(new Registry());
    const logger = new PredictionLogger({ sink, metrics, clock: new FakeClock(), log, bufferSize: 10_000, batchSize: 100, flushIntervalMs: 5 });
    for (let i = 0; i < 20; i++) logger.enqueue(batch(25));
    await logger.flush();
    const store = new KyselyPredictionStore(database);
    assert.equal(await store.count(), 500);
    await logger.close();
  } finally {
    await database.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('the writer thread writes batches that arrive together in one go, and a bad batch fails alone', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tarmac-writer-'));
  const database = await openDatabase({ dataDir: dir });
  try {
    await migrateToLatest(database);
    const sink = new WorkerPredictionSink({ url: undefined, dataDir: dir });
    const row = (id: string, i: number, requestId: unknown = 'r'): PredictionRecord => ({
      id, model: 'm', version: 1, variant: 'stable', requestId: requestId as string, createdAt: i, inputs: { x: i }, outputs: { prediction: i }, latencyMs: 1,
    });
    // Sent without waiting, so they reach the thread together; the third holds a value SQLite cannot bind.
    const results = await Promise.allSettled([
      sink.write([row('a1', 1), row('a2', 2)]),
      sink.write([row('b1', 3)]),
      sink.write([row('c1', 4), row('c2', 5, { not: 'bindable' })]),
      sink.write([row('d1', 6)]),
    ]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    const store = new KyselyPredictionStore(database);
    assert.equal(await store.count(), 4, 'every good batch is stored, nothing of the bad one');
    assert.equal(await store.get('c1'), undefined);
    await sink.close();
  } finally {
    await database.close();
    await rm(dir, { recursive: true, force: true });
  }
});
