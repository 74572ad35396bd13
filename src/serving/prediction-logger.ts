import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/logger.ts';
import type { PredictionRecord } from '../store/index.ts';
import type { PredictionSink } from './prediction-sink.ts';
import type { ServingMetrics } from './serving-metrics.ts';

/**
 * One answered request as the hot path hands it over. Inputs and outputs are thunks so the per-record JSON is built
 * at flush time, off the request's critical path.
 */
export interface PredictionBatch {
  model: string;
  version: number;
  variant: string;
  requestId: string;
  createdAt: number;
  latencyMs: number;
  ids: string[];
  inputs: () => unknown[];
  /** Each input's JSON text as the client sent it, when the edge kept it: stored as is, not serialised again. */
  inputsJson?: readonly string[];
  outputs: () => unknown[];
}

/** A flush writes at most this many of the logger's batches' worth of rows at a time (see flush). */
const FLUSH_SLICE_BATCHES = 8;

/**
 * The prediction log: a bounded in-memory buffer drained by batched writes. `enqueue` never waits; when the buffer
 * is full the batch is dropped and counted, so a slow store degrades the log, never the answers.
 */
export class PredictionLogger {
  private queue: PredictionBatch[] = [];
  private queuedRows = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  /** Whether an automatic drain (started by a full batch) is running: at most one at a time, see drain. */
  private draining = false;
  private closed = false;
  private readonly observers: ((rows: readonly PredictionRecord[]) => void)[] = [];

  constructor(
    private readonly deps: {
      sink: PredictionSink;
      metrics: ServingMetrics;
      clock: Clock;
      log: Logger;
      bufferSize: number;
      batchSize: number;
      flushIntervalMs: number;
      /**
       * Replaces personal information before rows reach the observers or the store (privacy by default); when it
       * rejects, the rows are dropped and counted rather than stored raw.
       */
      protect?: (rows: readonly PredictionRecord[]) => Promise<PredictionRecord[]>;
    },
  ) {
    deps.metrics.bufferedRows = () => this.queuedRows;
  }

  /** Accepts a batch if it fits in the buffer; returns false (and counts the drop) otherwise. Never throws. */
  enqueue(batch: PredictionBatch): boolean {
    if (this.closed || this.queuedRows + batch.ids.length > this.deps.bufferSize) {
      this.deps.metrics.logDropped.inc(batch.ids.length);
      return false;
    }
    this.queue.push(batch);
    this.queuedRows += batch.ids.length;
    if (this.queuedRows >= this.deps.batchSize) this.drain();
    else this.timer ??= setTimeout(() => void this.flush(), this.deps.flushIntervalMs);
    return true;
  }

  /**
   * Starts writing the buffer unless a drain is already running. A full batch arriving while a write is in flight
   * does not queue a flush of its own (under load that was one pending flush per request, each writing whatever had
   * trickled in when its turn came: many small writes); the running drain looks again when it is done and goes on
   * while a full batch is waiting, and leaves a smaller remainder to the timer.
   */
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    void this.flush().finally(() => {
      this.draining = false;
      if (this.closed || this.queuedRows === 0) return;
      if (this.queuedRows >= this.deps.batchSize) this.drain();
      else this.timer ??= setTimeout(() => void this.flush(), this.deps.flushIntervalMs);
    });
  }

  /** Hands every written batch of rows to `fn` too (the monitor), off the request path; `fn` must not block. */
  addObserver(fn: (rows: readonly PredictionRecord[]) => void): void {
    this.observers.push(fn);
  }

  /**
   * Writes everything buffered so far; resolves when it is in the store (feedback calls this before joining). The
   * buffer is written in slices of at most FLUSH_SLICE_BATCHES × batchSize rows, so when the store falls behind and
   * the buffer fills, one flush never turns the whole buffer into rows at once on the event loop (a stall of its
   * own, and every row alive at the same time); rows buffered after the call are left to the next flush.
   */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.flushing) await this.flushing;
    let owed = this.queuedRows;
    while (owed > 0 && this.queue.length > 0) {
      owed -= this.writeSlice();
      await this.flushing;
      while (this.flushing) await this.flushing;
    }
  }

  /**
   * Starts writing the next slice (this.flushing) and returns its row count. A function of its own so that no frame
   * that waits for the writer holds the slice's batches (see write).
   */
  private writeSlice(): number {
    const batches = this.takeSlice();
    let rows = 0;
    for (const b of batches) rows += b.ids.length;
    this.flushing = this.write(batches).finally(() => {
      this.flushing = undefined;
    });
    return rows;
  }

  /** Takes whole batches off the front of the buffer, up to a slice's rows (always at least one batch). */
  private takeSlice(): PredictionBatch[] {
    const limit = this.deps.batchSize * FLUSH_SLICE_BATCHES;
    let rows = 0;
    let k = 0;
    while (k < this.queue.length && (k === 0 || rows + this.queue[k]!.ids.length <= limit)) rows += this.queue[k++]!.ids.length;
    const taken = k === this.queue.length ? this.queue : this.queue.slice(0, k);
    this.queue = k === this.queue.length ? [] : this.queue.slice(k);
    this.queuedRows -= rows;
    return taken;
  }

  /** Flushes and stops accepting events. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    await this.deps.sink.close();
  }

  /**
   * Turns batches into rows, protects them, shows them to the observers and hands them to the sink. Nothing of the
   * rows stays reachable from here while the writer works: under load thousands of rows (each its parsed inputs,
   * outputs and the request's text) would otherwise survive every young-generation GC and be promoted, and GC took a
   * quarter of the event loop in the batched benchmark (it was under 4 % with the log switched off).
   */
  private async write(slice: PredictionBatch[]): Promise<void> {
    let rows = this.rowsOf(slice);
    slice.length = 0; // the slice is no longer in the buffer: its batches (and their thunks' data) can go
    if (this.deps.protect && rows.length > 0) {
      try {
        const given = rows;
        rows = await this.deps.protect(rows);
        // Protected inputs must never be stored as the client sent them.
        rows = rows.map((row, i) => (row.inputsJson !== undefined && row.inputs !== given[i]?.inputs ? withoutInputsJson(row) : row));
      } catch (err) {
        this.deps.log.error({ err, rows: rows.length }, 'could not protect personal information; prediction events dropped');
        this.deps.metrics.logDropped.inc(rows.length);
        return;
      }
    }
    for (const observe of this.observers) {
      try {
        observe(rows);
      } catch (err) {
        this.deps.log.error({ err }, 'a prediction observer failed');
      }
    }
    // A slice's chunks go out together, not one round trip at a time: the writer takes the chunks that reach it
    // together in one transaction, and it does not sit idle while the event loop, busy with requests, gets round to
    // the previous chunk's reply (it did, ~60 % of the time, when a backlog built up under batched load).
    // Returned, not awaited: this frame (and the rows) ends here, while the writer works.
    return this.post(rows);
  }

  /** Hands the rows to the sink in chunks sent together; resolves when every chunk is answered. */
  private post(rows: readonly PredictionRecord[]): Promise<void> {
    const writes: Promise<void>[] = [];
    for (let i = 0; i < rows.length; i += this.deps.batchSize) writes.push(this.writeChunk(rows.slice(i, i + this.deps.batchSize)));
    return Promise.all(writes).then(() => undefined);
  }

  /** One row per record of the batches; a batch whose thunks throw is dropped and counted. */
  private rowsOf(batches: readonly PredictionBatch[]): PredictionRecord[] {
    const rows: PredictionRecord[] = [];
    for (const batch of batches) {
      let inputs: unknown[];
      let outputs: unknown[];
      try {
        inputs = batch.inputs();
        outputs = batch.outputs();
      } catch (err) {
        this.deps.log.error({ err, model: batch.model }, 'could not serialise prediction events');
        this.deps.metrics.logDropped.inc(batch.ids.length);
        continue;
      }
      const texts = batch.inputsJson;
      for (let i = 0; i < batch.ids.length; i++) {
        const row: PredictionRecord = {
          id: batch.ids[i]!,
          model: batch.model,
          version: batch.version,
          variant: batch.variant,
          requestId: batch.requestId,
          createdAt: batch.createdAt,
          inputs: inputs[i],
          outputs: outputs[i],
          latencyMs: batch.latencyMs,
        };
        if (texts !== undefined) row.inputsJson = texts[i];
        rows.push(row);
      }
    }
    return rows;
  }

  /**
   * Hands one chunk to the sink (which packs it at once); what waits for the answer holds only its size. A sink that
   * throws instead of rejecting costs the chunk, never the flush.
   */
  private writeChunk(chunk: PredictionRecord[]): Promise<void> {
    const n = chunk.length;
    let written: Promise<void>;
    try {
      written = this.deps.sink.write(chunk);
    } catch (err) {
      written = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return written.then(
      () => this.deps.metrics.logWritten.inc(n),
      (err: unknown) => {
        this.deps.log.error({ err, rows: n }, 'prediction log write failed; events dropped');
        this.deps.metrics.logDropped.inc(n);
      },
    );
  }
}

/** The row without the client's JSON text of its inputs (they were changed, e.g. personal data protected). */
function withoutInputsJson(row: PredictionRecord): PredictionRecord {
  const { inputsJson: _dropped, ...rest } = row;
  return rest;
}
