import * as ort from 'onnxruntime-node';
import { isTarmacError, TarmacError } from '../shared/errors.ts';
import { allocateData, ELEMENT_TYPES } from './element-types.ts';
import { prepareForServing } from './onnx-rewrite.ts';
import type { ElementType, Signature, Tensor, TensorData } from './types.ts';

/** A model ready to answer: run it on feeds keyed by input name; dispose it to free its native session. */
export interface LoadedModel {
  readonly signature: Signature;
  /** How many runs of this model can proceed at once (1 on the calling thread, one per inference thread otherwise). */
  readonly capacity: number;
  /** Where it runs: on the event loop's thread or in the worker pool. */
  readonly placement: 'inline' | 'worker';
  /** Runs one batch; throws SERVING_INPUT_INVALID for a missing feed, SERVING_INFERENCE_FAILED when the runtime fails. */
  run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  /** Frees the native resources; later runs throw SERVING_MODEL_NOT_READY. Safe to call twice. */
  dispose(): Promise<void>;
}

/** The port the serving path uses to turn model bytes into something that answers. */
export interface InferenceEngine {
  /** Loads and warms up a model; throws REGISTRY_INVALID_ONNX when the runtime cannot load or run it. */
  load(bytes: Uint8Array, signature: Signature): Promise<LoadedModel>;
  /** Releases the engine's threads; loaded models must be disposed first. */
  close(): Promise<void>;
}

/** Thread settings for ONNX Runtime sessions; unset means ONNX Runtime's defaults. */
export interface OnnxEngineOptions {
  intraOpThreads?: number;
  interOpThreads?: number;
}

const SERVED_TYPES: ReadonlySet<string> = new Set(ELEMENT_TYPES);

function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split('\n')[0] ?? '';
}

function toOrt(t: Tensor): ort.Tensor {
  // The union is sound at run time (allocateData pairs each type with its array); ort's overloads want one literal.
  return new ort.Tensor(t.type as 'float32', t.data as Float32Array, t.dims);
}

function fromOrt(name: string, t: ort.Tensor): Tensor {
  if (!SERVED_TYPES.has(t.type)) {
    throw new TarmacError('SERVING_INFERENCE_FAILED', `Output "${name}" has element type ${t.type}, which Tarmac cannot return.`);
  }
  // Copy so callers never hold views into buffers the runtime may reuse or free.
  const data = (t.data as TensorData).slice() as TensorData;
  return { type: t.type as ElementType, dims: Array.from(t.dims), data };
}

class OnnxLoadedModel implements LoadedModel {
  readonly signature: Signature;
  /** session.run holds the calling thread, so one run at a time. */
  readonly capacity = 1;
  readonly placement = 'inline';
  readonly #session: ort.InferenceSession;
  readonly #fetches: string[];
  #disposed = false;

  constructor(session: ort.InferenceSession, signature: Signature) {
    this.#session = session;
    this.signature = signature;
    this.#fetches = signature.outputs.map((o) => o.name);
  }

  /** Throws when the signature names inputs or outputs the prepared session does not have. */
  checkNames(): void {
    const inputs = new Set(this.#session.inputNames);
    const outputs = new Set(this.#session.outputNames);
    const missing = [
      ...this.signature.inputs.filter((i) => !inputs.has(i.name)).map((i) => `input "${i.name}"`),
      ...this.#fetches.filter((o) => !outputs.has(o)).map((o) => `output "${o}"`),
    ];
    if (missing.length) throw new Error(`the signature names ${missing.join(', ')}, which the model does not have`);
  }

  /** One synthetic row (zeros, '' and false; dynamic dims = 1) so load fails now rather than on the first request. */
  async warmUp(): Promise<void> {
    const feeds: Record<string, Tensor> = {};
    for (const spec of this.signature.inputs) {
      const dims = spec.shape.map((d) => d ?? 1);
      feeds[spec.name] = { type: spec.type, dims, data: allocateData(spec.type, dims.reduce((a, b) => a * b, 1)) };
    }
    await this.run(feeds);
  }

  async run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    if (this.#disposed) {
      throw new TarmacError('SERVING_MODEL_NOT_READY', 'The model was unloaded.', { retryable: true });
    }
    for (const spec of this.signature.inputs) {
      if (!feeds[spec.name]) {
        throw new TarmacError('SERVING_INPUT_INVALID', `The model input "${spec.name}" is missing.`, {
          issues: [{ field: '/inputs', rule: 'required', message: `model input "${spec.name}" is missing` }],
        });
      }
    }
    let results: ort.InferenceSession.ReturnType;
    try {
      // Converted inside the try: ort.Tensor's own checks (data length against dims) are runtime failures too.
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const spec of this.signature.inputs) ortFeeds[spec.name] = toOrt(feeds[spec.name]!);
      results = await this.#session.run(ortFeeds, this.#fetches);
    } catch (err) {
      throw new TarmacError('SERVING_INFERENCE_FAILED', `ONNX Runtime failed: ${firstLine(err)}`, { cause: err });
    }
    const out: Record<string, Tensor> = {};
    for (const name of this.#fetches) {
      const t = results[name];
      if (!t) throw new TarmacError('SERVING_INFERENCE_FAILED', `ONNX Runtime returned no output "${name}".`);
      out[name] = fromOrt(name, t);
    }
    return out;
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#session.release();
  }
}

/** The InferenceEngine backed by onnxruntime-node on the CPU, running on the calling thread. */
export class OnnxEngine implements InferenceEngine {
  readonly #options: ort.InferenceSession.SessionOptions;

  constructor(options: OnnxEngineOptions = {}) {
    this.#options = {
      graphOptimizationLevel: 'all',
      executionProviders: ['cpu'],
      ...(options.intraOpThreads !== undefined ? { intraOpNumThreads: options.intraOpThreads } : {}),
      ...(options.interOpThreads !== undefined ? { interOpNumThreads: options.interOpThreads } : {}),
    };
  }

  async load(bytes: Uint8Array, signature: Signature): Promise<LoadedModel> {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(prepareForServing(bytes), this.#options);
    } catch (err) {
      throw new TarmacError('REGISTRY_INVALID_ONNX', `ONNX Runtime cannot load the model: ${firstLine(err)}`, { cause: err });
    }
    const model = new OnnxLoadedModel(session, signature);
    try {
      model.checkNames();
      await model.warmUp();
    } catch (err) {
      await session.release().catch(() => undefined);
      const reason = isTarmacError(err) && err.cause !== undefined ? firstLine(err.cause) : firstLine(err);
      throw new TarmacError('REGISTRY_INVALID_ONNX', `The model loads but does not run on a synthetic row: ${reason}`, { cause: err });
    }
    return model;
  }

  async close(): Promise<void> {}
}
