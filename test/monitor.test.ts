import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { installDemo } from '../src/cli/demo.ts';
import { referenceProfileOf } from '../src/cli/monitor.commands.ts';
import { readCsvRows } from '../src/contracts/index.ts';
import type { WindowSummary } from '../src/monitoring/index.ts';
import { FakeClock } from '../src/shared/clock.ts';
import { ROOT, startTestTarmac, type TestTarmac } from './support.ts';

// The live monitor end to end: the demo model with a reference profile from its training data, traffic through the
// records API in two 60-second windows (the second with income tripled and a new employment type), windows closed by
// the clock, drift and quality read back over HTTP and from /metrics.

const WINDOW_MS = 60_000;
const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);
const clock = new FakeClock(T0);
let t: TestTarmac;
let sample: Record<string, unknown>[] = [];

before(async () => {
  t = await startTestTarmac({ TARMAC_MONITOR_WINDOW_SECONDS: '60', TARMAC_MONITOR_GRACE_SECONDS: '5' }, { clock });
  await installDemo(t.tarmac);
  const csv = path.join(ROOT, 'demo/loans-demo.csv');
  const features = ['income', 'loan_amount', 'age', 'credit_history_years', 'debt_ratio'].map((name) => ({ name, type: 'float' }))
    .concat([{ name: 'employment_type', type: 'string' }]);
  const reference = await referenceProfileOf(csv, features, 'default');
  assert.equal(reference.rows, 4000);
  assert.equal(reference.sample.records.length, 4000);
  const put = await t.call('PUT', '/v1/models/loan-default/versions/1/reference-profile', { profile: reference.profile, source: 'loans-demo.csv', sample: reference.sample });
  assert.equal(put.statusCode, 200, put.body);
  assert.deepEqual((put.json() as { columns: string[] }).columns.slice(-2), ['output.prediction', 'output.confidence'], 'outputs get a reference from the scored sample');
  const business = await t.call('PUT', '/v1/models/loan-default/monitor/business-metrics', {
    metrics: [
      { name: 'approval_rate', expr: 'prediction == 0' },
      { name: 'requested_total', expr: 'loan_amount', aggregate: 'sum' },
      { name: 'label_error_rate', expr: 'label != prediction', source: 'feedback' },
    ],
  });
  assert.equal(business.statusCode, 200, business.body);
  const driftSettings = await t.call('PUT', '/v1/models/loan-default/monitor/drift-settings', { per_feature: { age: { method: 'psi', threshold: 0.25 } } });
  assert.equal(driftSettings.statusCode, 200, driftSettings.body);
  assert.equal((await t.call('PUT', '/v1/models/loan-default/monitor/drift-settings', { method: 'magic', per_feature: { age: { threshold: -1 } } })).statusCode, 400);
  const badBusiness = await t.call('PUT', '/v1/models/loan-default/monitor/business-metrics', { metrics: [{ name: 'x', expr: 'constructor(' }, { name: 'Bad Name', expr: '1' }] });
  assert.equal(badBusiness.statusCode, 400);
  for await (const row of readCsvRows(csv)) {
    const { default: _label, ...features } = row;
    sample.push(features);
  }
  sample = sample.slice(0, 1200);
});

after(async () => {
  await t.close();
});

type Answer = { id: string; prediction: number };

async function predict(records: Record<string, unknown>[]): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (let i = 0; i < records.length; i += 100) {
    const res = await t.call('POST', '/v1/models/loan-default/predict', { records: records.slice(i, i + 100) });
    assert.equal(res.statusCode, 200, res.body);
    answers.push(...(res.json() as { predictions: Answer[] }).predictions);
  }
  return answers;
}

let firstAnswers: Answer[] = [];
let secondAnswers: Answer[] = [];

test('a reference profile is refused when its columns are not the version\'s features; shown when set', async () => {
  const bad = await t.call('PUT', '/v1/models/loan-default/versions/1/reference-profile', { profile: { v: 1, rows: 0, columns: { nope: { v: 1 } } } });
  assert.equal(bad.statusCode, 400);
  const missing = await t.call('PUT', '/v1/models/loan-default/versions/9/reference-profile', { profile: { v: 1, rows: 0, columns: {} } });
  assert.equal(missing.statusCode, 404);
  const shown = await t.call('GET', '/v1/models/loan-default/versions/1/reference-profile');
  assert.equal(shown.statusCode, 200);
  assert.equal((shown.json() as { rows: number }).rows, 4000);
});

test('windows close on time; the shifted window shows drift on income and unseen categories, the calm one does not', async () => {
  firstAnswers = await predict(sample.slice(0, 600));
  clock.advance(WINDOW_MS);
  const shifted = sample.slice(600, 1200).map((r, i) => ({ ...r, income: (r.income as number) * 3, employment_type: i % 4 === 0 ? 'gig_worker' : r.employment_type }));
  // The contract is not bound to this demo version, so the new category is answered (and monitored), not refused.
  secondAnswers = await predict(shifted);
  // A client mistake in this minute is counted as an error of the window.
  assert.equal((await t.call('POST', '/v1/models/loan-default/predict', { records: [{ income: 'lots' }] })).statusCode, 400);
  await t.tarmac.predictionLogger.flush();

  const open = (await t.call('GET', '/v1/models/loan-default/monitor/windows')).json() as { windows: WindowSummary[] };
  assert.equal(open.windows.length, 2);
  assert.ok(open.windows.every((w) => !w.closed), 'both windows are still open');

  clock.advance(WINDOW_MS + 5_000);
  const closed = await t.tarmac.monitor.tick();
  assert.equal(closed.length, 2);

  const res = await t.call('GET', '/v1/models/loan-default/monitor/windows?variant=stable');
  assert.equal(res.statusCode, 200, res.body);
  const [second, first] = (res.json() as { windows: WindowSummary[] }).windows;
  assert.ok(first && second);
  assert.equal(first.window_start, new Date(T0).toISOString());
  assert.equal(first.rows, 600);
  assert.equal(second.rows, 600);
  assert.ok(first.closed && second.closed);

  const byColumn = (w: WindowSummary) => new Map(w.drift!.columns.map((c) => [c.column, c]));
  const calm = byColumn(first);
  const moved = byColumn(second);
  assert.equal(calm.get('income')!.method, 'wasserstein', 'reference of 4,000 rows: Evidently picks the normed Wasserstein distance');
  assert.equal(calm.get('income')!.drift, false);
  assert.equal(first.drift!.dataset_drift, false);
  assert.equal(moved.get('income')!.drift, true);
  assert.ok(moved.get('income')!.statistic > 1);
  assert.equal(moved.get('employment_type')!.method, 'jensenshannon');
  assert.equal(moved.get('employment_type')!.drift, true);
  // Unshifted features stay below their thresholds; age is compared by PSI at 0.25 as configured.
  assert.equal(moved.get('age')!.method, 'psi');
  assert.equal(moved.get('age')!.threshold, 0.25);
  assert.equal(moved.get('age')!.drift, false);
  assert.ok(moved.get('debt_ratio')!.statistic < 0.1);
  assert.ok(second.quality.features.employment_type!.unseen_category_rate! > 0.2);
  assert.equal(first.quality.features.employment_type!.unseen_category_rate, 0);
  assert.ok(second.quality.features.income!.out_of_range_rate! > 0.03, 'tripled incomes above the reference maximum');
  assert.equal(first.quality.features.income!.out_of_range_rate, 0);
  assert.equal(second.quality.volume_ratio, 1, 'as many rows as the window before');

  // Outputs: the tripled incomes move the predictions and the model's confidence.
  assert.ok(first.prediction_drift && second.prediction_drift);
  const outputs = (w: WindowSummary) => new Map(w.prediction_drift!.columns.map((c) => [c.column, c]));
  assert.equal(outputs(first).get('output.prediction')!.drift, false);
  assert.equal(outputs(second).get('output.confidence')!.drift, true);
  // Without labels yet: CBPE estimates accuracy from calibrated confidences (well calibrated on the reference).
  assert.ok(Math.abs(first.estimated_performance!.accuracy! - 0.8975) < 0.06, JSON.stringify(first.estimated_performance));
  assert.ok(second.system.latency_ms.p50! > 0 && second.system.throughput_per_s === 10);
  assert.deepEqual(second.system.errors, { total: 1, by_code: { SERVING_INPUT_INVALID: 1 } });
  assert.deepEqual(first.system.errors, { total: 0, by_code: {} });
  assert.deepEqual(second.quality.contract, { imputed_rate: 0, fallback_rate: 0, by_field_rule: {} });

  // Business metrics: the share approved and the amount requested, per window.
  const approvals = firstAnswers.filter((a) => a.prediction === 0).length / firstAnswers.length;
  assert.ok(Math.abs(first.business.approval_rate! - approvals) < 1e-12);
  const requested = sample.slice(0, 600).reduce((acc, r) => acc + (r.loan_amount as number), 0);
  assert.equal(first.business.requested_total, requested);
  assert.equal(first.business.label_error_rate, null, 'no labels yet');

  const metrics = (await t.call('GET', '/metrics')).body;
  assert.match(metrics, /tarmac_monitor_feature_drift\{model="loan-default",version="1",variant="stable",feature="income"\} 1/);
  assert.match(metrics, /tarmac_monitor_drift_score\{model="loan-default",version="1",variant="stable",feature="income",method="wasserstein"\} \d/);
  assert.match(metrics, /tarmac_monitor_window_rows\{model="loan-default",version="1",variant="stable"\} 600/);
});

test('labels arriving after their windows closed score them: the first window as registered, the second degraded', async () => {
  const items = [
    ...firstAnswers.map((a) => ({ prediction_id: a.id, label: a.prediction })),
    ...secondAnswers.map((a) => ({ prediction_id: a.id, label: 1 - a.prediction })),
  ];
  const res = await t.call('POST', '/v1/models/loan-default/feedback', { items });
  assert.equal(res.statusCode, 200, res.body);
  await t.tarmac.monitor.settle();
  const updated = await t.tarmac.monitor.tick();
  assert.equal(updated.length, 2, 'both closed windows are re-announced with their performance');
  const windows = ((await t.call('GET', '/v1/models/loan-default/monitor/windows')).json() as { windows: WindowSummary[] }).windows;
  const [second, first] = windows;
  assert.equal(first!.performance!.labels, 600);
  assert.equal(first!.performance!.metrics.accuracy, 1);
  assert.deepEqual(first!.performance!.degraded, []);
  assert.equal(second!.performance!.metrics.accuracy, 0);
  assert.ok(second!.performance!.degraded.includes('accuracy'));
  assert.ok(second!.performance!.degraded.includes('log_loss'));
  assert.equal(second!.performance!.concept_drift, true, 'ADWIN sees the error rate jump from 0 to 1');
  assert.equal(first!.business.label_error_rate, 0);
  assert.equal(second!.business.label_error_rate, 1);
  const metrics = (await t.call('GET', '/metrics')).body;
  assert.match(metrics, /tarmac_monitor_performance\{model="loan-default",version="1",variant="stable",metric="accuracy"\} 0/);
});

test('windows roll up exactly to bigger sizes: two minutes merged into one period', async () => {
  const res = await t.call('GET', '/v1/models/loan-default/monitor/windows?size=120');
  assert.equal(res.statusCode, 200, res.body);
  const [period] = (res.json() as { windows: WindowSummary[] }).windows;
  assert.equal(period!.window_seconds, 120);
  assert.equal(period!.rows, 1200);
  assert.equal(period!.quality.profiled_rows, 1200);
  assert.equal(period!.performance!.labels, 1200);
  assert.equal(period!.performance!.metrics.accuracy, 0.5, 'the merged label accumulators: half right, half wrong');
  assert.equal(period!.business.requested_total, sample.slice(0, 1200).reduce((a, r) => a + (r.loan_amount as number), 0), 'sums add up');
  assert.equal(period!.quality.features.employment_type!.unseen_category_rate, 0.125, 'a quarter of the second minute, an eighth of both');
  const bad = await t.call('GET', '/v1/models/loan-default/monitor/windows?size=90');
  assert.equal(bad.statusCode, 400);
});

test('the report: a self-contained HTML page and its JSON twin over the same windows', async () => {
  const since = new Date(T0 - 1000).toISOString();
  const json = await t.call('GET', `/v1/models/loan-default/monitor/report?format=json&since=${since}`);
  assert.equal(json.statusCode, 200, json.body);
  const report = json.json() as { model: string; reference: { rows: number }; windows: { count: number }; features: { name: string }[] };
  assert.equal(report.model, 'loan-default');
  assert.equal(report.reference.rows, 4000);
  assert.ok(report.features.some((f) => f.name === 'income'));
  const html = await t.call('GET', `/v1/models/loan-default/monitor/report?since=${since}`);
  assert.equal(html.statusCode, 200);
  assert.match(String(html.headers['content-type']), /^text\/html/);
  assert.match(html.body, /<svg/);
  assert.doesNotMatch(html.body, /<script/);
  const rolled = await t.call('GET', `/v1/models/loan-default/monitor/report?format=json&since=${since}&window=2m`);
  assert.equal(rolled.statusCode, 200, rolled.body);
  assert.equal((rolled.json() as { windows: { count: number } }).windows.count, 1, 'the two minutes as one window');
});

test('late events reopen a closed window and are merged into it, not written over it', async () => {
  const before = ((await t.call('GET', '/v1/models/loan-default/monitor/windows?variant=stable')).json() as { windows: WindowSummary[] }).windows
    .find((w) => w.window_start === new Date(T0).toISOString())!;
  const late = sample.slice(0, 10).map((inputs, i) => ({
    id: `late-${i}`, model: 'loan-default', version: 1, variant: 'stable', requestId: 'late', createdAt: T0 + 1000,
    inputs, outputs: { prediction: 0, probabilities: { 0: 0.9, 1: 0.1 } }, latencyMs: 1,
  }));
  t.tarmac.monitor.observe(late);
  await t.tarmac.monitor.tick();
  const after = ((await t.call('GET', '/v1/models/loan-default/monitor/windows?variant=stable')).json() as { windows: WindowSummary[] }).windows
    .find((w) => w.window_start === new Date(T0).toISOString())!;
  assert.equal(after.rows, before.rows + 10);
  assert.equal(after.closed, true);
});

test('a reference replaced while a window is open: the window still closes (its drift against the new layout is left out)', async () => {
  // A window opens under the current reference (at the start of a window well after the others)...
  const start = (Math.floor(clock.now() / WINDOW_MS) + 2) * WINDOW_MS;
  clock.advance(start - clock.now());
  await predict(sample.slice(0, 50));
  await t.tarmac.predictionLogger.flush();
  await t.tarmac.monitor.settle();
  // ...then a reference with another layout (one employment type only, so other bins) replaces it.
  const { writeFile, mkdtemp, rm } = await import('node:fs/promises');
  const os = await import('node:os');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tarmac-ref-'));
  try {
    const lines: string[] = ['income,loan_amount,age,credit_history_years,debt_ratio,employment_type,default'];
    for (let i = 0; i < 300; i++) lines.push(`${30000 + i * 97},${10000 + i * 13},${25 + (i % 40)},${1 + (i % 20)},${(i % 50) / 100},salaried,${i % 2}`);
    await writeFile(path.join(dir, 'narrow.csv'), `${lines.join('\n')}\n`);
    const features = ['income', 'loan_amount', 'age', 'credit_history_years', 'debt_ratio'].map((name) => ({ name, type: 'float' }))
      .concat([{ name: 'employment_type', type: 'string' }]);
    const narrow = await referenceProfileOf(path.join(dir, 'narrow.csv'), features, 'default');
    const put = await t.call('PUT', '/v1/models/loan-default/versions/1/reference-profile', { profile: narrow.profile, source: 'narrow.csv', sample: narrow.sample });
    assert.equal(put.statusCode, 200, put.body);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  clock.advance(WINDOW_MS + 10_000);
  await t.tarmac.monitor.tick();
  const windows = ((await t.call('GET', '/v1/models/loan-default/monitor/windows?variant=stable')).json() as { windows: WindowSummary[] }).windows;
  const closed = windows.find((w) => w.window_start === new Date(start).toISOString());
  assert.ok(closed, 'the window was stored');
  assert.equal(closed.closed, true);
  assert.equal(closed.rows, 50);
});
