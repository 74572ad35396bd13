import type { Kysely, Selectable } from 'kysely';
import { TarmacError } from '../shared/errors.ts';
import type { Signature } from '../runtime/types.ts';
import { fromJson, toJson } from './columns.ts';
import { writeTransaction, currentDb } from './dialect.ts';
import type { Dialect, StoreConnection } from './dialect.ts';
import type {
  AliasRecord,
  DeploymentRecord,
  DeploymentSpec,
  Lineage,
  ModelRecord,
  ModelStore,
  NewVersion,
  VersionRecord,
} from './records.ts';
import type { Database, ModelsTable, ModelVersionsTable } from './schema.ts';

type VersionRow = Selectable<ModelVersionsTable> & { model_name: string };

/**
 * Models, versions, aliases and deployments on SQLite or PostgreSQL. Every change to one model's aggregate first
 * locks that model's row (PostgreSQL) or runs in an immediate transaction (SQLite), so concurrent writers queue.
 * Reads of an unknown model return undefined or an empty list; changes to one throw REGISTRY_MODEL_NOT_FOUND.
 */
export class KyselyModelStore implements ModelStore {
  /** The ambient transaction's query layer when there is one (see `currentDb`), else the connection's. */
  private get db(): Kysely<Database> {
    return currentDb(this.conn);
  }
  private readonly dialect: Dialect;

  constructor(private readonly conn: StoreConnection) {
    this.dialect = conn.dialect;
  }

  /** Creates the model when absent and adds version max+1 in one transaction; safe under concurrent calls. */
  async addVersion(input: NewVersion): Promise<VersionRecord> {
    return writeTransaction(this.conn, async (trx) => {
      let modelId = await this.lockModel(trx, input.modelName);
      if (modelId === undefined) {
        // A concurrent creator makes this a no-op; the lock below then waits for its commit.
        await trx
          .insertInto('models')
          .values({
            name: input.modelName,
            description: input.model.description,
            owner: input.model.owner,
            tags: toJson(input.model.tags),
            created_at: input.createdAt,
            updated_at: input.createdAt,
          })
          .onConflict((oc) => oc.column('name').doNothing())
          .execute();
        modelId = await this.lockModel(trx, input.modelName);
      }
      if (modelId === undefined) throw new TarmacError('INTERNAL', `Model ${input.modelName} vanished while adding a version`);

      const { max } = await trx
        .selectFrom('model_versions')
        .select((eb) => eb.fn.max('version').as('max'))
        .where('model_id', '=', modelId)
        .executeTakeFirstOrThrow();
      const row = await trx
        .insertInto('model_versions')
        .values({
          model_id: modelId,
          version: (max ?? 0) + 1,
          artifact_sha256: input.artifactSha256,
          artifact_size: input.artifactSize,
          signature: toJson(input.signature),
          description: input.description,
          tags: toJson(input.tags),
          metrics: toJson(input.metrics),
          lineage: toJson(input.lineage),
          created_by: input.createdBy,
          created_at: input.createdAt,
          contract_name: input.contract?.name ?? null,
          contract_version: input.contract?.version ?? null,
          reference: input.reference ? toJson(input.reference) : null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await trx
        .updateTable('models')
        .set((eb) => ({
          updated_at: eb.case().when('updated_at', '<', input.createdAt).then(input.createdAt).else(eb.ref('updated_at')).end(),
        }))
        .where('id', '=', modelId)
        .execute();
      return toVersion({ ...row, model_name: input.modelName });
    });
  }

  /** The model named `name`, if registered. */
  async getModel(name: string): Promise<ModelRecord | undefined> {
    const row = await this.db.selectFrom('models').selectAll().where('name', '=', name).executeTakeFirst();
    return row && toModel(row);
  }

  /** Every model, by name. */
  async listModels(): Promise<ModelRecord[]> {
    const rows = await this.db.selectFrom('models').selectAll().orderBy('name').execute();
    return rows.map(toModel);
  }

  /** One version of a model, if both exist. */
  async getVersion(modelName: string, version: number): Promise<VersionRecord | undefined> {
    const row = await this.versions(this.db).where('m.name', '=', modelName).where('v.version', '=', version).executeTakeFirst();
    return row && toVersion(row);
  }

  /** The versions of a model, oldest first; empty for an unknown model. */
  async listVersions(modelName: string): Promise<VersionRecord[]> {
    const rows = await this.versions(this.db).where('m.name', '=', modelName).orderBy('v.version').execute();
    return rows.map(toVersion);
  }

  /** The first-registered version (of any model) whose artifact has this sha256, if one exists. */
  async findVersionBySha256(sha256: string): Promise<VersionRecord | undefined> {
    const row = await this.versions(this.db).where('v.artifact_sha256', '=', sha256).orderBy('v.id').limit(1).executeTakeFirst();
    return row && toVersion(row);
  }

  /**
   * Points `alias` at `version` (insert or move) and returns the version it pointed at before, if any.
   * Throws REGISTRY_MODEL_NOT_FOUND or REGISTRY_VERSION_NOT_FOUND when either does not exist.
   */
  async setAlias(modelName: string, alias: string, version: number, by: string, at: number): Promise<number | undefined> {
    return writeTransaction(this.conn, async (trx) => {
      const modelId = await this.requireLockedModel(trx, modelName);
      const exists = await trx
        .selectFrom('model_versions')
        .select('id')
        .where('model_id', '=', modelId)
        .where('version', '=', version)
        .executeTakeFirst();
      if (!exists) throw versionNotFound(modelName, version);
      const previous = await trx
        .selectFrom('aliases')
        .select('version')
        .where('model_id', '=', modelId)
        .where('alias', '=', alias)
        .executeTakeFirst();
      await trx
        .insertInto('aliases')
        .values({ model_id: modelId, alias, version, updated_by: by, updated_at: at })
        .onConflict((oc) =>
          oc.columns(['model_id', 'alias']).doUpdateSet((eb) => ({
            version: eb.ref('excluded.version'),
            updated_by: eb.ref('excluded.updated_by'),
            updated_at: eb.ref('excluded.updated_at'),
          })),
        )
        .execute();
      return previous?.version;
    });
  }

  /** Removes an alias; false when it did not exist. Throws REGISTRY_MODEL_NOT_FOUND for an unknown model. */
  async deleteAlias(modelName: string, alias: string): Promise<boolean> {
    return writeTransaction(this.conn, async (trx) => {
      const modelId = await this.requireLockedModel(trx, modelName);
      const result = await trx.deleteFrom('aliases').where('model_id', '=', modelId).where('alias', '=', alias).executeTakeFirst();
      return result.numDeletedRows > 0n;
    });
  }

  /** The aliases of a model, by alias name; empty for an unknown model. */
  async listAliases(modelName: string): Promise<AliasRecord[]> {
    const rows = await this.db
      .selectFrom('aliases as a')
      .innerJoin('models as m', 'm.id', 'a.model_id')
      .select(['m.name as model_name', 'a.alias', 'a.version', 'a.updated_by', 'a.updated_at'])
      .where('m.name', '=', modelName)
      .orderBy('a.alias')
      .execute();
    return rows.map((r) => ({
      modelName: r.model_name,
      alias: r.alias,
      version: r.version,
      updatedBy: r.updated_by,
      updatedAt: r.updated_at,
    }));
  }

  /** The deployment of a model, if it has one. */
  async getDeployment(modelName: string): Promise<DeploymentRecord | undefined> {
    const row = await this.deployments(this.db).where('m.name', '=', modelName).executeTakeFirst();
    return row && toDeployment(row);
  }

  /** Every deployment, by model name. */
  async listDeployments(): Promise<DeploymentRecord[]> {
    const rows = await this.deployments(this.db).orderBy('m.name').execute();
    return rows.map(toDeployment);
  }

  /**
   * Replaces the deployment and increments its revision (the first is 1). When `expectedRevision` is given and the
   * stored revision (0 when none) differs, throws STORE_CONFLICT; throws REGISTRY_MODEL_NOT_FOUND for an unknown model.
   */
  async putDeployment(
    modelName: string,
    spec: DeploymentSpec,
    by: string,
    at: number,
    expectedRevision?: number,
  ): Promise<DeploymentRecord> {
    return writeTransaction(this.conn, async (trx) => {
      const modelId = await this.requireLockedModel(trx, modelName);
      const current = await trx.selectFrom('deployments').select('revision').where('model_id', '=', modelId).executeTakeFirst();
      const actual = current?.revision ?? 0;
      if (expectedRevision !== undefined && expectedRevision !== actual) {
        throw new TarmacError('STORE_CONFLICT', `The deployment of ${modelName} is at revision ${actual}, not ${expectedRevision}`, {
          details: { model: modelName, expectedRevision, actualRevision: actual },
        });
      }
      const row = { model_id: modelId, spec: toJson(spec), revision: actual + 1, updated_by: by, updated_at: at };
      if (current) {
        await trx.updateTable('deployments').set(row).where('model_id', '=', modelId).execute();
      } else {
        await trx.insertInto('deployments').values(row).execute();
      }
      // Every revision is kept, so what served at any time is answerable and any revision can be restored.
      await trx.insertInto('deployment_revisions').values(row).execute();
      return { modelName, spec: fromJson<DeploymentSpec>(row.spec), revision: row.revision, updatedBy: by, updatedAt: at };
    });
  }

  /** The model's deployment revisions, newest first (optionally only those made at or before `at`). */
  async listDeploymentRevisions(modelName: string, options: { limit: number; at?: number }): Promise<DeploymentRecord[]> {
    let q = this.db
      .selectFrom('deployment_revisions as r')
      .innerJoin('models as m', 'm.id', 'r.model_id')
      .select(['m.name as model_name', 'r.spec', 'r.revision', 'r.updated_by', 'r.updated_at'])
      .where('m.name', '=', modelName);
    if (options.at !== undefined) q = q.where('r.updated_at', '<=', options.at);
    const rows = await q.orderBy('r.revision', 'desc').limit(options.limit).execute();
    return rows.map(toDeployment);
  }

  /** One deployment revision of a model. */
  async getDeploymentRevision(modelName: string, revision: number): Promise<DeploymentRecord | undefined> {
    const row = await this.db
      .selectFrom('deployment_revisions as r')
      .innerJoin('models as m', 'm.id', 'r.model_id')
      .select(['m.name as model_name', 'r.spec', 'r.revision', 'r.updated_by', 'r.updated_at'])
      .where('m.name', '=', modelName)
      .where('r.revision', '=', revision)
      .executeTakeFirst();
    return row && toDeployment(row);
  }

  /** The model's id with its row locked until the transaction ends, so changes to one model queue up. */
  private async lockModel(trx: Kysely<Database>, name: string): Promise<number | undefined> {
    const row = await trx
      .selectFrom('models')
      .select('id')
      .where('name', '=', name)
      // SQLite has no row locks; its immediate transaction already holds the database's write lock.
      .$if(this.dialect === 'postgres', (qb) => qb.forUpdate())
      .executeTakeFirst();
    return row?.id;
  }

  private async requireLockedModel(trx: Kysely<Database>, name: string): Promise<number> {
    const id = await this.lockModel(trx, name);
    if (id === undefined) {
      throw new TarmacError('REGISTRY_MODEL_NOT_FOUND', `No model named ${name}`, { details: { model: name } });
    }
    return id;
  }

  private versions(db: Kysely<Database>) {
    return db
      .selectFrom('model_versions as v')
      .innerJoin('models as m', 'm.id', 'v.model_id')
      .selectAll('v')
      .select('m.name as model_name');
  }

  private deployments(db: Kysely<Database>) {
    return db
      .selectFrom('deployments as d')
      .innerJoin('models as m', 'm.id', 'd.model_id')
      .select(['m.name as model_name', 'd.spec', 'd.revision', 'd.updated_by', 'd.updated_at']);
  }
}

function versionNotFound(modelName: string, version: number): TarmacError {
  return new TarmacError('REGISTRY_VERSION_NOT_FOUND', `Model ${modelName} has no version ${version}`, {
    details: { model: modelName, version },
  });
}

function toModel(r: Selectable<ModelsTable>): ModelRecord {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    owner: r.owner,
    tags: fromJson<Record<string, string>>(r.tags),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function toVersion(r: VersionRow): VersionRecord {
  return {
    id: r.id,
    modelId: r.model_id,
    modelName: r.model_name,
    version: r.version,
    artifactSha256: r.artifact_sha256,
    artifactSize: r.artifact_size,
    signature: fromJson<Signature>(r.signature),
    description: r.description,
    tags: fromJson<Record<string, string>>(r.tags),
    metrics: fromJson<Record<string, number>>(r.metrics),
    lineage: fromJson<Lineage>(r.lineage),
    createdBy: r.created_by,
    createdAt: r.created_at,
    contract: r.contract_name !== null && r.contract_version !== null ? { name: r.contract_name, version: r.contract_version } : null,
    reference: r.reference === null || r.reference === undefined ? null : fromJson<NonNullable<VersionRecord['reference']>>(r.reference),
  };
}

function toDeployment(r: { model_name: string; spec: string; revision: number; updated_by: string; updated_at: number }): DeploymentRecord {
  return {
    modelName: r.model_name,
    spec: fromJson<DeploymentSpec>(r.spec),
    revision: Number(r.revision),
    updatedBy: r.updated_by,
    updatedAt: Number(r.updated_at),
  };
}
