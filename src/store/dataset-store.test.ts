import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { isTarmacError } from '../shared/errors.ts';
import { KyselyDatasetStore, migrateToLatest, openDatabase } from './index.ts';
import type { ChunkCommit, DatasetRecord, DatasetStore, NewDataset, QuarantinedRow, StoreDatabase, StoredRow } from './index.ts';

const T0 = Date.UTC(2026, 0, 1);
const NO_COUNTS = { read: 0, quarantined: 0, duplicates: 0, late: 0, tooLate: 0 };

function newDataset(name: string, overrides: Partial<NewDataset> = {}): NewDataset {
  return {
    name,
    description: 'loan applications',
    contract: { name: 'loans', version: 1 },
    keyFields: ['id'],
    eventTimeField: 'ts',
    windowSeconds: 3600,
    allowedLatenessSeconds: 600,
    transforms: [{ op: 'rename', from: 'a', to: 'b' }],
    natsSubject: null,
    createdBy: 'alice',
    createdAt: T0,
    ...overrides,
  };
}

function row(id: number, extra: Record<string, unknown> = {}): StoredRow {
  return { key: `k${id}`, eventTime: T0 + id * 1000, data: { id, income: 1000 + id, city: 'Paris', ...extra } };
}

function bad(sourceRef: string, rowNumber: number): QuarantinedRow {
  return { sourceRef, rowNumber, raw: { id: 'x', rowNumber }, reasons: [{ field: 'id', rule: 'type', message: 'not an integer' }] };
}

/** A chunk with no rows, quarantine, watermark or windows; tests fill in what they exercise. */
function chunk(batchId: string, datasetId: number, overrides: Partial<ChunkCommit> = {}): ChunkCommit {
  return { batchId, datasetId, rows: [], quarantine: [], counts: NO_COUNTS, watermark: null, windows: [], at: T0, ...overrides };
}

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<unknown> {
  let caught: unknown;
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isTarmacError(err), `expected a TarmacError, got ${String(err)}`);
    assert.equal(err.code, code);
    caught = err;
    return true;
  });
  return caught;
}

/** A database for one adapter suite, and how to throw it away afterwards. */
interface Target {
  store: StoreDatabase;
  dispose(): Promise<void>;
}

/** The dataset adapter suite; `portable` drops the raw SQLite handle so the Kysely path runs on SQLite too. */
function adapterSuite(name: string, open: () => Promise<Target>, options: { skip?: string; portable?: boolean } = {}): void {
  describe(`dataset store: ${name}`, options.skip === undefined ? {} : { skip: options.skip }, () => {
    let target: Target;
    let datasets: DatasetStore;
    let n = 0;

    before(async () => {
      target = await open();
      await migrateToLatest(target.store);
      const { sqlite, ...rest } = target.store;
      datasets = new KyselyDatasetStore(options.portable === true ? rest : { ...rest, sqlite });
    });

    after(async () => {
      await target?.dispose();
    });

    /** A fresh dataset with one running batch, so tests never see each other's rows. */
    async function fixture(sha: string | null = null): Promise<{ ds: DatasetRecord; batchId: string }> {
      const ds = await datasets.create(newDataset(`ds-${++n}`));
      const batchId = randomUUID();
      await datasets.startBatch({ id: batchId, datasetId: ds.id, source: 'file:a.csv', contentSha256: sha, contractVersion: 1, createdBy: 'alice', startedAt: T0 });
      return { ds, batchId };
    }

    test('create, get, getById and list round-trip a dataset; a taken name throws DATASET_EXISTS', async () => {
      const created = await datasets.create(newDataset('loans', { natsSubject: 'loans.in', eventTimeField: null }));
      assert.equal(typeof created.id, 'number');
      assert.deepEqual(created, {
        id: created.id,
        name: 'loans',
        description: 'loan applications',
        contract: { name: 'loans', version: 1 },
        keyFields: ['id'],
        eventTimeField: null,
        windowSeconds: 3600,
        allowedLatenessSeconds: 600,
        transforms: [{ op: 'rename', from: 'a', to: 'b' }],
        natsSubject: 'loans.in',
        watermark: null,
        createdBy: 'alice',
        createdAt: T0,
        updatedAt: T0,
      });
      assert.deepEqual(await datasets.get('loans'), created);
      assert.deepEqual(await datasets.getById(created.id), created);
      assert.equal(await datasets.get('nope'), undefined);
      assert.equal(await datasets.getById(999_999), undefined);
      assert.ok((await datasets.list()).some((d) => d.name === 'loans'));

      const err = await rejectsWithCode(datasets.create(newDataset('loans')), 'DATASET_EXISTS');
      assert.deepEqual((err as { details: unknown }).details, { dataset: 'loans' });
    });

    test('updateContract re-pins the contract version; an unknown id throws DATASET_NOT_FOUND', async () => {
      const { ds } = await fixture();
      await datasets.updateContract(ds.id, { name: 'loans', version: 2 }, T0 + 5);
      const after = await datasets.getById(ds.id);
      assert.deepEqual(after?.contract, { name: 'loans', version: 2 });
      assert.equal(after?.updatedAt, T0 + 5);
      await rejectsWithCode(datasets.updateContract(999_999, { name: 'loans', version: 2 }, T0), 'DATASET_NOT_FOUND');
    });

    test('startBatch starts a running batch with zero counts; getBatch and finishBatch', async () => {
      const { ds, batchId } = await fixture();
      const batch = await datasets.getBatch(batchId);
      assert.deepEqual(batch, {
        id: batchId,
        datasetId: ds.id,
        datasetName: ds.name,
        source: 'file:a.csv',
        contentSha256: null,
        contractVersion: 1,
        status: 'running',
        counts: { read: 0, accepted: 0, quarantined: 0, duplicates: 0, late: 0, tooLate: 0 },
        error: null,
        createdBy: 'alice',
        startedAt: T0,
        updatedAt: T0,
        finishedAt: null,
      });
      assert.equal(await datasets.getBatch(randomUUID()), undefined);

      const done = await datasets.finishBatch(batchId, 'completed', T0 + 9, undefined, 'ab'.repeat(32));
      assert.equal(done.status, 'completed');
      assert.equal(done.finishedAt, T0 + 9);
      assert.equal(done.updatedAt, T0 + 9);
      assert.equal(done.contentSha256, 'ab'.repeat(32));
      assert.equal(done.error, null);
      assert.deepEqual(await datasets.getBatch(batchId), done);

      const { batchId: other } = await fixture('cd'.repeat(32));
      const failed = await datasets.finishBatch(other, 'failed', T0 + 3, 'disk full');
      assert.equal(failed.status, 'failed');
      assert.equal(failed.error, 'disk full');
      assert.equal(failed.contentSha256, 'cd'.repeat(32), 'an absent hash leaves the stored one');

      await rejectsWithCode(datasets.finishBatch(randomUUID(), 'completed', T0), 'DATASET_BATCH_NOT_FOUND');
      await rejectsWithCode(
        datasets.startBatch({ id: randomUUID(), datasetId: 999_999, source: 'http', contentSha256: null, contractVersion: 1, createdBy: 'a', startedAt: T0 }),
        'DATASET_NOT_FOUND',
      );
    });

    test('findRunningBatch returns the newest running batch with that hash only; listBatches is newest first', async () => {
      const ds = await datasets.create(newDataset(`runs-${++n}`));
      const sha = 'aa'.repeat(32);
      const start = (startedAt: number, contentSha256: string | null) =>
        datasets.startBatch({ id: randomUUID(), datasetId: ds.id, source: 'file:x', contentSha256, contractVersion: 1, createdBy: 'a', startedAt });
      const b1 = await start(T0 + 1, sha);
      const b2 = await start(T0 + 2, sha);
      const b3 = await start(T0 + 3, sha);
      const other = await start(T0 + 4, 'bb'.repeat(32));
      const http = await start(T0 + 5, null);
      await datasets.finishBatch(b3.id, 'failed', T0 + 10, 'boom');

      assert.equal((await datasets.findRunningBatch(ds.id, sha))?.id, b2.id);
      await datasets.finishBatch(b2.id, 'completed', T0 + 11);
      assert.equal((await datasets.findRunningBatch(ds.id, sha))?.id, b1.id);
      await datasets.finishBatch(b1.id, 'completed', T0 + 12);
      assert.equal(await datasets.findRunningBatch(ds.id, sha), undefined);
      assert.equal((await datasets.findRunningBatch(ds.id, 'bb'.repeat(32)))?.id, other.id);
      const elsewhere = await datasets.create(newDataset(`runs-${++n}`));
      assert.equal(await datasets.findRunningBatch(elsewhere.id, 'bb'.repeat(32)), undefined);

      assert.deepEqual((await datasets.listBatches(ds.id, 10)).map((b) => b.id), [http.id, other.id, b3.id, b2.id, b1.id]);
      assert.deepEqual((await datasets.listBatches(ds.id, 2)).map((b) => b.id), [http.id, other.id]);
      assert.deepEqual(await datasets.listBatches(elsewhere.id, 10), []);
    });

    test('commitChunk de-duplicates within and across chunks and accumulates the batch counts', async () => {
      const { ds, batchId } = await fixture();
      const first = await datasets.commitChunk(chunk(batchId, ds.id, {
        rows: [row(1), row(2), row(1, { again: true }), row(3)],
        counts: { read: 6, quarantined: 1, duplicates: 1, late: 1, tooLate: 0 },
        at: T0 + 1,
      }));
      assert.deepEqual(first, { inserted: 3, duplicates: 1, quarantined: 0 });

      const second = await datasets.commitChunk(chunk(batchId, ds.id, {
        rows: [row(3), row(4), row(2), row(5)],
        counts: { read: 5, quarantined: 1, duplicates: 0, late: 0, tooLate: 1 },
        at: T0 + 2,
      }));
      assert.deepEqual(second, { inserted: 2, duplicates: 2, quarantined: 0 });

      const batch = await datasets.getBatch(batchId);
      assert.deepEqual(batch?.counts, { read: 11, accepted: 5, quarantined: 2, duplicates: 4, late: 1, tooLate: 1 });
      assert.equal(batch?.updatedAt, T0 + 2);
      assert.equal(batch?.status, 'running');
      assert.equal(await datasets.countRows(ds.id), 5);

      // The first writer of a key wins: the later copy of row 1 was skipped, not merged.
      const rows = await datasets.readRows(ds.id, 0, 100);
      assert.deepEqual(rows.map((r) => r.key), ['k1', 'k2', 'k3', 'k4', 'k5']);
      assert.deepEqual(rows[0]?.data, row(1).data);
    });

    test('a key stored by one dataset is new to another', async () => {
      const a = await fixture();
      const b = await fixture();
      await datasets.commitChunk(chunk(a.batchId, a.ds.id, { rows: [row(1)] }));
      assert.deepEqual(await datasets.commitChunk(chunk(b.batchId, b.ds.id, { rows: [row(1)] })), { inserted: 1, duplicates: 0, quarantined: 0 });
    });

    test('quarantine is idempotent on (sourceRef, rowNumber) while the batch count adds what the caller gives', async () => {
      const { ds, batchId } = await fixture();
      const rows = [bad('sha-a', 2), bad('sha-a', 5), bad('sha-b', 2)];
      const counts = { read: 3, quarantined: 3, duplicates: 0, late: 0, tooLate: 0 };
      assert.deepEqual(await datasets.commitChunk(chunk(batchId, ds.id, { quarantine: rows, counts })), { inserted: 0, duplicates: 0, quarantined: 3 });
      const retry = await datasets.commitChunk(chunk(batchId, ds.id, { quarantine: [...rows, bad('sha-a', 7)], counts: { ...counts, read: 4, quarantined: 4 } }));
      assert.deepEqual(retry, { inserted: 0, duplicates: 0, quarantined: 1 });
      assert.deepEqual((await datasets.getBatch(batchId))?.counts, { read: 7, accepted: 0, quarantined: 7, duplicates: 0, late: 0, tooLate: 0 });
      assert.equal(await datasets.countQuarantine(ds.id), 4);

      const [q] = await datasets.listQuarantine(ds.id, { limit: 1 });
      assert.ok(q);
      assert.deepEqual(q, {
        id: q.id,
        datasetId: ds.id,
        batchId,
        sourceRef: 'sha-a',
        rowNumber: 2,
        raw: { id: 'x', rowNumber: 2 },
        reasons: [{ field: 'id', rule: 'type', message: 'not an integer' }],
        status: 'open',
        createdAt: T0,
        resolvedBy: null,
        resolvedAt: null,
        resolvedBatchId: null,
      });
      assert.deepEqual(await datasets.getQuarantine(ds.id, q.id), q);
      const elsewhere = await fixture();
      assert.equal(await datasets.getQuarantine(elsewhere.ds.id, q.id), undefined);
      // The same source rows quarantined in another dataset are that dataset's own.
      assert.equal((await datasets.commitChunk(chunk(elsewhere.batchId, elsewhere.ds.id, { quarantine: rows }))).quarantined, 3);
    });

    test('listQuarantine filters by status and pages by afterId ascending; resolveQuarantine only resolves open rows', async () => {
      const { ds, batchId } = await fixture();
      const fix = randomUUID();
      await datasets.startBatch({ id: fix, datasetId: ds.id, source: 'resubmit', contentSha256: null, contractVersion: 1, createdBy: 'bob', startedAt: T0 });
      await datasets.commitChunk(chunk(batchId, ds.id, { quarantine: [1, 2, 3, 4, 5].map((i) => bad('src', i)) }));
      const all = await datasets.listQuarantine(ds.id, { limit: 100 });
      assert.deepEqual(all.map((q) => q.rowNumber), [1, 2, 3, 4, 5]);
      const ids = all.map((q) => q.id);
      assert.deepEqual([...ids].sort((a, b) => a - b), ids);

      assert.equal(await datasets.resolveQuarantine(ids[1]!, 'resubmitted', 'bob', T0 + 7, fix), true);
      assert.equal(await datasets.resolveQuarantine(ids[3]!, 'discarded', 'bob', T0 + 8, null), true);
      assert.equal(await datasets.resolveQuarantine(ids[1]!, 'discarded', 'eve', T0 + 9, null), false, 'already resolved');
      assert.equal(await datasets.resolveQuarantine(999_999, 'discarded', 'eve', T0, null), false);

      const resolved = await datasets.getQuarantine(ds.id, ids[1]!);
      assert.equal(resolved?.status, 'resubmitted');
      assert.equal(resolved?.resolvedBy, 'bob');
      assert.equal(resolved?.resolvedAt, T0 + 7);
      assert.equal(resolved?.resolvedBatchId, fix);

      const open = await datasets.listQuarantine(ds.id, { status: 'open', limit: 100 });
      assert.deepEqual(open.map((q) => q.rowNumber), [1, 3, 5]);
      assert.deepEqual((await datasets.listQuarantine(ds.id, { status: 'open', limit: 1, afterId: open[0]!.id })).map((q) => q.rowNumber), [3]);
      assert.deepEqual((await datasets.listQuarantine(ds.id, { limit: 2, afterId: ids[1]! })).map((q) => q.rowNumber), [3, 4]);
      assert.deepEqual((await datasets.listQuarantine(ds.id, { status: 'discarded', limit: 10 })).map((q) => q.rowNumber), [4]);
      assert.equal(await datasets.countQuarantine(ds.id, 'open'), 3);
      assert.equal(await datasets.countQuarantine(ds.id, 'resubmitted'), 1);
      assert.equal(await datasets.countQuarantine(ds.id, 'discarded'), 1);
    });

    test('commitChunk moves the watermark to the maximum and leaves it when null', async () => {
      const { ds, batchId } = await fixture();
      await datasets.commitChunk(chunk(batchId, ds.id, { watermark: T0 + 500 }));
      assert.equal((await datasets.getById(ds.id))?.watermark, T0 + 500);
      await datasets.commitChunk(chunk(batchId, ds.id, { watermark: T0 + 100 }));
      assert.equal((await datasets.getById(ds.id))?.watermark, T0 + 500, 'never moves back');
      await datasets.commitChunk(chunk(batchId, ds.id, { watermark: null }));
      assert.equal((await datasets.getById(ds.id))?.watermark, T0 + 500);
      await datasets.commitChunk(chunk(batchId, ds.id, { watermark: T0 + 900 }));
      assert.equal((await datasets.getById(ds.id))?.watermark, T0 + 900);
    });

    test('commitChunk adds window counts, merging repeats of one window', async () => {
      const { ds, batchId } = await fixture();
      const H = 3_600_000;
      await datasets.commitChunk(chunk(batchId, ds.id, {
        windows: [
          { windowStart: T0, rows: 3, late: 0, tooLate: 0 },
          { windowStart: T0 + H, rows: 2, late: 1, tooLate: 0 },
          { windowStart: T0, rows: 1, late: 1, tooLate: 2 },
        ],
      }));
      await datasets.commitChunk(chunk(batchId, ds.id, {
        windows: [{ windowStart: T0 + H, rows: 5, late: 0, tooLate: 1 }, { windowStart: T0 + 2 * H, rows: 1, late: 0, tooLate: 0 }],
      }));
      assert.deepEqual(await datasets.windows(ds.id, 10), [
        { windowStart: T0 + 2 * H, rows: 1, late: 0, tooLate: 0 },
        { windowStart: T0 + H, rows: 7, late: 1, tooLate: 1 },
        { windowStart: T0, rows: 4, late: 1, tooLate: 2 },
      ]);
      assert.deepEqual((await datasets.windows(ds.id, 1)).map((w) => w.windowStart), [T0 + 2 * H]);
    });

    test('commitChunk for an unknown batch, or one of another dataset, throws and changes nothing', async () => {
      const { ds, batchId } = await fixture();
      const other = await fixture();
      const attempt = (b: string, d: number) => chunk(b, d, {
        rows: [row(1)], quarantine: [bad('s', 1)], watermark: T0, windows: [{ windowStart: T0, rows: 1, late: 0, tooLate: 0 }],
        counts: { ...NO_COUNTS, read: 2, quarantined: 1 },
      });
      await rejectsWithCode(datasets.commitChunk(attempt(randomUUID(), ds.id)), 'DATASET_BATCH_NOT_FOUND');
      await rejectsWithCode(datasets.commitChunk(attempt(other.batchId, ds.id)), 'DATASET_BATCH_NOT_FOUND');
      assert.equal(await datasets.countRows(ds.id), 0);
      assert.equal(await datasets.countQuarantine(ds.id), 0);
      assert.equal((await datasets.getById(ds.id))?.watermark, null);
      assert.deepEqual(await datasets.windows(ds.id, 10), []);
      assert.deepEqual((await datasets.getBatch(other.batchId))?.counts.read, 0);
      // And the store still works afterwards (no transaction left open).
      assert.equal((await datasets.commitChunk(attempt(batchId, ds.id))).inserted, 1);
    });

    test('readRows returns rows in arrival order with afterSeq paging', async () => {
      const { ds, batchId } = await fixture();
      const other = await fixture();
      // Keys deliberately out of lexical order: arrival order is seq order, not key order.
      const ids = [9, 3, 7, 1, 5, 2, 8];
      await datasets.commitChunk(chunk(batchId, ds.id, { rows: ids.slice(0, 4).map((i) => row(i)) }));
      await datasets.commitChunk(chunk(other.batchId, other.ds.id, { rows: [row(100)] }));
      await datasets.commitChunk(chunk(batchId, ds.id, { rows: [...ids.slice(4).map((i) => row(i)), { key: 'nt', eventTime: null, data: {} }] }));

      const seen: string[] = [];
      let afterSeq = 0;
      for (;;) {
        const page = await datasets.readRows(ds.id, afterSeq, 3);
        if (page.length === 0) break;
        assert.ok(page.length <= 3);
        for (const r of page) {
          assert.ok(r.seq > afterSeq);
          assert.equal(r.batchId, batchId);
          afterSeq = r.seq;
          seen.push(r.key);
        }
      }
      assert.deepEqual(seen, [...ids.map((i) => `k${i}`), 'nt']);
      const [first] = await datasets.readRows(ds.id, 0, 1);
      assert.deepEqual({ key: first?.key, eventTime: first?.eventTime, data: first?.data }, row(9));
      const last = await datasets.readRows(ds.id, afterSeq - 1, 10);
      assert.deepEqual(last.map((r) => [r.key, r.eventTime, r.data]), [['nt', null, {}]]);
      assert.equal(await datasets.countRows(ds.id), 8);
      assert.equal(await datasets.countRows(other.ds.id), 1);
    });

    test('existingKeys finds stored keys among more than any bind-parameter limit', async () => {
      const { ds, batchId } = await fixture();
      const stored: StoredRow[] = [];
      for (let i = 0; i < 5_000; i += 2) stored.push(row(i));
      await datasets.commitChunk(chunk(batchId, ds.id, { rows: stored }));
      const asked: string[] = [];
      for (let i = 0; i < 40_000; i++) asked.push(`k${i}`);
      asked.push('k0', 'k2');
      const found = await datasets.existingKeys(ds.id, asked);
      assert.equal(found.size, 2_500);
      assert.ok(found.has('k0') && found.has('k4998') && !found.has('k1'));
      assert.equal((await datasets.existingKeys(ds.id, [])).size, 0);
      const other = await fixture();
      assert.equal((await datasets.existingKeys(other.ds.id, asked)).size, 0);
    });

    test('commitChunk stores a chunk larger than one statement can bind', async () => {
      const { ds, batchId } = await fixture();
      const rows: StoredRow[] = [];
      for (let i = 0; i < 15_000; i++) rows.push(row(i));
      const quarantine: QuarantinedRow[] = [];
      for (let i = 1; i <= 4_000; i++) quarantine.push(bad('big', i));
      const result = await datasets.commitChunk(chunk(batchId, ds.id, { rows, quarantine }));
      assert.deepEqual(result, { inserted: 15_000, duplicates: 0, quarantined: 4_000 });
      assert.equal(await datasets.countRows(ds.id), 15_000);
      const again = await datasets.commitChunk(chunk(batchId, ds.id, { rows, quarantine }));
      assert.deepEqual(again, { inserted: 0, duplicates: 15_000, quarantined: 0 });
    });

    test('concurrent commits of the same keys store each key once', async () => {
      const { ds, batchId } = await fixture();
      const rows = Array.from({ length: 500 }, (_, i) => row(i));
      const results = await Promise.all([1, 2, 3, 4].map(() => datasets.commitChunk(chunk(batchId, ds.id, { rows }))));
      assert.equal(results.reduce((s, r) => s + r.inserted, 0), 500);
      assert.equal(results.reduce((s, r) => s + r.duplicates, 0), 1_500);
      assert.equal(await datasets.countRows(ds.id), 500);
      assert.deepEqual((await datasets.getBatch(batchId))?.counts.accepted, 500);
    });
  });
}

async function openSqlite(): Promise<Target> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tarmac-datasets-'));
  const store = await openDatabase({ dataDir });
  return {
    store,
    async dispose() {
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

adapterSuite('sqlite', openSqlite);
adapterSuite('sqlite (portable path)', openSqlite, { portable: true });

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
  PG_URL ? {} : { skip: 'PostgreSQL suite skipped: set TARMAC_TEST_PG_URL=postgres://… to run it' },
);
