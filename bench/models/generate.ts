/**
 * Generates the serving benchmark's models, deterministically and without Python:
 *   npx tsx bench/models/generate.ts [--out DIR] [--hidden H] [--time]
 * - `lr30`: binary logistic regression over 30 float features f00..f29;
 * - `mlp`: a dense MLP 30 → H → H → 2 (ReLU, softmax), heavy enough that inference dominates a request.
 * Each model is written as `<name>.onnx`, `<name>.weights.json` (the same float32 weights for the Python baseline)
 * and `<name>.check.json` (ONNX Runtime's answers on a few rows, which the Python baseline must reproduce).
 * The same seed and sizes always give the same ONNX and weights bytes; their sha256 goes into the results.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import { mulberry32, normal, type Rng } from '../../scripts/demo-model/prng.ts';
import { encodeModel, float32Le, INPUT_NAME, logisticGraph, mlpGraph, type DenseLayer } from './onnx-graph.ts';

/** Number of input features of both models. */
export const FEATURE_COUNT = 30;
/** Record field names, in matrix column order: f00 … f29. */
export const FEATURES: readonly string[] = Array.from({ length: FEATURE_COUNT }, (_, i) => `f${String(i).padStart(2, '0')}`);
/** Seeds of the two benchmark models and of the request records. */
export const SEEDS = { lr30: 30_001, mlp: 30_002, records: 30_003 } as const;
/**
 * Hidden width of the MLP. Its 4096 × 4096 float32 layer (64 MiB) does not fit in a CPU cache, so a single-row run
 * streams every weight from memory: about 3.5 ms on one thread of a 2-vCPU AMD EPYC VM (2048 fits in L3: 0.3 ms).
 */
export const DEFAULT_MLP_HIDDEN = 4096;
/** Rows whose ONNX Runtime answers go into `<name>.check.json`. */
const CHECK_ROWS = 8;

/** What the generator wrote for one model. */
export interface GeneratedModel {
  name: string;
  kind: 'logistic' | 'mlp';
  seed: number;
  /** Human-readable architecture, e.g. `30 → 2048 → 2048 → 2`. */
  shape: string;
  parameters: number;
  onnxPath: string;
  weightsPath: string;
  checkPath: string;
  onnxBytes: number;
  onnxSha256: string;
  weightsSha256: string;
  features: readonly string[];
}

/** ONNX Runtime's wall time for one single-row `session.run`, in milliseconds. */
export interface RunTiming {
  runs: number;
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  meanMs: number;
}

/** Hex sha256 of some bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function normals(rng: Rng, n: number, sd: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = normal(rng, 0, sd);
  return out;
}

/** A float32 array as the weights file stores it: dtype, shape and little-endian bytes in base64. */
function encodedArray(shape: number[], values: Float32Array): { dtype: 'float32'; shape: number[]; base64: string } {
  return { dtype: 'float32', shape, base64: Buffer.from(float32Le(values)).toString('base64') };
}

function jsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(value)}\n`);
}

/** An artefact in memory: the ONNX bytes and the weights file for the Python baseline. */
interface BuiltModel {
  kind: 'logistic' | 'mlp';
  shape: string;
  parameters: number;
  onnx: Uint8Array;
  weights: Uint8Array;
}

/** The logistic regression: weights N(0, 0.4²), intercept N(0, 0.5²), so P(1) spans (0, 1) on N(0, 1) inputs. */
export function buildLogistic(seed: number, features: readonly string[] = FEATURES): BuiltModel {
  const rng = mulberry32(seed);
  const weights = normals(rng, features.length, 0.4);
  const intercept = Math.fround(normal(rng, 0, 0.5));
  return {
    kind: 'logistic',
    shape: `${features.length} → 2 (logistic)`,
    parameters: features.length + 1,
    onnx: encodeModel(logisticGraph({ weights, intercept })),
    weights: jsonBytes({
      format: 'tarmac-bench-weights/1',
      kind: 'logistic',
      seed,
      features,
      classes: [0, 1],
      coef: encodedArray([features.length], weights),
      intercept,
    }),
  };
}

/** The MLP: He-initialised layers (N(0, 2/fan_in)), a N(0, 1/fan_in) output layer and small biases, so the logits are O(1). */
export function buildMlp(seed: number, hidden: number, features: readonly string[] = FEATURES): BuiltModel {
  const rng = mulberry32(seed);
  const sizes = [features.length, hidden, hidden, 2];
  const layers: DenseLayer[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    const inputs = sizes[i]!;
    const outputs = sizes[i + 1]!;
    const last = i + 2 === sizes.length;
    layers.push({
      inputs,
      outputs,
      weights: normals(rng, inputs * outputs, Math.sqrt((last ? 1 : 2) / inputs)),
      bias: normals(rng, outputs, 0.1),
    });
  }
  return {
    kind: 'mlp',
    shape: `${sizes.join(' → ')} (ReLU, softmax)`,
    parameters: layers.reduce((n, l) => n + l.weights.length + l.bias.length, 0),
    onnx: encodeModel(mlpGraph(layers)),
    weights: jsonBytes({
      format: 'tarmac-bench-weights/1',
      kind: 'mlp',
      seed,
      features,
      classes: [0, 1],
      activation: 'relu',
      hidden_layer_sizes: sizes.slice(1, -1),
      layers: layers.map((l) => ({ weights: encodedArray([l.inputs, l.outputs], l.weights), bias: encodedArray([l.outputs], l.bias) })),
    }),
  };
}

/** `n` request records with every feature drawn from N(0, 1) and rounded to 4 decimals (so the JSON is short and exact). */
export function benchRecords(n: number, seed: number = SEEDS.records, features: readonly string[] = FEATURES): Record<string, number>[] {
  const rng = mulberry32(seed);
  return Array.from({ length: n }, () => {
    const record: Record<string, number> = {};
    for (const f of features) record[f] = Number(normal(rng).toFixed(4));
    return record;
  });
}

/** The records as one row-major float32 [N, k] matrix in `features` order. */
export function recordsToMatrix(records: readonly Record<string, number>[], features: readonly string[] = FEATURES): Float32Array {
  const k = features.length;
  const data = new Float32Array(records.length * k);
  records.forEach((r, i) => {
    for (let j = 0; j < k; j++) data[i * k + j] = r[features[j]!]!;
  });
  return data;
}

/** ONNX Runtime session options as Tarmac sets them (src/runtime/onnx-engine.ts). */
export function sessionOptions(intraOpThreads?: number): ort.InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: 'all',
    executionProviders: ['cpu'],
    ...(intraOpThreads !== undefined ? { intraOpNumThreads: intraOpThreads } : {}),
  };
}

/** Times single-row `session.run` calls (after a warm-up) for about `budgetMs`, at least 50 runs. */
export async function timeSingleRow(onnx: Uint8Array, intraOpThreads?: number, budgetMs = 1500): Promise<RunTiming> {
  const session = await ort.InferenceSession.create(onnx, sessionOptions(intraOpThreads));
  try {
    const feeds = { [INPUT_NAME]: new ort.Tensor('float32', recordsToMatrix(benchRecords(1)), [1, FEATURE_COUNT]) };
    for (let i = 0; i < 20; i++) await session.run(feeds);
    const times: number[] = [];
    const start = performance.now();
    while (times.length < 50 || (performance.now() - start < budgetMs && times.length < 20_000)) {
      const t0 = performance.now();
      await session.run(feeds);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const at = (q: number): number => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
    return { runs: times.length, medianMs: at(0.5), p10Ms: at(0.1), p90Ms: at(0.9), meanMs: times.reduce((a, b) => a + b, 0) / times.length };
  } finally {
    await session.release();
  }
}

/** ONNX Runtime's labels and probabilities for the first CHECK_ROWS bench records: the Python baseline must agree. */
async function checkAnswers(onnx: Uint8Array): Promise<unknown> {
  const records = benchRecords(CHECK_ROWS);
  const session = await ort.InferenceSession.create(onnx, sessionOptions());
  try {
    const out = await session.run({ [INPUT_NAME]: new ort.Tensor('float32', recordsToMatrix(records), [CHECK_ROWS, FEATURE_COUNT]) });
    const probs = out.probabilities!.data as Float32Array;
    const labels = out.label!.data as BigInt64Array;
    return {
      rows: records.map((r) => FEATURES.map((f) => r[f]!)),
      labels: Array.from(labels, Number),
      probabilities: records.map((_, i) => [probs[2 * i]!, probs[2 * i + 1]!]),
    };
  } finally {
    await session.release();
  }
}

/** Writes one built model into `dir` as `<name>.onnx`, `<name>.weights.json` and `<name>.check.json`. */
export async function writeModel(dir: string, name: string, seed: number, built: BuiltModel): Promise<GeneratedModel> {
  await mkdir(dir, { recursive: true });
  const onnxPath = path.join(dir, `${name}.onnx`);
  const weightsPath = path.join(dir, `${name}.weights.json`);
  const checkPath = path.join(dir, `${name}.check.json`);
  await writeFile(onnxPath, built.onnx);
  await writeFile(weightsPath, built.weights);
  await writeFile(checkPath, jsonBytes(await checkAnswers(built.onnx)));
  return {
    name,
    kind: built.kind,
    seed,
    shape: built.shape,
    parameters: built.parameters,
    onnxPath,
    weightsPath,
    checkPath,
    onnxBytes: built.onnx.byteLength,
    onnxSha256: sha256Hex(built.onnx),
    weightsSha256: sha256Hex(built.weights),
    features: FEATURES,
  };
}

/** Generates `lr30` and `mlp` into `dir`; returns what was written. */
export async function generateBenchModels(dir: string, options: { mlpHidden?: number } = {}): Promise<{ lr30: GeneratedModel; mlp: GeneratedModel }> {
  const hidden = options.mlpHidden ?? DEFAULT_MLP_HIDDEN;
  return {
    lr30: await writeModel(dir, 'lr30', SEEDS.lr30, buildLogistic(SEEDS.lr30)),
    mlp: await writeModel(dir, 'mlp', SEEDS.mlp, buildMlp(SEEDS.mlp, hidden)),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const args = process.argv.slice(2);
  const flag = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const out = path.resolve(flag('--out') ?? 'bench/results/models');
  const hidden = Number(flag('--hidden') ?? DEFAULT_MLP_HIDDEN);
  if (!Number.isInteger(hidden) || hidden < 1) throw new Error(`--hidden must be a positive integer, got ${flag('--hidden')}`);
  const models = await generateBenchModels(out, { mlpHidden: hidden });
  for (const m of Object.values(models)) {
    console.log(`${m.name}: ${m.shape}, ${m.parameters.toLocaleString('en-US')} parameters, ${m.onnxBytes.toLocaleString('en-US')} bytes, `
      + `onnx sha256 ${m.onnxSha256}, weights sha256 ${m.weightsSha256} -> ${path.relative(process.cwd(), m.onnxPath)}`);
  }
  if (args.includes('--time')) {
    const threads = flag('--intra-op-threads');
    for (const m of Object.values(models)) {
      const built = m.kind === 'mlp' ? buildMlp(m.seed, hidden) : buildLogistic(m.seed);
      const t = await timeSingleRow(built.onnx, threads ? Number(threads) : undefined);
      console.log(`${m.name}: single-row session.run median ${t.medianMs.toFixed(3)} ms (p10 ${t.p10Ms.toFixed(3)}, `
        + `p90 ${t.p90Ms.toFixed(3)}, mean ${t.meanMs.toFixed(3)}, ${t.runs} runs)`);
    }
  }
}
