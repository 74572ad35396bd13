import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { referenceProfileOf } from '../src/cli/monitor.commands.ts';
import { FakeClock } from '../src/shared/clock.ts';
import { features, installPrivateModel, keyed, PII_KEY, privatePgDatabase, record } from './privacy-support.ts';
import { PG_URL, ROOT, startTestTarmac, type TestTarmac } from './support.ts';

// Privacy by default, on each store: the stored copies of records (prediction log, quarantine, monitor profiles) never
// hold a PII field's raw value, and a data subject's records are found by the raw key or its keyed hash, exported and
// erased, with an audit trail that names the key's hash only.

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);

for (const backend of ['sqlite', 'postgres'] as const) {
  const skip = backend === 'postgres' && !PG_URL ? 'TARMAC_TEST_PG_URL not set' : false;
  describe(`privacy on ${backend}`, { skip }, () => {
    const clock = new FakeClock(T0);
    let t: TestTarmac;
    let pgdb: Awaited<ReturnType<typeof privatePgDatabase>>;
    let referenceColumns: string[] = [];

    before(async () => {
      pgdb = backend === 'postgres' ? await privatePgDatabase('tarmac_privacy') : undefined;
      t = await startTestTarmac({
        TARMAC_PII_HASH_KEY: PII_KEY, TARMAC_MONITOR_WINDOW_SECONDS: '60', TARMAC_MONITOR_GRACE_SECONDS: '5',
        ...(pgdb ? { TARMAC_DATABASE_URL: pgdb.url } : {}),
      }, { clock });
      await installPrivateModel(t);
      // The reference comes first: a window opened before it would be profiled under another spec.
      const features = ['income', 'loan_amount', 'age', 'credit_history_years', 'debt_ratio'].map((name) => ({ name, type: 'float' }))
        .concat([{ name: 'employment_type', type: 'string' }]);
      const { profile } = await referenceProfileOf(path.join(ROOT, 'demo/loans-demo.csv'), features);
      const put = await t.call('PUT', '/v1/models/loans-private/versions/1/reference-profile', { profile });
      assert.equal(put.statusCode, 200, put.body);
      referenceColumns = (put.json() as { columns: string[] }).columns;
    });
    after(async () => {
      await t?.close();
      await pgdb?.drop();
    });

    // The model reads the features; the customer travels beside each record as its subject key.
    const predict = async (records: Record<string, unknown>[]) => {
      const res = await t.call('POST', '/v1/models/loans-private/predict', { records: records.map(features), subjects: records.map((r) => r.customer_id) });
      assert.equal(res.statusCode, 200, res.body);
      return (res.json() as { predictions: { id: string }[] }).predictions.map((p) => p.id);
    };

    test('the prediction log stores PII inputs and subject keys as keyed hashes, never raw; other inputs as sent', async () => {
      const [id] = await predict([record('C-1001')]);
      await t.tarmac.predictionLogger.flush();
      const row = await t.tarmac.database.db.selectFrom('predictions').selectAll().where('id', '=', id!).executeTakeFirstOrThrow();
      const inputs = JSON.parse(row.inputs) as Record<string, unknown>;
      assert.equal(inputs.income, keyed(52000), 'classification confidential is PII: hashed with the PII key, so it still joins');
      assert.equal(inputs.loan_amount, 18000);
      assert.equal(inputs.employment_type, 'salaried');
      assert.equal((JSON.parse(row.outputs) as { subject: string }).subject, keyed('C-1001'));
      assert.ok(!row.inputs.includes('52000') && !row.outputs.includes('C-1001'));
      const unbound = await t.call('POST', '/v1/models/loans-private/predict', { records: [features(record('x'))], subjects: ['a', 'b'] });
      assert.equal(unbound.statusCode, 400, 'one subject per record');
    });

    test('monitor references and windows leave PII features out: no counts, sketches or samples of personal values', async () => {
      assert.ok(!referenceColumns.includes('income') && referenceColumns.includes('loan_amount'), referenceColumns.join(','));
      const stored = await t.tarmac.database.db.selectFrom('reference_profiles').select('profile').where('model', '=', 'loans-private').executeTakeFirstOrThrow();
      assert.equal((JSON.parse(stored.profile) as { columns: Record<string, unknown> }).columns.income, undefined);

      clock.advance(120_000);
      await predict([record('C-5005', { income: 123456.5 }), record('C-6006', { income: 654321.5 })]);
      await t.tarmac.predictionLogger.flush();
      clock.advance(70_000);
      await t.tarmac.monitor.tick();
      const windows = await t.tarmac.database.db.selectFrom('monitor_windows').select('profile').where('model', '=', 'loans-private').execute();
      assert.ok(windows.length > 0, 'a window was stored');
      for (const w of windows) {
        const names = Object.keys((JSON.parse(w.profile) as { columns: Record<string, unknown> }).columns);
        assert.ok(!names.includes('income') && names.includes('loan_amount'), names.join(','));
        assert.ok(!w.profile.includes('123456.5') && !w.profile.includes('654321.5'));
      }
    });

    test('quarantine keeps rows and reasons without raw PII; accepted dataset records keep their values', async () => {
      const res = await t.call('POST', '/v1/datasets/applications/records', {
        records: [record('C-1001'), record('C-2002', { income: -5 }), record('C-3003', { age: 5 })],
      });
      assert.equal(res.statusCode, 200, res.body);
      const held = await t.tarmac.database.db.selectFrom('quarantine').selectAll().orderBy('id').execute();
      assert.equal(held.length, 2);
      const raw = JSON.parse(held[0]!.raw) as Record<string, unknown>;
      assert.equal(raw.customer_id, keyed('C-2002'));
      assert.equal(raw.email, '[masked]');
      assert.equal(raw.income, keyed(-5));
      const reasons = JSON.parse(held[0]!.reasons) as { field: string; rule: string; message: string }[];
      assert.deepEqual(reasons.map((r) => `${r.field} ${r.rule}`), ['/income minimum']);
      assert.ok(!reasons[0]!.message.includes('-5'), reasons[0]!.message);
      const ageReasons = JSON.parse(held[1]!.reasons) as { message: string }[];
      assert.match(ageReasons[0]!.message, /5/, 'a non-personal field keeps its message');
      for (const h of held) assert.ok(!h.raw.includes('C-2002') && !h.raw.includes('C-3003') && !h.raw.includes('@example.com'));
    });

    test('export and erase a data subject: found by raw key or keyed hash, audited by hash only', async () => {
      const ids = await predict([record('C-1001'), record('C-2002')]);
      const feedback = await t.call('POST', '/v1/models/loans-private/feedback', { items: [{ prediction_id: ids[0], label: 1 }] });
      assert.equal(feedback.statusCode, 200, feedback.body);

      const viewer = (await t.call('POST', '/v1/keys', { role: 'viewer' })).json() as { key: string };
      assert.equal((await t.call('GET', '/v1/privacy/export?subject=C-1001', undefined, viewer.key)).statusCode, 403);
      assert.equal((await t.call('POST', '/v1/privacy/erase', { subject: 'C-1001' }, viewer.key)).statusCode, 403);

      const exported = await t.call('GET', '/v1/privacy/export?subject=C-1001');
      assert.equal(exported.statusCode, 200, exported.body);
      const body = exported.json() as {
        subject_hash: string; fields: string[]; predictions: { id: string }[]; feedback: { prediction_id: string }[];
        quarantine: unknown[]; dataset_records: { dataset: string; data: { customer_id: string } }[];
      };
      assert.equal(body.subject_hash, keyed('C-1001'));
      assert.deepEqual(body.fields, ['customer_id'], 'the contract marks the subject field');
      assert.equal(body.predictions.length, 2, 'the first test\'s answer and this one');
      assert.ok(body.predictions.some((p) => p.id === ids[0]));
      assert.deepEqual(body.feedback.map((f) => f.prediction_id), [ids[0]]);
      assert.equal(body.quarantine.length, 0);
      assert.deepEqual(body.dataset_records.map((r) => [r.dataset, r.data.customer_id]), [['applications', 'C-1001']], 'raw in the dataset, found by the raw key');

      const other = (await t.call('GET', '/v1/privacy/export?subject=C-2002&field=customer_id')).json() as { predictions: unknown[]; quarantine: unknown[] };
      assert.equal(other.predictions.length, 1);
      assert.equal(other.quarantine.length, 1, 'the quarantined row holds the keyed hash');

      const erased = await t.call('POST', '/v1/privacy/erase', { subject: 'C-1001' });
      assert.equal(erased.statusCode, 200, erased.body);
      assert.deepEqual((erased.json() as { deleted: unknown }).deleted, { predictions: 2, feedback: 1, quarantine: 0, dataset_rows: 1 });
      const after = (await t.call('GET', '/v1/privacy/export?subject=C-1001')).json() as { predictions: unknown[]; feedback: unknown[]; dataset_records: unknown[] };
      assert.deepEqual([after.predictions.length, after.feedback.length, after.dataset_records.length], [0, 0, 0]);
      const stillThere = (await t.call('GET', '/v1/privacy/export?subject=C-2002')).json() as { predictions: unknown[] };
      assert.equal(stillThere.predictions.length, 1, 'another subject is untouched');

      const audit = (await t.call('GET', '/v1/audit?limit=1000')).json() as { events: { action: string; target: string; details: Record<string, unknown> }[] };
      const erase = audit.events.find((e) => e.action === 'privacy.erase');
      assert.ok(erase);
      assert.equal(erase.target, `subject:${keyed('C-1001')}`);
      assert.deepEqual(erase.details.deleted, { predictions: 2, feedback: 1, quarantine: 0, dataset_rows: 1 });
      assert.ok(audit.events.some((e) => e.action === 'privacy.export'));
      assert.ok(!JSON.stringify(audit.events).includes('C-1001'), 'the audit log never holds the raw subject key');
    });

    test('a malformed subject request is refused naming the field', async () => {
      const missing = await t.call('GET', '/v1/privacy/export');
      assert.equal(missing.statusCode, 400);
      const extra = await t.call('POST', '/v1/privacy/erase', { subject: 'x', nope: 1 });
      assert.equal(extra.statusCode, 400);
    });
  });
}
