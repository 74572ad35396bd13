import type { Generated } from 'kysely';

/**
 * The database schema as Kysely sees it, one interface per table. Instants are epoch milliseconds (UTC) in
 * BIGINT columns, JSON documents are TEXT, so one set of migrations serves SQLite and PostgreSQL alike.
 */
export interface Database {
  models: ModelsTable;
  model_versions: ModelVersionsTable;
  aliases: AliasesTable;
  deployments: DeploymentsTable;
  api_keys: ApiKeysTable;
  predictions: PredictionsTable;
  feedback: FeedbackTable;
  audit_events: AuditEventsTable;
  contracts: ContractsTable;
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
