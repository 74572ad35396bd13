import { createHash } from 'node:crypto';
import type { EventBus } from '../bus/index.ts';
import { parseOnnxModel, type InferenceEngine } from '../runtime/index.ts';
import type { Signature, Task } from '../runtime/types.ts';
import type { AuditLog, Principal } from '../security/index.ts';
import type { Clock } from '../shared/clock.ts';
import { TarmacError } from '../shared/errors.ts';
import type {
  AliasRecord, BatchingOverrides, BlobStore, DeploymentRecord, DeploymentSpec, Lineage, ModelRecord, ModelStore, VersionRecord,
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
const LINEAGE_KEYS = new Set(['trainingData', 'trainingDataSha256', 'codeRef', 'parentVersion']);

/**
 * The model registry: content-addressed artifacts, immutable numbered versions, aliases and the deployment pointer.
 * Every change is audited and announced on the bus.
 */
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
   * CONTRACT_FEATURES_MISMATCH (the feature names must equal the contract's field names, as sets).
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
    const lineage = input.lineage ?? {};
    for (const key of Object.keys(lineage)) {
      if (!LINEAGE_KEYS.has(key)) {
        throw new TarmacError('VALIDATION_FAILED', `unknown lineage field "${key}"`, {
          issues: [{ field: `/lineage/${key}`, rule: 'unknown_field', message: `allowed: ${[...LINEAGE_KEYS].join(', ')}` }],
        });
      }
    }
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
    const version = await this.deps.models.addVersion({
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
      model: { description: input.description ?? '', owner: input.owner ?? by.name, tags },
    });
    await this.deps.audit.record(by, 'version.register', `model:${input.name}/${version.version}`, {
      sha256: input.artifactSha256,
      ...(contract ? { contract: `${contract.name}@${contract.version}` } : {}),
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
    const previous = await this.deps.models.setAlias(name, alias, version.version, by.id, at);
    await this.deps.audit.record(by, 'alias.set', `model:${name}/alias:${alias}`, { version: version.version, previous: previous ?? null });
    await this.deps.bus.publish('alias.moved', { model: name, alias, version: version.version, previous: previous ?? null, by: by.id });
    return { modelName: name, alias, version: version.version, updatedBy: by.id, updatedAt: at };
  }

  /** Removes an alias. Throws REGISTRY_ALIAS_NOT_FOUND. */
  async deleteAlias(name: string, alias: string, by: Principal): Promise<void> {
    await this.requireModel(name);
    const existing = (await this.deps.models.listAliases(name)).find((a) => a.alias === alias);
    if (!existing || !(await this.deps.models.deleteAlias(name, alias))) {
      throw new TarmacError('REGISTRY_ALIAS_NOT_FOUND', `model "${name}" has no alias "${alias}"`, { details: { model: name, alias } });
    }
    await this.deps.audit.record(by, 'alias.delete', `model:${name}/alias:${alias}`, { previous: existing.version });
    await this.deps.bus.publish('alias.moved', { model: name, alias, version: null, previous: existing.version, by: by.id });
  }

  /** Makes one version serve all of `name`'s traffic (traffic splits come with progressive delivery). */
  async deploy(name: string, ref: string | number, by: Principal, options: { batching?: BatchingOverrides; validation?: DeploymentSpec['validation'] } = {}): Promise<DeploymentRecord> {
    const version = await this.resolveVersion(name, ref);
    // Refuse before switching anything when the artifact is missing or no longer matches its hash.
    await this.deps.blobs.get(version.artifactSha256);
    const previous = await this.deps.models.getDeployment(name);
    const record = await this.deps.models.putDeployment(
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
      revision: record.revision,
      ...(options.batching ? { batching: options.batching } : {}),
      ...(options.validation ? { validation: options.validation } : {}),
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

  /** Reads a version's artifact, verified against its content hash. */
  readArtifact(version: VersionRecord): Promise<Uint8Array> {
    return this.deps.blobs.get(version.artifactSha256);
  }

  /**
   * Resolves a contract reference and checks that the signature's feature names equal its field names (as sets).
   * Throws CONTRACT_NOT_FOUND or CONTRACT_FEATURES_MISMATCH listing every missing and extra name.
   */
  private async bindContract(reference: string, signature: Signature): Promise<{ name: string; version: number }> {
    const { record, contract } = await this.deps.contracts.resolve(reference);
    const features = signature.features.length > 0 ? signature.features.map((f) => f.name) : signature.inputs.map((i) => i.name);
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
