import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { isTarmacError } from '../shared/errors.ts';
import type { Signature } from '../runtime/types.ts';
import { AUDIT_GENESIS_HASH, auditHash, createStores, migrateToLatest, openDatabase } from './index.ts';
import type { AuditRecord, NewVersion, PredictionRecord, StoreDatabase, Stores } from './index.ts';

const T0 = Date.UTC(2026, 0, 1);

/** The seq of the first entry that does not chain (link or own hash), or undefined when all do. */
function firstBroken(records: readonly AuditRecord[], prevHash = AUDIT_GENESIS_HASH): number | undefined {
  let expected = prevHash;
  for (const r of records) {
    if (r.prevHash !== expected || auditHash(r.prevHash, r) !== r.hash) return r.seq;
    expected = r.hash;
  }
  return undefined;
}

const SIGNATURE: Signature = {
  inputs: [{ name: 'x', type: 'float32', shape: [null, 2] }],
  outputs: [{ name: 'y', type: 'float32', shape: [null, 1], kind: 'tensor' }],
  layout: 'matrix',
  features: [
    { name: 'a', input: 'x', column: 0, type: 'float32' },
    { name: 'b', input: 'x', column: 1, type: 'float32' },
  ],
  task: 'regression',
};

function newVersion(modelName: string, overrides: Partial<NewVersion> = {}): NewVersion {
  return {
    modelName,
    artifactSha256: randomBytes(32).toString('hex'),
    artifactSize: 5_000_000_000,
    signature: SIGNATURE,
    description: 'a version',
    tags: { team: 'risk' },
    metrics: { auc: 0.91 },
    lineage: { trainingData: 'loans-2025', codeRef: 'abc123' },
    createdBy: 'alice',
    createdAt: T0,
    model: { description: 'a model', owner: 'risk-team', tags: { tier: 'gold' } },
    ...overrides,
  };
}

/** Asserts that `promise` rejects with a TarmacError carrying `code`. */
async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isTarmacError(err), `expected a TarmacError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

/** A database for one adapter suite, and how to throw it away afterwards. */
interface Target {
  store: StoreDatabase;
  dispose(): Promise<void>;
}

/** The one adapter suite, run against every dialect. */
function adapterSuite(name: string, open: () => Promise<Target>, skip?: string): void {
  describe(`store adapter: ${name}`, skip === undefined ? {} : { skip }, () => {
    let target: Target;
    let store: StoreDatabase;
    let stores: Stores;
    let applied: string[];

    before(async () => {
      target = await open();
      store = target.store;
      applied = await migrateToLatest(store);
      stores = createStores(store);
    });

    after(async () => {
      await target?.dispose();
    });

    test('migrations apply once and are idempotent', async () => {
      assert.deepEqual(applied, ['0001_initial', '0002_contracts', '0003_datasets', '0004_monitoring', '0005_alerts', '0006_deployment_revisions', '0007_rollouts', '0008_monitor_window_replicas', '0009_audit_chain', '0010_key_scopes', '0011_privacy', '0012_version_signatures', '0013_approvals', '0014_key_limits']);
      assert.deepEqual(await migrateToLatest(store), []);
      assert.deepEqual(await migrateToLatest(store), []);
    });

    test('addVersion numbers versions 1, 2, 3 per model and creates the model once', async () => {
      const a1 = await stores.models.addVersion(newVersion('alpha'));
      const a2 = await stores.models.addVersion(newVersion('alpha', { createdAt: T0 + 10, model: { description: 'ignored', owner: 'x', tags: {} } }));
      const b1 = await stores.models.addVersion(newVersion('beta'));
      const a3 = await stores.models.addVersion(newVersion('alpha', { createdAt: T0 + 20 }));
      assert.deepEqual([a1.version, a2.version, a3.version, b1.version], [1, 2, 3, 1]);

      assert.equal(a1.modelName, 'alpha');
      assert.equal(typeof a1.id, 'number');
      assert.equal(a1.modelId, a3.modelId);
      assert.notEqual(a1.modelId, b1.modelId);
      assert.deepEqual(a1.signature, SIGNATURE);
      assert.deepEqual(a1.tags, { team: 'risk' });
      assert.deepEqual(a1.metrics, { auc: 0.91 });
      assert.deepEqual(a1.lineage, { trainingData: 'loans-2025', codeRef: 'abc123' });
      assert.equal(a1.artifactSize, 5_000_000_000);
      assert.equal(a1.createdAt, T0);

      const model = await stores.models.getModel('alpha');
      assert.ok(model);
      assert.equal(model.id, a1.modelId);
      assert.equal(model.description, 'a model');
      assert.equal(model.owner, 'risk-team');
      assert.deepEqual(model.tags, { tier: 'gold' });
      assert.equal(model.createdAt, T0);
      assert.equal(model.updatedAt, T0 + 20);
      assert.equal(await stores.models.getModel('nope'), undefined);

      assert.deepEqual(await stores.models.getVersion('alpha', 2), a2);
      assert.equal(await stores.models.getVersion('alpha', 4), undefined);
      assert.equal(await stores.models.getVersion('nope', 1), undefined);
      assert.deepEqual(await stores.models.listVersions('alpha'), [a1, a2, a3]);
      assert.deepEqual(await stores.models.listVersions('nope'), []);
      const names = (await stores.models.listModels()).map((m) => m.name);
      assert.deepEqual(names.filter((n) => n === 'alpha' || n === 'beta'), ['alpha', 'beta']);
    });

    test('concurrent addVersion calls get distinct consecutive numbers', async () => {
      const results = await Promise.all(Array.from({ length: 10 }, () => stores.models.addVersion(newVersion('racer'))));
      assert.deepEqual(results.map((v) => v.version).sort((x, y) => x - y), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      assert.equal(new Set(results.map((v) => v.modelId)).size, 1);
      assert.equal((await stores.models.listVersions('racer')).length, 10);
      assert.equal((await stores.models.listModels()).filter((m) => m.name === 'racer').length, 1);
    });

    test('findVersionBySha256 finds the first version holding an artifact', async () => {
      const sha = randomBytes(32).toString('hex');
      const v = await stores.models.addVersion(newVersion('finder', { artifactSha256: sha }));
      await stores.models.addVersion(newVersion('finder-2', { artifactSha256: sha }));
      const found = await stores.models.findVersionBySha256(sha);
      assert.deepEqual(found, v);
      assert.equal(await stores.models.findVersionBySha256(randomBytes(32).toString('hex')), undefined);
    });

    test('aliases are set, moved, listed and deleted', async () => {
      await stores.models.addVersion(newVersion('aliased'));
      await stores.models.addVersion(newVersion('aliased'));
      assert.equal(await stores.models.setAlias('aliased', 'champion', 1, 'alice', T0), undefined);
      assert.equal(await stores.models.setAlias('aliased', 'challenger', 2, 'alice', T0), undefined);
      assert.equal(await stores.models.setAlias('aliased', 'champion', 2, 'bob', T0 + 5), 1);
      assert.deepEqual(await stores.models.listAliases('aliased'), [
        { modelName: 'aliased', alias: 'challenger', version: 2, updatedBy: 'alice', updatedAt: T0 },
        { modelName: 'aliased', alias: 'champion', version: 2, updatedBy: 'bob', updatedAt: T0 + 5 },
      ]);
      assert.equal(await stores.models.deleteAlias('aliased', 'challenger'), true);
      assert.equal(await stores.models.deleteAlias('aliased', 'challenger'), false);
      assert.deepEqual((await stores.models.listAliases('aliased')).map((a) => a.alias), ['champion']);
      assert.deepEqual(await stores.models.listAliases('nope'), []);

      await rejectsWithCode(stores.models.setAlias('nope', 'champion', 1, 'alice', T0), 'REGISTRY_MODEL_NOT_FOUND');
      await rejectsWithCode(stores.models.setAlias('aliased', 'champion', 99, 'alice', T0), 'REGISTRY_VERSION_NOT_FOUND');
      await rejectsWithCode(stores.models.deleteAlias('nope', 'champion'), 'REGISTRY_MODEL_NOT_FOUND');
      assert.equal((await stores.models.listAliases('aliased'))[0]?.version, 2);
    });

    test('deployments increment their revision and detect conflicts', async () => {
      await stores.models.addVersion(newVersion('deployed'));
      await stores.models.addVersion(newVersion('deployed'));
      const spec1 = { variants: [{ name: 'stable', version: 1, weight: 100 }] };
      const spec2 = { variants: [{ name: 'stable', version: 1, weight: 90 }, { name: 'canary', version: 2, weight: 10 }] };
      assert.equal(await stores.models.getDeployment('deployed'), undefined);

      const r1 = await stores.models.putDeployment('deployed', spec1, 'alice', T0, 0);
      assert.deepEqual(r1, { modelName: 'deployed', spec: spec1, revision: 1, updatedBy: 'alice', updatedAt: T0 });
      const r2 = await stores.models.putDeployment('deployed', spec2, 'bob', T0 + 1);
      assert.equal(r2.revision, 2);
      await rejectsWithCode(stores.models.putDeployment('deployed', spec1, 'carol', T0 + 2, 1), 'STORE_CONFLICT');
      const r3 = await stores.models.putDeployment('deployed', spec1, 'carol', T0 + 3, 2);
      assert.equal(r3.revision, 3);
      assert.deepEqual(await stores.models.getDeployment('deployed'), r3);
      assert.ok((await stores.models.listDeployments()).some((d) => d.modelName === 'deployed' && d.revision === 3));

      // Two writers holding the same revision: exactly one wins.
      const race = await Promise.allSettled([
        stores.models.putDeployment('deployed', spec2, 'x', T0 + 4, 3),
        stores.models.putDeployment('deployed', spec2, 'y', T0 + 4, 3),
      ]);
      assert.equal(race.filter((r) => r.status === 'fulfilled').length, 1);
      const lost = race.find((r) => r.status === 'rejected');
      assert.ok(lost && isTarmacError(lost.reason) && lost.reason.code === 'STORE_CONFLICT');
      assert.equal((await stores.models.getDeployment('deployed'))?.revision, 4);

      await rejectsWithCode(stores.models.putDeployment('nope', spec1, 'alice', T0), 'REGISTRY_MODEL_NOT_FOUND');
    });

    test('keys are inserted, read, listed, revoked and counted', async () => {
      assert.equal(await stores.keys.count(), 0);
      const key = {
        id: 'k1', name: 'ci', role: 'admin', secretHash: 'ab'.repeat(32), createdBy: 'bootstrap', createdAt: T0, revokedAt: null,
        scope: null, expiresAt: null, lastUsedAt: null, rotatedAt: null, previousSecretHash: null, previousExpiresAt: null,
      };
      await stores.keys.insert(key);
      await stores.keys.insert({ ...key, id: 'k2', name: 'reader', role: 'viewer', createdAt: T0 + 1 });
      await rejectsWithCode(stores.keys.insert(key), 'STORE_CONFLICT');
      assert.deepEqual(await stores.keys.get('k1'), key);
      assert.equal(await stores.keys.get('missing'), undefined);
      assert.deepEqual((await stores.keys.list()).map((k) => k.id), ['k1', 'k2']);
      assert.equal(await stores.keys.count(), 2);

      assert.equal(await stores.keys.revoke('k2', T0 + 100), true);
      assert.equal(await stores.keys.revoke('k2', T0 + 200), true);
      assert.equal((await stores.keys.get('k2'))?.revokedAt, T0 + 100);
      assert.equal(await stores.keys.revoke('missing', T0), false);
      assert.equal(await stores.keys.count(), 2);
    });

    test('keys keep their scope and expiry, rotate by compare-and-set and record last use without going backwards', async () => {
      const key = {
        id: 'k3', name: 'scoped', role: 'predictor', secretHash: 'cd'.repeat(32), createdBy: 'admin', createdAt: T0, revokedAt: null,
        scope: { models: ['credit-*', 'fraud'], datasets: ['loans'] }, expiresAt: T0 + 86_400_000, lastUsedAt: null, rotatedAt: null,
        previousSecretHash: null, previousExpiresAt: null,
      };
      await stores.keys.insert(key);
      assert.deepEqual(await stores.keys.get('k3'), key);

      const change = { secretHash: 'ef'.repeat(32), previousSecretHash: 'cd'.repeat(32), previousExpiresAt: T0 + 5_000, rotatedAt: T0 + 1_000 };
      assert.equal(await stores.keys.rotate('k3', change), true);
      assert.equal(await stores.keys.rotate('k3', change), false, 'the hash it replaced is gone: a second identical rotation loses');
      assert.equal(await stores.keys.rotate('missing', change), false);
      const rotated = await stores.keys.get('k3');
      assert.equal(rotated?.secretHash, 'ef'.repeat(32));
      assert.equal(rotated?.previousSecretHash, 'cd'.repeat(32));
      assert.equal(rotated?.previousExpiresAt, T0 + 5_000);
      assert.equal(rotated?.rotatedAt, T0 + 1_000);
      assert.equal(await stores.keys.rotate('k2', { ...change, previousSecretHash: 'ab'.repeat(32) }), false, 'a revoked key does not rotate');

      await stores.keys.touch(new Map([['k3', T0 + 10], ['k1', T0 + 20], ['missing', T0]]));
      await stores.keys.touch(new Map([['k3', T0 + 5]]));
      assert.equal((await stores.keys.get('k3'))?.lastUsedAt, T0 + 10);
      assert.equal((await stores.keys.get('k1'))?.lastUsedAt, T0 + 20);
      await stores.keys.touch(new Map());
    });

    test('predictions are inserted in bulk, found, counted and joined to feedback', async () => {
      const rows: PredictionRecord[] = Array.from({ length: 1000 }, (_, i) => ({
        id: randomUUID(),
        model: i % 4 === 0 ? 'pred-b' : 'pred-a',
        version: 1,
        variant: 'stable',
        requestId: `req-${Math.floor(i / 10)}`,
        createdAt: T0 + i,
        inputs: { income: i, city: 'Lyon', nested: [1, { x: null }] },
        outputs: { score: i / 1000 },
        latencyMs: 1.25,
      }));
      await stores.predictions.insertMany(rows);
      await stores.predictions.insertMany([]);
      // A redelivered batch is skipped, not an error.
      await stores.predictions.insertMany(rows.slice(0, 300));
      assert.equal(await stores.predictions.count(), 1000);
      assert.equal(await stores.predictions.count('none'), 0);
      // Rows from inside a multi-row statement, across a statement's edge and from the one-row tail come back whole.
      for (const i of [7, 15, 16, 991, 999]) assert.deepEqual(await stores.predictions.get(rows[i]!.id), rows[i]);
      // Re-sent rows mixed with new ones, the same id twice in one statement: each new row is stored once.
      const late = rows.slice(0, 20).map((r) => ({ ...r, id: randomUUID() }));
      await stores.predictions.insertMany([...rows.slice(0, 8), late[0]!, late[0]!, ...late.slice(1), ...rows.slice(990)]);
      assert.equal(await stores.predictions.count(), 1020);
      assert.equal(await stores.predictions.count('pred-b'), 255);
      assert.deepEqual(await stores.predictions.get(late[19]!.id), late[19]);
      await stores.predictions.insertMany(rows.slice(0, 300));
      assert.equal(await stores.predictions.get('missing'), undefined);

      const unknown = Array.from({ length: 600 }, () => randomUUID());
      const asked = [...rows.map((r) => r.id), ...unknown, rows[0]!.id];
      const found = await stores.predictions.existing(asked);
      assert.equal(found.size, 1000);
      assert.ok(rows.every((r) => found.has(r.id)));
      assert.equal((await stores.predictions.existing([])).size, 0);

      const target = rows[3]!.id;
      await stores.predictions.insertFeedback([
        { predictionId: target, label: 1, createdBy: 'ops', createdAt: T0 + 5000 },
        { predictionId: target, label: { outcome: 'default', amount: 12.5 }, createdBy: 'ops', createdAt: T0 + 6000 },
        { predictionId: rows[4]!.id, label: 'x', createdBy: 'ops', createdAt: T0 + 7000 },
      ]);
      await stores.predictions.insertFeedback([]);
      assert.deepEqual(await stores.predictions.feedbackFor(target), [
        { predictionId: target, label: 1, createdBy: 'ops', createdAt: T0 + 5000 },
        { predictionId: target, label: { outcome: 'default', amount: 12.5 }, createdBy: 'ops', createdAt: T0 + 6000 },
      ]);
      assert.deepEqual(await stores.predictions.feedbackFor('missing'), []);
    });

    test('contracts are numbered per name, read back, listed by latest, also under concurrent adds', async () => {
      const contract = (name: string, n: number) => ({
        name, odcsVersion: `1.0.${n}`, document: `name: ${name}\n# ${n}\n`, sha256: `${n}`.padStart(64, '0'),
        compatibility: 'backward', createdBy: 'alice', createdAt: T0 + n,
      });
      const first = await stores.contracts.add(contract('loans', 1));
      assert.equal(first.version, 1);
      assert.deepEqual({ ...first, id: 0 }, { ...contract('loans', 1), id: 0, version: 1 });
      assert.equal((await stores.contracts.add(contract('loans', 2))).version, 2);
      assert.equal((await stores.contracts.add(contract('cards', 3))).version, 1);
      const concurrent = await Promise.all([4, 5, 6, 7].map((n) => stores.contracts.add(contract('loans', n))));
      assert.deepEqual(concurrent.map((c) => c.version).sort(), [3, 4, 5, 6]);

      assert.equal((await stores.contracts.get('loans', 2))?.odcsVersion, '1.0.2');
      assert.equal(await stores.contracts.get('loans', 99), undefined);
      assert.equal((await stores.contracts.latest('loans'))?.version, 6);
      assert.equal(await stores.contracts.latest('nope'), undefined);
      assert.deepEqual((await stores.contracts.listVersions('loans')).map((c) => c.version), [1, 2, 3, 4, 5, 6]);
      assert.deepEqual((await stores.contracts.listLatest()).map((c) => [c.name, c.version]), [['cards', 1], ['loans', 6]]);
    });

    test('a version keeps its contract binding, and has none by default', async () => {
      const bound = await stores.models.addVersion(newVersion('bound-model', { contract: { name: 'loans', version: 2 } }));
      assert.deepEqual(bound.contract, { name: 'loans', version: 2 });
      assert.deepEqual((await stores.models.getVersion('bound-model', 1))?.contract, { name: 'loans', version: 2 });
      const unbound = await stores.models.addVersion(newVersion('bound-model'));
      assert.equal(unbound.contract, null);
      assert.equal((await stores.models.getVersion('bound-model', 2))?.contract, null);
    });

    test('audit entries form a hash chain, also under concurrent appends, and tampering is detected', async () => {
      const entry = (i: number) => ({
        id: randomUUID(),
        createdAt: T0 + i,
        actor: `user-${i}`,
        action: 'alias.set',
        target: 'model/credit-risk',
        outcome: 'ok' as const,
        actorRole: 'admin',
        ip: '10.0.0.1',
        requestId: `req-${i}`,
        userAgent: null,
        details: { i, z: 'last', a: { nested: true, list: [3, 2, 1] }, dropped: undefined },
      });
      const first = await stores.audit.append(entry(0));
      assert.equal(first.prevHash, '0'.repeat(64));
      assert.match(first.hash, /^[0-9a-f]{64}$/);
      assert.deepEqual(first.details, { i: 0, z: 'last', a: { nested: true, list: [3, 2, 1] } });
      const second = await stores.audit.append(entry(1));
      assert.equal(second.prevHash, first.hash);
      assert.ok(second.seq > first.seq);

      await Promise.all(Array.from({ length: 20 }, (_, i) => stores.audit.append(entry(i + 2))));
      const all = await stores.audit.list();
      assert.equal(all.length, 22);
      assert.deepEqual(all[0], first);
      assert.equal(new Set(all.map((r) => r.prevHash)).size, 22, 'no two entries share a predecessor (no fork)');
      assert.deepEqual(all.map((r) => r.seq), Array.from({ length: 22 }, (_, i) => i + 1), 'seq is contiguous from 1');
      assert.equal(firstBroken(all), undefined);

      const page = await stores.audit.list({ afterSeq: all[4]!.seq, limit: 5 });
      assert.deepEqual(page, all.slice(5, 10));
      assert.equal(firstBroken(page, all[4]!.hash), undefined);
      assert.equal(firstBroken(page), page[0]!.seq);
      assert.deepEqual((await stores.audit.head()), { seq: 22, hash: all[21]!.hash, count: 22 });

      const edited: AuditRecord[] = all.map((r, i) => (i === 7 ? { ...r, details: { ...r.details, i: 999 } } : r));
      assert.equal(firstBroken(edited), all[7]!.seq);
      const removed = all.filter((_, i) => i !== 12);
      assert.equal(firstBroken(removed), all[13]!.seq);

      await rejectsWithCode(stores.audit.append({ ...entry(99), id: first.id }), 'STORE_CONFLICT');

      // Tampering with the stored row is caught when the log is read back.
      await store.db.updateTable('audit_events').set({ actor: 'mallory' }).where('seq', '=', all[3]!.seq).execute();
      assert.equal(firstBroken(await stores.audit.list()), all[3]!.seq);
    });
  });
}

adapterSuite('sqlite', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'tarmac-store-'));
  const store = await openDatabase({ dataDir: join(dataDir, 'nested') });
  return {
    store,
    async dispose() {
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});

const PG_URL = process.env.TARMAC_TEST_PG_URL;

adapterSuite(
  'postgres',
  async () => {
    const schema = `tarmac_test_${randomBytes(6).toString('hex')}`;
    // The schema exists before the store's pool opens, so no pooled connection ever starts without it.
    const admin = await openDatabase({ url: PG_URL, dataDir: tmpdir() });
    try {
      await sql`create schema ${sql.id(schema)}`.execute(admin.db);
    } finally {
      await admin.close();
    }
    const store = await openDatabase({ url: PG_URL, dataDir: tmpdir(), schema });
    return {
      store,
      async dispose() {
        try {
          await sql`drop schema ${sql.id(schema)} cascade`.execute(store.db);
        } finally {
          await store.close();
        }
      },
    };
  },
  PG_URL ? undefined : 'TARMAC_TEST_PG_URL not set',
);

describe('openDatabase', () => {
  test('opens SQLite in WAL mode with foreign keys on, in a file under dataDir', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tarmac-open-'));
    const store = await openDatabase({ dataDir });
    try {
      assert.equal(store.dialect, 'sqlite');
      const { rows: mode } = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(store.db);
      assert.equal(mode[0]?.journal_mode, 'wal');
      const { rows: fk } = await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(store.db);
      assert.equal(fk[0]?.foreign_keys, 1);
      const { rows: busy } = await sql<{ timeout: number }>`pragma busy_timeout`.execute(store.db);
      assert.ok((busy[0]?.timeout ?? 0) > 0);
      await migrateToLatest(store);
    } finally {
      await store.close();
      await store.close();
    }
    const reopened = await openDatabase({ url: `sqlite:${join(dataDir, 'tarmac.db')}`, dataDir: '/nonexistent' });
    try {
      assert.deepEqual(await migrateToLatest(reopened), []);
    } finally {
      await reopened.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('opens an in-memory SQLite database', async () => {
    const store = await openDatabase({ url: ':memory:', dataDir: '/nonexistent' });
    try {
      assert.deepEqual(await migrateToLatest(store), ['0001_initial', '0002_contracts', '0003_datasets', '0004_monitoring', '0005_alerts', '0006_deployment_revisions', '0007_rollouts', '0008_monitor_window_replicas', '0009_audit_chain', '0010_key_scopes', '0011_privacy', '0012_version_signatures', '0013_approvals', '0014_key_limits']);
      assert.equal(await createStores(store).keys.count(), 0);
    } finally {
      await store.close();
    }
  });

  test('rejects an unknown URL scheme and a malformed schema name with CONFIG_INVALID', async () => {
    await rejectsWithCode(openDatabase({ url: 'mysql://localhost/x', dataDir: '/tmp' }), 'CONFIG_INVALID');
    await rejectsWithCode(
      openDatabase({ url: 'postgres://127.0.0.1/x', dataDir: '/tmp', schema: 'x; drop table y' }),
      'CONFIG_INVALID',
    );
  });

  test('returns BIGINT columns as numbers on PostgreSQL', { skip: PG_URL ? undefined : 'TARMAC_TEST_PG_URL not set' }, async () => {
    const store = await openDatabase({ url: PG_URL, dataDir: tmpdir() });
    try {
      const { rows } = await sql<{ big: unknown; count: unknown }>`select ${T0}::bigint as big, count(*) as count from (values (1), (2)) v(x)`.execute(store.db);
      assert.deepEqual(rows[0], { big: T0, count: 2 });
    } finally {
      await store.close();
    }
  });
});
