import type { InferenceEngine, LoadedModel } from './onnx-engine.ts';
import { allocateData } from './element-types.ts';
import type { Signature, Tensor } from './types.ts';

/** Options of the hybrid engine. */
export interface HybridEngineOptions {
  /** Where models run when they are cheap enough. */
  inline: InferenceEngine;
  /** Where heavier models run, off the event loop. */
  pool: InferenceEngine;
  /**
   * A model whose single-row run takes at most this many microseconds runs inline; anything slower runs in the pool.
   * 0 sends every model to the pool.
   */
  inlineMaxMicros: number;
}

const PROBES = 7;

/**
 * Places each model where it costs least: a model that answers a row in microseconds (a linear model, a small tree)
 * runs on the event loop's thread, batched, because a hop to a worker thread would cost more than the model; a model
 * that takes longer runs in worker threads, so it never holds the event loop. The choice is made at load, from the
 * median of a few timed single-row runs.
 */
export class HybridEngine implements InferenceEngine {
  constructor(private readonly options: HybridEngineOptions) {}

  async load(bytes: Uint8Array, signature: Signature): Promise<LoadedModel> {
    if (this.options.inlineMaxMicros <= 0) return this.options.pool.load(bytes, signature);
    const inline = await this.options.inline.load(bytes, signature);
    const micros = await medianRunMicros(inline, signature);
    if (micros <= this.options.inlineMaxMicros) return inline;
    await inline.dispose();
    return this.options.pool.load(bytes, signature);
  }

  async close(): Promise<void> {
    await Promise.all([this.options.inline.close(), this.options.pool.close()]);
  }
}

/** The median time of a few single-row runs of synthetic data (zeros, '' and false). */
async function medianRunMicros(model: LoadedModel, signature: Signature): Promise<number> {
  const feeds: Record<string, Tensor> = {};
  for (const spec of signature.inputs) {
    const dims = spec.shape.map((d) => d ?? 1);
    feeds[spec.name] = { type: spec.type, dims, data: allocateData(spec.type, dims.reduce((a, b) => a * b, 1)) };
  }
  const times: number[] = [];
  for (let i = 0; i < PROBES; i++) {
    const started = performance.now();
    await model.run(feeds);
    times.push((performance.now() - started) * 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(PROBES / 2)]!;
}
