import type { Worker } from 'node:worker_threads';
import { startWorker } from '../shared/workers.ts';
import type { PredictionRecord, PredictionStore } from '../store/index.ts';
import { SpareTextBuffers, encodePredictionRows, transferablesOf } from './prediction-rows-codec.ts';

/** Where the prediction log's batches go; `write` resolves once the rows are durable in the store. */
export interface PredictionSink {
  write(rows: PredictionRecord[]): Promise<void>;
  close(): Promise<void>;
}

/** Writes on the calling thread through the store (PostgreSQL's driver is asynchronous; in-memory SQLite for tests). */
export class StorePredictionSink implements PredictionSink {
  constructor(private readonly store: PredictionStore) {}

  write(rows: PredictionRecord[]): Promise<void> {
    return this.store.insertMany(rows);
  }

  async close(): Promise<void> {}
}

/** What the writer thread needs to open its own connection to the store. */
export interface WriterDatabase {
  url: string | undefined;
  dataDir: string;
}

/** A writer's answer to one batch; `spare` is the batch's texts buffer, given back for reuse. */
type WriterReply = ({ id: number; ok: true } | { id: number; ok: false; message: string }) & { spare?: ArrayBuffer };

/**
 * Writes in a worker thread with its own database connection, so SQLite's synchronous inserts never hold the event
 * loop that answers requests. Batches are acknowledged one by one; a failed write rejects its promise.
 */
export class WorkerPredictionSink implements PredictionSink {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  private nextId = 1;
  private failure: Error | undefined;
  private readonly textBuffers = new SpareTextBuffers();

  constructor(database: WriterDatabase) {
    this.worker = startWorker(new URL('./prediction-log.worker.ts', import.meta.url), database, 'tarmac-prediction-log');
    this.worker.on('message', (reply: WriterReply) => {
      if (reply.spare) this.textBuffers.give(reply.spare);
      const waiter = this.pending.get(reply.id);
      if (!waiter) return;
      this.pending.delete(reply.id);
      if (reply.ok) waiter.resolve();
      else waiter.reject(new Error(reply.message));
    });
    const fail = (err: Error) => {
      this.failure = err;
      for (const waiter of this.pending.values()) waiter.reject(err);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => {
      if (code !== 0) fail(new Error(`prediction log writer exited with code ${code}`));
    });
  }

  write(rows: PredictionRecord[]): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const encoded = encodePredictionRows(rows, this.textBuffers);
      this.worker.postMessage({ type: 'write', id, rows: encoded }, transferablesOf(encoded));
    });
  }

  async close(): Promise<void> {
    if (this.failure) return;
    await new Promise<void>((resolve) => {
      this.worker.once('exit', () => resolve());
      this.worker.postMessage({ type: 'close' });
    });
  }
}
