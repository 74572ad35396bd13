import type { Worker } from 'node:worker_threads';
import { TarmacError } from '../shared/errors.ts';
import { startWorker } from '../shared/workers.ts';
import type { InferenceEngine, LoadedModel, OnnxEngineOptions } from './onnx-engine.ts';
import type { Signature, Tensor } from './types.ts';
import type { WorkerReply, WorkerRequest } from './worker-protocol.ts';

/** A request before the thread numbers it (distributes over the union's members). */
type Unnumbered<T> = T extends unknown ? Omit<T, 'id'> : never;

type Pending = { resolve: (outputs: Record<string, Tensor> | undefined) => void; reject: (err: Error) => void };

/** One inference thread and the requests it has not answered yet. */
class InferenceThread {
  readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure: Error | undefined;
  /** False once the thread has exited, for whatever reason. */
  alive = true;

  constructor(readonly worker: Worker) {
    worker.on('message', (message: WorkerReply) => {
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.ok) waiter.resolve(message.outputs);
      else {
        const e = message.error;
        waiter.reject(new TarmacError(e.code, e.message, { details: e.details, issues: e.issues, retryable: e.retryable }));
      }
    });
    const fail = (err: Error) => {
      this.failure = new TarmacError('SERVING_INFERENCE_FAILED', `an inference thread stopped: ${err.message}`, { cause: err, retryable: true });
      for (const waiter of this.pending.values()) waiter.reject(this.failure);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      this.alive = false;
      fail(new Error(`exit code ${code}`));
    });
  }

  /** Requests not yet answered; the engine sends a run to the least busy thread. */
  get load(): number {
    return this.pending.size;
  }

  send(request: Unnumbered<WorkerRequest>): Promise<Record<string, Tensor> | undefined> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...request, id });
    });
  }
}

/** A model loaded in every inference thread; runs go to the least busy one. */
class PooledModel implements LoadedModel {
  private disposed = false;
  readonly placement = 'worker';

  constructor(readonly signature: Signature, private readonly key: number, private readonly threads: InferenceThread[]) {}

  get capacity(): number {
    return this.threads.length;
  }

  async run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    if (this.disposed) throw new TarmacError('SERVING_MODEL_NOT_READY', 'The model was unloaded.', { retryable: true });
    let target = this.threads[0]!;
    for (const thread of this.threads) if (thread.load < target.load) target = thread;
    return (await target.send({ type: 'run', key: this.key, feeds }))!;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await Promise.allSettled(this.threads.map((t) => t.send({ type: 'unload', key: this.key })));
  }
}

/** Options of the worker-thread engine. */
export interface WorkerPoolOptions extends OnnxEngineOptions {
  /** Inference threads; each holds a session of every loaded model. */
  threads: number;
}

/**
 * The InferenceEngine that runs ONNX Runtime in worker threads: `session.run` is synchronous in onnxruntime-node, so
 * running it here keeps the event loop free to parse, validate and answer requests while models compute.
 */
export class WorkerPoolEngine implements InferenceEngine {
  private readonly threads: InferenceThread[] = [];
  private nextKey = 1;

  constructor(private readonly options: WorkerPoolOptions) {}

  /** The threads start with the first model that needs them, so a server of cheap inline models has none. */
  private started(): InferenceThread[] {
    if (this.threads.length === 0) {
      const { threads, ...onnx } = this.options;
      for (let i = 0; i < Math.max(1, threads); i++) {
        this.threads.push(new InferenceThread(startWorker(new URL('./inference.worker.ts', import.meta.url), onnx, `tarmac-inference-${i}`)));
      }
    }
    return this.threads;
  }

  async load(bytes: Uint8Array, signature: Signature): Promise<LoadedModel> {
    const key = this.nextKey++;
    const threads = this.started();
    const results = await Promise.allSettled(threads.map((t) => t.send({ type: 'load', key, bytes, signature })));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await Promise.allSettled(threads.map((t) => t.send({ type: 'unload', key })));
      throw failed.reason;
    }
    return new PooledModel(signature, key, threads);
  }

  /**
   * Stops every inference thread after the runs already sent to it: terminating a thread inside ONNX Runtime would
   * abort the process. A thread that does not finish within `graceMs` is terminated anyway.
   */
  async close(graceMs = 30_000): Promise<void> {
    await Promise.all(this.threads.filter((t) => t.alive).map(async (t) => {
      const exited = new Promise<void>((resolve) => t.worker.once('exit', () => resolve()));
      const timer = setTimeout(() => void t.worker.terminate(), graceMs);
      try {
        await t.send({ type: 'shutdown' }).catch(() => undefined);
        await exited;
      } finally {
        clearTimeout(timer);
      }
    }));
  }
}
