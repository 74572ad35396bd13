import { parentPort, workerData } from 'node:worker_threads';
import { isTarmacError } from '../shared/errors.ts';
import { OnnxEngine, type LoadedModel, type OnnxEngineOptions } from './onnx-engine.ts';
import type { WorkerReply, WorkerRequest } from './worker-protocol.ts';
import type { Tensor } from './types.ts';

// An inference worker thread: owns one ONNX Runtime session per loaded model, so session.run never holds the
// event loop that parses requests.
const { data } = workerData as { data: OnnxEngineOptions };
const engine = new OnnxEngine(data);
const models = new Map<number, LoadedModel>();
const port = parentPort!;

function reply(message: WorkerReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

function failure(id: number, err: unknown): WorkerReply {
  if (isTarmacError(err)) {
    return { id, ok: false, error: { code: err.code, message: err.message, details: err.details, issues: err.issues, retryable: err.retryable } };
  }
  return { id, ok: false, error: { code: 'SERVING_INFERENCE_FAILED', message: (err as Error)?.message ?? String(err), details: {}, issues: [], retryable: false } };
}

function transferablesOf(outputs: Record<string, Tensor>): ArrayBuffer[] {
  const buffers: ArrayBuffer[] = [];
  for (const t of Object.values(outputs)) {
    if (!Array.isArray(t.data) && t.data.buffer instanceof ArrayBuffer && t.data.byteOffset === 0 && t.data.byteLength === t.data.buffer.byteLength) {
      buffers.push(t.data.buffer);
    }
  }
  return buffers;
}

// One message at a time, in arrival order: a thread runs one model at a time (the pool counts it as one runner),
// and a shutdown waits behind every run sent before it.
let queue: Promise<void> = Promise.resolve();
port.on('message', (message: WorkerRequest) => {
  queue = queue.then(() => handle(message));
});

async function handle(message: WorkerRequest): Promise<void> {
  try {
    switch (message.type) {
      case 'load': {
        models.set(message.key, await engine.load(message.bytes, message.signature));
        reply({ id: message.id, ok: true });
        return;
      }
      case 'run': {
        const model = models.get(message.key);
        if (!model) throw new Error(`model ${message.key} is not loaded in this worker`);
        const outputs = await model.run(message.feeds);
        reply({ id: message.id, ok: true, outputs }, transferablesOf(outputs));
        return;
      }
      case 'shutdown': {
        // Messages are handled in order, so every run sent before this one has finished: release and leave.
        for (const model of models.values()) await model.dispose();
        models.clear();
        reply({ id: message.id, ok: true });
        port.close();
        return;
      }
      case 'unload': {
        const model = models.get(message.key);
        models.delete(message.key);
        await model?.dispose();
        reply({ id: message.id, ok: true });
        return;
      }
    }
  } catch (err) {
    reply(failure(message.id, err));
  }
}
