import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RetentionJanitor } from '../src/privacy/index.ts';
import { FakeClock } from '../src/shared/clock.ts';
import { createLogger } from '../src/shared/logger.ts';
import { createStores } from '../src/store/index.ts';
import { features, installPrivateModel, PII_KEY, privatePgDatabase, record } from './privacy-support.ts';
import { PG_URL, startTestTarmac, type TestTarmac } from './support.ts';

// Retention with an injected clock: per-model and per-dataset periods over a global default, enforced by the janitor
// in bounded batches, once across replicas (a lease), each run audited with what it deleted and the cut-off.

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);

for (const backend of ['sqlite', 'postgres'] as const) {
  const skip = backend === 'postgres' && !PG_URL ? 'TARMAC_TEST_PG_URL not set' : false;
  describe(`retention on ${backend}`, { skip }, () => {
    const clock = new FakeClock(T0);
    let t: TestTarmac;
    let pgdb: Awaited<ReturnType<typeof privatePgDatabase>>;

    before(async () => {
      pgdb = backend === 'postgres' ? await privatePgDatabase('tarmac_retention') : undefined;
      t = await startTestTarmac({
        TARMAC_PII_HASH_KEY: PII_KEY, TARMAC_RETENTION_DAYS: '30', TARMAC_RETENTION_BATCH_SIZE: '2', TARMAC_MONITOR: 'off',
        ...(pgdb ? { TARMAC_DATABASE_URL: pgdb.url } : {}),
      }, { clock });
      await installPrivateModel(t);
    });
    after(async () => {
      await t?.close();
      await pgdb?.drop();
    });

    const predict = async (n: number) => {
      const records = Array.from({ length: n }, (_, i) => features(record(`C-${i}`)));
      const res = await t.call('POST', '/v1/models/loans-private/predict', { records });
      assert.equal(res.statusCode, 200, res.body);
      const ids = (res.json() as { predictions: { id: string }[] }).predictions.map((p) => p.id);
      await t.tarmac.predictionLogger.flush();
      return ids;
    };
    const count = async (table: 'predictions' | 'feedback' | 'dataset_rows' | 'quarantine' | 'dataset_batches') =>
      Number((await t.tarmac.database.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

    test('policies are validated, shown with what applies after the default, and audited', async () => {
      const shown = (await t.call('GET', '/v1/models/loans-private/retention')).json() as { effective: Record<string, number | null>; default_days: number };
      assert.deepEqual(shown.effective, { predictions_days: 30, feedback_days: 30 });
      assert.equal(shown.default_days, 30);
      const bad = await t.call('PUT', '/v1/models/loans-private/retention', { predictions_days: -1 });
      assert.equal(bad.statusCode, 400);
      assert.equal((await t.call('PUT', '/v1/models/loans-private/retention', { records_days: 1 })).statusCode, 400, 'a dataset setting on a model');
      assert.equal((await t.call('PUT', '/v1/models/nope/retention', { predictions_days: 1 })).statusCode, 404);
      const set = await t.call('PUT', '/v1/models/loans-private/retention', { predictions_days: 2, feedback_days: 0 });
      assert.equal(set.statusCode, 200, set.body);
      assert.deepEqual((set.json() as { effective: unknown }).effective, { predictions_days: 2, feedback_days: null }, '0 keeps forever');
      const viewer = (await t.call('POST', '/v1/keys', { role: 'viewer' })).json() as { key: string };
      assert.equal((await t.call('PUT', '/v1/models/loans-private/retention', { predictions_days: 1 }, viewer.key)).statusCode, 403);
      const audit = (await t.call('GET', '/v1/audit?limit=1000')).json() as { events: { action: string; target: string }[] };
      assert.ok(audit.events.some((e) => e.action === 'retention.model.set' && e.target === 'model:loans-private'));
    });

    test('the janitor deletes what is older than each period, in bounded batches, and audits the run', async () => {
      const old = await predict(5);
      await t.call('POST', '/v1/models/loans-private/feedback', { items: [{ prediction_id: old[0], label: 1 }] });
      const ingest = await t.call('POST', '/v1/datasets/applications/records', { records: [record('C-1'), record('C-2'), record('C-3', { age: 5 })] });
      assert.equal(ingest.statusCode, 200, ingest.body);
      assert.equal((await t.call('PUT', '/v1/datasets/applications/retention', { records_days: 3, quarantine_days: 1, batches_days: 3 })).statusCode, 200);

      clock.advance(2 * DAY + 1);
      const fresh = await predict(1);
      const run = await t.tarmac.janitor.runOnce();
      assert.ok(run);
      const predictions = run.deleted.find((d) => d.kind === 'predictions')!;
      assert.deepEqual([predictions.rows, predictions.feedback_with_predictions, predictions.complete], [5, 1, true], 'five in batches of two, with their label');
      assert.equal(predictions.cutoff, new Date(T0 + 1).toISOString());
      assert.equal(run.deleted.find((d) => d.kind === 'quarantine')!.rows, 1);
      assert.equal(run.deleted.find((d) => d.kind === 'records')!.rows, 0, 'three days not yet passed');
      assert.equal(run.deleted.some((d) => d.kind === 'feedback'), false, 'feedback is kept forever (0) apart from its prediction');
      assert.equal(await count('predictions'), 1);
      assert.equal(await count('feedback'), 0);
      assert.equal(await count('quarantine'), 0);
      assert.equal(await count('dataset_rows'), 2);
      const remaining = await t.tarmac.database.db.selectFrom('predictions').select('id').execute();
      assert.deepEqual(remaining.map((r) => r.id), fresh);

      clock.advance(2 * DAY);
      const second = await t.tarmac.janitor.runOnce();
      assert.equal(second!.deleted.find((d) => d.kind === 'records')!.rows, 2);
      assert.equal(second!.deleted.find((d) => d.kind === 'batches')!.rows, 1, 'the batch goes once nothing refers to it');
      assert.equal(await count('dataset_rows'), 0);
      assert.equal(await count('dataset_batches'), 0);

      const audit = (await t.call('GET', '/v1/audit?limit=1000')).json() as { events: { action: string; actor: string; details: { total: number; deleted: { kind: string; cutoff: string }[] } }[] };
      const runs = audit.events.filter((e) => e.action === 'retention.run');
      assert.equal(runs.length, 2);
      assert.equal(runs[0]!.actor, 'system');
      assert.equal(runs[0]!.details.total, 6);
      assert.ok(runs[0]!.details.deleted.every((d) => typeof d.cutoff === 'string'));
    });

    test('the run happens once across replicas: another holder waits for the lease', async () => {
      // A second replica's janitor: its own holder id, the same store and lease table.
      const stores = createStores(t.tarmac.database);
      const other = new RetentionJanitor({
        store: stores.privacy, retention: t.tarmac.retention, audit: t.tarmac.audit, clock, log: createLogger({ level: 'silent' }),
        acquireLease: (name, holder, now, until) => stores.rollouts.acquireLease(name, holder, now, until),
        batchSize: 10,
      });
      assert.equal(await other.runOnce(), undefined, 'the first janitor holds the lease');
      clock.advance(11 * 60_000);
      assert.ok(await other.runOnce(), 'an expired lease is taken over');
      await other.close();
    });
  });
}
