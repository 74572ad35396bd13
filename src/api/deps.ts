import type { Registry } from 'prom-client';
import type { ExperimentService } from '../delivery/experiments/index.ts';
import type { RolloutService } from '../delivery/rollouts/index.ts';
import type { AlertingService, MonitorService } from '../monitoring/index.ts';
import type { DatasetService, IngestService } from '../pipelines/index.ts';
import type { ContractService, RegistryService, VersionSigningService } from '../registry/index.ts';
import type { AuditLog, DailyQuota, KeyService, RateLimits } from '../security/index.ts';
import type { FeedbackService, PredictService, RouteTable } from '../serving/index.ts';
import type { Logger } from '../shared/logger.ts';

/** What the HTTP edge needs from the domain; built by app.ts. */
export interface ApiDeps {
  registry: RegistryService;
  signing: VersionSigningService;
  contracts: ContractService;
  predict: PredictService;
  feedback: FeedbackService;
  datasets: DatasetService;
  ingest: IngestService;
  monitor: MonitorService;
  alerting: AlertingService;
  rollouts: RolloutService;
  experiments: ExperimentService;
  routes: RouteTable;
  keys: KeyService;
  audit: AuditLog;
  metrics: Registry;
  log: Logger;
  limits: { bodyLimitBytes: number; maxArtifactBytes: number; maxContractBytes?: number; maxUploadBytes: number; maxIngestRecords: number };
  /** Request rates, daily quotas and request-shape limits; absent: rates and quotas off, default shape limits. */
  protection?: { rates: RateLimits; quota: DailyQuota; maxJsonDepth: number; maxHeaderBytes: number };
  /** PEM certificate and key: the API speaks HTTPS (and sends HSTS). */
  tls?: { cert: Buffer; key: Buffer };
  /** A directory for spooled uploads (Parquet needs random access). */
  spoolDir: string;
  version: string;
}
