import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import { runChild, type StartedServer } from './child.ts';

// The baseline: the demo model behind a plain `node:http` server, with tensors built by hand. No auth, no validation,
// no logging, no metrics: what this machine's ONNX Runtime can do over HTTP, the ceiling Tarmac is compared to.

/** The demo model's numeric inputs, each float32 [N, 1]. */
const NUMERIC = ['income', 'loan_amount', 'age', 'credit_history_years', 'debt_ratio'] as const;
/** The demo model's categorical input, string [N, 1]. */
const CATEGORICAL = 'employment_type';
const LABEL = 'label';
const PROBABILITIES = 'probabilities';

/** Where the demo model lives; the same file Tarmac's `installDemo` registers. */
export const DEMO_MODEL = fileURLToPath(new URL('../demo/loans-demo.onnx', import.meta.url));

/** Options of startBareServer. */
export interface BareServerOptions {
  modelPath?: string;
  /** ONNX Runtime intra-op threads; unset means the runtime default (as Tarmac with TARMAC_INTRA_OP_THREADS=0). */
  intraOpThreads?: number;
}

type Row = Record<string, unknown>;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function predict(session: ort.InferenceSession, records: Row[]): Promise<string> {
  const n = records.length;
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of NUMERIC) {
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = records[i]![name] as number;
    feeds[name] = new ort.Tensor('float32', data, [n, 1]);
  }
  const categories = new Array<string>(n);
  for (let i = 0; i < n; i++) categories[i] = records[i]![CATEGORICAL] as string;
  feeds[CATEGORICAL] = new ort.Tensor('string', categories, [n, 1]);

  const out = await session.run(feeds);
  const labels = out[LABEL]!.data as BigInt64Array;
  const probs = out[PROBABILITIES]!.data as Float32Array;
  const predictions = new Array<{ label: number; probabilities: Record<string, number> }>(n);
  for (let i = 0; i < n; i++) {
    predictions[i] = { label: Number(labels[i]), probabilities: { 0: probs[2 * i]!, 1: probs[2 * i + 1]! } };
  }
  return JSON.stringify({ predictions });
}

/** Loads the model with Tarmac's session options and listens on 127.0.0.1 (a free port); throws when the model's inputs differ. */
export async function startBareServer(options: BareServerOptions = {}): Promise<StartedServer> {
  const modelPath = options.modelPath ?? DEMO_MODEL;
  // The same options as src/runtime/onnx-engine.ts (OnnxEngine).
  const session = await ort.InferenceSession.create(modelPath, {
    graphOptimizationLevel: 'all',
    executionProviders: ['cpu'],
    ...(options.intraOpThreads !== undefined ? { intraOpNumThreads: options.intraOpThreads } : {}),
  });
  const expected = [...NUMERIC, CATEGORICAL];
  if (expected.some((name) => !session.inputNames.includes(name)) || session.inputNames.length !== expected.length
    || !session.outputNames.includes(LABEL) || !session.outputNames.includes(PROBABILITIES)) {
    throw new Error(`bare server: ${modelPath} has inputs [${session.inputNames.join(', ')}] and outputs `
      + `[${session.outputNames.join(', ')}]; the hand-built tensors expect [${expected.join(', ')}] and [${LABEL}, ${PROBABILITIES}]`);
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    readBody(req)
      .then((text) => predict(session, (JSON.parse(text) as { records: Row[] }).records))
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
      facts: { onnxruntime: ort.env.versions.node ?? ort.env.versions.common ?? 'unknown', model: modelPath },
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await session.release();
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const threads = process.env.BENCH_INTRA_OP_THREADS;
  await runChild(() => startBareServer({ intraOpThreads: threads ? Number(threads) : undefined }));
}
