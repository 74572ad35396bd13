import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import {
  AuditCheckpointer, AuditLog, AuditVerifyService, CHECKPOINT_FILE, loadOrCreateSigningKey, SYSTEM_PRINCIPAL, type AuditSigningKey,
  type AuditVerification,
} from '../src/security/index.ts';
import { FakeClock } from '../src/shared/clock.ts';
import { createLogger } from '../src/shared/logger.ts';
import { auditHash, createStores, migrateToLatest, openDatabase, type AuditRecord, type StoreDatabase, type Stores } from '../src/store/index.ts';
import { PG_URL, tempPgDatabase } from './support.ts';

/**
 * The audit chain's tamper evidence on a real database: every kind of tampering done with plain SQL (as an attacker
 * with database access would) is caught and located by the verifier, the tail and full rewrites only with the signed
 * checkpoints; concurrent appends (several pools on PostgreSQL) keep one contiguous chain.
 */

const log = createLogger({ level: 'silent' });

/** One isolated audit log: a fresh database (or schema), its stores, a signing key and a checkpoint directory. */
interface Fixture {
  db: StoreDatabase;
  stores: Stores;
  audit: AuditLog;
  key: AuditSigningKey;
  dir: string;
  checkpointer: AuditCheckpointer;
  verifier: AuditVerifyService;
  /** A second connection (pool) to the same database, for concurrent appenders. */
  openAnother(): Promise<StoreDatabase>;
  dispose(): Promise<void>;
}

type Opener = () => Promise<{ db: StoreDatabase; openAnother(): Promise<StoreDatabase>; dispose(): Promise<void> }>;

async function fixture(open: Opener): Promise<Fixture> {
  const opened = await open();
  await migrateToLatest(opened.db);
  const stores = createStores(opened.db);
  const clock = new FakeClock();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tarmac-audit-'));
  const key = await loadOrCreateSigningKey(path.join(dir, 'audit-signing.key'), path.join(dir, 'audit-signing.pub'));
  const checkpoints = path.join(dir, 'checkpoints');
  const audit = new AuditLog({ audit: stores.audit, clock, log, unitOfWork: stores.unitOfWork });
  const checkpointer = new AuditCheckpointer({ audit: stores.audit, leases: stores.rollouts, key, dir: checkpoints, holder: 'test', intervalSeconds: 300, clock, log });
  const verifier = new AuditVerifyService({ audit: stores.audit, checkpointDir: checkpoints, publicKeys: [key.publicKey] });
  return {
    db: opened.db, stores, audit, key, dir: checkpoints, checkpointer, verifier, openAnother: opened.openAnother,
    async dispose() {
      await opened.dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function appendN(f: Fixture, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await f.audit.record(SYSTEM_PRINCIPAL, 'test.action', `thing:${i}`, { i, before: i, after: i + 1 });
}

function located(report: AuditVerification): string[] {
  return report.problems.map((p) => `${p.kind}@${p.seq ?? '-'}`);
}

function suite(name: string, open: Opener, skip: string | false): void {
  describe(`audit chain on ${name}`, { skip }, () => {
    test('an intact chain verifies, with its checkpoints', async () => {
      const f = await fixture(open);
      try {
        await appendN(f, 5);
        assert.ok(await f.checkpointer.checkpoint());
        assert.equal(await f.checkpointer.checkpoint(), undefined, 'no checkpoint while the head has not moved');
        // Another replica sharing the store does not write while this one holds the lease.
        const otherReplica = new AuditCheckpointer({
          audit: f.stores.audit, leases: f.stores.rollouts, key: f.key, dir: f.dir, holder: 'other', intervalSeconds: 300, clock: new FakeClock(), log,
        });
        await appendN(f, 3);
        assert.equal(await otherReplica.checkpoint(), undefined, 'the lease holder alone writes checkpoints');
        assert.ok(await f.checkpointer.checkpoint());
        const report = await f.verifier.verify();
        assert.deepEqual(report.problems, []);
        assert.equal(report.ok, true);
        assert.equal(report.entries, 8);
        assert.equal(report.checkpoints.checked, 2);
        assert.equal(report.checkpoints.latest?.seq, 8);
      } finally {
        await f.dispose();
      }
    });

    test('an edited row is caught at its seq', async () => {
      const f = await fixture(open);
      try {
        await appendN(f, 10);
        await f.checkpointer.checkpoint();
        await f.db.db.updateTable('audit_events').set({ details: JSON.stringify({ i: 3, before: 3, after: 999 }) }).where('seq', '=', 4).execute();
        assert.deepEqual(located(await f.verifier.verify()), ['hash_mismatch@4']);
        await f.db.db.updateTable('audit_events').set({ ip: '203.0.113.7' }).where('seq', '=', 7).execute();
        assert.deepEqual(located(await f.verifier.verify()), ['hash_mismatch@4', 'hash_mismatch@7'], 'where-from is covered by the hash too');
      } finally {
        await f.dispose();
      }
    });

    test('deleting the last rows is caught by the signed checkpoint (and only by it)', async () => {
      const f = await fixture(open);
      try {
        await appendN(f, 10);
        await f.checkpointer.checkpoint();
        await f.db.db.deleteFrom('audit_events').where('seq', '>', 8).execute();
        const report = await f.verifier.verify();
        assert.deepEqual(located(report), ['truncated@10']);
        assert.match(report.problems[0]!.message, /ends at 8/);
        assert.equal(report.problems[0]!.line, 1);
        const blind = await new AuditVerifyService({ audit: f.stores.audit }).verify();
        assert.equal(blind.ok, true, 'without checkpoints a truncated chain still links');
        assert.match(blind.warnings.join(), /cannot be detected/);
      } finally {
        await f.dispose();
      }
    });

    test('a deleted row in the middle is caught where the seq gap and the broken link are', async () => {
      const f = await fixture(open);
      try {
        await appendN(f, 10);
        await f.checkpointer.checkpoint();
        await f.db.db.deleteFrom('audit_events').where('seq', '=', 5).execute();
        assert.deepEqual(located(await f.verifier.verify()), ['entries_missing@6', 'checkpoint_count@10']);
        await f.db.db.deleteFrom('audit_events').where('seq', '<=', 2).execute();
        assert.deepEqual(located(await f.verifier.verify()), ['start_missing@3', 'entries_missing@6', 'checkpoint_count@10']);
      } finally {
        await f.dispose();
      }
    });

    test('reordered rows are caught at the seqs they moved to', async () => {
      const f = await fixture(open);
      try {
        await appendN(f, 8);
        // Swap the rows at seq 3 and 4 (through a free seq, as the column is unique).
        await f.db.db.updateTable('audit_events').set({ seq: 1000 }).where('seq', '=', 3).execute();
        await f.db.db.updateTable('audit_events').set({ seq: 3 }).where('seq', '=', 4).execute();
        await f.db.db.updateTable('audit_events').set({ seq: 4 }).where('seq', '=', 1000).execute();
        const report = await f.verifier.verify();
        assert.equal(report.ok, false);
        assert.deepEqual(located(report), ['link_broken@3', 'hash_mismatch@3', 'link_broken@4', 'hash_mismatch@4', 'link_broken@5']);
      } finally {
        await f.dispose();
      }
    });

    test('a full rewrite (every hash recomputed) is caught only by the signed checkpoint', async () => {
      const f = await fixture(open);
      try {
        await appendN(f, 10);
        await f.checkpointer.checkpoint();
        // The attacker edits seq 2 and recomputes every hash from there, so the chain links perfectly.
        const rows = await f.stores.audit.list();
        let prev = rows[0]!.hash;
        for (const row of rows.slice(1)) {
          const changed: AuditRecord = row.seq === 2 ? { ...row, actor: 'mallory' } : row;
          const hash = auditHash(prev, changed);
          await f.db.db.updateTable('audit_events').set({ actor: changed.actor, prev_hash: prev, hash }).where('seq', '=', row.seq).execute();
          prev = hash;
        }
        assert.equal((await new AuditVerifyService({ audit: f.stores.audit }).verify()).ok, true, 'the rewritten chain links');
        const report = await f.verifier.verify();
        assert.deepEqual(located(report), ['checkpoint_mismatch@10']);
        assert.equal(report.problems[0]!.file, path.join(f.dir, CHECKPOINT_FILE));
      } finally {
        await f.dispose();
      }
    });

    test('a tampered checkpoint, or one signed by another key, is caught at its line', async () => {
      const f = await fixture(open);
      try {
        await appendN(f, 4);
        await f.checkpointer.checkpoint();
        await appendN(f, 2);
        await f.checkpointer.checkpoint();
        const file = path.join(f.dir, CHECKPOINT_FILE);
        const lines = (await readFile(file, 'utf8')).trim().split('\n');
        // Move the newer checkpoint back to seq 4 (as if the tail never existed): its signature no longer verifies.
        const moved = { ...JSON.parse(lines[1]!) as Record<string, unknown>, seq: 4, count: 4, hash: (JSON.parse(lines[0]!) as { hash: string }).hash };
        await writeFile(file, `${lines[0]}\n${JSON.stringify(moved)}\n`);
        const report = await f.verifier.verify();
        assert.deepEqual(report.problems.map((p) => `${p.kind}:${p.line}`), ['checkpoint_signature:2']);
        const other = await loadOrCreateSigningKey(path.join(f.dir, 'other.key'), path.join(f.dir, 'other.pub'));
        const wrongKey = await new AuditVerifyService({ audit: f.stores.audit, checkpointDir: f.dir, publicKeys: [other.publicKey] }).verify();
        assert.deepEqual(wrongKey.problems.map((p) => `${p.kind}:${p.line}`), ['checkpoint_signature:1', 'checkpoint_signature:2']);
        assert.match(wrongKey.problems[0]!.message, /not among the public keys/);
      } finally {
        await f.dispose();
      }
    });

    test('50 concurrent appends (from several pools on PostgreSQL) leave one contiguous, verifiable chain', async () => {
      const f = await fixture(open);
      const others: StoreDatabase[] = [];
      try {
        const logs = [f.audit];
        if (f.db.dialect === 'postgres') {
          for (let i = 0; i < 3; i++) {
            const db = await f.openAnother();
            others.push(db);
            logs.push(new AuditLog({ audit: createStores(db).audit, clock: new FakeClock(), log }));
          }
        }
        await Promise.all(Array.from({ length: 50 }, (_, i) => logs[i % logs.length]!.record(SYSTEM_PRINCIPAL, 'test.concurrent', `n:${i}`, { i })));
        const all = await f.stores.audit.list();
        assert.deepEqual(all.map((r) => r.seq), Array.from({ length: 50 }, (_, i) => i + 1));
        assert.deepEqual(new Set(all.map((r) => r.details.i)).size, 50);
        const report = await f.verifier.verify();
        assert.deepEqual(report.problems, []);
        assert.equal(report.entries, 50);
      } finally {
        for (const db of others) await db.close();
        await f.dispose();
      }
    });

    test('a change and its audit entry commit or roll back together', async () => {
      const f = await fixture(open);
      try {
        await appendN(f, 1);
        // The audit append fails (the database refuses the insert): the change in the same unit of work is undone.
        if (f.db.dialect === 'sqlite') {
          await sql`create trigger audit_refuse before insert on audit_events begin select raise(abort, 'audit refused'); end`.execute(f.db.db);
        } else {
          await sql`create function audit_refuse() returns trigger language plpgsql as $$ begin raise exception 'audit refused'; end $$`.execute(f.db.db);
          await sql`create trigger audit_refuse before insert on audit_events for each row execute function audit_refuse()`.execute(f.db.db);
        }
        await assert.rejects(f.audit.atomically(async () => {
          await f.stores.monitor.putSetting('drift:m', '{"threshold":0.2}', 'system', 1);
          await f.audit.record(SYSTEM_PRINCIPAL, 'monitor.drift_settings.set', 'model:m', {});
        }), /audit refused/);
        assert.equal(await f.stores.monitor.getSetting('drift:m'), undefined, 'the setting rolled back with the failed audit append');
        await sql`drop trigger audit_refuse${f.db.dialect === 'postgres' ? sql` on audit_events` : sql``}`.execute(f.db.db);

        // The change fails after its audit entry was appended: the entry is undone.
        await assert.rejects(f.audit.atomically(async () => {
          await f.audit.record(SYSTEM_PRINCIPAL, 'alias.set', 'model:ghost/alias:champion', {});
          await f.stores.models.setAlias('ghost', 'champion', 1, 'system', 1);
        }), { code: 'REGISTRY_MODEL_NOT_FOUND' });
        assert.equal((await f.stores.audit.list()).length, 1, 'no entry for the change that failed');

        // Both succeed: both are there, and the chain stays contiguous.
        await f.audit.atomically(async () => {
          await f.stores.monitor.putSetting('drift:m', '{"threshold":0.3}', 'system', 2);
          await f.audit.record(SYSTEM_PRINCIPAL, 'monitor.drift_settings.set', 'model:m', { after: { threshold: 0.3 } });
        });
        assert.equal((await f.stores.monitor.getSetting('drift:m'))?.document, '{"threshold":0.3}');
        assert.deepEqual((await f.stores.audit.list()).map((r) => r.seq), [1, 2]);
        assert.equal((await f.verifier.verify()).ok, true);
      } finally {
        await f.dispose();
      }
    });
  });
}

suite('SQLite', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tarmac-audit-db-'));
  const url = `sqlite:${path.join(dir, 'tarmac.db')}`;
  const db = await openDatabase({ url, dataDir: dir });
  return {
    db,
    openAnother: () => openDatabase({ url, dataDir: dir }),
    async dispose() {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}, false);

// PostgreSQL: one database for this run, a schema per test.
let pgdb: Awaited<ReturnType<typeof tempPgDatabase>>;
let databaseUrl: string | undefined;


before(async () => {
  pgdb = await tempPgDatabase('tarmac_audit');
  databaseUrl = pgdb?.url;
});

after(async () => {
  await pgdb?.drop();
});

suite('PostgreSQL', async () => {
  const schema = `audit_${randomBytes(6).toString('hex')}`;
  const admin = await openDatabase({ url: databaseUrl, dataDir: os.tmpdir() });
  try {
    await sql`create schema ${sql.id(schema)}`.execute(admin.db);
  } finally {
    await admin.close();
  }
  const db = await openDatabase({ url: databaseUrl, dataDir: os.tmpdir(), schema });
  return {
    db,
    openAnother: () => openDatabase({ url: databaseUrl, dataDir: os.tmpdir(), schema }),
    dispose: () => db.close(),
  };
}, PG_URL ? false : 'TARMAC_TEST_PG_URL not set');
