import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A fixture's sidecar (`models/<name>.json`), typed as far as the tests read it. */
export interface FixtureSidecar {
  model_name: string;
  onnx_file: string;
  task: 'binary_classification' | 'multiclass_classification' | 'regression';
  inputs: { name: string; dtype: string; shape: (number | null)[] }[];
  input_layout: 'matrix' | 'one_tensor_per_feature';
  input_name: string | null;
  n_features: number;
  feature_names: string[];
  outputs: { name: string; dtype: string; shape: (number | null)[] | null }[];
  classes: (number | string)[] | null;
  tolerance: Record<string, unknown>;
  test: {
    n_rows: number;
    inputs: unknown;
    expected: Record<string, unknown[]>;
    records?: Record<string, unknown>[];
    expected_argmax?: number[];
    edge_cases?: { inputs: Record<string, unknown[][]>; expected: Record<string, unknown[]> };
  };
}

/** One fixture: its ONNX bytes and sidecar. */
export interface Fixture {
  name: string;
  bytes: Uint8Array;
  sidecar: FixtureSidecar;
}

/**
 * The folder holding the shared ONNX fixtures (`<name>.onnx` + `<name>.json`): TARMAC_FIXTURES_DIR (the fixtures
 * folder or its `models/` folder) when set, else `shared/fixtures/models` beside the repository. Test support only.
 */
export function fixturesModelsDir(): string {
  const fromEnv = process.env.TARMAC_FIXTURES_DIR;
  if (fromEnv) return existsSync(join(fromEnv, 'models')) ? join(fromEnv, 'models') : fromEnv;
  return fileURLToPath(new URL('../../../shared/fixtures/models/', import.meta.url));
}

/** Names of every fixture in the folder, sorted. */
export function fixtureNames(dir: string = fixturesModelsDir()): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.onnx') && existsSync(join(dir, f.replace(/\.onnx$/, '.json'))))
    .map((f) => f.replace(/\.onnx$/, ''))
    .sort();
}

/** Reads one fixture by name; throws when it is missing. */
export function loadFixture(name: string, dir: string = fixturesModelsDir()): Fixture {
  const sidecar = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as FixtureSidecar;
  return { name, bytes: new Uint8Array(readFileSync(join(dir, `${name}.onnx`))), sidecar };
}
