import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTarmacError } from '../../shared/errors.ts';
import type { CategoricalProfile, NumericProfile } from './column-profile.ts';
import {
  buildReferenceDatasetProfile, datasetProfileBuilder, datasetProfileFromJSON, kindsFromContract, mergeDatasetProfiles,
} from './dataset-profile.ts';

const contract = {
  fields: [
    { name: 'age', logicalType: 'integer' },
    { name: 'income', logicalType: 'number' },
    { name: 'city', logicalType: 'string' },
    { name: 'vip', logicalType: 'boolean' },
    { name: 'signup', logicalType: 'date' },
    { name: 'meta', logicalType: 'object' },
  ],
} as Parameters<typeof kindsFromContract>[0];

function rows(n: number, offset: number): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => {
    const k = i + offset;
    const row: Record<string, unknown> = {
      age: 18 + (k % 60), income: k % 13 === 0 ? null : 1000 + ((k * 7919) % 5000) / 3, city: ['Oslo', 'Lyon', 'Porto'][k % 3],
      vip: k % 5 === 0, signup: `2024-0${1 + (k % 9)}-1${k % 10}`, meta: { k },
    };
    if (k % 17 === 0) delete row.city;
    return row;
  });
}

test('contract logical types map to profile kinds; object and array fields are skipped', () => {
  assert.deepEqual(kindsFromContract(contract), {
    age: { kind: 'numeric' }, income: { kind: 'numeric' }, city: { kind: 'categorical' }, vip: { kind: 'categorical' },
    signup: { kind: 'numeric', temporal: 'date' },
  });
});

test('dataset profiles merge column by column into the profile of all rows', () => {
  const ref = buildReferenceDatasetProfile(rows(3_000, 0), kindsFromContract(contract));
  assert.equal(ref.rows, 3_000);
  assert.deepEqual([...ref.columns.keys()], ['age', 'income', 'city', 'vip', 'signup']);
  assert.equal(ref.column('meta'), undefined);
  const city = ref.column('city') as CategoricalProfile;
  assert.deepEqual(city.spec.categories.slice().sort(), ['Lyon', 'Oslo', 'Porto']);
  assert.equal(city.nulls, Math.ceil(3_000 / 17));
  assert.deepEqual((ref.column('vip') as CategoricalProfile).spec.categories, ['false', 'true']);
  assert.equal((ref.column('signup') as NumericProfile).invalid, 0);

  const live = rows(5_000, 100);
  const whole = datasetProfileBuilder(ref.spec(), { seed: 1 });
  for (const r of live) whole.add(r);
  const a = datasetProfileBuilder(ref.spec(), { seed: 2 });
  const b = datasetProfileBuilder(ref.spec(), { seed: 3 });
  live.forEach((r, i) => (i < 1_234 ? a : b).add(r));
  const merged = mergeDatasetProfiles(b.build(), a.build());
  assert.equal(merged.rows, 5_000);
  for (const name of merged.columns.keys()) {
    const m = merged.column(name)!;
    const w = whole.build().column(name)!;
    assert.deepEqual(m.histogram(), w.histogram(), name);
    assert.equal(m.nulls, w.nulls, name);
    if (m.kind === 'numeric' && w.kind === 'numeric') {
      assert.equal(m.mean, w.mean);
      assert.equal(m.min, w.min);
    }
  }
  const text = JSON.stringify(merged);
  assert.deepEqual(datasetProfileFromJSON(text).toJSON(), merged.toJSON());
});

test('dataset profiles with different columns or specs are refused', () => {
  const ref = buildReferenceDatasetProfile(rows(500, 0), { age: 'numeric', city: 'categorical' });
  const other = buildReferenceDatasetProfile(rows(500, 7), { age: 'numeric', city: 'categorical' });
  const narrow = buildReferenceDatasetProfile(rows(500, 0), { age: 'numeric' });
  const refuse = (e: unknown) => isTarmacError(e) && e.code === 'VALIDATION_FAILED';
  assert.throws(() => mergeDatasetProfiles(ref, narrow), refuse);
  // Same column names, but the age bins were decided by different reference rows.
  assert.throws(() => mergeDatasetProfiles(ref, other), refuse);
  assert.throws(() => datasetProfileFromJSON({ v: 1, rows: 3, columns: ref.toJSON().columns }), refuse);
});

test('a one-shot iterator of rows is read once and still gives a two-pass reference', () => {
  function* gen() {
    yield* rows(200, 0);
  }
  const p = buildReferenceDatasetProfile(gen(), { age: 'numeric' });
  assert.equal(p.rows, 200);
  assert.equal(p.column('age')!.count, 200);
});
