import os from 'node:os';
import path from 'node:path';
import { ASYMMETRIC_ALGORITHMS, type OidcSettings } from './security/oidc-settings.ts';
import { isRole, ROLES, type Role } from './security/roles.ts';
import { parseEndpointRegions, parseRegion, parseRegions, type ResidencyConfig } from './privacy/residency.ts';
import { checkOutboundPolicy } from './security/outbound.ts';
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
  /** Worker threads that run inference; 0 runs every model on the event loop's thread. */
  inferenceThreads: number;
  /** Models whose single-row run takes at most this many µs run on the event loop's thread (0: all in workers). */
  inlineMaxMicros: number;
  /** ONNX Runtime intra-op threads per session. */
  intraOpThreads: number;
  /** Default adaptive batching of every deployment (a deployment may override it). */
  batching: { enabled: boolean; maxBatchSize: number; maxQueueDelayMs: number };
  /** Versions kept loaded beyond the deployed ones (loaded on demand by version-pinned requests). */
  extraLoadedVersions: number;
  /** Largest file upload to a dataset, in bytes. */
  maxUploadBytes: number;
  /** Most records in one `POST /v1/datasets/{name}/records` request. */
  maxIngestRecords: number;
  /** Rows per committed ingestion chunk (the unit of atomicity and checkpointing). */
  ingestChunkRows: number;
  /** NATS server for streaming ingestion (`nats://host:4222`); unset: datasets' subjects are not consumed. */
  natsUrl: string | undefined;
  /** The JetStream stream Tarmac creates (or extends) for datasets' subjects that no stream captures yet. */
  natsStream: string;
  /** The name replicas sharing one store and NATS use for their events (`tarmac.events.<cluster>.…`). */
  cluster: string;
  /** This replica's stable name (its monitor windows are stored as its part); default the host name. */
  replica: string;
  /** Key for hashing PII in `mask` transformations; unset: a random key kept in `dataDir/pii-hash.key`. */
  piiHashKey: string | undefined;
  /** Signed audit checkpoints: how often (seconds) and where the append-only checkpoint file is kept. */
  audit: { checkpointSeconds: number; checkpointDir: string };
  /** The live monitor: on/off, its window size and how long a window waits for late events. */
  monitor: { enabled: boolean; windowSeconds: number; graceSeconds: number; maxProfiledRows: number };
  /** Authentication: how failed attempts are limited, API key defaults, and the optional OIDC provider. */
  auth: {
    /** Failed authentications from one address within `windowSeconds` that block it for `blockSeconds`. */
    failures: { maxFailures: number; windowSeconds: number; blockSeconds: number };
    /** How long a rotated-out key secret keeps working when the rotation names no grace. */
    keyRotationGraceSeconds: number;
    /** How often gathered key last-use times are written. */
    keyLastUsedFlushSeconds: number;
    /** Set when TARMAC_OIDC_ISSUER is. */
    oidc: OidcSettings | undefined;
  };
  /**
   * Retention: the global default in days for every model's predictions/feedback and every dataset's records,
   * quarantine and batches (undefined: kept forever unless a policy says otherwise), and the janitor's pace.
   */
  retention: { defaultDays: number | undefined; intervalSeconds: number; batchSize: number };
  /** Data residency: the allowed regions and the declared regions of this node and its endpoints. */
  residency: ResidencyConfig;
  /** Protection of the API: request rates, quotas and request-shape limits. */
  protection: ProtectionConfig;
  /** Hosts and CIDRs outbound calls (alert notifiers, OIDC discovery) may reach even when private or loopback. */
  outboundAllow: string[];
  /** PEM certificate and key paths; both set: the API listens with HTTPS (and sends HSTS). */
  tls: { certPath: string; keyPath: string } | undefined;
  /** Signed version manifests: trusted Ed25519 public keys and which models must be signed to deploy. */
  signing: SigningConfig;
}

/** Limits the API enforces per principal and per request. */
export interface ProtectionConfig {
  /** Requests per minute per principal (or per IP when unauthenticated); 0 turns the limiter off. */
  rateLimitPerMinute: number;
  /** Records (rows) predicted per principal per UTC day; 0: no quota. */
  quotaRecordsPerDay: number;
  /** Deepest JSON nesting accepted in a request body. */
  maxJsonDepth: number;
  /** Largest request header block, in bytes (Node's maxHeaderSize). */
  maxHeaderBytes: number;
}

/** Which versions must carry a verified signature and which keys are trusted. */
export interface SigningConfig {
  /** Files or directories of PEM Ed25519 public keys (TARMAC_TRUSTED_SIGNING_KEYS). */
  trustedKeyPaths: string[];
  /** `all`: every model; a list: only these models; `none`: signatures are optional. */
  requireSigned: 'all' | 'none' | string[];
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

function boolVar(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(on|true|1|yes)$/i.test(raw)) return true;
  if (/^(off|false|0|no)$/i.test(raw)) return false;
  throw new TarmacError('CONFIG_INVALID', `${name} must be on or off, got "${raw}"`, { details: { variable: name } });
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
  const cores = os.availableParallelism();
  const inferenceThreads = intVar(env, 'TARMAC_INFERENCE_THREADS', Math.max(1, Math.min(4, cores - 1)), 0, 64);
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
      // Small enough that a flush (monitor, packing, postMessage) never holds the event loop long: p99 at c=16 fell with it.
      batchSize: intVar(env, 'TARMAC_PREDICTION_LOG_BATCH', 128, 1, 100_000),
      flushIntervalMs: intVar(env, 'TARMAC_PREDICTION_LOG_FLUSH_MS', 200, 1, 60_000),
    },
    inferenceThreads,
    inlineMaxMicros: intVar(env, 'TARMAC_INLINE_MAX_US', 300, 0, 1_000_000),
    // Leave a core for the event loop and split the rest between the inference threads.
    intraOpThreads: intVar(env, 'TARMAC_INTRA_OP_THREADS', Math.max(1, Math.floor((cores - 1) / Math.max(1, inferenceThreads))), 1, 256),
    batching: {
      enabled: boolVar(env, 'TARMAC_BATCHING', true),
      maxBatchSize: intVar(env, 'TARMAC_BATCH_MAX_SIZE', 64, 1, 100_000),
      maxQueueDelayMs: intVar(env, 'TARMAC_BATCH_MAX_DELAY_MS', 0, 0, 10_000),
    },
    extraLoadedVersions: intVar(env, 'TARMAC_EXTRA_LOADED_VERSIONS', 8, 0, 1000),
    maxUploadBytes: intVar(env, 'TARMAC_MAX_UPLOAD_MB', 10_240, 1, 1_048_576) * 1024 * 1024,
    maxIngestRecords: intVar(env, 'TARMAC_MAX_INGEST_RECORDS', 10_000, 1, 1_000_000),
    ingestChunkRows: intVar(env, 'TARMAC_INGEST_CHUNK_ROWS', 5_000, 1, 100_000),
    natsUrl: natsUrlVar(env),
    natsStream: natsStreamVar(env),
    cluster: clusterVar(env),
    replica: (env.TARMAC_REPLICA_ID || os.hostname()).slice(0, 200),
    piiHashKey: env.TARMAC_PII_HASH_KEY || undefined,
    audit: {
      checkpointSeconds: intVar(env, 'TARMAC_AUDIT_CHECKPOINT_SECONDS', 300, 1, 86_400),
      checkpointDir: path.resolve(env.TARMAC_AUDIT_CHECKPOINT_DIR || path.join(overrides.dataDir ?? env.TARMAC_DATA_DIR ?? '.tarmac', 'audit-checkpoints')),
    },
    monitor: {
      enabled: boolVar(env, 'TARMAC_MONITOR', true),
      windowSeconds: intVar(env, 'TARMAC_MONITOR_WINDOW_SECONDS', 300, 1, 86_400),
      graceSeconds: intVar(env, 'TARMAC_MONITOR_GRACE_SECONDS', 10, 0, 3_600),
      maxProfiledRows: intVar(env, 'TARMAC_MONITOR_MAX_PROFILED_ROWS', 20_000, 100, 10_000_000),
    },
    auth: {
      failures: {
        maxFailures: intVar(env, 'TARMAC_AUTH_MAX_FAILURES', 20, 1, 1_000_000),
        windowSeconds: intVar(env, 'TARMAC_AUTH_FAILURE_WINDOW_SECONDS', 60, 1, 86_400),
        blockSeconds: intVar(env, 'TARMAC_AUTH_BLOCK_SECONDS', 60, 1, 86_400),
      },
      keyRotationGraceSeconds: intVar(env, 'TARMAC_KEY_ROTATION_GRACE_SECONDS', 86_400, 0, 30 * 86_400),
      keyLastUsedFlushSeconds: intVar(env, 'TARMAC_KEY_LAST_USED_FLUSH_SECONDS', 5, 1, 3_600),
      oidc: oidcVars(env),
    },
    retention: {
      defaultDays: env.TARMAC_RETENTION_DAYS ? intVar(env, 'TARMAC_RETENTION_DAYS', 0, 1, 36_500) : undefined,
      intervalSeconds: intVar(env, 'TARMAC_RETENTION_INTERVAL_SECONDS', 3_600, 1, 604_800),
      batchSize: intVar(env, 'TARMAC_RETENTION_BATCH_SIZE', 1_000, 1, 100_000),
    },
    residency: {
      allowed: parseRegions(env.TARMAC_DATA_RESIDENCY, 'TARMAC_DATA_RESIDENCY'),
      localRegion: parseRegion(env.TARMAC_REGION, 'TARMAC_REGION'),
      databaseRegion: parseRegion(env.TARMAC_DATABASE_REGION, 'TARMAC_DATABASE_REGION'),
      natsRegion: parseRegion(env.TARMAC_NATS_REGION, 'TARMAC_NATS_REGION'),
      hosts: parseEndpointRegions(env.TARMAC_ENDPOINT_REGIONS),
    },
    protection: {
      rateLimitPerMinute: intVar(env, 'TARMAC_RATE_LIMIT_PER_MINUTE', 0, 0, 100_000_000),
      quotaRecordsPerDay: intVar(env, 'TARMAC_QUOTA_RECORDS_PER_DAY', 0, 0, 1_000_000_000_000),
      maxJsonDepth: intVar(env, 'TARMAC_MAX_JSON_DEPTH', 64, 2, 10_000),
      maxHeaderBytes: intVar(env, 'TARMAC_MAX_HEADER_KB', 16, 1, 1024) * 1024,
    },
    outboundAllow: outboundAllowVar(env),
    tls: tlsVar(env),
    signing: {
      trustedKeyPaths: listVar(env, 'TARMAC_TRUSTED_SIGNING_KEYS').map((p) => path.resolve(p)),
      requireSigned: requireSignedVar(env),
    },
  };
  return Object.freeze(config);
}

function natsUrlVar(env: NodeJS.ProcessEnv): string | undefined {
  const url = env.TARMAC_NATS_URL || undefined;
  if (url !== undefined && !/^(nats|tls|wss?):\/\/[^\s]+$/.test(url)) {
    throw new TarmacError('CONFIG_INVALID', 'TARMAC_NATS_URL must look like nats://host:4222', { details: { variable: 'TARMAC_NATS_URL' } });
  }
  return url;
}

function natsStreamVar(env: NodeJS.ProcessEnv): string {
  const name = env.TARMAC_NATS_STREAM || 'TARMAC_INGEST';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
    throw new TarmacError('CONFIG_INVALID', 'TARMAC_NATS_STREAM must be 1–64 letters, digits, "_" or "-"', { details: { variable: 'TARMAC_NATS_STREAM' } });
  }
  return name;
}

function clusterVar(env: NodeJS.ProcessEnv): string {
  const name = env.TARMAC_CLUSTER || 'default';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
    throw new TarmacError('CONFIG_INVALID', 'TARMAC_CLUSTER must be 1–64 letters, digits, "_" or "-"', { details: { variable: 'TARMAC_CLUSTER' } });
  }
  return name;
}

const FORBIDDEN_ALGORITHM = /^(none|HS\d+)$/i;

/** The OIDC settings, or undefined without TARMAC_OIDC_ISSUER; throws CONFIG_INVALID naming the variable. */
function oidcVars(env: NodeJS.ProcessEnv): OidcSettings | undefined {
  const issuer = env.TARMAC_OIDC_ISSUER || undefined;
  const fail = (variable: string, message: string): never => {
    throw new TarmacError('CONFIG_INVALID', `${variable} ${message}`, { details: { variable } });
  };
  if (issuer === undefined) {
    for (const name of ['TARMAC_OIDC_AUDIENCE', 'TARMAC_OIDC_JWKS_URL', 'TARMAC_OIDC_ROLE_MAP']) {
      if (env[name]) fail(name, 'is set but TARMAC_OIDC_ISSUER is not');
    }
    return undefined;
  }
  if (!isHttpUrl(issuer)) fail('TARMAC_OIDC_ISSUER', 'must be an http(s) URL, exactly as the provider writes it in "iss"');
  const audience = env.TARMAC_OIDC_AUDIENCE || fail('TARMAC_OIDC_AUDIENCE', 'is required with TARMAC_OIDC_ISSUER (the audience Tarmac\'s tokens are issued for)');
  const jwksUrl = env.TARMAC_OIDC_JWKS_URL || undefined;
  if (jwksUrl !== undefined && !isHttpUrl(jwksUrl)) fail('TARMAC_OIDC_JWKS_URL', 'must be an http(s) URL');
  const algorithms = (env.TARMAC_OIDC_ALGORITHMS || 'RS256,ES256,EdDSA').split(',').map((a) => a.trim()).filter(Boolean);
  for (const alg of algorithms) {
    if (FORBIDDEN_ALGORITHM.test(alg)) fail('TARMAC_OIDC_ALGORITHMS', `must not allow "${alg}": only asymmetric algorithms are verified against the provider's public keys`);
    if (!(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg)) fail('TARMAC_OIDC_ALGORITHMS', `has an unknown algorithm "${alg}" (allowed: ${ASYMMETRIC_ALGORITHMS.join(', ')})`);
  }
  if (algorithms.length === 0) fail('TARMAC_OIDC_ALGORITHMS', 'must name at least one algorithm');
  const roleClaim = env.TARMAC_OIDC_ROLE_CLAIM || 'roles';
  if (!/^[A-Za-z0-9_:/-]+(\.[A-Za-z0-9_:/-]+)*$/.test(roleClaim)) fail('TARMAC_OIDC_ROLE_CLAIM', 'must be a claim name or a dotted path like realm_access.roles');
  let roleMap: Record<string, Role> | undefined;
  if (env.TARMAC_OIDC_ROLE_MAP) {
    roleMap = Object.create(null) as Record<string, Role>;
    for (const pair of env.TARMAC_OIDC_ROLE_MAP.split(',').map((p) => p.trim()).filter(Boolean)) {
      const at = pair.lastIndexOf('=');
      const value = pair.slice(0, at).trim();
      const role = pair.slice(at + 1).trim();
      if (at <= 0 || !value) fail('TARMAC_OIDC_ROLE_MAP', `takes claim-value=role pairs, got "${pair}"`);
      if (!isRole(role)) fail('TARMAC_OIDC_ROLE_MAP', `maps "${value}" to "${role}", which is not one of ${ROLES.join(', ')}`);
      roleMap[value] = role as Role;
    }
  }
  return Object.freeze({
    issuer,
    audience,
    jwksUrl,
    algorithms: Object.freeze(algorithms),
    roleClaim,
    roleMap: roleMap && Object.freeze(roleMap),
    clockSkewSeconds: intVar(env, 'TARMAC_OIDC_CLOCK_SKEW_SECONDS', 60, 0, 300),
    jwksCacheSeconds: intVar(env, 'TARMAC_OIDC_JWKS_CACHE_SECONDS', 600, 1, 86_400),
    jwksCooldownSeconds: intVar(env, 'TARMAC_OIDC_JWKS_COOLDOWN_SECONDS', 30, 0, 3_600),
  });
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

function outboundAllowVar(env: NodeJS.ProcessEnv): string[] {
  const allow = listVar(env, 'TARMAC_OUTBOUND_ALLOW');
  checkOutboundPolicy({ allow });
  return allow;
}

/** A comma-separated list, trimmed, empty entries dropped. */
function listVar(env: NodeJS.ProcessEnv, name: string): string[] {
  return (env[name] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function tlsVar(env: NodeJS.ProcessEnv): Config['tls'] {
  const certPath = env.TARMAC_TLS_CERT || undefined;
  const keyPath = env.TARMAC_TLS_KEY || undefined;
  if (certPath === undefined && keyPath === undefined) return undefined;
  if (certPath === undefined || keyPath === undefined) {
    const missing = certPath === undefined ? 'TARMAC_TLS_CERT' : 'TARMAC_TLS_KEY';
    throw new TarmacError('CONFIG_INVALID', 'TARMAC_TLS_CERT and TARMAC_TLS_KEY must be set together', { details: { variable: missing } });
  }
  return { certPath: path.resolve(certPath), keyPath: path.resolve(keyPath) };
}

const MODEL_NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/;

function requireSignedVar(env: NodeJS.ProcessEnv): SigningConfig['requireSigned'] {
  const raw = (env.TARMAC_REQUIRE_SIGNED_VERSIONS ?? '').trim();
  if (raw === '' || /^(off|false|0|no|none)$/i.test(raw)) return 'none';
  if (/^(on|true|1|yes|all)$/i.test(raw)) return 'all';
  const models = listVar(env, 'TARMAC_REQUIRE_SIGNED_VERSIONS');
  const bad = models.find((m) => !MODEL_NAME.test(m));
  if (bad !== undefined) {
    throw new TarmacError('CONFIG_INVALID', `TARMAC_REQUIRE_SIGNED_VERSIONS must be true, false or a comma-separated list of model names; "${bad}" is not a model name`, {
      details: { variable: 'TARMAC_REQUIRE_SIGNED_VERSIONS' },
    });
  }
  return models;
}
