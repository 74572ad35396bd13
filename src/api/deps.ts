import type { Registry } from 'prom-client';
import type { ApprovalService } from '../delivery/approvals/index.ts';
import type { ExperimentService } from '../delivery/experiments/index.ts';
import type { RolloutService } from '../delivery/rollouts/index.ts';
import type { AlertingService, MonitorService } from '../monitoring/index.ts';
import type { DatasetService, IngestService } from '../pipelines/index.ts';
import type { ContractService, RegistryService, VersionSigningService } from '../registry/index.ts';
import type { DecisionRegisterService, RetentionService, SubjectRequestService } from '../privacy/index.ts';
import type { AuditLog, AuditVerifyService, AuthFailureLimiter, DailyQuota, KeyService, OidcVerifier, RateLimits } from '../security/index.ts';
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
  approvals: ApprovalService;
  experiments: ExperimentService;
  routes: RouteTable;
  keys: KeyService;
  /** Verifies OIDC bearer tokens; undefined when no provider is configured (API keys only). */
  oidc?: OidcVerifier;
  /** Blocks client addresses that fail authentication too often. */
  authFailures: AuthFailureLimiter;
  audit: AuditLog;
  /** Verifies the audit chain against the signed checkpoints and streams it for export. */
  auditVerify: AuditVerifyService;
  metrics: Registry;
  log: Logger;
  /** Retention policies, data subject requests and the automated-decision register. */
  privacy: { retention: RetentionService; subjects: SubjectRequestService; decisions: DecisionRegisterService };
  limits: { bodyLimitBytes: number; maxArtifactBytes: number; maxContractBytes?: number; maxUploadBytes: number; maxIngestRecords: number };
  /** Request rates, daily quotas and request-shape limits; absent: rates and quotas off, default shape limits. */
  protection?: { rates: RateLimits; quota: DailyQuota; maxJsonDepth: number; maxHeaderBytes: number };
  /** PEM certificate and key: the API speaks HTTPS (and sends HSTS). */
  tls?: { cert: Buffer; key: Buffer };
  /** A directory for spooled uploads (Parquet needs random access). */
  spoolDir: string;
  version: string;
}
