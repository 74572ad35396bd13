import { test } from 'node:test';
import assert from 'node:assert/strict';
import { datasetProfileBuilder, numericSpec, OTHER_CATEGORY } from '../profile/index.ts';
import type { CategoricalProfile, NumericProfile } from '../profile/index.ts';
import { binLabels, buildMonitorReport } from './build-report.ts';
import { fixtureInput, T0, WINDOW_SECONDS } from './report-fixture.ts';
import type { MonitorReport } from './types.ts';

const close = (a: number, b: number, eps = 1e-12) => Math.abs(a - b) <= eps;

function feature(report: MonitorReport, name: string) {
  const f = report.features.find((x) => x.name === name);
  assert.ok(f, `feature ${name}`);
  return f;
}

test('the report names its scope, range, reference and windows', () => {
  const input = fixtureInput({ windows: 6 });
  const r = buildMonitorReport(input);
  assert.equal(r.report_version, 1);
  assert.equal(r.model, 'credit-risk');
  assert.equal(r.version, 3);
  assert.equal(r.variant, null);
  assert.equal(r.generated_at, new Date(input.generatedAt).toISOString());
  assert.deepEqual(r.range, { start: new Date(T0).toISOString(), end: new Date(T0 + 6 * WINDOW_SECONDS * 1000).toISOString() });
  assert.deepEqual(r.reference, { source: 'train.csv', rows: 2000 });
  assert.deepEqual(r.windows, {
    count: 6, rows: 1800, versions: [3], variants: ['stable'], window_seconds: [WINDOW_SECONDS], profiles_merged: 6, profiles_skipped: 0,
  });
  assert.deepEqual(r.features.map((f) => [f.name, f.role, f.kind]), [
    ['age', 'feature', 'numeric'], ['income', 'feature', 'numeric'], ['city', 'feature', 'categorical'],
    ['output.prediction', 'output', 'categorical'], ['output.confidence', 'output', 'numeric'],
  ]);
  assert.deepEqual(r.messages, []);
});

test('histograms are proportions that sum to 1, on the reference bins', () => {
  const input = fixtureInput({ windows: 6 });
  const r = buildMonitorReport(input);
  const ref = input.reference!.profile;
  for (const f of r.features) {
    for (const d of [f.histogram.reference, f.histogram.current]) {
      if (!d) continue;
      assert.equal(d.counts.length, f.histogram.bins.length, f.name);
      assert.equal(d.proportions.length, f.histogram.bins.length, f.name);
      assert.equal(d.total, d.counts.reduce((a, b) => a + b, 0));
      assert.ok(close(d.proportions.reduce((a, b) => a + b, 0), 1), `${f.name} proportions sum to 1`);
      assert.ok(d.counts.every((c) => c >= 0));
    }
  }
  const age = feature(r, 'age');
  const edges = (ref.column('age') as NumericProfile).spec.edges;
  assert.deepEqual(age.histogram.edges, edges);
  assert.equal(age.histogram.bins.length, edges.length + 1);
  assert.equal(age.histogram.bins[0], `(-∞, ${edges[0]})`);
  assert.equal(age.histogram.bins[1], `[${edges[0]}, ${edges[1]})`);
  assert.equal(age.histogram.bins.at(-1), `[${edges.at(-1)}, +∞)`);
  assert.deepEqual(age.histogram.reference!.counts, (ref.column('age') as NumericProfile).histogram());

  const city = feature(r, 'city');
  const categories = (ref.column('city') as CategoricalProfile).spec.categories;
  assert.deepEqual(city.histogram.bins.slice(0, categories.length), categories);
  assert.deepEqual(city.histogram.novel, ['Berlin']);
  assert.deepEqual(city.histogram.bins.slice(categories.length), ['Berlin', OTHER_CATEGORY]);
  assert.equal(city.histogram.reference!.counts[categories.length], 0, 'the reference never saw Berlin');
  assert.ok(city.histogram.current!.counts[categories.length]! > 0);
});

test('current histograms and statistics are the merge of every window', () => {
  const input = fixtureInput({ windows: 6, variants: ['stable', 'canary'] });
  const r = buildMonitorReport(input);
  assert.equal(r.windows.profiles_merged, 12);
  for (const name of ['age', 'income', 'output.confidence']) {
    const sum = input.windows.map((w) => (w.profile!.column(name) as NumericProfile).histogram())
      .reduce((acc, h) => acc.map((x, i) => x + h[i]!));
    assert.deepEqual(feature(r, name).histogram.current!.counts, sum, name);
  }
  const city = feature(r, 'city');
  assert.equal(city.histogram.current!.total, input.windows.reduce((a, w) => a + w.profile!.column('city')!.valid, 0));
  const rows = input.windows.reduce((a, w) => a + w.summary.rows, 0);
  assert.equal(feature(r, 'income').stats.current!.count, rows);
  const nulls = input.windows.reduce((a, w) => a + w.profile!.column('income')!.nulls, 0);
  assert.ok(close(feature(r, 'income').stats.current!.null_rate, nulls / rows));
  const s = feature(r, 'income').stats;
  for (const side of [s.reference!, s.current!]) {
    assert.ok(side.min! <= side.p5! && side.p5! <= side.p50! && side.p50! <= side.p95! && side.p95! <= side.max!);
    assert.ok(side.std! > 0);
  }
  assert.ok(s.current!.mean! > s.reference!.mean! + 300, 'the shifted windows pull the current mean up');
  assert.equal(feature(r, 'city').stats.current!.mean, null);
  assert.ok(feature(r, 'city').stats.current!.other_rate! > 0);
});

test('drift, quality and performance timelines run in time order, whatever order the windows come in', () => {
  const input = fixtureInput({ windows: 8, variants: ['stable', 'canary'] });
  const r = buildMonitorReport(input);
  const shuffled = buildMonitorReport({ ...input, windows: [...input.windows].reverse().sort((a, b) => (a.summary.rows % 7) - (b.summary.rows % 7)) });
  assert.deepEqual(shuffled, r);

  const income = feature(r, 'income');
  assert.equal(income.drift.length, 16);
  const keys = income.drift.map((p) => `${p.window_start}|${p.version}|${p.variant}`);
  assert.deepEqual(keys, [...keys].sort((a, b) => a.localeCompare(b)));
  assert.ok(income.drift[0]!.window_start < income.drift.at(-1)!.window_start);
  assert.deepEqual(income.latest_drift, income.drift.at(-1));
  assert.equal(income.drift[0]!.method, 'wasserstein');
  assert.equal(income.drift[0]!.p_value, null);
  assert.ok(income.drift.slice(8).every((p) => p.drift), 'every shifted window drifted');
  assert.ok(income.drift.slice(0, 8).filter((p) => p.drift).length <= 2, 'few unshifted windows cross the threshold by chance');

  assert.equal(r.drift.length, 16);
  assert.deepEqual(r.latest_drift, r.drift.at(-1));
  assert.ok(r.drift.every((d, i) => i === 0 || d.window_start >= r.drift[i - 1]!.window_start));
  assert.ok(r.drift.every((d) => d.compared === 3 && close(d.drift_share, d.drifted / 3)));
  assert.equal(r.quality.length, 16);
  assert.equal(r.quality[0]!.volume_ratio, null);
  assert.ok(r.quality.at(-1)!.max_unseen_category_rate! > 0);
  assert.ok(r.quality.at(-1)!.max_out_of_range_rate! > 0);
  assert.equal(r.quality.at(-1)!.closed, false);
  assert.equal(r.performance.length, 12, 'every fourth window has no labels');
  assert.deepEqual(r.performance.at(-1)!.degraded, ['accuracy', 'f1']);
  assert.equal(feature(r, 'output.prediction').drift.length, 0);
});

test('the report survives JSON unchanged: full precision, no NaN, no undefined', () => {
  const r = buildMonitorReport(fixtureInput({ windows: 4 }));
  const text = JSON.stringify(r);
  assert.deepEqual(JSON.parse(text), r);
  assert.ok(!/NaN|Infinity/.test(text.replace(/"[^"]*"/g, '""')));
  const p = feature(r, 'income').histogram.current!.proportions;
  assert.ok(p.some((x) => String(x).length > 8), 'proportions are not rounded');
});

test('without a reference: no reference side, no drift, a message saying so', () => {
  const r = buildMonitorReport(fixtureInput({ windows: 4, withReference: false }));
  assert.equal(r.reference, null);
  assert.equal(r.latest_drift, null);
  assert.deepEqual(r.drift, []);
  assert.equal(r.messages.length, 1);
  assert.match(r.messages[0]!, /No reference profile is set for version 3/);
  assert.match(r.messages[0]!, /tarmac monitor reference credit-risk 3 FILE/);
  for (const f of r.features) {
    assert.equal(f.histogram.reference, null);
    assert.equal(f.stats.reference, null);
    assert.deepEqual(f.drift, []);
    assert.ok(f.histogram.current, f.name);
  }
  assert.deepEqual(feature(r, 'age').histogram.bins, ['(-∞, +∞)']);
  assert.deepEqual(feature(r, 'city').histogram.bins.at(-1), OTHER_CATEGORY);
  assert.ok(feature(r, 'city').histogram.novel!.length > 0, 'with no tracked categories, every city is novel');
});

test('without windows: the reference alone, and a message saying so', () => {
  const input = fixtureInput({ windows: 0 });
  const r = buildMonitorReport(input);
  assert.equal(r.range, null);
  assert.equal(r.windows.count, 0);
  assert.deepEqual(r.features.map((f) => f.name), ['age', 'income', 'city']);
  assert.ok(r.features.every((f) => f.histogram.current === null && f.stats.current === null && f.histogram.reference !== null));
  assert.deepEqual(r.quality, []);
  assert.deepEqual(r.performance, []);
  assert.equal(r.messages.length, 1);
  assert.match(r.messages[0]!, /No monitoring windows/);

  const empty = buildMonitorReport({ ...input, reference: null, version: undefined });
  assert.deepEqual(empty.features, []);
  assert.equal(empty.version, null);
  assert.equal(empty.messages.length, 2);
  assert.match(empty.messages[0]!, /tarmac monitor reference credit-risk VERSION FILE/);
});

test('windows profiled on other bins are left out of the current histograms and counted as skipped', () => {
  const input = fixtureInput({ windows: 3 });
  const spec = { ...input.windows[0]!.profile!.spec(), age: numericSpec([]) };
  const b = datasetProfileBuilder(spec, { seed: 9 });
  for (let i = 0; i < 50; i++) b.add({ age: 30, income: 4000, city: 'Oslo' });
  const odd = { summary: { ...input.windows[0]!.summary, window_start: new Date(T0 - 3_600_000).toISOString(), rows: 50 }, profile: b.build() };
  const missing = { summary: { ...input.windows[0]!.summary, window_start: new Date(T0 - 7_200_000).toISOString(), rows: 7 }, profile: null };
  const r = buildMonitorReport({ ...input, windows: [odd, missing, ...input.windows] });
  assert.equal(r.windows.count, 5);
  assert.equal(r.windows.profiles_merged, 3);
  assert.equal(r.windows.profiles_skipped, 2);
  assert.equal(feature(r, 'age').histogram.current!.total, 900);
  assert.match(r.messages.join(' '), /2 windows had no profile that merges/);
  assert.equal(r.range!.start, new Date(T0 - 7_200_000).toISOString());
});

test('bin labels: open outer bins, closed on the left', () => {
  assert.deepEqual(binLabels([]), ['(-∞, +∞)']);
  assert.deepEqual(binLabels([10]), ['(-∞, 10)', '[10, +∞)']);
  assert.deepEqual(binLabels([10, 20, 30.5]), ['(-∞, 10)', '[10, 20)', '[20, 30.5)', '[30.5, +∞)']);
  assert.deepEqual(binLabels([0.1], (x) => x.toFixed(2)), ['(-∞, 0.10)', '[0.10, +∞)']);
});
