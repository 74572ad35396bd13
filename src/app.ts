import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { buildApp } from './api/index.ts';
import { InProcessEventBus, NatsEventBus, type EventBus } from './bus/index.ts';
import type { Config } from './config.ts';
import { ExperimentService } from './delivery/experiments/index.ts';
import { ApprovalService } from './delivery/approvals/index.ts';
import { RolloutService } from './delivery/rollouts/index.ts';
import { AlertingService, compareOutputProfiles, MonitorMetrics, MonitorService, type DatasetProfile } from './monitoring/index.ts';
import { DatasetService, IngestMetrics, IngestService, NatsDatasetConsumer } from './pipelines/index.ts';
import { ContractService, RegistryService, VersionSigningService } from './registry/index.ts';
import { HybridEngine, OnnxEngine, WorkerPoolEngine, type InferenceEngine } from './runtime/index.ts';
import {
  DecisionRegisterService, enforceResidency, hostOf, PiiPolicy, piiRulesOf, RetentionJanitor, RetentionService, subjectFieldsOf,
  SubjectRequestService, type Endpoint,
} from './privacy/index.ts';
import {
  AuditCheckpointer, AuditLog, AuditVerifyService, AuthFailureLimiter, DailyQuota, KeyService, loadOrCreateSigningKey, OidcVerifier, RateLimits,
  TrustedSigningKeys,
} from './security/index.ts';
import {
  FeedbackService, ModelPool, PredictionLogger, PredictService, RouteTable, ServingMetrics, StorePredictionSink,
  WorkerPredictionSink,
} from './serving/index.ts';
import { systemClock, type Clock } from './shared/clock.ts';
import { TarmacError } from './shared/errors.ts';
import { createLogger, type Logger } from './shared/logger.ts';
import { createStores, FileBlobStore, migrateToLatest, openDatabase, type StoreDatabase, type VersionRecord } from './store/index.ts';

/** Tarmac's version, reported by GET /v2 and the OpenAPI document. */
export const TARMAC_VERSION = '0.1.0';

/** A running Tarmac: every service, the HTTP app, and an orderly shutdown. */
export interface Tarmac {
  config: Readonly<Config>;
  log: Logger;
  api: FastifyInstance;
  registry: RegistryService;
  /** Signed version manifests and the signing policy. */
  signing: VersionSigningService;
  contracts: ContractService;
  keys: KeyService;
  audit: AuditLog;
  /** Writes signed checkpoints of the audit chain's head outside the database. */
  auditCheckpoints: AuditCheckpointer;
  auditVerify: AuditVerifyService;
  /** The event bus every service announces changes on. */
  bus: EventBus;
  routes: RouteTable;
  datasets: DatasetService;
  ingest: IngestService;
  monitor: MonitorService;
  alerting: AlertingService;
  rollouts: RolloutService;
  experiments: ExperimentService;
  predictionLogger: PredictionLogger;
  /** PII protection of stored copies of records (prediction log, quarantine, monitor). */
  pii: PiiPolicy;
  retention: RetentionService;
  /** Deletes expired data on an interval (once across replicas). */
  janitor: RetentionJanitor;
  subjects: SubjectRequestService;
  decisions: DecisionRegisterService;
  database: StoreDatabase;
  metrics: Registry;
  /** Requests per minute per principal; the key service may set per-key overrides. */
  rates: RateLimits;
  /** Records predicted per principal per UTC day; the key service may set per-key overrides. */
  quota: DailyQuota;
  /** Listens on config.host:config.port; resolves to the URL. */
  listen(): Promise<string>;
  /** Stops accepting requests, flushes the prediction log, disposes sessions, closes the store. */
  close(): Promise<void>;
}

/** Optional seams for tests: a logger, a clock. */
export interface TarmacOptions {
  log?: Logger;
  clock?: Clock;
}

/**
 * The composition root: the only place that picks adapters (SQLite or PostgreSQL, the in-process bus, ONNX Runtime)
 * and wires services together. Applies migrations, loads keys and deployments, and builds the API.
 */
export async function createTarmac(config: Readonly<Config>, options: TarmacOptions = {}): Promise<Tarmac> {
  const log = options.log ?? createLogger({ level: config.logLevel });
  const clock = options.clock ?? systemClock;
  // Residency first: nothing is written to, or connected to, an endpoint outside the allowed regions.
  enforceResidency(configuredEndpoints(config), config.residency);
  await mkdir(config.dataDir, { recursive: true });
  const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
  await migrateToLatest(database);
  const stores = createStores(database);
  const storedAlerts = await stores.monitor.getAlertConfig();
  if (storedAlerts) {
    try {
      enforceResidency(channelEndpoints((JSON.parse(storedAlerts.document) as { channels?: ChannelLike[] }).channels ?? []), config.residency);
    } catch (err) {
      await database.close();
      throw err;
    }
  }
  const blobs = new FileBlobStore(path.join(config.dataDir, 'blobs'));
  // With NATS configured, events reach every replica (scale-out); otherwise they stay in this process.
  const bus: EventBus = config.natsUrl !== undefined
    ? await NatsEventBus.connect({ url: config.natsUrl, cluster: config.cluster, log: log.child({ component: 'bus' }) })
    : new InProcessEventBus({ log: log.child({ component: 'bus' }) });
  const inline = new OnnxEngine({ intraOpThreads: config.intraOpThreads, interOpThreads: 1 });
  const engine: InferenceEngine = config.inferenceThreads > 0
    ? new HybridEngine({
      inline,
      pool: new WorkerPoolEngine({ threads: config.inferenceThreads, intraOpThreads: config.intraOpThreads, interOpThreads: 1 }),
      inlineMaxMicros: config.inlineMaxMicros,
    })
    : inline;

  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics, prefix: 'tarmac_process_' });
  const servingMetrics = new ServingMetrics(metrics);

  const audit = new AuditLog({ audit: stores.audit, clock, log: log.child({ component: 'audit' }), unitOfWork: stores.unitOfWork });
  const signingKey = await loadOrCreateSigningKey(path.join(config.dataDir, 'audit-signing.key'), path.join(config.dataDir, 'audit-signing.pub'));
  const auditCheckpoints = new AuditCheckpointer({
    audit: stores.audit, leases: stores.rollouts, key: signingKey, dir: config.audit.checkpointDir, holder: config.replica,
    intervalSeconds: config.audit.checkpointSeconds, clock, log: log.child({ component: 'audit-checkpoints' }),
  });
  auditCheckpoints.start();
  const auditVerify = new AuditVerifyService({ audit: stores.audit, checkpointDir: config.audit.checkpointDir, publicKeys: [signingKey.publicKey] });
  const keys = new KeyService({
    keys: stores.keys, audit, bus, clock, log: log.child({ component: 'keys' }), defaultGraceSeconds: config.auth.keyRotationGraceSeconds,
  });
  await keys.refresh();
  keys.startUsageFlush(config.auth.keyLastUsedFlushSeconds * 1000);
  const oidc = config.auth.oidc ? new OidcVerifier(config.auth.oidc, { allow: config.outboundAllow }) : undefined;
  const authFailures = new AuthFailureLimiter({ limits: config.auth.failures, clock });
  const contracts = new ContractService({ contracts: stores.contracts, audit, bus, clock });
  const maskSecret = config.piiHashKey ?? await piiHashKey(config.dataDir);
  const pii = new PiiPolicy({ versions: stores.models, contracts, secret: maskSecret });
  const signing: VersionSigningService = new VersionSigningService({
    signatures: stores.signatures, keys: TrustedSigningKeys.load(config.signing.trustedKeyPaths), require: config.signing.requireSigned,
    resolve: (name, ref): Promise<VersionRecord> => registry.resolveVersion(name, ref), audit, clock,
  });
  const registry: RegistryService = new RegistryService({
    models: stores.models, blobs, engine, contracts, audit, bus, clock, maxArtifactBytes: config.maxArtifactBytes, datasets: stores.datasets,
    servable: (version): Promise<void> => signing.assertServable(version),
  });

  const pool = new ModelPool({
    engine,
    readArtifact: (version) => registry.readArtifact(version),
    log: log.child({ component: 'runtime' }),
    maxExtra: config.extraLoadedVersions,
    batching: config.batching,
    metrics: servingMetrics,
  });
  const routes = new RouteTable({ source: stores.models, pool, contracts, log: log.child({ component: 'routes' }) });
  // An in-memory SQLite database cannot be shared with another thread; everything else is written off the event loop.
  const inMemory = [':memory:', 'sqlite::memory:', 'sqlite://:memory:'].includes(config.databaseUrl ?? '');
  const sink = inMemory
    ? new StorePredictionSink(stores.predictions)
    : new WorkerPredictionSink({ url: config.databaseUrl, dataDir: config.dataDir });
  const predictionLogger = new PredictionLogger({
    sink,
    metrics: servingMetrics,
    clock,
    log: log.child({ component: 'prediction-log' }),
    ...config.predictionLog,
    protect: (rows) => pii.protectPredictions(rows),
  });
  const predict = new PredictService({
    routes, pool, source: stores.models, logger: predictionLogger, metrics: servingMetrics, clock, maxBatchRecords: config.maxBatchRecords,
    onError: (e) => { if (config.monitor.enabled) monitor.observeError(e); },
    onViolation: (e) => { if (config.monitor.enabled) monitor.observeViolation(e); },
  });
  const alerting = new AlertingService({
    store: stores.monitor, audit, clock, log: log.child({ component: 'alerts' }), evaluationIntervalSeconds: config.monitor.windowSeconds,
    checkChannels: (channels) => void enforceResidency(channelEndpoints(channels), config.residency),
    outbound: { allow: config.outboundAllow },
  });
  await alerting.start();
  alerting.startTimer(Math.min(30_000, config.monitor.windowSeconds * 500));
  const monitor = new MonitorService({
    store: stores.monitor, settings: stores.monitor, models: stores.models, datasets: stores.datasets, audit, clock, log: log.child({ component: 'monitor' }),
    metrics: new MonitorMetrics(metrics), windowSeconds: config.monitor.windowSeconds, graceSeconds: config.monitor.graceSeconds,
    maxProfiledRows: config.monitor.maxProfiledRows,
    replica: config.replica,
    onWindowClosed: (summary) => alerting.onWindow(summary),
    score: (version, records) => predict.scoreUnlogged(version, records),
    piiFields: (model, version) => pii.piiFields(model, version),
  });
  if (config.monitor.enabled) {
    predictionLogger.addObserver((rows) => monitor.observe(rows));
    monitor.start(Math.min(5_000, config.monitor.windowSeconds * 250));
  }
  // Four-eyes promotion and rollouts know each other: approvals promote rollouts; the controller asks before promoting.
  const rollouts: RolloutService = new RolloutService({
    store: stores.rollouts, registry, audit, bus, clock, log: log.child({ component: 'rollouts' }),
    evidence: (model, version, variant, since, until) => monitor.variantEvidence(model, version, variant, since, until),
    compareOutputs: (canary, stable) => compareOutputProfiles(canary as DatasetProfile | null, stable as DatasetProfile | null),
    promotionGate: (state) => approvals.gateAutomaticPromotion(state),
  });
  const approvals: ApprovalService = new ApprovalService({ store: stores.rollouts, settings: stores.monitor, registry, rollouts: () => rollouts, audit, clock });
  rollouts.startController(5_000);
  const experiments = new ExperimentService({
    settings: stores.monitor, registry, routes, predictions: stores.predictions, audit, bus, clock,
    evidence: (model, version, variant, since, until) => monitor.variantEvidence(model, version, variant, since, until),
  });
  const feedback = new FeedbackService({ store: stores.predictions, logger: predictionLogger, metrics: servingMetrics, bus, clock,
    onLabels: config.monitor.enabled ? (pairs) => monitor.observeLabels(pairs) : undefined,
  });

  const datasets = new DatasetService({ datasets: stores.datasets, contracts, audit, bus, clock, maskSecret });
  const ingest = new IngestService({
    datasets: stores.datasets, contracts, audit, bus, clock, log: log.child({ component: 'ingest' }),
    maskSecret, chunkRows: config.ingestChunkRows, metrics: new IngestMetrics(metrics),
    quarantineProtection: (contract, transforms) => {
      const rules = piiRulesOf(contract);
      return (row) => ({ ...row, ...pii.protectQuarantined(rules, transforms, row.raw, row.reasons) });
    },
  });

  const requireModel = async (name: string): Promise<void> => {
    if (!(await stores.models.getModel(name))) throw new TarmacError('REGISTRY_MODEL_NOT_FOUND', `no model named "${name}"`, { details: { model: name } });
  };
  const retention = new RetentionService({
    store: stores.privacy, audit, clock, defaultDays: config.retention.defaultDays,
    exists: async (scope, name) => {
      if (scope === 'model') await requireModel(name);
      else await ingest.dataset(name);
    },
  });
  const janitor = new RetentionJanitor({
    store: stores.privacy, retention, audit, clock, log: log.child({ component: 'retention' }),
    acquireLease: (name, holder, now, until) => stores.rollouts.acquireLease(name, holder, now, until),
    batchSize: config.retention.batchSize,
  });
  janitor.start(config.retention.intervalSeconds * 1000);
  const subjects = new SubjectRequestService({
    store: stores.privacy, hasher: pii.hasher, audit,
    subjectFields: async () => {
      const latest = await stores.contracts.listLatest();
      const parsed = await Promise.all(latest.map((c) => contracts.get(c.name, c.version)));
      return [...new Set(parsed.flatMap(({ contract }) => subjectFieldsOf(contract)))];
    },
  });
  const decisions = new DecisionRegisterService({
    store: stores.privacy, audit, clock,
    modelExists: requireModel,
    piiFieldsOf: async (name) => {
      const deployment = await stores.models.getDeployment(name);
      const versions = deployment
        ? deployment.spec.variants.map((v) => v.version)
        : (await stores.models.listVersions(name)).slice(-1).map((v) => v.version);
      const fields = await Promise.all(versions.map((v) => pii.piiFields(name, v)));
      return [...new Set(fields.flatMap((f) => [...f]))];
    },
  });
  let nats: NatsDatasetConsumer | undefined;
  if (config.natsUrl !== undefined) {
    const consumer = new NatsDatasetConsumer({ url: config.natsUrl, streamName: config.natsStream, ingester: ingest, log });
    nats = consumer;
    await consumer.start(await stores.datasets.list());
    bus.subscribe('dataset.created', async ({ name, natsSubject }) => {
      if (natsSubject !== null) await consumer.addDataset({ name, natsSubject });
    });
  }

  bus.subscribe('deployment.changed', ({ model }) => routes.refresh(model));
  await routes.start();
  await experiments.load();
  bus.subscribe('experiment.changed', ({ model }) => experiments.load(model));
  servingMetrics.loadedVersions.set(pool.size);
  bus.subscribe('deployment.changed', () => servingMetrics.loadedVersions.set(pool.size));

  const rates = new RateLimits(config.protection.rateLimitPerMinute);
  const quota = new DailyQuota(config.protection.quotaRecordsPerDay, () => clock.now());
  // Keys with their own limits: applied now and whenever a key changes (here or, through the bus, on another replica).
  keys.onLimits((principalId, limits) => {
    rates.setOverride(principalId, limits?.requests_per_minute);
    quota.setOverride(principalId, limits?.records_per_day);
  });
  const tls = config.tls ? await readTls(config.tls) : undefined;
  const api = await buildApp({
    registry, signing, contracts, predict, feedback, datasets, ingest, monitor, alerting, rollouts, approvals, experiments, routes, keys, oidc, authFailures, audit, auditVerify, metrics, log,
    privacy: { retention, subjects, decisions },
    limits: {
      bodyLimitBytes: config.bodyLimitBytes, maxArtifactBytes: config.maxArtifactBytes,
      maxUploadBytes: config.maxUploadBytes, maxIngestRecords: config.maxIngestRecords,
    },
    spoolDir: path.join(config.dataDir, 'spool'),
    version: TARMAC_VERSION,
    protection: { rates, quota, maxJsonDepth: config.protection.maxJsonDepth, maxHeaderBytes: config.protection.maxHeaderBytes },
    ...(tls ? { tls } : {}),
  });

  let closed = false;
  return {
    config, log, api, registry, signing, contracts, keys, audit, auditCheckpoints, auditVerify, bus, routes, datasets, ingest, monitor, alerting, rollouts, experiments, predictionLogger, database, metrics, rates, quota,
    pii, retention, janitor, subjects, decisions,
    async listen() {
      return api.listen({ host: config.host, port: config.port });
    },
    async close() {
      if (closed) return;
      closed = true;
      await api.close();
      await keys.close();
      await rollouts.close();
      await janitor.close();
      await nats?.close();
      await predictionLogger.close();
      await monitor.close();
      await alerting.close();
      // After every other writer stopped, so the final checkpoint covers their last entries.
      await auditCheckpoints.close().catch((err: unknown) => log.error({ err }, 'final audit checkpoint failed'));
      await bus.close();
      // Sessions first (each after its last request), then the threads that hold them, then the routes' bookkeeping.
      await pool.close();
      await engine.close();
      routes.close();
      await database.close();
    },
  };
}

/** An alert channel as far as residency cares: where its notifications go. */
interface ChannelLike {
  name: string;
  type: string;
  url?: string;
  host?: string;
}

/** The endpoints the configuration names: this node's data directory, the database server, the NATS server. */
function configuredEndpoints(config: Readonly<Config>): Endpoint[] {
  const out: Endpoint[] = [{ name: `data directory ${config.dataDir}`, kind: 'local' }];
  if (config.databaseUrl !== undefined && /^postgres(ql)?:\/\//i.test(config.databaseUrl)) {
    out.push({ name: 'database (TARMAC_DATABASE_URL)', kind: 'database', host: hostOf(config.databaseUrl) ?? 'localhost' });
  }
  if (config.natsUrl !== undefined) out.push({ name: 'NATS (TARMAC_NATS_URL)', kind: 'nats', host: hostOf(config.natsUrl) ?? 'localhost' });
  return out;
}

/** Where alert channels send notifications (webhook and Slack URLs, SMTP hosts). */
function channelEndpoints(channels: readonly ChannelLike[]): Endpoint[] {
  return channels.flatMap((c): Endpoint[] => {
    const host = c.type === 'email' ? c.host?.toLowerCase() : c.url === undefined ? undefined : hostOf(c.url);
    return host === undefined ? [] : [{ name: `alert channel "${c.name}" (${c.type})`, kind: 'notification', host }];
  });
}

/**
 * The key that `mask` transformations hash PII with: kept in `dataDir/pii-hash.key` (mode 0600), made on first start,
 * so hashed values stay joinable across restarts but cannot be reversed by hashing guesses without the key.
 */
async function piiHashKey(dataDir: string): Promise<string> {
  const file = path.join(dataDir, 'pii-hash.key');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const key = randomBytes(32).toString('base64url');
  try {
    await writeFile(file, key + '\n', { mode: 0o600, flag: 'wx' });
    return key;
  } catch (err) {
    // Another process made it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return (await readFile(file, 'utf8')).trim();
    throw err;
  }
}

/** Reads the TLS certificate and key; a missing or unreadable file stops the start with CONFIG_INVALID naming it. */
async function readTls(paths: { certPath: string; keyPath: string }): Promise<{ cert: Buffer; key: Buffer }> {
  const read = async (file: string, variable: string) => {
    try {
      return await readFile(file);
    } catch (err) {
      throw new TarmacError('CONFIG_INVALID', `${variable} cannot be read: ${(err as Error).message}`, { details: { variable }, cause: err });
    }
  };
  return { cert: await read(paths.certPath, 'TARMAC_TLS_CERT'), key: await read(paths.keyPath, 'TARMAC_TLS_KEY') };
}
