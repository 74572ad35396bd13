/** Assembles every demo artefact (CSV, ONNX, metadata, sample records) in memory, without touching the disk. */
import { createHash } from 'node:crypto';
import { FEATURES, generateLoans, toCsv } from './data.ts';
import type { LoanFeatures, LoanRow } from './data.ts';
import { buildOnnxModel, encodeOnnxModel } from './onnx.ts';
import { DEFAULT_TRAIN_OPTIONS, evaluate, predictProbability, splitIndices, trainLogistic } from './train.ts';
import type { LogisticModel, Metrics, Split } from './train.ts';

/** Seed of the whole demo; the dataset uses it directly and the split uses seed + 1. */
export const DEMO_SEED = 20240611;
/** Number of rows in the synthetic dataset. */
export const DEMO_ROWS = 4000;

/** Repository-relative output paths. */
export const DEMO_PATHS = {
  csv: 'demo/loans-demo.csv',
  onnx: 'demo/loans-demo.onnx',
  metadata: 'demo/loans-demo.json',
  samples: 'demo/sample-records.json',
} as const;

/** Path of the generator, recorded as the model's lineage code reference. */
export const CODE_REF = 'scripts/make-demo-model.ts';

/** Three hand-written applications for the README's curl examples: low, moderate and high risk. */
export const SAMPLE_RECORDS: readonly LoanFeatures[] = [
  { income: 72000, loan_amount: 15000, age: 41, credit_history_years: 16.5, debt_ratio: 0.22, employment_type: 'salaried' },
  { income: 48000, loan_amount: 20000, age: 33, credit_history_years: 7, debt_ratio: 0.35, employment_type: 'self_employed' },
  { income: 14000, loan_amount: 25000, age: 24, credit_history_years: 1.5, debt_ratio: 0.62, employment_type: 'unemployed' },
];

/** Everything the generator produces: the data, the model, its validation results and the file contents. */
export interface DemoArtifacts {
  rows: LoanRow[];
  split: Split;
  model: LogisticModel;
  /** Probability of class 1 for each validation row (same order as `split.validation`). */
  validationProbabilities: number[];
  /** Unrounded validation metrics. */
  metrics: Metrics;
  /** Probability of default for each of SAMPLE_RECORDS. */
  sampleProbabilities: number[];
  /** File contents keyed by repository-relative path, exactly as written to disk. */
  files: Record<(typeof DEMO_PATHS)[keyof typeof DEMO_PATHS], Uint8Array>;
}

/** Hex sha256 of some bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Rounds to four decimals through the decimal string, so the JSON number is stable. */
function round4(x: number): number {
  return Number(x.toFixed(4));
}

/** Serialises a value as 2-space-indented JSON with a trailing newline (key order is the construction order). */
function jsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value, null, 2) + '\n');
}

/** Generates the dataset, trains and evaluates the model and renders every artefact to bytes (pure, no I/O). */
export function buildDemoArtifacts(seed: number = DEMO_SEED, nRows: number = DEMO_ROWS): DemoArtifacts {
  const rows = generateLoans(nRows, seed);
  const csvBytes = new TextEncoder().encode(toCsv(rows));
  const split = splitIndices(rows.length, seed + 1, 0.2);
  const model = trainLogistic(split.train.map((i) => rows[i] as LoanRow), DEFAULT_TRAIN_OPTIONS);

  const validationRows = split.validation.map((i) => rows[i] as LoanRow);
  const validationProbabilities = validationRows.map((r) => predictProbability(model, r));
  const metrics = evaluate(validationRows.map((r) => r.default), validationProbabilities);
  const sampleProbabilities = SAMPLE_RECORDS.map((r) => predictProbability(model, r));

  const onnxBytes = encodeOnnxModel(buildOnnxModel(model));
  const metadata = {
    name: 'loan-default',
    description:
      'Demo loan-default classifier: logistic regression over standardised numerics and one-hot employment type, '
      + 'trained on a seeded synthetic dataset. Outputs label (1 = default) and probabilities [P(0), P(1)].',
    owner: 'demo',
    features: [...FEATURES],
    task: 'classification',
    classLabels: [0, 1],
    metrics: { auc: round4(metrics.auc), accuracy: round4(metrics.accuracy), log_loss: round4(metrics.log_loss) },
    tags: { domain: 'lending', algorithm: 'logistic-regression', data: 'synthetic', source: 'tarmac-demo' },
    lineage: { trainingData: DEMO_PATHS.csv, trainingDataSha256: sha256Hex(csvBytes), codeRef: CODE_REF },
    seed,
    onnxSha256: sha256Hex(onnxBytes),
  };
  const samples = { records: SAMPLE_RECORDS.map((r) => ({ ...r })) };

  return {
    rows,
    split,
    model,
    validationProbabilities,
    metrics,
    sampleProbabilities,
    files: {
      [DEMO_PATHS.csv]: csvBytes,
      [DEMO_PATHS.onnx]: onnxBytes,
      [DEMO_PATHS.metadata]: jsonBytes(metadata),
      [DEMO_PATHS.samples]: jsonBytes(samples),
    },
  };
}
