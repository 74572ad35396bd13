import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { createTarmac } from '../src/app.ts';
import { installDemo } from '../src/cli/demo.ts';
import { loadConfig } from '../src/config.ts';
import { ensureAdminKey, SYSTEM_PRINCIPAL } from '../src/security/index.ts';
import { runChild, type StartedServer } from './child.ts';

/** A model the benchmark registers and deploys instead of the demo model. */
export interface BenchModelSpec {
  name: string;
  /** Path of the ONNX file. */
  path: string;
  /** Feature names, in matrix column order for a one-matrix-input model. */
  features?: string[];
  classLabels?: (string | number)[];
}

/** Options of startTarmacServer. */
export interface TarmacServerOptions {
  /** An empty directory for Tarmac's store and blobs; the caller creates and removes it. */
  dataDir: string;
  /** Passed as TARMAC_INTRA_OP_THREADS when set. */
  intraOpThreads?: number;
  /** Models to register, deploy and route (requests go to the first); unset installs the demo model. */
  models?: BenchModelSpec[];
  /** Further TARMAC_* variables for loadConfig (e.g. TARMAC_BATCHING); the data dir, port and log level win. */
  env?: Record<string, string>;
}

/** Registers version 1 of each model through the RegistryService, deploys it and waits for its route. */
async function installModels(tarmac: Awaited<ReturnType<typeof createTarmac>>, models: BenchModelSpec[]): Promise<void> {
  for (const spec of models) {
    const bytes = new Uint8Array(await readFile(spec.path));
    const version = await tarmac.registry.register(bytes, {
      name: spec.name,
      task: 'classification',
      description: `serving benchmark model (${spec.path})`,
      owner: 'bench',
      ...(spec.features ? { features: spec.features } : {}),
      ...(spec.classLabels ? { classLabels: spec.classLabels } : {}),
    }, SYSTEM_PRINCIPAL);
    await tarmac.registry.deploy(spec.name, version.version, SYSTEM_PRINCIPAL);
    await tarmac.routes.refresh(spec.name);
  }
}

/**
 * Starts Tarmac as `tarmac up` would (SQLite store in `dataDir`, an admin key, auth, validation, metrics and the
 * prediction log all on) with the demo model or the given models deployed, on a free port; throws when `dataDir`
 * already holds keys or a model cannot be registered.
 */
export async function startTarmacServer(options: TarmacServerOptions): Promise<StartedServer> {
  const env: Record<string, string> = {
    ...options.env,
    TARMAC_DATA_DIR: options.dataDir,
    TARMAC_PORT: '0',
    TARMAC_LOG_LEVEL: 'warn',
  };
  if (options.intraOpThreads !== undefined) env.TARMAC_INTRA_OP_THREADS = String(options.intraOpThreads);
  const config = loadConfig(env);
  const tarmac = await createTarmac(config);
  try {
    const admin = await ensureAdminKey(tarmac.keys, config.dataDir);
    if (!admin) throw new Error(`tarmac server: ${config.dataDir} already has keys; give the benchmark an empty data dir`);
    let model: string;
    if (options.models?.length) {
      await installModels(tarmac, options.models);
      model = options.models[0]!.name;
    } else {
      model = await installDemo(tarmac);
    }
    const url = await tarmac.listen();
    // The resolved knobs (threads, batching, log), whatever this version of Config has, for the report.
    const { host: _host, port: _port, dataDir: _dataDir, databaseUrl: _databaseUrl, ...knobs } = config;
    return {
      info: {
        url,
        path: `/v1/models/${encodeURIComponent(model)}/predict`,
        headers: { authorization: `Bearer ${admin.key}` },
        metricsPath: '/metrics',
        facts: { model, models: String(options.models?.length ?? 1), dataDir: config.dataDir, config: JSON.stringify(knobs) },
      },
      close: () => tarmac.close(),
    };
  } catch (err) {
    await tarmac.close().catch(() => undefined);
    throw err;
  }
}

/** Variables never passed on: the benchmark always runs on a fresh embedded store of its own. */
const ISOLATED = new Set(['TARMAC_DATABASE_URL', 'TARMAC_NATS_URL', 'TARMAC_HOST']);

/** The TARMAC_* variables of this process (the knobs under test, e.g. TARMAC_BATCHING), passed on to loadConfig. */
function tarmacVariables(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('TARMAC_') && value !== undefined && !ISOLATED.has(key)) out[key] = value;
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dataDir = process.env.BENCH_TARMAC_DATA_DIR;
  if (!dataDir) {
    console.error('tarmac-server: set BENCH_TARMAC_DATA_DIR to an empty directory');
    process.exit(2);
  }
  const threads = process.env.BENCH_INTRA_OP_THREADS;
  // BENCH_MODELS: a JSON array of BenchModelSpec to deploy instead of the demo model.
  const models = process.env.BENCH_MODELS ? (JSON.parse(process.env.BENCH_MODELS) as BenchModelSpec[]) : undefined;
  await runChild(() => startTarmacServer({
    dataDir,
    intraOpThreads: threads ? Number(threads) : undefined,
    models,
    env: tarmacVariables(),
  }));
}
