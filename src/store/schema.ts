import type { ColumnType, Generated } from 'kysely';

/**
 * The database schema as Kysely sees it, one interface per table. Instants are epoch milliseconds (UTC) in
 * BIGINT columns, JSON documents are TEXT, so one set of migrations serves SQLite and PostgreSQL alike.
 */
export interface Database {
  retention_policies: RetentionPoliciesTable;
  decision_registers: DecisionRegistersTable;
  rollouts: RolloutsTable;
  leases: LeasesTable;
  approvals: ApprovalsTable;
  deployment_revisions: DeploymentRevisionsTable;
  alert_config: AlertConfigTable;
  reference_profiles: ReferenceProfilesTable;
  monitor_windows: MonitorWindowsTable;
  models: ModelsTable;
  model_versions: ModelVersionsTable;
  aliases: AliasesTable;
  deployments: DeploymentsTable;
  api_keys: ApiKeysTable;
  predictions: PredictionsTable;
  feedback: FeedbackTable;
  audit_events: AuditEventsTable;
  contracts: ContractsTable;
  datasets: DatasetsTable;
  dataset_batches: DatasetBatchesTable;
  dataset_rows: DatasetRowsTable;
  quarantine: QuarantineTable;
  dataset_windows: DatasetWindowsTable;
  version_signatures: VersionSignaturesTable;
}

/** The Ed25519 signature of a version's manifest (one per version; signing again replaces it). */
export interface VersionSignaturesTable {
  model_name: string;
  version: number;
  /** The id of the trusted public key that verified it when it was attached. */
  key_id: string;
  /** Base64 of the 64-byte Ed25519 signature. */
  signature: string;
  /** The canonical (RFC 8785) manifest text that was signed. */
  manifest: string;
  signed_by: string;
  signed_at: number;
}

export interface ModelsTable {
  id: Generated<number>;
  name: string;
  description: string;
  owner: string;
  /** JSON object of string → string. */
  tags: string;
  created_at: number;
  updated_at: number;
}

export interface ModelVersionsTable {
  id: Generated<number>;
  model_id: number;
  version: number;
  artifact_sha256: string;
  artifact_size: number;
  /** JSON Signature. */
  signature: string;
  description: string;
  /** JSON object of string → string. */
  tags: string;
  /** JSON object of string → number. */
  metrics: string;
  /** JSON Lineage. */
  lineage: string;
  created_by: string;
  created_at: number;
  /** The data contract the version is bound to (both null when unbound). */
  contract_name: string | null;
  contract_version: number | null;
  /** JSON reference statistics of the version (null until computed). */
  reference: string | null;
}

export interface AliasesTable {
  model_id: number;
  alias: string;
  version: number;
  updated_by: string;
  updated_at: number;
}

export interface DeploymentsTable {
  model_id: number;
  /** JSON DeploymentSpec. */
  spec: string;
  revision: number;
  updated_by: string;
  updated_at: number;
}

export interface ApiKeysTable {
  id: string;
  name: string;
  role: string;
  /** sha256 hex of the secret part; the secret itself is never stored. */
  secret_hash: string;
  created_by: string;
  created_at: number;
  revoked_at: number | null;
  /** JSON `{models?, datasets?}` of names or globs; null: unrestricted. */
  scope: string | null;
  expires_at: number | null;
  last_used_at: number | null;
  rotated_at: number | null;
  /** sha256 hex of the secret before the last rotation, accepted until previous_expires_at. */
  previous_secret_hash: string | null;
  previous_expires_at: number | null;
  /** JSON {requests_per_minute?, records_per_day?}; null: the defaults. */
  limits: string | null;
}

export interface PredictionsTable {
  id: string;
  model: string;
  version: number;
  variant: string;
  request_id: string;
  created_at: number;
  /** JSON record (or V2 input row) as received. */
  inputs: string;
  /** JSON prediction for this record. */
  outputs: string;
  latency_ms: number;
}

export interface FeedbackTable {
  id: Generated<number>;
  prediction_id: string;
  /** JSON label or outcome. */
  label: string;
  created_by: string;
  created_at: number;
}

export interface AuditEventsTable {
  seq: Generated<number>;
  id: string;
  created_at: number;
  actor: string;
  action: string;
  target: string;
  outcome: string;
  /** JSON details. */
  details: string;
  prev_hash: string;
  hash: string;
  /** 1 for entries written before migration 0009, 2 since (see docs/audit.md). */
  format: ColumnType<number, number | undefined, number>;
  actor_role: string | null;
  ip: string | null;
  request_id: string | null;
  user_agent: string | null;
}

export interface ContractsTable {
  id: Generated<number>;
  name: string;
  /** Numbered per contract name: 1, 2, 3, … */
  version: number;
  /** The document's own `version` field (free text, e.g. 1.0.0). */
  odcs_version: string;
  /** The YAML exactly as registered. */
  document: string;
  sha256: string;
  compatibility: string;
  created_by: string;
  created_at: number;
}

export interface DatasetsTable {
  id: Generated<number>;
  name: string;
  description: string;
  contract_name: string;
  contract_version: number;
  /** JSON array of field names. */
  key_fields: string;
  event_time_field: string | null;
  window_seconds: number;
  allowed_lateness_seconds: number;
  /** JSON array of transformation declarations. */
  transforms: string;
  nats_subject: string | null;
  /** Highest accepted event time, epoch ms. */
  watermark: number | null;
  created_by: string;
  created_at: number;
  updated_at: number;
}

export interface DatasetBatchesTable {
  /** UUIDv7. */
  id: string;
  dataset_id: number;
  source: string;
  content_sha256: string | null;
  contract_version: number;
  /** running | completed | failed */
  status: string;
  rows_read: number;
  rows_accepted: number;
  rows_quarantined: number;
  rows_duplicate: number;
  rows_late: number;
  rows_too_late: number;
  error: string | null;
  created_by: string;
  started_at: number;
  updated_at: number;
  finished_at: number | null;
}

export interface DatasetRowsTable {
  /** Arrival order. */
  seq: Generated<number>;
  dataset_id: number;
  record_key: string;
  batch_id: string;
  event_time: number | null;
  /** JSON record. */
  data: string;
}

export interface QuarantineTable {
  id: Generated<number>;
  dataset_id: number;
  batch_id: string;
  source_ref: string;
  row_number: number;
  /** JSON row as read (or its raw text). */
  raw: string;
  /** JSON array of RowReason. */
  reasons: string;
  /** open | resubmitted | discarded */
  status: string;
  created_at: number;
  resolved_by: string | null;
  resolved_at: number | null;
  resolved_batch_id: string | null;
}

export interface DatasetWindowsTable {
  dataset_id: number;
  /** Epoch ms. */
  window_start: number;
  rows: number;
  late: number;
  too_late: number;
}

export interface ReferenceProfilesTable {
  model: string;
  version: number;
  rows: number;
  /** JSON DatasetProfile. */
  profile: string;
  source: string;
  created_at: number;
}

export interface MonitorWindowsTable {
  model: string;
  version: number;
  variant: string;
  window_start: number;
  window_seconds: number;
  replica: string;
  rows: number;
  profile: string;
  quality: string;
  drift: string;
  performance: string;
  updated_at: number;
}

export interface AlertConfigTable {
  name: string;
  document: string;
  updated_by: string;
  updated_at: number;
}

export interface DeploymentRevisionsTable {
  model_id: number;
  revision: number;
  /** JSON DeploymentSpec. */
  spec: string;
  updated_by: string;
  updated_at: number;
}

export interface RolloutsTable {
  id: string;
  model: string;
  status: string;
  /** JSON RolloutRecord. */
  state: string;
  created_at: number;
  updated_at: number;
}

export interface ApprovalsTable {
  id: string;
  model: string;
  status: string;
  /** JSON Approval (the delivery module's). */
  document: string;
  created_at: number;
  updated_at: number;
}

export interface LeasesTable {
  name: string;
  holder: string;
  expires_at: number;
}

export interface RetentionPoliciesTable {
  /** model | dataset */
  scope: string;
  name: string;
  /** JSON RetentionSettings. */
  settings: string;
  updated_by: string;
  updated_at: number;
}

export interface DecisionRegistersTable {
  model: string;
  /** JSON DecisionRegisterEntry. */
  document: string;
  updated_by: string;
  updated_at: number;
}
