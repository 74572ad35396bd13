import { Migrator, sql } from 'kysely';
import type { ColumnDefinitionBuilder, CreateTableBuilder, Kysely, Migration, MigrationProvider } from 'kysely';
import { TarmacError } from '../shared/errors.ts';
import type { Dialect, StoreConnection } from './dialect.ts';

// Migrations see an untyped Kysely: they describe the schema at one point in history, not the current interface.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

/** A surrogate key that the database assigns: SQLite's rowid alias, PostgreSQL's identity column. */
function addIdentity<T extends string>(table: CreateTableBuilder<T, never>, column: string, dialect: Dialect): CreateTableBuilder<T, never> {
  return dialect === 'sqlite'
    ? table.addColumn(column, 'integer', (c) => c.primaryKey().autoIncrement())
    : table.addColumn(column, 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity());
}

const notNull = (c: ColumnDefinitionBuilder): ColumnDefinitionBuilder => c.notNull();

/**
 * Kysely runs SQLite migrations outside a transaction (it assumes DDL is not transactional there, but in SQLite it
 * is); wrapping each one means a failure halfway never leaves a half-built schema that blocks every later run.
 */
function atomic(dialect: Dialect, migration: Migration): Migration {
  if (dialect !== 'sqlite') return migration;
  return {
    async up(db: AnyDb): Promise<void> {
      await sql`begin immediate`.execute(db);
      try {
        await migration.up(db);
        await sql`commit`.execute(db);
      } catch (err) {
        await sql`rollback`.execute(db).catch(() => undefined);
        throw err;
      }
    },
  };
}

/** The migrations, oldest first; names sort in order and are never renamed once released. */
function migrations(dialect: Dialect): Record<string, Migration> {
  const all: Record<string, Migration> = {
    '0001_initial': {
      async up(db: AnyDb): Promise<void> {
        await addIdentity(db.schema.createTable('models'), 'id', dialect)
          .addColumn('name', 'text', notNull)
          .addColumn('description', 'text', notNull)
          .addColumn('owner', 'text', notNull)
          .addColumn('tags', 'text', notNull)
          .addColumn('created_at', 'bigint', notNull)
          .addColumn('updated_at', 'bigint', notNull)
          .addUniqueConstraint('models_name_key', ['name'])
          .execute();

        await addIdentity(db.schema.createTable('model_versions'), 'id', dialect)
          .addColumn('model_id', 'bigint', notNull)
          .addColumn('version', 'integer', notNull)
          .addColumn('artifact_sha256', 'text', notNull)
          .addColumn('artifact_size', 'bigint', notNull)
          .addColumn('signature', 'text', notNull)
          .addColumn('description', 'text', notNull)
          .addColumn('tags', 'text', notNull)
          .addColumn('metrics', 'text', notNull)
          .addColumn('lineage', 'text', notNull)
          .addColumn('created_by', 'text', notNull)
          .addColumn('created_at', 'bigint', notNull)
          .addUniqueConstraint('model_versions_model_version_key', ['model_id', 'version'])
          .addForeignKeyConstraint('model_versions_model_fk', ['model_id'], 'models', ['id'])
          .execute();
        // Not unique: the registry decides whether re-registering an artifact is allowed; the index keeps lookup fast.
        await db.schema.createIndex('model_versions_artifact_sha256_idx').on('model_versions').column('artifact_sha256').execute();

        await db.schema
          .createTable('aliases')
          .addColumn('model_id', 'bigint', notNull)
          .addColumn('alias', 'text', notNull)
          .addColumn('version', 'integer', notNull)
          .addColumn('updated_by', 'text', notNull)
          .addColumn('updated_at', 'bigint', notNull)
          .addPrimaryKeyConstraint('aliases_pk', ['model_id', 'alias'])
          .addForeignKeyConstraint('aliases_model_fk', ['model_id'], 'models', ['id'])
          // An alias can only ever point at a version that exists.
          .addForeignKeyConstraint('aliases_version_fk', ['model_id', 'version'], 'model_versions', ['model_id', 'version'])
          .execute();

        await db.schema
          .createTable('deployments')
          .addColumn('model_id', 'bigint', notNull)
          .addColumn('spec', 'text', notNull)
          .addColumn('revision', 'integer', notNull)
          .addColumn('updated_by', 'text', notNull)
          .addColumn('updated_at', 'bigint', notNull)
          .addPrimaryKeyConstraint('deployments_pk', ['model_id'])
          .addForeignKeyConstraint('deployments_model_fk', ['model_id'], 'models', ['id'])
          .execute();

        await db.schema
          .createTable('api_keys')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', notNull)
          .addColumn('role', 'text', notNull)
          .addColumn('secret_hash', 'text', notNull)
          .addColumn('created_by', 'text', notNull)
          .addColumn('created_at', 'bigint', notNull)
          .addColumn('revoked_at', 'bigint')
          .execute();

        await db.schema
          .createTable('predictions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('model', 'text', notNull)
          .addColumn('version', 'integer', notNull)
          .addColumn('variant', 'text', notNull)
          .addColumn('request_id', 'text', notNull)
          .addColumn('created_at', 'bigint', notNull)
          .addColumn('inputs', 'text', notNull)
          .addColumn('outputs', 'text', notNull)
          // Fractional milliseconds are meaningful for fast models.
          .addColumn('latency_ms', 'double precision', notNull)
          .execute();
        await db.schema.createIndex('predictions_model_created_at_idx').on('predictions').columns(['model', 'created_at']).execute();

        // No foreign key to predictions: retention prunes old predictions independently of their labels.
        await addIdentity(db.schema.createTable('feedback'), 'id', dialect)
          .addColumn('prediction_id', 'text', notNull)
          .addColumn('label', 'text', notNull)
          .addColumn('created_by', 'text', notNull)
          .addColumn('created_at', 'bigint', notNull)
          .execute();
        await db.schema.createIndex('feedback_prediction_id_idx').on('feedback').column('prediction_id').execute();

        await addIdentity(db.schema.createTable('audit_events'), 'seq', dialect)
          .addColumn('id', 'text', notNull)
          .addColumn('created_at', 'bigint', notNull)
          .addColumn('actor', 'text', notNull)
          .addColumn('action', 'text', notNull)
          .addColumn('target', 'text', notNull)
          .addColumn('outcome', 'text', notNull)
          .addColumn('details', 'text', notNull)
          .addColumn('prev_hash', 'text', notNull)
          .addColumn('hash', 'text', notNull)
          .addUniqueConstraint('audit_events_id_key', ['id'])
          .execute();
      },
    },
    '0002_contracts': {
      async up(db: AnyDb): Promise<void> {
        await addIdentity(db.schema.createTable('contracts'), 'id', dialect)
          .addColumn('name', 'text', notNull)
          .addColumn('version', 'integer', notNull)
          .addColumn('odcs_version', 'text', notNull)
          .addColumn('document', 'text', notNull)
          .addColumn('sha256', 'text', notNull)
          .addColumn('compatibility', 'text', notNull)
          .addColumn('created_by', 'text', notNull)
          .addColumn('created_at', 'bigint', notNull)
          .addUniqueConstraint('contracts_name_version_key', ['name', 'version'])
          .execute();
        await db.schema.createIndex('contracts_sha256_idx').on('contracts').column('sha256').execute();
        // One column per statement: SQLite's ALTER TABLE adds a single column at a time.
        await db.schema.alterTable('model_versions').addColumn('contract_name', 'text').execute();
        await db.schema.alterTable('model_versions').addColumn('contract_version', 'integer').execute();
      },
    },
    '0003_datasets': {
      async up(db: AnyDb): Promise<void> {
        await addIdentity(db.schema.createTable('datasets'), 'id', dialect)
          .addColumn('name', 'text', notNull)
          .addColumn('description', 'text', notNull)
          .addColumn('contract_name', 'text', notNull)
          .addColumn('contract_version', 'integer', notNull)
          .addColumn('key_fields', 'text', notNull)
          .addColumn('event_time_field', 'text')
          .addColumn('window_seconds', 'bigint', notNull)
          .addColumn('allowed_lateness_seconds', 'bigint', notNull)
          .addColumn('transforms', 'text', notNull)
          .addColumn('nats_subject', 'text')
          .addColumn('watermark', 'bigint')
          .addColumn('created_by', 'text', notNull)
          .addColumn('created_at', 'bigint', notNull)
          .addColumn('updated_at', 'bigint', notNull)
          .addUniqueConstraint('datasets_name_key', ['name'])
          .execute();

        await db.schema
          .createTable('dataset_batches')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('dataset_id', 'bigint', notNull)
          .addColumn('source', 'text', notNull)
          .addColumn('content_sha256', 'text')
          .addColumn('contract_version', 'integer', notNull)
          .addColumn('status', 'text', notNull)
          .addColumn('rows_read', 'bigint', notNull)
          .addColumn('rows_accepted', 'bigint', notNull)
          .addColumn('rows_quarantined', 'bigint', notNull)
          .addColumn('rows_duplicate', 'bigint', notNull)
          .addColumn('rows_late', 'bigint', notNull)
          .addColumn('rows_too_late', 'bigint', notNull)
          .addColumn('error', 'text')
          .addColumn('created_by', 'text', notNull)
          .addColumn('started_at', 'bigint', notNull)
          .addColumn('updated_at', 'bigint', notNull)
          .addColumn('finished_at', 'bigint')
          .addForeignKeyConstraint('dataset_batches_dataset_fk', ['dataset_id'], 'datasets', ['id'])
          .execute();
        await db.schema
          .createIndex('dataset_batches_resume_idx')
          .on('dataset_batches')
          .columns(['dataset_id', 'content_sha256', 'status'])
          .execute();
        await db.schema.createIndex('dataset_batches_started_idx').on('dataset_batches').columns(['dataset_id', 'started_at']).execute();

        // No foreign keys here: commitChunk checks the batch (and through it the dataset) once per chunk, and a
        // per-row check would tax the one table that receives millions of rows.
        await addIdentity(db.schema.createTable('dataset_rows'), 'seq', dialect)
          .addColumn('dataset_id', 'bigint', notNull)
          .addColumn('record_key', 'text', notNull)
          .addColumn('batch_id', 'text', notNull)
          .addColumn('event_time', 'bigint')
          .addColumn('data', 'text', notNull)
          .addUniqueConstraint('dataset_rows_key', ['dataset_id', 'record_key'])
          .execute();
        // Arrival-order paging (readRows) would otherwise sort a whole dataset per page.
        await db.schema.createIndex('dataset_rows_seq_idx').on('dataset_rows').columns(['dataset_id', 'seq']).execute();

        await addIdentity(db.schema.createTable('quarantine'), 'id', dialect)
          .addColumn('dataset_id', 'bigint', notNull)
          .addColumn('batch_id', 'text', notNull)
          .addColumn('source_ref', 'text', notNull)
          .addColumn('row_number', 'bigint', notNull)
          .addColumn('raw', 'text', notNull)
          .addColumn('reasons', 'text', notNull)
          .addColumn('status', 'text', notNull)
          .addColumn('created_at', 'bigint', notNull)
          .addColumn('resolved_by', 'text')
          .addColumn('resolved_at', 'bigint')
          .addColumn('resolved_batch_id', 'text')
          .addUniqueConstraint('quarantine_source_row_key', ['dataset_id', 'source_ref', 'row_number'])
          .addForeignKeyConstraint('quarantine_dataset_fk', ['dataset_id'], 'datasets', ['id'])
          .addForeignKeyConstraint('quarantine_batch_fk', ['batch_id'], 'dataset_batches', ['id'])
          .execute();
        await db.schema.createIndex('quarantine_status_idx').on('quarantine').columns(['dataset_id', 'status', 'id']).execute();

        await db.schema
          .createTable('dataset_windows')
          .addColumn('dataset_id', 'bigint', notNull)
          .addColumn('window_start', 'bigint', notNull)
          .addColumn('rows', 'bigint', notNull)
          .addColumn('late', 'bigint', notNull)
          .addColumn('too_late', 'bigint', notNull)
          .addPrimaryKeyConstraint('dataset_windows_pk', ['dataset_id', 'window_start'])
          .addForeignKeyConstraint('dataset_windows_dataset_fk', ['dataset_id'], 'datasets', ['id'])
          .execute();

        // Reference statistics of a version (JSON), filled in by the monitoring module.
        await db.schema.alterTable('model_versions').addColumn('reference', 'text').execute();
      },
    },
    '0004_monitoring': {
      async up(db: AnyDb): Promise<void> {
        await db.schema
          .createTable('reference_profiles')
          .addColumn('model', 'text', notNull)
          .addColumn('version', 'integer', notNull)
          .addColumn('rows', 'bigint', notNull)
          .addColumn('profile', 'text', notNull)
          .addColumn('source', 'text', notNull)
          .addColumn('created_at', 'bigint', notNull)
          .addPrimaryKeyConstraint('reference_profiles_pk', ['model', 'version'])
          .execute();
        await db.schema
          .createTable('monitor_windows')
          .addColumn('model', 'text', notNull)
          .addColumn('version', 'integer', notNull)
          .addColumn('variant', 'text', notNull)
          .addColumn('window_start', 'bigint', notNull)
          .addColumn('window_seconds', 'integer', notNull)
          .addColumn('rows', 'bigint', notNull)
          .addColumn('profile', 'text', notNull)
          .addColumn('quality', 'text', notNull)
          .addColumn('drift', 'text', notNull)
          .addColumn('performance', 'text', notNull)
          .addColumn('updated_at', 'bigint', notNull)
          .addPrimaryKeyConstraint('monitor_windows_pk', ['model', 'version', 'variant', 'window_start', 'window_seconds'])
          .execute();
        await db.schema.createIndex('monitor_windows_model_start_idx').on('monitor_windows').columns(['model', 'window_start']).execute();
      },
    },
    '0005_alerts': {
      async up(db: AnyDb): Promise<void> {
        await db.schema
          .createTable('alert_config')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('document', 'text', notNull)
          .addColumn('updated_by', 'text', notNull)
          .addColumn('updated_at', 'bigint', notNull)
          .execute();
      },
    },
    '0006_deployment_revisions': {
      async up(db: AnyDb): Promise<void> {
        await db.schema
          .createTable('deployment_revisions')
          .addColumn('model_id', 'bigint', notNull)
          .addColumn('revision', 'integer', notNull)
          .addColumn('spec', 'text', notNull)
          .addColumn('updated_by', 'text', notNull)
          .addColumn('updated_at', 'bigint', notNull)
          .addPrimaryKeyConstraint('deployment_revisions_pk', ['model_id', 'revision'])
          .addForeignKeyConstraint('deployment_revisions_model_fk', ['model_id'], 'models', ['id'])
          .execute();
        // Deployments made before this migration keep their current revision as the start of their history.
        await sql`insert into deployment_revisions (model_id, revision, spec, updated_by, updated_at)
          select model_id, revision, spec, updated_by, updated_at from deployments`.execute(db);
      },
    },
    '0007_rollouts': {
      async up(db: AnyDb): Promise<void> {
        await db.schema
          .createTable('rollouts')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('model', 'text', notNull)
          .addColumn('status', 'text', notNull)
          .addColumn('state', 'text', notNull)
          .addColumn('created_at', 'bigint', notNull)
          .addColumn('updated_at', 'bigint', notNull)
          .execute();
        await db.schema.createIndex('rollouts_model_created_idx').on('rollouts').columns(['model', 'created_at']).execute();
        await db.schema
          .createTable('leases')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('holder', 'text', notNull)
          .addColumn('expires_at', 'bigint', notNull)
          .execute();
      },
    },
    '0008_monitor_window_replicas': {
      async up(db: AnyDb): Promise<void> {
        // Each replica stores its own part of a window (readers merge them); the key gains the replica.
        await db.schema
          .createTable('monitor_windows_v2')
          .addColumn('model', 'text', notNull)
          .addColumn('version', 'integer', notNull)
          .addColumn('variant', 'text', notNull)
          .addColumn('window_start', 'bigint', notNull)
          .addColumn('window_seconds', 'integer', notNull)
          .addColumn('replica', 'text', notNull)
          .addColumn('rows', 'bigint', notNull)
          .addColumn('profile', 'text', notNull)
          .addColumn('quality', 'text', notNull)
          .addColumn('drift', 'text', notNull)
          .addColumn('performance', 'text', notNull)
          .addColumn('updated_at', 'bigint', notNull)
          .addPrimaryKeyConstraint('monitor_windows_v2_pk', ['model', 'version', 'variant', 'window_start', 'window_seconds', 'replica'])
          .execute();
        await sql`insert into monitor_windows_v2 (model, version, variant, window_start, window_seconds, replica, rows, profile, quality, drift, performance, updated_at)
          select model, version, variant, window_start, window_seconds, '', rows, profile, quality, drift, performance, updated_at from monitor_windows`.execute(db);
        await db.schema.dropTable('monitor_windows').execute();
        await db.schema.alterTable('monitor_windows_v2').renameTo('monitor_windows').execute();
        await db.schema.createIndex('monitor_windows_model_start_v2_idx').on('monitor_windows').columns(['model', 'window_start']).execute();
      },
    },
    '0013_approvals': {
      async up(db: AnyDb): Promise<void> {
        // Four-eyes promotions: a change that waits for a second person.
        await db.schema
          .createTable('approvals')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('model', 'text', notNull)
          .addColumn('status', 'text', notNull)
          .addColumn('document', 'text', notNull)
          .addColumn('created_at', 'bigint', notNull)
          .addColumn('updated_at', 'bigint', notNull)
          .execute();
        await db.schema.createIndex('approvals_model_created_idx').on('approvals').columns(['model', 'created_at']).execute();
      },
    },
    '0009_audit_chain': {
      async up(db: AnyDb): Promise<void> {
        // Entries written before this migration keep format 1 (their hash covers fewer fields) and stay verifiable.
        await db.schema.alterTable('audit_events').addColumn('format', 'integer', (c) => c.notNull().defaultTo(1)).execute();
        for (const column of ['actor_role', 'ip', 'request_id', 'user_agent']) {
          await db.schema.alterTable('audit_events').addColumn(column, 'text').execute();
        }
        // The appender now numbers entries itself (head + 1, under its lock), so a rolled-back append leaves no gap.
        if (dialect === 'postgres') await sql`alter table audit_events alter column seq set generated by default`.execute(db);
        await db.schema.createIndex('audit_events_created_at_idx').on('audit_events').column('created_at').execute();
      },
    },
    '0010_key_scopes': {
      async up(db: AnyDb): Promise<void> {
        // One ADD COLUMN per statement: SQLite takes no more. All nullable, so existing keys stay unscoped and unexpiring.
        const columns: [string, 'text' | 'bigint'][] = [
          ['scope', 'text'], // JSON {models?, datasets?}; null: unrestricted
          ['expires_at', 'bigint'],
          ['last_used_at', 'bigint'],
          ['rotated_at', 'bigint'],
          ['previous_secret_hash', 'text'], // the secret before the last rotation, accepted until previous_expires_at
          ['previous_expires_at', 'bigint'],
        ];
        for (const [name, type] of columns) await db.schema.alterTable('api_keys').addColumn(name, type).execute();
      },
    },
    '0011_privacy': {
      async up(db: AnyDb): Promise<void> {
        // Retention periods per model or dataset (JSON settings; absent periods fall back to the global default).
        await db.schema
          .createTable('retention_policies')
          .addColumn('scope', 'text', notNull)
          .addColumn('name', 'text', notNull)
          .addColumn('settings', 'text', notNull)
          .addColumn('updated_by', 'text', notNull)
          .addColumn('updated_at', 'bigint', notNull)
          .addPrimaryKeyConstraint('retention_policies_pk', ['scope', 'name'])
          .execute();
        // The automated-decision register: one JSON document per model.
        await db.schema
          .createTable('decision_registers')
          .addColumn('model', 'text', (c) => c.primaryKey())
          .addColumn('document', 'text', notNull)
          .addColumn('updated_by', 'text', notNull)
          .addColumn('updated_at', 'bigint', notNull)
          .execute();
        // The retention janitor deletes by age: rows through their batch, batches once nothing refers to them.
        await db.schema.createIndex('dataset_rows_batch_idx').on('dataset_rows').columns(['batch_id']).execute();
        await db.schema.createIndex('quarantine_created_idx').on('quarantine').columns(['dataset_id', 'created_at']).execute();
        await db.schema.createIndex('quarantine_batch_idx').on('quarantine').columns(['batch_id']).execute();
      },
    },
    '0012_version_signatures': {
      async up(db: AnyDb): Promise<void> {
        await db.schema.createTable('version_signatures')
          .addColumn('model_name', 'text', notNull)
          .addColumn('version', 'integer', notNull)
          .addColumn('key_id', 'text', notNull)
          .addColumn('signature', 'text', notNull)
          .addColumn('manifest', 'text', notNull)
          .addColumn('signed_by', 'text', notNull)
          .addColumn('signed_at', 'bigint', notNull)
          .addPrimaryKeyConstraint('version_signatures_pk', ['model_name', 'version'])
          .execute();
      },
    },
    '0014_key_limits': {
      async up(db: AnyDb): Promise<void> {
        // A key's own request rate and daily records quota (JSON {requests_per_minute?, records_per_day?}); null: the defaults.
        await db.schema.alterTable('api_keys').addColumn('limits', 'text').execute();
      },
    },
  };
  return Object.fromEntries(Object.entries(all).map(([name, m]) => [name, atomic(dialect, m)]));
}

/** Serves the in-code migrations to Kysely's Migrator, so nothing depends on files being present at run time. */
class StaticMigrationProvider implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations(this.dialect);
  }
}

/**
 * Applies every pending migration and returns the names applied (empty when already current); safe to run twice
 * or from several processes at once. Throws INTERNAL naming the failed migration, with the driver error as cause.
 */
export async function migrateToLatest(conn: StoreConnection): Promise<string[]> {
  const migrator = new Migrator({
    db: conn.db,
    provider: new StaticMigrationProvider(conn.dialect),
    // Kysely looks for its bookkeeping table in every schema unless told which; pin it to ours so a second
    // Tarmac schema in the same PostgreSQL database is never mistaken for this one.
    ...(conn.dialect === 'postgres' ? { migrationTableSchema: await currentSchema(conn.db) } : {}),
  });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((r) => r.status === 'Error')?.migrationName;
    const reason = error instanceof Error ? error.message : String(error);
    throw new TarmacError('INTERNAL', `Database migration ${failed ?? '(setup)'} failed: ${reason}`, {
      cause: error,
      details: { migration: failed ?? null },
    });
  }
  return results.filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

async function currentSchema(db: AnyDb): Promise<string> {
  const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
  const schema = rows[0]?.schema;
  if (!schema) {
    throw new TarmacError('CONFIG_INVALID', 'No schema on the PostgreSQL search_path exists; create it before migrating');
  }
  return schema;
}
