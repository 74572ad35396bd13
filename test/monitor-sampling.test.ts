import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { installDemo } from '../src/cli/demo.ts';
import { readCsvRows } from '../src/contracts/index.ts';
import type { WindowSummary } from '../src/monitoring/index.ts';
import { FakeClock } from '../src/shared/clock.ts';
import { ROOT, startTestTarmac, type TestTarmac } from './support.ts';

// A window with no past windows to size its sample from (the first one, or a burst far above its history) bounds its
// own profiling cost: it re-estimates its sampling rate from its pace and profiles about TARMAC_MONITOR_MAX_PROFILED_ROWS
// events, while its counts stay exact and a sum business metric is scaled back up to every event.

const WINDOW_MS = 60_000;
const MAX_PROFILED = 1_000;
const T0 = Date.UTC(2026, 6, 1, 12, 0, 0);
const clock = new FakeClock(T0);
let t: TestTarmac;
let records: Record<string, unknown>[] = [];

before(async () => {
  t = await startTestTarmac({
    TARMAC_MONITOR_WINDOW_SECONDS: '60', TARMAC_MONITOR_GRACE_SECONDS: '5', TARMAC_MONITOR_MAX_PROFILED_ROWS: String(MAX_PROFILED),
  }, { clock });
  await installDemo(t.tarmac);
  const business = await t.call('PUT', '/v1/models/loan-default/monitor/business-metrics', {
    metrics: [{ name: 'requested_total', expr: 'loan_amount', aggregate: 'sum' }, { name: 'mean_amount', expr: 'loan_amount' }],
  });
  assert.equal(business.statusCode, 200, business.body);
  for await (const row of readCsvRows(path.join(ROOT, 'demo/loans-demo.csv'))) {
    const { default: _label, ...features } = row;
    records.push(features);
  }
  records = records.slice(0, 4000);
});

after(async () => {
  await t.close();
});

test('a busy first window profiles about its budget of events, counts every one and scales sums back up', async () => {
  // 8,000 events over the first 50 s of the window (200 every 1.25 s), 8× the profiling budget.
  const sent: Record<string, unknown>[] = [];
  for (let step = 0; step < 40; step++) {
    const batch = Array.from({ length: 200 }, (_, i) => records[(step * 200 + i) % records.length]!);
    const res = await t.call('POST', '/v1/models/loan-default/predict', { records: batch });
    assert.equal(res.statusCode, 200, res.body);
    sent.push(...batch);
    clock.advance(1_250);
    await t.tarmac.predictionLogger.flush();
  }
  clock.advance(WINDOW_MS + 5_000);
  const closed = await t.tarmac.monitor.tick();
  assert.equal(closed.length, 1);
  const [w] = ((await t.call('GET', '/v1/models/loan-default/monitor/windows')).json() as { windows: WindowSummary[] }).windows;
  assert.ok(w);
  assert.equal(w.rows, 8_000, 'every event is counted');
  const profiled = w.quality.profiled_rows;
  assert.ok(profiled >= 0.7 * MAX_PROFILED && profiled <= 1.5 * MAX_PROFILED, `profiled ${profiled} events, budget ${MAX_PROFILED}`);
  const truth = sent.reduce((a, r) => a + (r.loan_amount as number), 0);
  const sum = w.business.requested_total!;
  assert.ok(Math.abs(sum - truth) / truth < 0.1, `scaled sum ${sum} vs ${truth}`);
  assert.ok(Math.abs(w.business.mean_amount! - truth / sent.length) / (truth / sent.length) < 0.1, 'a mean needs no scaling');
  assert.equal(w.system.throughput_per_s, 8_000 / 60, 'throughput is over every event, not the sample');
});

test('an idle start does not hide a burst: the pace is measured over the recent events', async () => {
  // A fresh server (no past windows to size the sample from) and a window with a few events, 55 s of nothing, then
  // 16,000 events in 4 s. Measured over the whole window so far, the pace would look slow until most of the budget
  // was spent on the start of the burst (about 1.4× the budget profiled in the end).
  const budget = 3_000;
  const fresh = new FakeClock(T0);
  const f = await startTestTarmac({
    TARMAC_MONITOR_WINDOW_SECONDS: '60', TARMAC_MONITOR_GRACE_SECONDS: '5', TARMAC_MONITOR_MAX_PROFILED_ROWS: String(budget),
  }, { clock: fresh });
  try {
    await installDemo(f.tarmac);
    assert.equal((await f.call('POST', '/v1/models/loan-default/predict', { records: records.slice(0, 10) })).statusCode, 200);
    fresh.advance(55_000);
    for (let step = 0; step < 80; step++) {
      const batch = Array.from({ length: 200 }, (_, i) => records[(step * 200 + i) % records.length]!);
      assert.equal((await f.call('POST', '/v1/models/loan-default/predict', { records: batch })).statusCode, 200);
      fresh.advance(50);
      await f.tarmac.predictionLogger.flush();
    }
    fresh.advance(WINDOW_MS);
    await f.tarmac.monitor.tick();
    const [w] = ((await f.call('GET', '/v1/models/loan-default/monitor/windows')).json() as { windows: WindowSummary[] }).windows;
    assert.ok(w);
    assert.equal(w.rows, 16_010);
    assert.ok(w.quality.profiled_rows <= 1.2 * budget, `profiled ${w.quality.profiled_rows} events, budget ${budget}`);
    // Per second, a window profiles at most 4× its even share (budget / 60 s = 50/s): ~200/s over the 4 s burst, after
    // the first 1,024 events that arrive before the pace is known. Spending what is left of the budget over the
    // window's last seconds instead profiled ~2,600.
    assert.ok(w.quality.profiled_rows <= 1_024 + 4 * 200 * 1.25, `profiled ${w.quality.profiled_rows} events in a 4 s burst`);
    assert.ok(w.quality.profiled_rows >= 1_024 + 4 * 200 * 0.5, `a burst is still sampled: ${w.quality.profiled_rows}`);
  } finally {
    await f.close();
  }
});
