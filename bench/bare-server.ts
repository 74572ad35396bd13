import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import { runChild, type StartedServer } from './child.ts';

// The baseline: a model behind a plain `node:http` server, with tensors built by hand. No auth, no validation, no
// logging, no metrics: what this machine's ONNX Runtime can do over HTTP, the ceiling Tarmac is compared to.

const LABEL = 'label';
const PROBABILITIES = 'probabilities';

/** Where the demo model lives; the same file Tarmac's `installDemo` registers. */
export const DEMO_MODEL = fileURLToPath(new URL('../demo/loans-demo.onnx', import.meta.url));

/** Options of startBareServer. */
export interface BareServerOptions {
  /** The ONNX file to serve (default: the demo model). */
  modelPath?: string;
  /**
   * For a model with one matrix input [N, k]: the record fields of its k columns, in order (default f0 … f{k-1}).
   * Models with one [N, 1] input per feature (the demo model) take each input's name as the field.
   */
  features?: readonly string[];
  /** ONNX Runtime intra-op threads; unset means the runtime default. Pass Tarmac's resolved value to match it. */
  intraOpThreads?: number;
}

type Row = Record<string, unknown>;
type Feeds = Record<string, ort.Tensor>;

/** How records become the model's feeds, decided once from the session's input metadata. */
type Layout =
  | { kind: 'matrix'; input: string; features: readonly string[] }
  | { kind: 'columns'; columns: { name: string; type: 'float32' | 'float64' | 'string' }[] };

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function layoutOf(session: ort.InferenceSession, features: readonly string[] | undefined, modelPath: string): Layout {
  const inputs = session.inputMetadata;
  const fail = (why: string): never => {
    throw new Error(`bare server: ${modelPath}: ${why} (inputs ${JSON.stringify(inputs)})`);
  };
  const only = inputs.length === 1 ? inputs[0] : undefined;
  if (only?.isTensor && only.type === 'float32' && only.shape.length === 2 && typeof only.shape[1] === 'number'
    && (only.shape[1] > 1 || features !== undefined)) {
    const k = only.shape[1];
    const names = features ?? Array.from({ length: k }, (_, i) => `f${i}`);
    if (names.length !== k) fail(`input "${only.name}" has ${k} columns but ${names.length} feature names were given`);
    return { kind: 'matrix', input: only.name, features: names };
  }
  const columns = inputs.map((meta) => {
    if (!meta.isTensor || (meta.type !== 'float32' && meta.type !== 'float64' && meta.type !== 'string')) {
      return fail(`input "${meta.name}" is not a float32, float64 or string tensor`);
    }
    return { name: meta.name, type: meta.type };
  });
  return { kind: 'columns', columns };
}

function feedsOf(layout: Layout, records: Row[]): Feeds {
  const n = records.length;
  if (layout.kind === 'matrix') {
    const k = layout.features.length;
    const data = new Float32Array(n * k);
    for (let i = 0; i < n; i++) {
      const record = records[i]!;
      for (let j = 0; j < k; j++) data[i * k + j] = record[layout.features[j]!] as number;
    }
    return { [layout.input]: new ort.Tensor('float32', data, [n, k]) };
  }
  const feeds: Feeds = {};
  for (const { name, type } of layout.columns) {
    if (type === 'string') {
      const data = new Array<string>(n);
      for (let i = 0; i < n; i++) data[i] = records[i]![name] as string;
      feeds[name] = new ort.Tensor('string', data, [n, 1]);
    } else {
      const data = type === 'float32' ? new Float32Array(n) : new Float64Array(n);
      for (let i = 0; i < n; i++) data[i] = records[i]![name] as number;
      feeds[name] = new ort.Tensor(type, data, [n, 1]);
    }
  }
  return feeds;
}

async function predict(session: ort.InferenceSession, layout: Layout, records: Row[]): Promise<string> {
  const n = records.length;
  const out = await session.run(feedsOf(layout, records));
  const probs = out[PROBABILITIES]!.data as Float32Array;
  const classes = probs.length / Math.max(n, 1);
  const labels = out[LABEL]?.data as BigInt64Array | undefined;
  const predictions = new Array<{ label: number; probabilities: Record<string, number> }>(n);
  for (let i = 0; i < n; i++) {
    const probabilities: Record<string, number> = {};
    let best = 0;
    for (let j = 0; j < classes; j++) {
      const p = probs[i * classes + j]!;
      probabilities[j] = p;
      if (p > probs[i * classes + best]!) best = j;
    }
    predictions[i] = { label: labels ? Number(labels[i]) : best, probabilities };
  }
  return JSON.stringify({ predictions });
}

/**
 * Loads the model with Tarmac's session options and listens on 127.0.0.1 (a free port); throws when the model's
 * inputs cannot be built from records or it has no `probabilities` output.
 */
export async function startBareServer(options: BareServerOptions = {}): Promise<StartedServer> {
  const modelPath = options.modelPath ?? DEMO_MODEL;
  // The same options as src/runtime/onnx-engine.ts (OnnxEngine).
  const session = await ort.InferenceSession.create(modelPath, {
    graphOptimizationLevel: 'all',
    executionProviders: ['cpu'],
    ...(options.intraOpThreads !== undefined ? { intraOpNumThreads: options.intraOpThreads } : {}),
  });
  let layout: Layout;
  try {
    layout = layoutOf(session, options.features, modelPath);
    if (!session.outputNames.includes(PROBABILITIES)) {
      throw new Error(`bare server: ${modelPath} has outputs [${session.outputNames.join(', ')}], without "${PROBABILITIES}"`);
    }
  } catch (err) {
    await session.release();
    throw err;
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    readBody(req)
      .then((text) => predict(session, layout, (JSON.parse(text) as { records: Row[] }).records))
      .then((json) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
        res.end(json);
      }, (err: unknown) => {
        // Any failure shows up as a non-2xx in the benchmark, which then fails.
        const json = JSON.stringify({ error: String(err instanceof Error ? err.message : err) });
        res.writeHead(500, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
        res.end(json);
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    info: {
      url: `http://127.0.0.1:${port}`,
      path: '/predict',
      headers: {},
      facts: {
        onnxruntime: ort.env.versions.node ?? ort.env.versions.common ?? 'unknown',
        model: modelPath,
        layout: layout.kind,
        intraOpThreads: options.intraOpThreads === undefined ? 'runtime default' : String(options.intraOpThreads),
      },
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await session.release();
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // BENCH_MODEL_PATH and BENCH_FEATURES (comma-separated) pick another model; the default is the demo model.
  const threads = process.env.BENCH_INTRA_OP_THREADS;
  const features = process.env.BENCH_FEATURES;
  await runChild(() => startBareServer({
    modelPath: process.env.BENCH_MODEL_PATH || undefined,
    features: features ? features.split(',') : undefined,
    intraOpThreads: threads ? Number(threads) : undefined,
  }));
}
