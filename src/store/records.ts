import type { Signature } from '../runtime/types.ts';

/** Where a version came from: the data it was trained on and the code that trained it. */
export interface Lineage {
  trainingData?: string;
  trainingDataSha256?: string;
  codeRef?: string;
  parentVersion?: number;
}

/** A registered model. */
export interface ModelRecord {
  id: number;
  name: string;
  description: string;
  owner: string;
  tags: Record<string, string>;
  createdAt: number;
  updatedAt: number;
}

/** An immutable model version. */
export interface VersionRecord {
  id: number;
  modelId: number;
  modelName: string;
  version: number;
  artifactSha256: string;
  artifactSize: number;
  signature: Signature;
  description: string;
  tags: Record<string, string>;
  metrics: Record<string, number>;
  lineage: Lineage;
  createdBy: string;
  createdAt: number;
  /** The data contract version the version's features are bound to, if any. */
  contract: ContractBinding | null;
}

/** A model version's binding to one version of a data contract. */
export interface ContractBinding {
  name: string;
  version: number;
}

/** A movable name that points at one version of a model. */
export interface AliasRecord {
  modelName: string;
  alias: string;
  version: number;
  updatedBy: string;
  updatedAt: number;
}

/** One variant of a deployment: a version and its share of traffic (issue 6 adds more kinds). */
export interface VariantSpec {
  name: string;
  version: number;
  weight: number;
}

/** Per-deployment overrides of the adaptive batcher (unset fields take the server's defaults). */
export interface BatchingOverrides {
  enabled?: boolean;
  maxBatchSize?: number;
  maxQueueDelayMs?: number;
}

/** What serves a model now. */
export interface DeploymentSpec {
  variants: VariantSpec[];
  batching?: BatchingOverrides;
  /** What a record that breaks the version's bound contract gets (default `reject` when a contract is bound). */
  validation?: {
    policy: 'reject' | 'impute' | 'fallback' | 'off';
    /** The rule's answer for records that break the contract (policy `fallback`). */
    fallback?: { prediction: number | string | boolean; probabilities?: Record<string, number> };
  };
}

/** A deployment as stored, with its optimistic-concurrency revision. */
export interface DeploymentRecord {
  modelName: string;
  spec: DeploymentSpec;
  revision: number;
  updatedBy: string;
  updatedAt: number;
}

/** An API key as stored: never the secret, only its hash. */
export interface ApiKeyRecord {
  id: string;
  name: string;
  role: string;
  secretHash: string;
  createdBy: string;
  createdAt: number;
  revokedAt: number | null;
}

/** One answered record, as the prediction log keeps it. */
export interface PredictionRecord {
  id: string;
  model: string;
  version: number;
  variant: string;
  requestId: string;
  createdAt: number;
  inputs: unknown;
  outputs: unknown;
  latencyMs: number;
}

/** A ground-truth label joined to a prediction. */
export interface FeedbackRecord {
  predictionId: string;
  label: unknown;
  createdBy: string;
  createdAt: number;
}

/** One entry of the hash-chained audit log. */
export interface AuditRecord {
  seq: number;
  id: string;
  createdAt: number;
  actor: string;
  action: string;
  target: string;
  outcome: 'ok' | 'denied' | 'failed';
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

/** Input for a new version; the repository assigns the id and the next number atomically. */
export interface NewVersion extends Omit<VersionRecord, 'id' | 'modelId' | 'version' | 'contract'> {
  /** The contract version to bind to (none when absent). */
  contract?: ContractBinding | null;
  /** Model-level fields used only when the model does not exist yet. */
  model: { description: string; owner: string; tags: Record<string, string> };
}

/** Models, versions, aliases and deployments: the registry's aggregate. */
export interface ModelStore {
  /** Creates the model when absent and adds the next version in one transaction; returns the new version. */
  addVersion(input: NewVersion): Promise<VersionRecord>;
  getModel(name: string): Promise<ModelRecord | undefined>;
  listModels(): Promise<ModelRecord[]>;
  getVersion(modelName: string, version: number): Promise<VersionRecord | undefined>;
  listVersions(modelName: string): Promise<VersionRecord[]>;
  /** The version (of any model) whose artifact has this sha256, if one exists. */
  findVersionBySha256(sha256: string): Promise<VersionRecord | undefined>;
  /** Points `alias` at `version` atomically (insert or move); returns the previous version, if any. */
  setAlias(modelName: string, alias: string, version: number, by: string, at: number): Promise<number | undefined>;
  deleteAlias(modelName: string, alias: string): Promise<boolean>;
  listAliases(modelName: string): Promise<AliasRecord[]>;
  getDeployment(modelName: string): Promise<DeploymentRecord | undefined>;
  listDeployments(): Promise<DeploymentRecord[]>;
  /** Replaces the deployment; when `expectedRevision` is given and differs, throws STORE_CONFLICT. */
  putDeployment(modelName: string, spec: DeploymentSpec, by: string, at: number, expectedRevision?: number): Promise<DeploymentRecord>;
}

/** One registered version of a data contract: the YAML as given plus what the registry indexes. */
export interface ContractRecord {
  id: number;
  name: string;
  /** Numbered per contract name: 1, 2, 3, … */
  version: number;
  /** The document's own `version` field. */
  odcsVersion: string;
  document: string;
  sha256: string;
  compatibility: string;
  createdBy: string;
  createdAt: number;
}

/** Input for a new contract version; the repository assigns the id and the next number atomically. */
export type NewContract = Omit<ContractRecord, 'id' | 'version'>;

/** Versioned data contracts. */
export interface ContractStore {
  /** Adds version max+1 of `input.name` (1 for a new name); safe under concurrent calls. */
  add(input: NewContract): Promise<ContractRecord>;
  get(name: string, version: number): Promise<ContractRecord | undefined>;
  /** The highest version of `name`, if any. */
  latest(name: string): Promise<ContractRecord | undefined>;
  /** The versions of `name`, oldest first; empty for an unknown name. */
  listVersions(name: string): Promise<ContractRecord[]>;
  /** The latest version of every contract, by name. */
  listLatest(): Promise<ContractRecord[]>;
}

/** API keys. */
export interface KeyStore {
  insert(key: ApiKeyRecord): Promise<void>;
  get(id: string): Promise<ApiKeyRecord | undefined>;
  list(): Promise<ApiKeyRecord[]>;
  /** Marks a key revoked; false when no such key. */
  revoke(id: string, at: number): Promise<boolean>;
  count(): Promise<number>;
}

/** The prediction log and its feedback. */
export interface PredictionStore {
  insertMany(rows: PredictionRecord[]): Promise<void>;
  get(id: string): Promise<PredictionRecord | undefined>;
  /** The subset of `ids` that exist (and, when `model` is given, belong to that model). */
  existing(ids: string[], model?: string): Promise<Set<string>>;
  insertFeedback(rows: FeedbackRecord[]): Promise<void>;
  feedbackFor(predictionId: string): Promise<FeedbackRecord[]>;
  count(model?: string): Promise<number>;
}

/** The append-only audit log; `append` computes the chain under a lock so concurrent writers never fork it. */
export interface AuditStore {
  append(entry: Omit<AuditRecord, 'seq' | 'prevHash' | 'hash'>): Promise<AuditRecord>;
  list(options?: { limit?: number; afterSeq?: number }): Promise<AuditRecord[]>;
}

/** Content-addressed artifact storage. */
export interface BlobStore {
  /** Stores bytes under their sha256 (idempotent); returns the hash. */
  put(bytes: Uint8Array): Promise<string>;
  /** Reads and verifies the bytes; throws REGISTRY_INTEGRITY_FAILED on a mismatch and when absent (details.missing). */
  get(sha256: string): Promise<Uint8Array>;
  has(sha256: string): Promise<boolean>;
}
