import { createHash } from 'node:crypto';
import type { EventBus } from '../bus/index.ts';
import { parseOnnxModel, type InferenceEngine } from '../runtime/index.ts';
import type { Signature, Task } from '../runtime/types.ts';
import type { AuditLog, Principal } from '../security/index.ts';
import type { Clock } from '../shared/clock.ts';
import { TarmacError } from '../shared/errors.ts';
import type {
  AliasRecord, BatchingOverrides, BatchRecord, BlobStore, DatasetRecord, DatasetStore, DeploymentRecord, DeploymentSpec, Lineage, VariantSpec,
  ModelRecord, ModelStore, VersionRecord,
} from '../store/index.ts';
import type { ContractService } from './contract.service.ts';
import { assertAliasName, assertMetrics, assertModelName, assertTags } from './names.ts';

/** What a caller supplies to register a version of an artifact already uploaded. */
export interface RegisterVersionInput {
  name: string;
  artifactSha256: string;
  features?: string[];
  task?: Task;
  classLabels?: (string | number)[];
  description?: string;
  owner?: string;
  tags?: Record<string, string>;
  metrics?: Record<string, number>;
  lineage?: Lineage;
  /** A data contract to bind the version to: `NAME` (its latest version) or `NAME@VERSION`. */
  contract?: string;
  /** Reference statistics of the training data, for imputation at the serving edge. */
  reference?: ReferenceInput;
}

/** Reference statistics as a caller sends them (see VersionRecord.reference). */
export type ReferenceInput = NonNullable<VersionRecord['reference']>;

/** Where a version comes from and where it serves now: data → model → deployments. */
export interface VersionLineage {
  version: VersionRecord;
  /** The training batches in registration order; one that no longer exists is reported as missing. */
  batches: ({ id: string; batch: BatchRecord; dataset: DatasetRecord | undefined } | { id: string; batch: undefined })[];
  /** Aliases pointing at the version. */
  aliases: string[];
  deployment: DeploymentRecord | undefined;
}

/** The answer to an artifact upload: its content address and what Tarmac read from it. */
export interface UploadedArtifact {
  sha256: string;
  size: number;
  signature: Signature;
  producer: string;
  irVersion: number;
  opsets: Record<string, number>;
}

const SHA256 = /^[0-9a-f]{64}$/;
const LINEAGE_KEYS = new Set(['trainingData', 'trainingDataSha256', 'codeRef', 'parentVersion', 'datasetBatches']);
const MAX_DATASET_BATCHES = 1000;

/**
 * The model registry: content-addressed artifacts, immutable numbered versions, aliases and the deployment pointer.
 * Every change is audited and announced on the bus.
 */
/** A deployment change as a client submits it: one version (number or alias), or variants with weights and shadows. */
export interface DeploymentRequest {
  version?: number | string;
  variants?: { name: string; version: number | string; weight: number }[];
  shadows?: { name: string; version: number | string }[];
  batching?: BatchingOverrides;
  validation?: DeploymentSpec['validation'];
}

export class RegistryService {
  constructor(
    private readonly deps: {
      models: ModelStore;
      blobs: BlobStore;
      engine: InferenceEngine;
      contracts: ContractService;
      audit: AuditLog;
      bus: EventBus;
      clock: Clock;
      maxArtifactBytes: number;
      /** Ingestion batches, to check a version's training batches (lineage) exist; without it none may be named. */
      datasets?: Pick<DatasetStore, 'getBatch' | 'getById'>;
      /**
       * The signing policy's check of a version about to be deployed or loaded (VersionSigningService.assertServable);
       * it throws to refuse. Without it, any version whose artifact verifies may serve.
       */
      servable?: (version: VersionRecord) => Promise<void>;
    },
  ) {}

  /**
   * Stores an ONNX file by its sha256 after checking it is a loadable ONNX model within the size limit.
   * Throws REGISTRY_ARTIFACT_TOO_LARGE or REGISTRY_INVALID_ONNX.
   */
  async uploadArtifact(bytes: Uint8Array, by: Principal): Promise<UploadedArtifact> {
    if (bytes.byteLength > this.deps.maxArtifactBytes) {
      throw new TarmacError('REGISTRY_ARTIFACT_TOO_LARGE', `the artifact has ${bytes.byteLength} bytes; the limit is ${this.deps.maxArtifactBytes} (TARMAC_MAX_ARTIFACT_MB)`, {
        details: { size: bytes.byteLength, limit: this.deps.maxArtifactBytes },
      });
    }
    if (bytes.byteLength === 0) {
      throw new TarmacError('REGISTRY_INVALID_ONNX', 'the artifact is empty', { issues: [{ field: '/body', rule: 'min_length', message: 'must not be empty' }] });
    }
    const parsed = parseOnnxModel(bytes);
    // A protobuf that parses may still be rejected by the runtime (unknown operators, broken graphs): try it now,
    // so that a bad artifact is refused at the door instead of at deploy time.
    const loaded = await this.deps.engine.load(bytes, parsed.signature);
    await loaded.dispose();
    const sha256 = await this.deps.blobs.put(bytes);
    await this.deps.audit.record(by, 'artifact.upload', `artifact:${sha256}`, { size: bytes.byteLength });
    return { sha256, size: bytes.byteLength, signature: parsed.signature, producer: parsed.producer, irVersion: parsed.irVersion, opsets: parsed.opsets };
  }

  /**
   * Registers the next version of `name` (creating the model) from an uploaded artifact.
   * Throws REGISTRY_INVALID_NAME, VALIDATION_FAILED, REGISTRY_DUPLICATE_ARTIFACT (naming the version that holds it),
   * REGISTRY_FEATURES_MISMATCH or REGISTRY_INVALID_ONNX; with `contract`, CONTRACT_NOT_FOUND or
   * CONTRACT_FEATURES_MISMATCH (the feature names must equal the contract's field names, as sets); with
   * `lineage.datasetBatches`, DATASET_BATCH_NOT_FOUND naming the first unknown batch id.
   */
  async registerVersion(input: RegisterVersionInput, by: Principal): Promise<VersionRecord> {
    assertModelName(input.name);
    if (typeof input.artifactSha256 !== 'string' || !SHA256.test(input.artifactSha256)) {
      throw new TarmacError('VALIDATION_FAILED', 'artifact_sha256 must be 64 lowercase hex characters', {
        issues: [{ field: '/artifact_sha256', rule: 'pattern', message: 'must match ^[0-9a-f]{64}$' }],
      });
    }
    const tags = input.tags ?? {};
    assertTags(tags);
    const metrics = input.metrics ?? {};
    assertMetrics(metrics);
    const lineage: Lineage = Object.fromEntries(Object.entries(input.lineage ?? {}).filter(([, v]) => v !== undefined));
    for (const key of Object.keys(lineage)) {
      if (!LINEAGE_KEYS.has(key)) {
        throw new TarmacError('VALIDATION_FAILED', `unknown lineage field "${key}"`, {
          issues: [{ field: `/lineage/${key}`, rule: 'unknown_field', message: `allowed: ${[...LINEAGE_KEYS].join(', ')}` }],
        });
      }
    }
    if (lineage.datasetBatches !== undefined) lineage.datasetBatches = await this.checkBatches(lineage.datasetBatches);
    if (!(await this.deps.blobs.has(input.artifactSha256))) {
      throw new TarmacError('VALIDATION_FAILED', `no uploaded artifact with sha256 ${input.artifactSha256}: upload it first (POST /v1/artifacts)`, {
        issues: [{ field: '/artifact_sha256', rule: 'exists', message: 'must name an uploaded artifact' }],
      });
    }
    const holder = await this.deps.models.findVersionBySha256(input.artifactSha256);
    if (holder) {
      throw new TarmacError('REGISTRY_DUPLICATE_ARTIFACT', `this artifact is already registered as ${holder.modelName} version ${holder.version}`, {
        details: { model: holder.modelName, version: holder.version, sha256: input.artifactSha256 },
      });
    }
    const bytes = await this.deps.blobs.get(input.artifactSha256);
    const parsed = parseOnnxModel(bytes, { features: input.features, task: input.task, classLabels: input.classLabels });
    const contract = input.contract === undefined ? undefined : await this.bindContract(input.contract, parsed.signature);
    const reference = input.reference === undefined ? undefined : checkReference(input.reference, parsed.signature);
    // The version and its audit entry commit together (or neither does); the event follows the commit.
    const version = await this.deps.audit.atomically(async () => {
      const added = await this.deps.models.addVersion({
      modelName: input.name,
      artifactSha256: input.artifactSha256,
      artifactSize: bytes.byteLength,
      signature: parsed.signature,
      description: input.description ?? '',
      tags,
      metrics,
      lineage,
      createdBy: by.id,
      createdAt: this.deps.clock.now(),
      contract: contract ?? null,
      reference: reference ?? null,
      model: { description: input.description ?? '', owner: input.owner ?? by.name, tags },
      });
      await this.deps.audit.record(by, 'version.register', `model:${input.name}/${added.version}`, {
        sha256: input.artifactSha256,
        ...(contract ? { contract: `${contract.name}@${contract.version}` } : {}),
        ...(lineage.datasetBatches ? { dataset_batches: lineage.datasetBatches } : {}),
        ...(reference ? { reference: { rows: reference.rows, source: reference.source } } : {}),
      });
      return added;
    });
    await this.deps.bus.publish('version.registered', { model: input.name, version: version.version, sha256: input.artifactSha256, by: by.id });
    return version;
  }

  /** Uploads and registers in one call (the CLI and the demo use it). */
  async register(bytes: Uint8Array, input: Omit<RegisterVersionInput, 'artifactSha256'>, by: Principal): Promise<VersionRecord> {
    assertModelName(input.name);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const holder = await this.deps.models.findVersionBySha256(sha256);
    if (holder) {
      throw new TarmacError('REGISTRY_DUPLICATE_ARTIFACT', `this artifact is already registered as ${holder.modelName} version ${holder.version}`, {
        details: { model: holder.modelName, version: holder.version, sha256 },
      });
    }
    await this.uploadArtifact(bytes, by);
    return this.registerVersion({ ...input, artifactSha256: sha256 }, by);
  }

  /** Lists every model. */
  listModels(): Promise<ModelRecord[]> {
    return this.deps.models.listModels();
  }

  /** A model with its versions, aliases and deployment. Throws REGISTRY_MODEL_NOT_FOUND. */
  async describeModel(name: string): Promise<{ model: ModelRecord; versions: VersionRecord[]; aliases: AliasRecord[]; deployment: DeploymentRecord | undefined }> {
    const model = await this.requireModel(name);
    const [versions, aliases, deployment] = await Promise.all([
      this.deps.models.listVersions(name),
      this.deps.models.listAliases(name),
      this.deps.models.getDeployment(name),
    ]);
    return { model, versions, aliases, deployment };
  }

  /**
   * Resolves a version reference (a number, an alias or `latest`) to a version.
   * Throws REGISTRY_MODEL_NOT_FOUND, REGISTRY_ALIAS_NOT_FOUND or REGISTRY_VERSION_NOT_FOUND.
   */
  async resolveVersion(name: string, ref: string | number): Promise<VersionRecord> {
    await this.requireModel(name);
    const text = String(ref);
    let number: number | undefined;
    if (/^[1-9][0-9]{0,9}$/.test(text)) number = Number(text);
    else if (text === 'latest') {
      const versions = await this.deps.models.listVersions(name);
      number = versions.at(-1)?.version;
    } else {
      const alias = (await this.deps.models.listAliases(name)).find((a) => a.alias === text);
      if (!alias) {
        throw new TarmacError('REGISTRY_ALIAS_NOT_FOUND', `model "${name}" has no version or alias "${text}"`, { details: { model: name, ref: text } });
      }
      number = alias.version;
    }
    const version = number === undefined ? undefined : await this.deps.models.getVersion(name, number);
    if (!version) {
      throw new TarmacError('REGISTRY_VERSION_NOT_FOUND', `model "${name}" has no version ${text}`, { details: { model: name, version: text } });
    }
    return version;
  }

  /** Points `alias` at a version atomically. Throws on a bad alias name or an unknown version. */
  async setAlias(name: string, alias: string, ref: string | number, by: Principal): Promise<AliasRecord> {
    assertAliasName(alias);
    const version = await this.resolveVersion(name, ref);
    const at = this.deps.clock.now();
    const previous = await this.deps.audit.atomically(async () => {
      const before = await this.deps.models.setAlias(name, alias, version.version, by.id, at);
      await this.deps.audit.record(by, 'alias.set', `model:${name}/alias:${alias}`, {
        version: version.version, previous: before ?? null, before: before ?? null, after: version.version,
      });
      return before;
    });
    await this.deps.bus.publish('alias.moved', { model: name, alias, version: version.version, previous: previous ?? null, by: by.id });
    return { modelName: name, alias, version: version.version, updatedBy: by.id, updatedAt: at };
  }

  /** Removes an alias. Throws REGISTRY_ALIAS_NOT_FOUND. */
  async deleteAlias(name: string, alias: string, by: Principal): Promise<void> {
    await this.requireModel(name);
    const existing = (await this.deps.models.listAliases(name)).find((a) => a.alias === alias);
    await this.deps.audit.atomically(async () => {
      if (!existing || !(await this.deps.models.deleteAlias(name, alias))) {
        throw new TarmacError('REGISTRY_ALIAS_NOT_FOUND', `model "${name}" has no alias "${alias}"`, { details: { model: name, alias } });
      }
      await this.deps.audit.record(by, 'alias.delete', `model:${name}/alias:${alias}`, { previous: existing.version, before: existing.version, after: null });
    });
    await this.deps.bus.publish('alias.moved', { model: name, alias, version: null, previous: existing!.version, by: by.id });
  }

  /**
   * Makes one version serve all of `name`'s traffic (traffic splits come with progressive delivery). Throws
   * VALIDATION_FAILED naming `/validation/...` when the contract policy's fallback is missing, doubled or unsound.
   */
  /** Applies a deployment request: a traffic split (setDeployment) when it names variants, else one version (deploy). */
  async applyDeploymentRequest(name: string, request: DeploymentRequest, by: Principal): Promise<DeploymentRecord> {
    const { batching, validation } = request;
    if (request.variants) return this.setDeployment(name, { variants: request.variants, shadows: request.shadows, batching, validation }, by);
    return this.deploy(name, request.version!, by, { batching, validation });
  }

  async deploy(name: string, ref: string | number, by: Principal, options: { batching?: BatchingOverrides; validation?: DeploymentSpec['validation'] } = {}): Promise<DeploymentRecord> {
    const version = await this.resolveVersion(name, ref);
    const fallbackVersion = options.validation ? await this.checkValidation(version, options.validation) : undefined;
    // Refuse before switching anything when the artifact is missing or no longer matches its hash, or is unsigned.
    await this.checkServable(version);
    if (fallbackVersion) await this.checkServable(fallbackVersion);
    const record = await this.deps.audit.atomically(async () => {
      const previous = await this.deps.models.getDeployment(name);
      const put = await this.deps.models.putDeployment(
        name,
        {
          variants: [{ name: 'stable', version: version.version, weight: 100 }],
          ...(options.batching ? { batching: options.batching } : {}),
          ...(options.validation ? { validation: options.validation } : {}),
        },
        by.id,
        this.deps.clock.now(),
      );
      await this.deps.audit.record(by, 'deployment.set', `model:${name}`, {
        version: version.version,
        previous: previous?.spec.variants.map((v) => v.version) ?? [],
        revision: put.revision,
        ...(options.batching ? { batching: options.batching } : {}),
        ...(options.validation ? { validation: options.validation } : {}),
        before: previous?.spec ?? null,
        after: put.spec,
      });
      return put;
    });
    await this.deps.bus.publish('deployment.changed', { model: name, revision: record.revision, by: by.id });
    return record;
  }

  /**
   * The model's deployment revisions, newest first; with `at`, the ones made at or before it (the first is what served
   * then). Throws REGISTRY_MODEL_NOT_FOUND.
   */
  async deploymentHistory(name: string, options: { limit: number; at?: number }): Promise<DeploymentRecord[]> {
    await this.requireModel(name);
    return this.deps.models.listDeploymentRevisions(name, options);
  }

  /**
   * Restores an earlier deployment revision as a new revision (the previous one when `revision` is not given), after
   * checking that its versions' artifacts still verify. The route swap follows on every replica through the bus.
   * Throws REGISTRY_MODEL_NOT_FOUND, SERVING_NOT_DEPLOYED, DEPLOYMENT_REVISION_NOT_FOUND or DEPLOYMENT_NOTHING_TO_ROLL_BACK.
   */
  async rollback(name: string, revision: number | undefined, by: Principal): Promise<DeploymentRecord> {
    const current = await this.getDeployment(name);
    let target: DeploymentRecord | undefined;
    if (revision === undefined) {
      // The newest revision that served something else: re-deploying the same spec twice is not a rollback target.
      const history = await this.deps.models.listDeploymentRevisions(name, { limit: 1000 });
      target = history.find((r) => r.revision < current.revision && JSON.stringify(r.spec) !== JSON.stringify(current.spec));
      if (!target) {
        throw new TarmacError('DEPLOYMENT_NOTHING_TO_ROLL_BACK', `model "${name}" has no earlier deployment revision that differs from revision ${current.revision}`, {
          details: { model: name, revision: current.revision },
        });
      }
    } else {
      target = await this.deps.models.getDeploymentRevision(name, revision);
      if (!target) {
        throw new TarmacError('DEPLOYMENT_REVISION_NOT_FOUND', `model "${name}" has no deployment revision ${revision}`, { details: { model: name, revision } });
      }
    }
    for (const variant of target.spec.variants) {
      const version = await this.deps.models.getVersion(name, variant.version);
      if (!version) throw new TarmacError('REGISTRY_VERSION_NOT_FOUND', `model "${name}" has no version ${variant.version}`, { details: { model: name, version: variant.version } });
      await this.checkServable(version);
    }
    const restored = target;
    const record = await this.deps.audit.atomically(async () => {
      const put = await this.deps.models.putDeployment(name, restored.spec, by.id, this.deps.clock.now());
      await this.deps.audit.record(by, 'deployment.rollback', `model:${name}`, {
        from_revision: current.revision, restored_revision: restored.revision, revision: put.revision,
        versions: restored.spec.variants.map((v) => v.version), previous_versions: current.spec.variants.map((v) => v.version),
        before: current.spec, after: put.spec,
      });
      return put;
    });
    await this.deps.bus.publish('deployment.changed', { model: name, revision: record.revision, by: by.id });
    return record;
  }

  /**
   * Serves a traffic split (variants with weights) and optional shadow variants, after checking every version (it
   * exists, its artifact verifies, the contract policy suits it). Throws VALIDATION_FAILED naming the field (duplicate
   * names, no weight), REGISTRY_VERSION_NOT_FOUND, or as deploy().
   */
  async setDeployment(
    name: string,
    input: { variants: { name: string; version: string | number; weight: number }[]; shadows?: { name: string; version: string | number }[]; batching?: BatchingOverrides; validation?: DeploymentSpec['validation'] },
    by: Principal,
  ): Promise<DeploymentRecord> {
    const names = [...input.variants.map((v) => v.name), ...(input.shadows ?? []).map((v) => v.name)];
    const issues: { field: string; rule: string; message: string }[] = [];
    names.forEach((n, i) => {
      if (names.indexOf(n) !== i) issues.push({ field: i < input.variants.length ? `/variants/${i}/name` : `/shadows/${i - input.variants.length}/name`, rule: 'unique', message: `variant name ${n} is used twice` });
    });
    if (input.variants.reduce((sum, v) => sum + v.weight, 0) <= 0) issues.push({ field: '/variants', rule: 'weight', message: 'at least one variant needs a weight above 0' });
    if (issues.length > 0) throw new TarmacError('VALIDATION_FAILED', `the deployment is not valid: ${issues.map((i) => i.message).join('; ')}`, { issues });
    const variants: VariantSpec[] = [];
    for (const v of input.variants) {
      const version = await this.resolveVersion(name, v.version);
      if (input.validation) await this.checkValidation(version, input.validation);
      await this.checkServable(version);
      variants.push({ name: v.name, version: version.version, weight: v.weight });
    }
    const shadows: { name: string; version: number }[] = [];
    for (const sh of input.shadows ?? []) {
      const version = await this.resolveVersion(name, sh.version);
      await this.checkServable(version);
      shadows.push({ name: sh.name, version: version.version });
    }
    const spec: DeploymentSpec = {
      variants,
      ...(shadows.length > 0 ? { shadows } : {}),
      ...(input.batching ? { batching: input.batching } : {}),
      ...(input.validation ? { validation: input.validation } : {}),
    };
    const record = await this.deps.audit.atomically(async () => {
      const previous = await this.deps.models.getDeployment(name);
      const put = await this.deps.models.putDeployment(name, spec, by.id, this.deps.clock.now());
      await this.deps.audit.record(by, 'deployment.set', `model:${name}`, {
        variants, shadows, revision: put.revision, previous: previous?.spec.variants ?? [], before: previous?.spec ?? null, after: put.spec,
      });
      return put;
    });
    await this.deps.bus.publish('deployment.changed', { model: name, revision: record.revision, by: by.id });
    return record;
  }

  /** The deployment of `name`. Throws REGISTRY_MODEL_NOT_FOUND or SERVING_NOT_DEPLOYED. */
  async getDeployment(name: string): Promise<DeploymentRecord> {
    await this.requireModel(name);
    const deployment = await this.deps.models.getDeployment(name);
    if (!deployment) throw new TarmacError('SERVING_NOT_DEPLOYED', `model "${name}" is not deployed: run \`tarmac deploy ${name} <version>\``, { details: { model: name } });
    return deployment;
  }

  /** Every deployment (the serving route table is built from these). */
  listDeployments(): Promise<DeploymentRecord[]> {
    return this.deps.models.listDeployments();
  }

  /**
   * Reads a version's artifact for loading, verified against its content hash and, when the signing policy covers
   * the model, its signature. Throws REGISTRY_INTEGRITY_FAILED, SIGNATURE_REQUIRED or SIGNATURE_INVALID.
   */
  async readArtifact(version: VersionRecord): Promise<Uint8Array> {
    const bytes = await this.deps.blobs.get(version.artifactSha256);
    await this.deps.servable?.(version);
    return bytes;
  }

  /** Checks a version may serve: its artifact verifies against its hash, and the signing policy is met. */
  private async checkServable(version: VersionRecord): Promise<void> {
    await this.deps.blobs.get(version.artifactSha256);
    await this.deps.servable?.(version);
  }

  /**
   * A version's lineage: the dataset batches it was trained on, the version itself, and the aliases and deployment
   * that serve it now. Throws like resolveVersion.
   */
  async lineage(name: string, ref: string | number): Promise<VersionLineage> {
    const version = await this.resolveVersion(name, ref);
    const [aliases, deployment] = await Promise.all([this.deps.models.listAliases(name), this.deps.models.getDeployment(name)]);
    const datasets = new Map<number, Promise<DatasetRecord | undefined>>();
    const batches = await Promise.all((version.lineage.datasetBatches ?? []).map(async (id) => {
      const batch = this.deps.datasets ? await this.deps.datasets.getBatch(id) : undefined;
      if (!batch) return { id, batch: undefined };
      let dataset = datasets.get(batch.datasetId);
      if (!dataset) {
        dataset = this.deps.datasets!.getById(batch.datasetId);
        datasets.set(batch.datasetId, dataset);
      }
      return { id, batch, dataset: await dataset };
    }));
    return { version, batches, aliases: aliases.filter((a) => a.version === version.version).map((a) => a.alias), deployment };
  }

  /**
   * Checks the contract policy of a deployment of `version`: a fallback (rule or version) only with policy
   * `fallback`, exactly one of the two, and a fallback version that can answer what the contract refuses. Returns the
   * fallback version, if any. Throws VALIDATION_FAILED naming the field and the rule.
   */
  private async checkValidation(version: VersionRecord, validation: NonNullable<DeploymentSpec['validation']>): Promise<VersionRecord | undefined> {
    const refuse = (field: string, rule: string, message: string, details: Record<string, unknown> = {}) =>
      new TarmacError('VALIDATION_FAILED', `validation${field}: ${message}`, { issues: [{ field: `/validation${field}`, rule, message }], details });
    const hasRule = validation.fallback !== undefined;
    const hasVersion = validation.fallbackVersion !== undefined;
    if (validation.policy !== 'fallback') {
      if (hasVersion) throw refuse('/fallback_version', 'policy', 'a fallback version is only used with policy "fallback"');
      if (hasRule) throw refuse('/fallback', 'policy', 'a fallback rule is only used with policy "fallback"');
      return undefined;
    }
    if (hasRule === hasVersion) {
      throw refuse(hasRule ? '/fallback_version' : '/fallback', 'one_of', 'policy "fallback" takes exactly one of "fallback" (a rule\'s answer) or "fallback_version"');
    }
    if (!hasVersion) return undefined;
    const number = validation.fallbackVersion!;
    const model = version.modelName;
    if (!Number.isInteger(number) || number < 1) throw refuse('/fallback_version', 'integer', 'must be a positive integer');
    if (number === version.version) throw refuse('/fallback_version', 'not_self', `must differ from the deployed version ${version.version}`);
    const fallback = await this.deps.models.getVersion(model, number);
    if (!fallback) throw refuse('/fallback_version', 'exists', `model "${model}" has no version ${number}`, { model, version: number });
    if (fallback.signature.layout === 'tensor') {
      throw refuse('/fallback_version', 'records', `version ${number} takes only V2 tensors, not records, so it cannot answer records`);
    }
    if (fallback.contract && version.contract && fallback.contract.name === version.contract.name && fallback.contract.version === version.contract.version) {
      throw refuse('/fallback_version', 'contract', `version ${number} is bound to the same contract ${version.contract.name}@${version.contract.version}, so it would refuse the same records`, {
        contract: `${version.contract.name}@${version.contract.version}`,
      });
    }
    const available = new Set(featureNamesOf(version.signature));
    const extra = featureNamesOf(fallback.signature).filter((f) => !available.has(f));
    if (extra.length > 0) {
      throw refuse('/fallback_version', 'features_subset', `version ${number} reads ${extra.join(', ')}, which version ${version.version}'s records do not carry; its features must be a subset of ${[...available].join(', ')}`, { extra });
    }
    return fallback;
  }

  /** De-duplicates the batch ids and checks each exists. Throws VALIDATION_FAILED or DATASET_BATCH_NOT_FOUND. */
  private async checkBatches(ids: unknown): Promise<string[]> {
    if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string' || id.length === 0 || id.length > 200)) {
      throw new TarmacError('VALIDATION_FAILED', 'lineage.dataset_batches must be an array of batch ids', {
        issues: [{ field: '/lineage/dataset_batches', rule: 'type', message: 'must be an array of non-empty strings (batch ids)' }],
      });
    }
    const unique = [...new Set(ids as string[])];
    if (unique.length > MAX_DATASET_BATCHES) {
      throw new TarmacError('VALIDATION_FAILED', `at most ${MAX_DATASET_BATCHES} dataset batches per version`, {
        issues: [{ field: '/lineage/dataset_batches', rule: 'max_items', message: `must have at most ${MAX_DATASET_BATCHES} items` }],
      });
    }
    const { datasets } = this.deps;
    const found = datasets ? await Promise.all(unique.map((id) => datasets.getBatch(id))) : unique.map(() => undefined);
    const missing = unique.findIndex((_, i) => !found[i]);
    if (missing >= 0) {
      const id = unique[missing]!;
      throw new TarmacError('DATASET_BATCH_NOT_FOUND', `no ingestion batch with id "${id}"`, {
        details: { batch: id },
        issues: [{ field: `/lineage/dataset_batches/${(ids as string[]).indexOf(id)}`, rule: 'exists', message: `batch "${id}" does not exist` }],
      });
    }
    return unique;
  }

  /**
   * Resolves a contract reference and checks that the signature's feature names equal its field names (as sets).
   * Throws CONTRACT_NOT_FOUND or CONTRACT_FEATURES_MISMATCH listing every missing and extra name.
   */
  private async bindContract(reference: string, signature: Signature): Promise<{ name: string; version: number }> {
    const { record, contract } = await this.deps.contracts.resolve(reference);
    const features = featureNamesOf(signature);
    const featureSet = new Set(features);
    const fieldSet = new Set(contract.fields.map((f) => f.name));
    const missing = [...fieldSet].filter((f) => !featureSet.has(f));
    const extra = features.filter((f) => !fieldSet.has(f));
    if (missing.length > 0 || extra.length > 0) {
      throw new TarmacError('CONTRACT_FEATURES_MISMATCH', `the model's features do not match contract ${record.name} version ${record.version}: ${[
        missing.length ? `missing ${missing.join(', ')}` : '', extra.length ? `not in the contract ${extra.join(', ')}` : '',
      ].filter(Boolean).join('; ')}`, {
        details: { contract: record.name, contract_version: record.version, missing, extra },
        issues: [
          ...missing.map((name) => ({ field: `/features/${name}`, rule: 'missing', message: `contract field "${name}" is not a feature of the model` })),
          ...extra.map((name) => ({ field: `/features/${name}`, rule: 'extra', message: `feature "${name}" is not a field of the contract` })),
        ],
      });
    }
    return { name: record.name, version: record.version };
  }

  private async requireModel(name: string): Promise<ModelRecord> {
    const model = await this.deps.models.getModel(name);
    if (!model) throw new TarmacError('REGISTRY_MODEL_NOT_FOUND', `no model named "${name}"`, { details: { model: name } });
    return model;
  }
}

/** The names a version reads from a record: its feature names, or its input names for a model without them. */
function featureNamesOf(signature: Signature): string[] {
  return signature.features.length > 0 ? signature.features.map((f) => f.name) : signature.inputs.map((i) => i.name);
}

/**
 * Checks reference statistics: a row count, finite numeric medians and scalar modes, each for a feature of the
 * version and none for both. Throws VALIDATION_FAILED naming the field under `/reference`.
 */
function checkReference(reference: ReferenceInput, signature: Signature): ReferenceInput {
  const refuse = (field: string, rule: string, message: string) =>
    new TarmacError('VALIDATION_FAILED', `reference${field}: ${message}`, { issues: [{ field: `/reference${field}`, rule, message }] });
  if (typeof reference !== 'object' || reference === null || Array.isArray(reference)) throw refuse('', 'type', 'must be an object');
  const { rows, medians = {}, modes = {}, source = '' } = reference;
  if (!Number.isSafeInteger(rows) || rows < 0) throw refuse('/rows', 'integer', 'must be a non-negative integer');
  if (typeof source !== 'string' || source.length > 2000) throw refuse('/source', 'type', 'must be a string of at most 2000 characters');
  const features = new Set(featureNamesOf(signature));
  const check = (kind: 'medians' | 'modes', values: unknown, valid: (v: unknown) => boolean, expected: string) => {
    if (typeof values !== 'object' || values === null || Array.isArray(values)) throw refuse(`/${kind}`, 'type', 'must be an object keyed by feature name');
    for (const [name, value] of Object.entries(values)) {
      if (!features.has(name)) throw refuse(`/${kind}/${name}`, 'feature', `"${name}" is not a feature of the model (features: ${[...features].join(', ')})`);
      if (!valid(value)) throw refuse(`/${kind}/${name}`, 'type', `must be ${expected}`);
    }
  };
  check('medians', medians, (v) => typeof v === 'number' && Number.isFinite(v), 'a finite number');
  check('modes', modes, (v) => ['string', 'number', 'boolean'].includes(typeof v) && (typeof v !== 'number' || Number.isFinite(v)), 'a string, a finite number or a boolean');
  for (const name of Object.keys(medians)) {
    if (Object.hasOwn(modes, name)) throw refuse(`/modes/${name}`, 'one_of', `"${name}" has a median already; a field has a median or a mode, not both`);
  }
  return { rows, medians, modes, source };
}
