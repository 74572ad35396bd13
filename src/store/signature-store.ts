import type { Kysely, Selectable } from 'kysely';
import type { StoreConnection } from './dialect.ts';
import type { SignatureStore, VersionSignatureRecord } from './records.ts';
import type { Database, VersionSignaturesTable } from './schema.ts';

/** Version manifest signatures on SQLite or PostgreSQL (both speak `insert … on conflict do update`). */
export class KyselySignatureStore implements SignatureStore {
  private readonly db: Kysely<Database>;

  constructor(conn: StoreConnection) {
    this.db = conn.db;
  }

  /** Stores the signature of a version, replacing an earlier one. */
  async put(r: VersionSignatureRecord): Promise<void> {
    const row = {
      model_name: r.modelName, version: r.version, key_id: r.keyId, signature: r.signature, manifest: r.manifest,
      signed_by: r.signedBy, signed_at: r.signedAt,
    };
    await this.db.insertInto('version_signatures').values(row)
      .onConflict((oc) => oc.columns(['model_name', 'version']).doUpdateSet({
        key_id: row.key_id, signature: row.signature, manifest: row.manifest, signed_by: row.signed_by, signed_at: row.signed_at,
      }))
      .execute();
  }

  /** The signature of a version, if it has one. */
  async get(modelName: string, version: number): Promise<VersionSignatureRecord | undefined> {
    const row = await this.db.selectFrom('version_signatures').selectAll().where('model_name', '=', modelName).where('version', '=', version).executeTakeFirst();
    return row && toRecord(row);
  }
}

function toRecord(r: Selectable<VersionSignaturesTable>): VersionSignatureRecord {
  return {
    modelName: r.model_name, version: Number(r.version), keyId: r.key_id, signature: r.signature, manifest: r.manifest,
    signedBy: r.signed_by, signedAt: Number(r.signed_at),
  };
}
