import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildReferenceDatasetProfile, datasetProfileBuilder } from '../profile/index.ts';
import { profileDrift } from './profile-drift.ts';

test('several new categories each get their own cell; __other__ keeps only the rest', () => {
  const reference = buildReferenceDatasetProfile(Array.from({ length: 3000 }, (_, i) => ({ city: ['a', 'b', 'c'][i % 3] })), { city: 'categorical' });
  const live = datasetProfileBuilder(reference.spec(), { seed: 1 });
  for (let i = 0; i < 1000; i++) live.add({ city: i % 10 < 6 ? ['a', 'b', 'c'][i % 3] : i % 10 < 7 ? 'new-small' : 'new-big' });
  const report = profileDrift(reference, live.build(), { method: 'jensenshannon' });
  const city = report.columns[0]!;
  assert.ok(Number.isFinite(city.statistic) && city.statistic > 0.3 && city.drift, JSON.stringify(city));
  const chi = profileDrift(reference, live.build(), { method: 'chisquare' }).columns[0]!;
  assert.ok(chi.p_value! < 1e-10);
});

test('a window with the reference distribution does not drift', () => {
  const rows = Array.from({ length: 4000 }, (_, i) => ({ x: (i * 7919) % 1000, c: ['u', 'v'][i % 2] }));
  const reference = buildReferenceDatasetProfile(rows, { x: 'numeric', c: 'categorical' });
  const live = datasetProfileBuilder(reference.spec(), { seed: 2 });
  for (const r of rows.slice(0, 2000)) live.add(r);
  const report = profileDrift(reference, live.build());
  assert.deepEqual(report.columns.map((c) => [c.column, c.method, c.drift]), [['x', 'wasserstein', false], ['c', 'jensenshannon', false]]);
  assert.equal(report.dataset_drift, false);
});
