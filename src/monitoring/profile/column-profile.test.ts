import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTarmacError } from '../../shared/errors.ts';
import { binIndex, quantileBinEdges } from './bins.ts';
import {
  buildReferenceProfile, categoricalSpec, columnProfileFromJSON, mergeAllProfiles, mergeProfiles, numericSpec,
  OTHER_CATEGORY, profileBuilder,
} from './column-profile.ts';
import type { CategoricalProfile, ColumnProfile, ColumnSpec, NumericProfile } from './column-profile.ts';
import { Rng } from './random.ts';

function numbers(n: number, seed: number): unknown[] {
  const rng = new Rng(seed);
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const u = rng.nextOpen();
    if (u < 0.03) out.push(null);
    else if (u < 0.04) out.push(NaN);
    else if (u < 0.045) out.push(Infinity);
    else if (u < 0.05) out.push('oops');
    else out.push(1000 + Math.log(u) * 37.5 * (i % 7));
  }
  return out;
}

function words(n: number, seed: number): unknown[] {
  const rng = new Rng(seed);
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const u = rng.nextOpen();
    if (u < 0.02) out.push(null);
    else if (u < 0.03) out.push({ nested: true });
    else out.push(`w${Math.floor(u ** 3 * 3000)}`);
  }
  return out;
}

function build(spec: ColumnSpec, values: unknown[], seed: number): ColumnProfile {
  const b = profileBuilder(spec, { seed });
  for (const v of values) b.add(v);
  return b.build();
}

function relClose(a: number, b: number, tol = 1e-12): void {
  assert.ok(Math.abs(a - b) <= tol * Math.max(Math.abs(a), Math.abs(b)), `${a} vs ${b}`);
}

function assertSameNumeric(x: NumericProfile, y: NumericProfile): void {
  assert.equal(x.count, y.count);
  assert.equal(x.nulls, y.nulls);
  assert.equal(x.invalid, y.invalid);
  assert.equal(x.valid, y.valid);
  assert.equal(x.min, y.min);
  assert.equal(x.max, y.max);
  assert.equal(x.sum, y.sum);
  assert.equal(x.mean, y.mean);
  assert.deepEqual(x.histogram(), y.histogram());
  relClose(x.m2, y.m2);
  relClose(x.toJSON().mean, y.toJSON().mean);
}

test('the bin rule: quantile edges, ties and the minimum dropped, left-closed bins', () => {
  const oneToHundred = Float64Array.from({ length: 100 }, (_, i) => i + 1);
  assert.deepEqual(quantileBinEdges(oneToHundred, 10), [11, 21, 31, 41, 51, 61, 71, 81, 91]);
  const ties = Float64Array.from([...new Array<number>(50).fill(0), ...Array.from({ length: 50 }, (_, i) => i + 1)]);
  assert.deepEqual(quantileBinEdges(ties, 10), [1, 11, 21, 31, 41]);
  assert.deepEqual(quantileBinEdges(Float64Array.from([5, 5, 5]), 10), []);
  assert.deepEqual(quantileBinEdges(new Float64Array(0), 10), []);
  assert.equal(binIndex([11, 21], 10.9), 0);
  assert.equal(binIndex([11, 21], 11), 1);
  assert.equal(binIndex([11, 21], 1e300), 2);
  assert.equal(binIndex([11, 21], -1e300), 0);
  const ref = buildReferenceProfile(Array.from(oneToHundred), 'numeric');
  assert.deepEqual(ref.histogram(), new Array<number>(10).fill(10));
});

test('numeric merges equal one build over the union, in any grouping and order', () => {
  const data = numbers(60_000, 1);
  const spec = buildReferenceProfile(numbers(5_000, 2), 'numeric', { bins: 20 }).spec;
  const whole = build(spec, data, 99) as NumericProfile;
  const [a, b, c] = [data.slice(0, 7_000), data.slice(7_000, 40_000), data.slice(40_000)].map((d, i) => build(spec, d, 10 + i) as NumericProfile) as [NumericProfile, NumericProfile, NumericProfile];
  const left = mergeProfiles(mergeProfiles(a, b), c);
  const right = mergeProfiles(a, mergeProfiles(b, c));
  const shuffled = mergeAllProfiles([c, a, b]);
  for (const m of [left, right, shuffled]) assertSameNumeric(m, whole);
  assert.deepEqual(mergeProfiles(a, b).toJSON(), mergeProfiles(b, a).toJSON());
  assert.equal(whole.nulls, data.filter((v) => v === null || Number.isNaN(v)).length);
  assert.equal(whole.invalid, data.filter((v) => v === Infinity || v === 'oops').length);
  const valid = data.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const mean = valid.reduce((x, y) => x + y, 0) / valid.length;
  relClose(whole.mean, mean, 1e-12);
  relClose(whole.variance, valid.reduce((acc, x) => acc + (x - mean) ** 2, 0) / valid.length, 1e-9);
  relClose(whole.sampleVariance * (valid.length - 1), whole.variance * valid.length);
  // Merged sketch and sample keep their guarantees rather than bits.
  const sorted = Float64Array.from(valid).sort();
  const q = left.quantile(0.5);
  let rank = 0;
  while (rank < sorted.length && sorted[rank]! <= q) rank++;
  assert.ok(Math.abs(rank / sorted.length - 0.5) <= left.quantileErrorBound(1e-4) + 1 / sorted.length);
  assert.equal(left.sampleValues().length, 256);
  assert.ok(left.sampleValues().every((v) => valid.includes(v)));
});

test('categorical merges equal one build: counts, __other__ and the tracked novel categories', () => {
  const spec = buildReferenceProfile(words(5_000, 3), 'categorical', { maxCategories: 50, maxNovel: 20 }).spec;
  assert.equal(spec.kind, 'categorical');
  const data = words(50_000, 4);
  const whole = build(spec, data, 1) as CategoricalProfile;
  const parts = [data.slice(0, 10_000), data.slice(10_000, 11_000), data.slice(11_000)].map((d, i) => build(spec, d, 5 + i) as CategoricalProfile);
  for (const m of [mergeAllProfiles(parts), mergeAllProfiles([parts[2]!, parts[0]!, parts[1]!])]) {
    assert.deepEqual(m.histogram(), whole.histogram());
    assert.deepEqual([...m.categoryCounts()], [...whole.categoryCounts()]);
    assert.deepEqual([...m.novelCategories()], [...whole.novelCategories()]);
    assert.equal(m.nulls, whole.nulls);
    assert.equal(m.invalid, whole.invalid);
  }
  assert.deepEqual(mergeProfiles(parts[0]!, parts[1]!).toJSON(), mergeProfiles(parts[1]!, parts[0]!).toJSON());
  // Every tracked novel count is exact.
  for (const [cat, n] of whole.novelCategories()) assert.equal(n, data.filter((v) => v === cat).length);
  assert.equal(whole.novelCategories().size, 20);
  assert.equal(whole.categoryCounts().get(OTHER_CATEGORY), whole.other);
});

test('the category cap keeps the most frequent reference categories and sends the rest to __other__', () => {
  const values: string[] = [];
  for (let c = 0; c < 2000; c++) for (let r = 0; r < (c < 1000 ? 3 : 1); r++) values.push(`c${c}`);
  const ref = buildReferenceProfile(values, 'categorical');
  assert.equal(ref.spec.categories.length, 1000);
  assert.ok(ref.spec.categories.every((c) => Number(c.slice(1)) < 1000));
  assert.equal(ref.other, 1000);
  assert.equal(ref.histogram().length, 1001);
  assert.equal(ref.histogram().reduce((a, b) => a + b, 0), values.length);
  assert.equal(ref.novelCategories().size, 64);
});

test('nulls, invalid values and coercions per kind', () => {
  const num = profileBuilder(numericSpec([0]));
  for (const v of [null, undefined, NaN, '', Infinity, -Infinity, '3', true, {}, [1], 2, -0, 5n, new Date(1000)]) num.add(v);
  const n = num.build();
  assert.equal(n.count, 14);
  assert.equal(n.nulls, 4);
  assert.equal(n.invalid, 6);
  assert.equal(n.valid, 4);
  assert.equal(n.nullRate, 4 / 14);
  assert.deepEqual(n.histogram(), [0, 4]);
  assert.equal(n.max, 1000);
  const cat = profileBuilder(categoricalSpec(['true', 'x', '1']));
  for (const v of [null, undefined, NaN, '', true, 'x', 1, 1n, Infinity, {}, ['x']]) cat.add(v);
  const c = cat.build();
  assert.equal(c.nulls, 3);
  assert.equal(c.invalid, 3);
  assert.deepEqual([...c.categoryCounts()], [['true', 1], ['x', 1], ['1', 2], [OTHER_CATEGORY, 1]]);
  assert.deepEqual([...c.novelCategories()], [['', 1]]);
  const empty = profileBuilder(numericSpec([])).build();
  assert.equal(empty.nullRate, 0);
  assert.ok(Number.isNaN(empty.mean) && Number.isNaN(empty.quantile(0.5)));
  assert.equal(empty.min, undefined);
});

test('temporal columns read ISO dates and timestamps as epoch milliseconds', () => {
  const ref = buildReferenceProfile(['2024-01-01', '2024-01-02', 'not a date', null], 'numeric', { temporal: 'date' });
  assert.equal(ref.min, Date.UTC(2024, 0, 1));
  assert.equal(ref.invalid, 1);
  assert.equal(ref.nulls, 1);
  const ts = buildReferenceProfile(['2024-01-01T00:00:00Z', '2024-01-01T01:00:00+01:00'], 'numeric', { temporal: 'timestamp' });
  assert.equal(ts.max, Date.UTC(2024, 0, 1));
  assert.equal(ts.valid, 2);
});

test('huge and tiny magnitudes keep exact extremes, bins and quantiles', () => {
  const huge = [1e300, -1e300, 1.7e308, 5e307, -1.7e308];
  const p = buildReferenceProfile(huge, 'numeric', { bins: 5 });
  assert.equal(p.max, 1.7e308);
  assert.equal(p.min, -1.7e308);
  assert.equal(p.quantile(0.5), 1e300);
  assert.equal(p.histogram().reduce((a, b) => a + b, 0), 5);
  assert.ok(!Number.isNaN(p.sum));
  const tiny = Array.from({ length: 1000 }, (_, i) => (i % 10) * 1e-300);
  const t = buildReferenceProfile(tiny, 'numeric');
  relClose(t.mean, 4.5e-300, 1e-12);
  // The variance of values near 1e-300 is near 1e-600, below the double range: it underflows to 0 (documented).
  assert.equal(t.variance, 0);
  const small = buildReferenceProfile(tiny.map((v) => v * 1e150), 'numeric');
  relClose(small.std, Math.sqrt(8.25) * 1e-150, 1e-9);
  // A large offset with a small spread: Welford/Chan keep the variance where Σx² − (Σx)²/n would lose it.
  const offset = Array.from({ length: 10_000 }, (_, i) => 1e9 + (i % 2));
  relClose(buildReferenceProfile(offset, 'numeric').variance, 0.25, 1e-9);
  const over = profileBuilder(numericSpec([]));
  over.add(1.7e308);
  over.add(1.7e308);
  assert.equal(over.build().sum, Infinity);
  assert.equal(over.build().mean, 1.7e308);
  assert.equal((columnProfileFromJSON(JSON.stringify(over.build())) as NumericProfile).sum, Infinity);
});

test('profiles round-trip through JSON text and keep merging the same', () => {
  const spec = buildReferenceProfile(numbers(2_000, 5), 'numeric').spec;
  const a = build(spec, numbers(20_000, 6), 1) as NumericProfile;
  const b = build(spec, numbers(3_000, 7), 2) as NumericProfile;
  const a2 = columnProfileFromJSON(JSON.stringify(a)) as NumericProfile;
  assert.deepEqual(a2.toJSON(), a.toJSON());
  assert.equal(a2.quantile(0.3), a.quantile(0.3));
  assert.deepEqual(mergeProfiles(a2, b).toJSON(), mergeProfiles(a, b).toJSON());
  const cspec = buildReferenceProfile(words(2_000, 8), 'categorical', { maxCategories: 30 }).spec;
  const c = build(cspec, words(10_000, 9), 3) as CategoricalProfile;
  const c2 = columnProfileFromJSON(JSON.parse(JSON.stringify(c)));
  assert.deepEqual(c2.toJSON(), c.toJSON());
  assert.deepEqual((c2 as CategoricalProfile).sampleValues(), c.sampleValues());
  const json = a.toJSON();
  for (const broken of [{ ...json, v: 2 }, { ...json, hist: json.hist.slice(1) }, { ...json, count: 1 }, { ...json, kind: 'x' }, 'not json', null]) {
    assert.throws(() => columnProfileFromJSON(broken), (e) => isTarmacError(e) && e.code === 'VALIDATION_FAILED');
  }
});

test('profiles built from different specs are refused', () => {
  const a = build(numericSpec([1, 2]), [1], 1);
  const refuse = (e: unknown) => isTarmacError(e) && e.code === 'VALIDATION_FAILED';
  assert.throws(() => mergeProfiles(a, build(numericSpec([1, 3]), [1], 1)), refuse);
  assert.throws(() => mergeProfiles(a, build(numericSpec([1, 2], { k: 100 }), [1], 1)), refuse);
  assert.throws(() => mergeProfiles(a, build(categoricalSpec(['1']), [1], 1)), refuse);
  assert.throws(() => mergeProfiles(build(categoricalSpec(['a', 'b']), [], 1), build(categoricalSpec(['b', 'a']), [], 1)), refuse);
  assert.throws(() => numericSpec([2, 1]), refuse);
  assert.throws(() => categoricalSpec(['a', 'a']), refuse);
  assert.throws(() => mergeAllProfiles([]), refuse);
});

test('memory stays bounded: 1,000,000 adds serialise to a constant size', () => {
  const spec = buildReferenceProfile(numbers(10_000, 11), 'numeric', { bins: 20 }).spec;
  const b = profileBuilder(spec);
  const rng = new Rng(12);
  for (let i = 0; i < 1_000_000; i++) b.add(rng.nextOpen() * 1e4 - 5e3);
  const size = JSON.stringify(b.build()).length;
  assert.ok(size < 40_000, `numeric profile JSON is ${size} bytes`);
  const cb = profileBuilder(buildReferenceProfile(words(10_000, 13), 'categorical').spec);
  for (let i = 0; i < 1_000_000; i++) cb.add(`distinct-${i}`);
  const csize = JSON.stringify(cb.build()).length;
  assert.ok(csize < 60_000, `categorical profile JSON is ${csize} bytes`);
});
