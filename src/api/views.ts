import type { Approval } from '../delivery/approvals/index.ts';
import type { Contract } from '../contracts/index.ts';
import type { VersionLineage } from '../registry/index.ts';
import type { AliasRecord, AuditRecord, ContractRecord, DeploymentRecord, DeploymentSpec, ModelRecord, VersionRecord } from '../store/index.ts';

const iso = (ms: number) => new Date(ms).toISOString();

/** A model as the JSON API shows it. */
export function modelView(model: ModelRecord) {
  return { name: model.name, description: model.description, owner: model.owner, tags: model.tags, created_at: iso(model.createdAt), updated_at: iso(model.updatedAt) };
}

/** A version as the JSON API shows it. */
export function versionView(version: VersionRecord, aliases: AliasRecord[] = []) {
  return {
    model: version.modelName,
    version: version.version,
    artifact_sha256: version.artifactSha256,
    artifact_size: version.artifactSize,
    description: version.description,
    tags: version.tags,
    metrics: version.metrics,
    lineage: {
      training_data: version.lineage.trainingData,
      training_data_sha256: version.lineage.trainingDataSha256,
      code_ref: version.lineage.codeRef,
      parent_version: version.lineage.parentVersion,
      dataset_batches: version.lineage.datasetBatches,
    },
    reference: version.reference,
    signature: version.signature,
    aliases: aliases.filter((a) => a.version === version.version).map((a) => a.alias),
    contract: version.contract ? { name: version.contract.name, version: version.contract.version } : null,
    created_by: version.createdBy,
    created_at: iso(version.createdAt),
  };
}

/** An alias as the JSON API shows it. */
export function aliasView(alias: AliasRecord) {
  return { model: alias.modelName, alias: alias.alias, version: alias.version, updated_by: alias.updatedBy, updated_at: iso(alias.updatedAt) };
}

/** A deployment as the JSON API shows it, with whether this replica has it loaded. */
export function deploymentView(deployment: DeploymentRecord, loaded: boolean) {
  return {
    model: deployment.modelName,
    revision: deployment.revision,
    variants: deployment.spec.variants,
    shadows: deployment.spec.shadows ?? [],
    batching: deployment.spec.batching
      ? { enabled: deployment.spec.batching.enabled, max_batch_size: deployment.spec.batching.maxBatchSize, max_queue_delay_ms: deployment.spec.batching.maxQueueDelayMs }
      : null,
    validation: validationView(deployment.spec.validation),
    ready: loaded,
    updated_by: deployment.updatedBy,
    updated_at: iso(deployment.updatedAt),
  };
}

/** A deployment's contract policy as the JSON API shows it (snake_case, as submitted). */
export function validationView(validation: DeploymentSpec['validation']) {
  if (!validation) return null;
  return {
    policy: validation.policy,
    ...(validation.fallback !== undefined ? { fallback: validation.fallback } : {}),
    ...(validation.fallbackVersion !== undefined ? { fallback_version: validation.fallbackVersion } : {}),
  };
}

/** A version's lineage as the JSON API shows it: data → model → deployments. */
export function lineageView(lineage: VersionLineage) {
  const { version, deployment } = lineage;
  const number = version.version;
  const variants = deployment?.spec.variants ?? [];
  const usedAsFallback = deployment?.spec.validation?.policy === 'fallback' && deployment.spec.validation.fallbackVersion === number;
  return {
    model: version.modelName,
    version: number,
    data: {
      batches: lineage.batches.map((entry) => (entry.batch
        ? {
          id: entry.id,
          dataset: entry.dataset?.name ?? entry.batch.datasetName,
          source: entry.batch.source,
          content_sha256: entry.batch.contentSha256,
          status: entry.batch.status,
          counts: entry.batch.counts,
          contract: entry.dataset ? `${entry.dataset.contract.name}@${entry.batch.contractVersion}` : null,
          started_at: iso(entry.batch.startedAt),
          finished_at: entry.batch.finishedAt === null ? null : iso(entry.batch.finishedAt),
        }
        : { id: entry.id, missing: true })),
      training_data: version.lineage.trainingData ?? null,
      training_data_sha256: version.lineage.trainingDataSha256 ?? null,
      reference: version.reference ? { rows: version.reference.rows, source: version.reference.source } : null,
    },
    version_info: {
      artifact_sha256: version.artifactSha256,
      artifact_size: version.artifactSize,
      contract: version.contract ? `${version.contract.name}@${version.contract.version}` : null,
      code_ref: version.lineage.codeRef ?? null,
      parent_version: version.lineage.parentVersion ?? null,
      created_by: version.createdBy,
      created_at: iso(version.createdAt),
    },
    serving: {
      aliases: lineage.aliases,
      deployment: deployment
        ? {
          revision: deployment.revision,
          variants: variants.map((v) => ({ name: v.name, version: v.version, weight: v.weight })),
          validation: validationView(deployment.spec.validation),
        }
        : null,
      serves_as: variants.filter((v) => v.version === number).map((v) => ({ variant: v.name, weight: v.weight })),
      fallback_for: usedAsFallback ? variants.map((v) => ({ variant: v.name, version: v.version })) : [],
    },
  };
}

/** An audit entry as the JSON API shows it; `prev_hash` and `hash` let a reader verify the chain. */
export function auditView(entry: AuditRecord) {
  return {
    seq: entry.seq,
    id: entry.id,
    created_at: iso(entry.createdAt),
    actor: entry.actor,
    actor_role: entry.actorRole,
    action: entry.action,
    target: entry.target,
    outcome: entry.outcome,
    ip: entry.ip,
    request_id: entry.requestId,
    user_agent: entry.userAgent,
    details: entry.details,
    prev_hash: entry.prevHash,
    hash: entry.hash,
  };
}

/** A contract version as lists show it (no document). */
export function contractSummaryView(record: ContractRecord) {
  return {
    name: record.name,
    version: record.version,
    odcs_version: record.odcsVersion,
    compatibility: record.compatibility,
    sha256: record.sha256,
    created_by: record.createdBy,
    created_at: iso(record.createdAt),
  };
}

/** One contract version in full: the summary, what Tarmac read from it, and the YAML as registered. */
export function contractView(record: ContractRecord, contract: Contract) {
  return {
    ...contractSummaryView(record),
    id: contract.id,
    status: contract.status,
    schema_object: contract.schemaObject ?? null,
    primary_key: contract.primaryKey,
    event_time_field: contract.eventTimeField ?? null,
    freshness_seconds: contract.freshnessSeconds ?? null,
    fields: contract.fields.map((f) => ({
      name: f.name,
      logical_type: f.logicalType,
      required: f.required,
      unique: f.unique,
      primary_key: f.primaryKey,
      pii: f.pii,
      pii_treatment: f.pii ? f.piiTreatment ?? 'hash' : null,
      subject: f.subject === true,
      classification: f.classification ?? null,
    })),
    warnings: contract.warnings,
    document: record.document,
  };
}

/** A four-eyes approval as the API shows it. */
export function approvalView(a: Approval) {
  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  return {
    id: a.id, model: a.model, kind: a.kind, status: a.status, summary: a.summary,
    ...(a.request ? { request: a.request } : {}), ...(a.rollout ? { rollout: a.rollout } : {}),
    requested_by: a.requestedBy, requested_at: iso(a.requestedAt), expires_at: iso(a.expiresAt),
    decided_by: a.decidedBy ?? null, decided_at: iso(a.decidedAt), reason: a.reason ?? null,
  };
}
