import path from 'node:path';
import { TarmacError } from './shared/errors.ts';

/** Tarmac's resolved configuration: built once at start, frozen, passed down. */
export interface Config {
  host: string;
  port: number;
  dataDir: string;
  /** `postgres://…` for PostgreSQL; undefined for the embedded SQLite file in `dataDir`. */
  databaseUrl: string | undefined;
  logLevel: string;
  /** Largest ONNX artifact accepted at registration, in bytes. */
  maxArtifactBytes: number;
  /** Largest JSON request body, in bytes. */
  bodyLimitBytes: number;
  /** Most records in one predict request. */
  maxBatchRecords: number;
  predictionLog: { bufferSize: number; batchSize: number; flushIntervalMs: number };
  /** ONNX Runtime intra-op threads per session (0 = runtime default). */
  intraOpThreads: number;
  /** Versions kept loaded beyond the deployed ones (loaded on demand by version-pinned requests). */
  extraLoadedVersions: number;
}

/** Values that command-line flags may override. */
export type ConfigOverrides = Partial<Pick<Config, 'host' | 'port' | 'dataDir' | 'databaseUrl' | 'logLevel'>>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function intVar(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TarmacError('CONFIG_INVALID', `${name} must be an integer between ${min} and ${max}, got "${raw}"`, {
      details: { variable: name },
    });
  }
  return value;
}

/**
 * Reads TARMAC_* variables once into a frozen Config; the only reader of the environment.
 * Throws CONFIG_INVALID naming the variable when a value is malformed.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: ConfigOverrides = {}): Readonly<Config> {
  const databaseUrl = overrides.databaseUrl ?? (env.TARMAC_DATABASE_URL || undefined);
  if (databaseUrl !== undefined && !/^(postgres(ql)?:\/\/|sqlite:|:memory:$)/.test(databaseUrl)) {
    throw new TarmacError('CONFIG_INVALID', 'TARMAC_DATABASE_URL must start with postgres:// or sqlite:', {
      details: { variable: 'TARMAC_DATABASE_URL' },
    });
  }
  const logLevel = overrides.logLevel ?? env.TARMAC_LOG_LEVEL ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new TarmacError('CONFIG_INVALID', `TARMAC_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`, {
      details: { variable: 'TARMAC_LOG_LEVEL' },
    });
  }
  const config: Config = {
    host: overrides.host ?? env.TARMAC_HOST ?? '127.0.0.1',
    port: overrides.port ?? intVar(env, 'TARMAC_PORT', 8080, 0, 65535),
    dataDir: path.resolve(overrides.dataDir ?? env.TARMAC_DATA_DIR ?? '.tarmac'),
    databaseUrl,
    logLevel,
    maxArtifactBytes: intVar(env, 'TARMAC_MAX_ARTIFACT_MB', 256, 1, 4096) * 1024 * 1024,
    bodyLimitBytes: intVar(env, 'TARMAC_BODY_LIMIT_MB', 8, 1, 1024) * 1024 * 1024,
    maxBatchRecords: intVar(env, 'TARMAC_MAX_BATCH_RECORDS', 10_000, 1, 1_000_000),
    predictionLog: {
      bufferSize: intVar(env, 'TARMAC_PREDICTION_LOG_BUFFER', 100_000, 1, 10_000_000),
      batchSize: intVar(env, 'TARMAC_PREDICTION_LOG_BATCH', 500, 1, 100_000),
      flushIntervalMs: intVar(env, 'TARMAC_PREDICTION_LOG_FLUSH_MS', 200, 1, 60_000),
    },
    intraOpThreads: intVar(env, 'TARMAC_INTRA_OP_THREADS', 0, 0, 256),
    extraLoadedVersions: intVar(env, 'TARMAC_EXTRA_LOADED_VERSIONS', 8, 0, 1000),
  };
  return Object.freeze(config);
}
