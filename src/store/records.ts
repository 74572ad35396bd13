import type { Signature } from '../runtime/types.ts';

/** Where a version came from: the data it was trained on and the code that trained it. */
export interface Lineage {
  trainingData?: string;
  trainingDataSha256?: string;
  codeRef?: string;
  parentVersion?: number;
  /** Ids of the ingestion batches (DatasetStore) the version was trained on; each existed when it was registered. */
  datasetBatches?: string[];
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
  /**
   * Reference statistics of the training data (per-field lower median of numeric fields, most frequent value of the
   * others), used to impute at the serving edge; null when none were registered.
   */
  reference: {
    rows: number;
    medians: Record<string, number>;
    modes: Record<string, string | number | boolean>;
    source: string;
  } | null;
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
  /** Versions that get a copy of the traffic: their answers are logged and compared, never returned. */
  shadows?: { name: string; version: number }[];
  batching?: BatchingOverrides;
  /** What a record that breaks the version's bound contract gets (default `reject` when a contract is bound). */
  validation?: {
    policy: 'reject' | 'impute' | 'fallback' | 'off';
    /** The rule's answer for records that break the contract (policy `fallback`; exclusive with `fallbackVersion`). */
    fallback?: { prediction: number | string | boolean; probabilities?: Record<string, number> };
    /**
     * A version of the same model that answers records that break the contract (policy `fallback`; exclusive with
     * `fallback`): not bound to the same contract version, and its features a subset of the contract's fields.
     */
    fallbackVersion?: number;
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
  /** Names or globs the key is restricted to; null: unrestricted. */
  scope: { models?: string[]; datasets?: string[] } | null;
  expiresAt: number | null;
  lastUsedAt: number | null;
  rotatedAt: number | null;
  /** The hash of the secret before the last rotation, accepted until `previousExpiresAt`. */
  previousSecretHash: string | null;
  previousExpiresAt: number | null;
  /** The key's own request rate and daily records quota; null (or a missing member): the defaults. */
  limits?: KeyLimits | null;
}

/** A key's own limits (0: unlimited). */
export interface KeyLimits {
  requests_per_minute?: number;
  records_per_day?: number;
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
  /**
   * The inputs' JSON text as the client sent it, when the serving edge kept it: written instead of serialising
   * `inputs` again (the same value once parsed). Never set when the stored inputs differ from what was sent.
   */
  inputsJson?: string;
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

/** One entry of the hash-chained audit log: who, what, when, from where, and the details (before/after when known). */
export interface AuditRecord {
  /** Position in the chain: 1, 2, 3, … without gaps (entries before migration 0009 on PostgreSQL may skip numbers). */
  seq: number;
  /** The entry format its hash follows: 1 (before migration 0009) or 2 (see docs/audit.md). */
  format: number;
  id: string;
  /** When, in epoch milliseconds (UTC). */
  createdAt: number;
  /** Who: the principal id (`key:<id>`, `system`, `anonymous`, …). */
  actor: string;
  /** The actor's role at the time, when known. */
  actorRole: string | null;
  action: string;
  target: string;
  outcome: 'ok' | 'denied' | 'failed';
  /** From where: the client address, the request id and the user agent, when the action came through the API. */
  ip: string | null;
  requestId: string | null;
  userAgent: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

/** What a caller appends; the store assigns the seq, the format and the hashes. */
export type NewAuditEntry = Omit<AuditRecord, 'seq' | 'format' | 'prevHash' | 'hash'>;

/** The last entry of the chain and how many entries there are, read in one statement. */
export interface AuditHead {
  seq: number;
  hash: string;
  count: number;
}

/** Input for a new version; the repository assigns the id and the next number atomically. */
export interface NewVersion extends Omit<VersionRecord, 'id' | 'modelId' | 'version' | 'contract' | 'reference'> {
  /** The contract version to bind to (none when absent). */
  contract?: ContractBinding | null;
  /** Reference statistics of the training data (none when absent). */
  reference?: VersionRecord['reference'];
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
  /** The model's deployment revisions, newest first; with `at`, only those made at or before it. */
  listDeploymentRevisions(modelName: string, options: { limit: number; at?: number }): Promise<DeploymentRecord[]>;
  getDeploymentRevision(modelName: string, revision: number): Promise<DeploymentRecord | undefined>;
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
  /** Replaces an unrevoked key's secret, keeping the old one valid until `previousExpiresAt`; false when no such key. */
  rotate(id: string, change: { secretHash: string; previousSecretHash: string; previousExpiresAt: number; rotatedAt: number }): Promise<boolean>;
  /** Replaces a key's own limits (null: the defaults); false when no such key. */
  setLimits(id: string, limits: KeyLimits | null): Promise<boolean>;
  /** Records last-use times in one batch (never moving a time backwards). */
  touch(uses: ReadonlyMap<string, number>): Promise<void>;
  count(): Promise<number>;
}

/** The prediction log and its feedback. */
export interface PredictionStore {
  insertMany(rows: PredictionRecord[]): Promise<void>;
  get(id: string): Promise<PredictionRecord | undefined>;
  /** The subset of `ids` that exist (and, when `model` is given, belong to that model). */
  existing(ids: string[], model?: string): Promise<Set<string>>;
  /** Labels joined to their predictions' variants, for a model's predictions made at or after `since`. */
  labelsByVariant(model: string, since: number): Promise<{ variant: string; label: unknown; unit?: string }[]>;
  /** The predictions with these ids (unknown ids left out). */
  getMany(ids: string[]): Promise<PredictionRecord[]>;
  insertFeedback(rows: FeedbackRecord[]): Promise<void>;
  feedbackFor(predictionId: string): Promise<FeedbackRecord[]>;
  count(model?: string): Promise<number>;
}

/** One store transaction that repository calls and audit appends made inside `run` join (see `inTransaction`). */
export interface UnitOfWork {
  /** Runs `fn` in one transaction: commits when it resolves, rolls back when it throws. Nested runs join the outer. */
  run<T>(fn: () => Promise<T>): Promise<T>;
}

/** The append-only audit log; `append` computes the chain under a lock so concurrent writers never fork it. */
export interface AuditStore {
  /** Appends inside the ambient transaction when there is one, so the entry commits or rolls back with the change. */
  append(entry: NewAuditEntry): Promise<AuditRecord>;
  /** Entries in seq order: after `afterSeq`, created at or after `from` (epoch ms), at most `limit`. */
  list(options?: { limit?: number; afterSeq?: number; from?: number }): Promise<AuditRecord[]>;
  /** The chain's head, or undefined when the log is empty. */
  head(): Promise<AuditHead | undefined>;
}

/** Content-addressed artifact storage. */
export interface BlobStore {
  /** Stores bytes under their sha256 (idempotent); returns the hash. */
  put(bytes: Uint8Array): Promise<string>;
  /** Reads and verifies the bytes; throws REGISTRY_INTEGRITY_FAILED on a mismatch and when absent (details.missing). */
  get(sha256: string): Promise<Uint8Array>;
  has(sha256: string): Promise<boolean>;
}

/** A named dataset governed by one pinned contract version, with its ingestion pipeline settings. */
export interface DatasetRecord {
  id: number;
  name: string;
  description: string;
  /** The contract version every accepted row satisfies. */
  contract: ContractBinding;
  /** Fields whose values identify a row for de-duplication; empty means the whole record's content. */
  keyFields: string[];
  /** The event-time field (epoch ms, ISO 8601 date-time or date), if the dataset has one. */
  eventTimeField: string | null;
  /** Tumbling window size for event-time accounting, in seconds. */
  windowSeconds: number;
  /** How long after a window ends (by the watermark) it still accepts rows, in seconds. */
  allowedLatenessSeconds: number;
  /** The pipeline's declared transformations (JSON as submitted; compiled by the pipelines module). */
  transforms: unknown[];
  /** A NATS JetStream subject this dataset consumes, if any. */
  natsSubject: string | null;
  /** The highest event time accepted so far (epoch ms), or null before any. */
  watermark: number | null;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
}

/** Input for a new dataset; the repository assigns the id. */
export type NewDataset = Omit<DatasetRecord, 'id' | 'watermark' | 'updatedAt'>;

/** Row counts of one ingestion batch. */
export interface BatchCounts {
  /** Rows read from the source (including bad and duplicate ones). */
  read: number;
  /** Rows stored for the first time. */
  accepted: number;
  /** Rows refused by parsing, transformation or the contract, or arriving after their window closed. */
  quarantined: number;
  /** Rows whose key was already stored (earlier batch, earlier in this batch, or a retried message). */
  duplicates: number;
  /** Accepted rows whose event time was behind the watermark but inside the allowed lateness. */
  late: number;
  /** Rows whose window had already closed (quarantined with rule `lateness`; part of `quarantined`). */
  tooLate: number;
}

/** One ingestion batch: a file, an HTTP request's records, or a slice of a stream. */
export interface BatchRecord {
  /** Time-ordered id (UUIDv7). */
  id: string;
  datasetId: number;
  datasetName: string;
  /** Where the rows came from: `file:NAME`, `http`, `nats:SUBJECT`, `resubmit`. */
  source: string;
  /** sha256 of the source bytes (hex); for a file known up front, it identifies the batch for resumption. */
  contentSha256: string | null;
  contractVersion: number;
  status: 'running' | 'completed' | 'failed';
  counts: BatchCounts;
  /** Why a failed batch could not be processed. */
  error: string | null;
  createdBy: string;
  startedAt: number;
  /** Last checkpoint (chunk commit) time. */
  updatedAt: number;
  finishedAt: number | null;
}

/** Input for a new batch. */
export type NewBatch = Pick<BatchRecord, 'id' | 'datasetId' | 'source' | 'contentSha256' | 'contractVersion' | 'createdBy' | 'startedAt'>;

/** A row as stored in a dataset: after transformation, valid under the contract. */
export interface StoredRow {
  /** The de-duplication key (canonical text of the key fields, or a content hash). */
  key: string;
  eventTime: number | null;
  data: Record<string, unknown>;
}

/** A stored row read back, in arrival order. */
export interface DatasetRowRecord extends StoredRow {
  seq: number;
  batchId: string;
}

/** One reason a row was refused. */
export interface RowReason {
  field: string;
  rule: string;
  message: string;
}

/** A refused row to keep, with every reason. */
export interface QuarantinedRow {
  /** Identifies the source the row came from (file or body sha256, or a stream message id): with `rowNumber`, it makes quarantining idempotent. */
  sourceRef: string;
  /** 1-based row number within the source (a CSV's header is not a row). */
  rowNumber: number;
  /** The row as read (object, or the raw text when it could not be parsed). */
  raw: unknown;
  reasons: RowReason[];
}

/** A quarantined row as stored. */
export interface QuarantineRecord extends QuarantinedRow {
  id: number;
  datasetId: number;
  batchId: string;
  status: 'open' | 'resubmitted' | 'discarded';
  createdAt: number;
  resolvedBy: string | null;
  resolvedAt: number | null;
  /** The batch that stored the corrected row (status `resubmitted`). */
  resolvedBatchId: string | null;
}

/** Per-window event-time counts of a dataset. */
export interface WindowCountsRecord {
  /** Window start, epoch ms. */
  windowStart: number;
  rows: number;
  late: number;
  tooLate: number;
}

/** One chunk of a batch, committed atomically with the batch's checkpoint. */
export interface ChunkCommit {
  batchId: string;
  datasetId: number;
  /** New rows to store; a row whose key is already stored is skipped and counted as a duplicate. */
  rows: StoredRow[];
  quarantine: QuarantinedRow[];
  /** Count increments for this chunk, except `accepted` and `duplicates` (the store derives those from `rows`, adding `duplicates`). */
  counts: Omit<BatchCounts, 'accepted'>;
  /** The dataset's watermark after this chunk (unchanged when null). */
  watermark: number | null;
  /** Window count increments. */
  windows: WindowCountsRecord[];
  at: number;
}

/** Datasets, their batches, stored rows, quarantine and window counts. */
export interface DatasetStore {
  /** Throws DATASET_EXISTS (details.dataset) when the name exists. */
  create(input: NewDataset): Promise<DatasetRecord>;
  get(name: string): Promise<DatasetRecord | undefined>;
  getById(id: number): Promise<DatasetRecord | undefined>;
  list(): Promise<DatasetRecord[]>;
  /** Re-pins the contract version (after a compatible contract change). */
  updateContract(datasetId: number, contract: ContractBinding, at: number): Promise<void>;
  startBatch(input: NewBatch): Promise<BatchRecord>;
  /** The most recent `running` batch of this dataset with this content hash (a crashed ingestion to resume). */
  findRunningBatch(datasetId: number, contentSha256: string): Promise<BatchRecord | undefined>;
  getBatch(id: string): Promise<BatchRecord | undefined>;
  /** Newest first. */
  listBatches(datasetId: number, limit: number): Promise<BatchRecord[]>;
  /** The subset of `keys` already stored in the dataset. */
  existingKeys(datasetId: number, keys: string[]): Promise<Set<string>>;
  /**
   * In one transaction: inserts the rows whose key is new (insert-or-ignore, so a concurrent writer never stores a
   * key twice), inserts quarantined rows not already held for (sourceRef, rowNumber), adds the counts (accepted =
   * rows inserted; rows skipped add to duplicates) to the batch, moves the watermark and adds window counts.
   * Returns what was inserted.
   */
  commitChunk(chunk: ChunkCommit): Promise<{ inserted: number; duplicates: number; quarantined: number }>;
  /** Marks the batch completed or failed; returns it. */
  finishBatch(id: string, status: 'completed' | 'failed', at: number, error?: string, contentSha256?: string): Promise<BatchRecord>;
  listQuarantine(datasetId: number, options: { status?: QuarantineRecord['status']; limit: number; afterId?: number }): Promise<QuarantineRecord[]>;
  getQuarantine(datasetId: number, id: number): Promise<QuarantineRecord | undefined>;
  /** Marks an open quarantined row resolved; false when it was not open. */
  resolveQuarantine(id: number, status: 'resubmitted' | 'discarded', by: string, at: number, batchId: string | null): Promise<boolean>;
  countQuarantine(datasetId: number, status?: QuarantineRecord['status']): Promise<number>;
  countRows(datasetId: number): Promise<number>;
  /** Stored rows in arrival order after `afterSeq`. */
  readRows(datasetId: number, afterSeq: number, limit: number): Promise<DatasetRowRecord[]>;
  windows(datasetId: number, limit: number): Promise<WindowCountsRecord[]>;
}

/** A version's reference profile (features and outputs), as JSON text from the monitoring module. */
export interface ReferenceProfileRecord {
  model: string;
  version: number;
  rows: number;
  /** `DatasetProfile.toJSON()` text. */
  profile: string;
  source: string;
  createdAt: number;
}

/** One closed (or updated) monitoring window of one variant. */
export interface MonitorWindowRecord {
  model: string;
  version: number;
  variant: string;
  windowStart: number;
  windowSeconds: number;
  /** The replica that observed this part of the window (readers merge the parts). */
  replica: string;
  rows: number;
  /** JSON text of the window's profile, quality, drift report and performance accumulators. */
  profile: string;
  quality: string;
  drift: string;
  performance: string;
  updatedAt: number;
}

/** Reference profiles and monitoring windows. */
export interface MonitorStore {
  putReference(record: ReferenceProfileRecord): Promise<void>;
  getReference(model: string, version: number): Promise<ReferenceProfileRecord | undefined>;
  /** Inserts or replaces one replica's part of a window (same model, version, variant, start, size and replica). */
  putWindow(record: MonitorWindowRecord): Promise<void>;
  /** Window parts of a model (every replica's), newest first, optionally of one version/variant, started at or after `since`. */
  listWindows(model: string, options: { version?: number; variant?: string; since?: number; limit: number }): Promise<MonitorWindowRecord[]>;
  /** One replica's part of a window. */
  getWindow(model: string, version: number, variant: string, windowStart: number, windowSeconds: number, replica: string): Promise<MonitorWindowRecord | undefined>;
}

/** The alerting configuration document (channels and rules) as stored. */
export interface AlertConfigRecord {
  document: string;
  updatedBy: string;
  updatedAt: number;
}

/** Where the alerting configuration (and other monitoring settings, by name) live. */
export interface AlertConfigStore {
  getAlertConfig(): Promise<AlertConfigRecord | undefined>;
  putAlertConfig(document: string, by: string, at: number): Promise<void>;
  /** A named monitoring setting document (e.g. `business:MODEL`). */
  getSetting(name: string): Promise<AlertConfigRecord | undefined>;
  putSetting(name: string, document: string, by: string, at: number): Promise<void>;
}

/** A rollout as stored: its state document (the delivery module's RolloutState) and its status for queries. */
export interface RolloutRow {
  id: string;
  model: string;
  status: string;
  state: string;
  createdAt: number;
  updatedAt: number;
}

/** A four-eyes approval as stored: its document (the delivery module's Approval) and its status for queries. */
export interface ApprovalRow {
  id: string;
  model: string;
  status: string;
  document: string;
  createdAt: number;
  updatedAt: number;
}

/** Rollouts, four-eyes approvals, and leases that make a singleton job run on one replica at a time. */
export interface RolloutStore {
  /** Inserts an approval, or updates it only while its stored status is still `expectStatus` (false otherwise). */
  putApproval(row: ApprovalRow, expectStatus?: string): Promise<boolean>;
  getApproval(id: string): Promise<ApprovalRow | undefined>;
  /** A model's approvals, newest first, optionally of one status. */
  listApprovals(model: string, options: { status?: string; limit: number }): Promise<ApprovalRow[]>;
  putRollout(row: RolloutRow): Promise<void>;
  /** The newest rollout of a model. */
  latestRollout(model: string): Promise<RolloutRow | undefined>;
  /** Rollouts whose status is one of these. */
  listRollouts(statuses: string[]): Promise<RolloutRow[]>;
  /** Takes or renews the lease `name` for `holder` until `until`; false when another holder's lease is still valid. */
  acquireLease(name: string, holder: string, now: number, until: number): Promise<boolean>;
}

/** A version's manifest signature as stored. */
export interface VersionSignatureRecord {
  modelName: string;
  version: number;
  keyId: string;
  /** Base64 of the Ed25519 signature. */
  signature: string;
  /** The canonical manifest text that was signed. */
  manifest: string;
  signedBy: string;
  signedAt: number;
}

/** Persistence of version signatures. */
export interface SignatureStore {
  /** Stores the signature of a version, replacing an earlier one. */
  put(record: VersionSignatureRecord): Promise<void>;
  /** The signature of a version, if it has one. */
  get(modelName: string, version: number): Promise<VersionSignatureRecord | undefined>;
}
