import { inTransaction } from './dialect.ts';
import type { StoreConnection } from './dialect.ts';
import { KyselyAuditStore } from './audit-store.ts';
import { KyselyContractStore } from './contract-store.ts';
import { KyselyDatasetStore } from './dataset-store.ts';
import { KyselyKeyStore } from './key-store.ts';
import { KyselyModelStore } from './model-store.ts';
import { KyselyMonitorStore } from './monitor-store.ts';
import { KyselyRolloutStore } from './rollout-store.ts';
import { KyselyPredictionStore } from './prediction-store.ts';
import { KyselyPrivacyStore, type PrivacyStore } from './privacy-store.ts';
import { KyselySignatureStore } from './signature-store.ts';
import type { AuditStore, UnitOfWork, ContractStore, DatasetStore, KeyStore, ModelStore, PredictionStore, MonitorStore, AlertConfigStore, RolloutStore, SignatureStore } from './records.ts';

export { openDatabase } from './database.ts';
export type { OpenDatabaseOptions, StoreDatabase } from './database.ts';
export type { Dialect, StoreConnection } from './dialect.ts';
export { currentDb, inTransaction } from './dialect.ts';
export { migrateToLatest } from './migrations.ts';
export { KyselyMonitorStore, KyselyRolloutStore, KyselySignatureStore };
export { KyselyAuditStore, KyselyContractStore, KyselyDatasetStore, KyselyKeyStore, KyselyModelStore, KyselyPredictionStore };
export { FileBlobStore } from './blob-store.ts';
export { KyselyPrivacyStore };
export type * from './privacy-store.ts';
export { AUDIT_FORMAT, AUDIT_GENESIS_HASH, auditHash, auditHashBody, canonicalJson } from './audit-hash.ts';
export type { AuditHashedFields } from './audit-hash.ts';
export type * from './records.ts';
export type * from './schema.ts';

/** The repositories over one database, as `app.ts` wires them. */
export interface Stores {
  models: ModelStore;
  keys: KeyStore;
  predictions: PredictionStore;
  audit: AuditStore;
  contracts: ContractStore;
  monitor: MonitorStore & AlertConfigStore;
  rollouts: RolloutStore;
  datasets: DatasetStore;
  /** Transactions that every repository above (and the audit append) joins. */
  unitOfWork: UnitOfWork;
  privacy: PrivacyStore;
  signatures: SignatureStore;
}

/** Builds every Kysely repository over an open database (a `StoreDatabase` from `openDatabase`). */
export function createStores(conn: StoreConnection): Stores {
  return {
    models: new KyselyModelStore(conn),
    keys: new KyselyKeyStore(conn),
    predictions: new KyselyPredictionStore(conn),
    audit: new KyselyAuditStore(conn),
    contracts: new KyselyContractStore(conn),
    monitor: new KyselyMonitorStore(conn),
    rollouts: new KyselyRolloutStore(conn),
    datasets: new KyselyDatasetStore(conn),
    unitOfWork: { run: (fn) => inTransaction(conn, fn) },
    privacy: new KyselyPrivacyStore(conn),
    signatures: new KyselySignatureStore(conn),
  };
}
