import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { createTarmac, type Tarmac } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { ensureAdminKey } from '../src/security/index.ts';
import type { Clock } from '../src/shared/clock.ts';
import pg from 'pg';
import { createLogger, type Logger } from '../src/shared/logger.ts';

/** The shared fixtures folder (models + sidecars), beside the checkout unless TARMAC_FIXTURES_DIR says otherwise. */
export const FIXTURES_DIR = process.env.TARMAC_FIXTURES_DIR
  ?? fileURLToPath(new URL('../../shared/fixtures/', import.meta.url));

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** A Tarmac built for one test file: temp data dir, silent logs, an admin key. */
export interface TestTarmac {
  tarmac: Tarmac;
  app: FastifyInstance;
  adminKey: string;
  dataDir: string;
  /** Sends a JSON request as `key` (the admin key by default). */
  call(method: string, url: string, body?: unknown, key?: string | null): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/** Starts an in-process Tarmac over SQLite (or PostgreSQL when `databaseUrl` is given). */
export async function startTestTarmac(env: Record<string, string> = {}, options: { clock?: Clock; log?: Logger } = {}): Promise<TestTarmac> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'tarmac-test-'));
  const config = loadConfig({ TARMAC_DATA_DIR: dataDir, TARMAC_LOG_LEVEL: 'silent', TARMAC_PORT: '0', ...env });
  const tarmac = await createTarmac(config, { log: options.log ?? createLogger({ level: 'silent' }), clock: options.clock });
  const admin = await ensureAdminKey(tarmac.keys, dataDir);
  if (!admin) throw new Error('expected a fresh store');
  const app = tarmac.api;
  return {
    tarmac,
    app,
    adminKey: admin.key,
    dataDir,
    call(method, url, body, key = admin.key) {
      const headers: Record<string, string> = {};
      if (key !== null) headers.authorization = `Bearer ${key}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      return app.inject({ method: method as 'GET', url, headers, payload: body === undefined ? undefined : JSON.stringify(body) });
    },
    async close() {
      await tarmac.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A fixture sidecar (see shared/fixtures/README.md). */
export interface Sidecar {
  model_name: string;
  onnx_sha256: string;
  task: string;
  input_layout: 'matrix' | 'one_tensor_per_feature';
  feature_names: string[];
  inputs: { name: string; dtype: string; shape: (number | null)[] }[];
  outputs: { name: string; dtype: string }[];
  classes: number[] | null;
  test: {
    n_rows: number;
    inputs: number[][] | Record<string, unknown[][]>;
    expected: Record<string, unknown>;
    expected_argmax?: number[];
    records?: Record<string, unknown>[];
    edge_cases?: unknown;
  };
}

/** Every fixture model name in FIXTURES_DIR/models. */
export function fixtureNames(): string[] {
  const names = ['counts_int64', 'diabetes_linear_f64', 'iris_tree', 'loans_pipeline_multi_input', 'wine_logreg_zipmap', 'wine_torch_mlp'];
  return names.filter((n) => existsSync(path.join(FIXTURES_DIR, 'models', `${n}.onnx`)));
}

/** A fixture's ONNX bytes and sidecar. */
export function loadFixture(name: string): { bytes: Uint8Array; sidecar: Sidecar } {
  return {
    bytes: new Uint8Array(readFileSync(path.join(FIXTURES_DIR, 'models', `${name}.onnx`))),
    sidecar: JSON.parse(readFileSync(path.join(FIXTURES_DIR, 'models', `${name}.json`), 'utf8')) as Sidecar,
  };
}

/** The sidecar's test rows as records keyed by feature name. */
export function recordsOf(sidecar: Sidecar): Record<string, unknown>[] {
  if (sidecar.test.records) return sidecar.test.records;
  const rows = sidecar.test.inputs as number[][];
  return rows.map((row) => Object.fromEntries(sidecar.feature_names.map((f, i) => [f, row[i]])));
}

/** Uploads and registers a fixture through the HTTP API; returns the version view. */
export async function registerViaApi(t: TestTarmac, model: string, bytes: Uint8Array, body: Record<string, unknown> = {}) {
  const upload = await t.app.inject({
    method: 'POST', url: '/v1/artifacts', payload: Buffer.from(bytes),
    headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/octet-stream' },
  });
  if (upload.statusCode !== 201) throw new Error(`upload failed: ${upload.statusCode} ${upload.body}`);
  const sha = (upload.json() as { artifact_sha256: string }).artifact_sha256;
  const registered = await t.call('POST', `/v1/models/${model}/versions`, { artifact_sha256: sha, ...body });
  return registered;
}

/** Whether the PostgreSQL suite can run, and why not. */
export const PG_URL = process.env.TARMAC_TEST_PG_URL;

/**
 * A PostgreSQL database of its own for one test file or test (`CREATE DATABASE <prefix>_<pid>_<time>`), with the URL to
 * reach it and a function that drops it; undefined when TARMAC_TEST_PG_URL is not set.
 */
export async function tempPgDatabase(prefix: string): Promise<{ url: string; drop: () => Promise<void> } | undefined> {
  if (!PG_URL) return undefined;
  const name = `${prefix}_${process.pid}_${Date.now()}`;
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
