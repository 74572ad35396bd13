/**
 * Regenerates the demo model and its data, byte-identically on every run, without Python:
 *   npx tsx scripts/make-demo-model.ts
 * writes demo/loans-demo.csv, demo/loans-demo.onnx, demo/loans-demo.json and demo/sample-records.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildDemoArtifacts } from './demo-model/build.ts';

export { buildDemoArtifacts, DEMO_PATHS, DEMO_ROWS, DEMO_SEED, SAMPLE_RECORDS, sha256Hex } from './demo-model/build.ts';
export type { DemoArtifacts } from './demo-model/build.ts';
export { EMPLOYMENT_TYPES, FEATURES, NUMERIC_FEATURES, generateLoans, parseCsv, toCsv } from './demo-model/data.ts';
export type { LoanFeatures, LoanRow } from './demo-model/data.ts';
export { mulberry32, normal, shuffled } from './demo-model/prng.ts';
export { evaluate, labelOf, predictProbability, rocAuc, splitIndices, trainLogistic } from './demo-model/train.ts';
export type { LogisticModel, Metrics } from './demo-model/train.ts';
export { buildOnnxModel, encodeOnnxModel } from './demo-model/onnx.ts';

/** Repository root (this file lives in scripts/). */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Builds every demo artefact and writes it under the repository root; returns the paths written with their sizes. */
export function writeDemoArtifacts(root: string = ROOT): { path: string; bytes: number }[] {
  const artifacts = buildDemoArtifacts();
  const written: { path: string; bytes: number }[] = [];
  for (const [path, bytes] of Object.entries(artifacts.files)) {
    const target = resolve(root, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, bytes);
    written.push({ path, bytes: bytes.byteLength });
  }
  const { metrics, rows, split, sampleProbabilities } = artifacts;
  const positives = rows.filter((r) => r.default === 1).length;
  console.log(`rows=${rows.length} train=${split.train.length} validation=${split.validation.length} `
    + `default-rate=${(positives / rows.length).toFixed(4)}`);
  console.log(`validation auc=${metrics.auc.toFixed(4)} accuracy=${metrics.accuracy.toFixed(4)} `
    + `log_loss=${metrics.log_loss.toFixed(4)}`);
  console.log(`sample P(default): ${sampleProbabilities.map((p) => p.toFixed(4)).join(', ')}`);
  for (const w of written) console.log(`wrote ${w.path} (${w.bytes} bytes)`);
  return written;
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (invokedDirectly) writeDemoArtifacts();
