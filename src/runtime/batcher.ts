import type { LoadedModel } from './onnx-engine.ts';
import { allocateData } from './element-types.ts';
import type { Signature, Tensor, TensorData } from './types.ts';

/** How requests for one version are coalesced. */
export interface BatchingOptions {
  enabled: boolean;
  /** Most rows in one coalesced run; a single larger request still runs, alone. */
  maxBatchSize: number;
  /**
   * How long the oldest queued request may wait for company. 0 is adaptive: a batch leaves as soon as a runner is
   * free, so batches grow only while the runtime is busy and an idle server adds no delay.
   */
  maxQueueDelayMs: number;
}

interface Waiting {
  feeds: Record<string, Tensor>;
  rows: number;
  enqueuedAt: number;
  resolve: (outputs: Record<string, Tensor>) => void;
  reject: (err: unknown) => void;
}

/**
 * True when requests for this signature can be stacked along dimension 0: every input and output has a dynamic
 * leading dimension (the batch), as skl2onnx and torch exports with a dynamic batch axis do.
 */
export function isBatchable(signature: Signature): boolean {
  return signature.inputs.length > 0
    && signature.inputs.every((s) => s.shape.length > 0 && s.shape[0] === null)
    && signature.outputs.every((s) => s.shape.length > 0 && s.shape[0] === null);
}

/**
 * An adaptive batcher in front of a loaded model (as Triton's dynamic batcher and BentoML's adaptive batching do):
 * concurrent requests are queued, stacked into one run of up to `maxBatchSize` rows whenever one of `capacity`
 * runners is free, and the outputs are split back per request. A failed batch is retried request by request, so one
 * request's failure never fails its neighbours.
 */
export class BatchingModel implements LoadedModel {
  readonly signature: Signature;
  readonly capacity: number;
  readonly placement: 'inline' | 'worker';
  private readonly queue: Waiting[] = [];
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly batchable: boolean;
  /** Rows per run, for metrics: the observer sees every dispatched batch. */
  onBatch: ((rows: number, requests: number) => void) | undefined;

  constructor(private readonly model: LoadedModel, private options: BatchingOptions) {
    this.signature = model.signature;
    this.capacity = model.capacity;
    this.placement = model.placement;
    this.batchable = isBatchable(model.signature);
  }

  /** Changes the batching options; queued requests follow the new ones. */
  configure(options: BatchingOptions): void {
    this.options = options;
    this.pump();
  }

  run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    if (!this.options.enabled || !this.batchable) return this.direct(feeds);
    const rows = rowsOf(this.signature, feeds);
    return new Promise((resolve, reject) => {
      this.queue.push({ feeds, rows, enqueuedAt: performance.now(), resolve, reject });
      this.pump();
    });
  }

  dispose(): Promise<void> {
    return this.model.dispose();
  }

  private async direct(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    this.inFlight++;
    try {
      return await this.model.run(feeds);
    } finally {
      this.inFlight--;
      this.pump();
    }
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inFlight < this.capacity) {
      const { maxBatchSize, maxQueueDelayMs } = this.options;
      if (maxQueueDelayMs > 0) {
        const queuedRows = this.queue.reduce((sum, w) => sum + w.rows, 0);
        const waited = performance.now() - this.queue[0]!.enqueuedAt;
        if (queuedRows < maxBatchSize && waited < maxQueueDelayMs) {
          this.timer ??= setTimeout(() => {
            this.timer = undefined;
            this.pump();
          }, maxQueueDelayMs - waited);
          return;
        }
      }
      const batch: Waiting[] = [this.queue.shift()!];
      let rows = batch[0]!.rows;
      while (this.queue.length > 0 && rows + this.queue[0]!.rows <= maxBatchSize) {
        const next = this.queue.shift()!;
        rows += next.rows;
        batch.push(next);
      }
      void this.dispatch(batch, rows);
    }
  }

  private async dispatch(batch: Waiting[], rows: number): Promise<void> {
    this.inFlight++;
    this.onBatch?.(rows, batch.length);
    try {
      if (batch.length === 1) {
        batch[0]!.resolve(await this.model.run(batch[0]!.feeds));
        return;
      }
      let outputs: Record<string, Tensor>;
      try {
        outputs = await this.model.run(stack(this.signature, batch.map((w) => w.feeds), rows));
      } catch {
        // Find the culprit: rerun each request alone, so only the request that fails gets the error.
        await Promise.all(batch.map(async (w) => {
          try {
            w.resolve(await this.model.run(w.feeds));
          } catch (err) {
            w.reject(err);
          }
        }));
        return;
      }
      let offset = 0;
      for (const w of batch) {
        w.resolve(slice(outputs, offset, w.rows, rows));
        offset += w.rows;
      }
    } catch (err) {
      for (const w of batch) w.reject(err);
    } finally {
      this.inFlight--;
      this.pump();
    }
  }
}

function rowsOf(signature: Signature, feeds: Record<string, Tensor>): number {
  return feeds[signature.inputs[0]!.name]?.dims[0] ?? 1;
}

/** Concatenates the requests' feeds along dimension 0. */
function stack(signature: Signature, all: Record<string, Tensor>[], rows: number): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const spec of signature.inputs) {
    const first = all[0]![spec.name]!;
    const total = all.reduce((sum, f) => sum + f[spec.name]!.data.length, 0);
    let data: TensorData;
    if (Array.isArray(first.data)) {
      data = ([] as string[]).concat(...all.map((f) => f[spec.name]!.data as string[]));
    } else {
      data = allocateData(spec.type, total);
      let at = 0;
      for (const f of all) {
        const part = f[spec.name]!.data as Float32Array;
        (data as Float32Array).set(part, at);
        at += part.length;
      }
    }
    out[spec.name] = { type: first.type, dims: [rows, ...first.dims.slice(1)], data };
  }
  return out;
}

/** The rows [offset, offset + count) of every output, as views (no copy). */
function slice(outputs: Record<string, Tensor>, offset: number, count: number, total: number): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(outputs)) {
    const width = t.data.length / total;
    const start = offset * width;
    const end = (offset + count) * width;
    const data = Array.isArray(t.data) ? t.data.slice(start, end) : (t.data as Float32Array).subarray(start, end);
    out[name] = { type: t.type, dims: [count, ...t.dims.slice(1)], data };
  }
  return out;
}
