// Test support (not a test): loads test/fixtures/drift/scipy-drift.json and compares numbers with the tolerances of
// the acceptance criterion, keeping the worst relative error seen per statistic for the report.
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { seededSample } from './seeded.ts';
import type { SampleSpec } from './seeded.ts';

/** A sample stored inline or described by the shared seeded generator. */
export type FixtureSample = { values: number[] } | { spec: SampleSpec };

/** The parsed fixture file (numbers that scipy returned as NaN are stored as null). */
export interface DriftFixture {
  versions: { python: string; numpy: string; scipy: string };
  ks2samp: {
    name: string; a: FixtureSample; b: FixtureSample; method: 'auto' | 'exact' | 'asymp';
    expected: { statistic: number | null; pvalue: number | null; method: 'exact' | 'asymp' };
  }[];
  kstwoSf: { n: number; x: number; sf: number | null }[];
  smirnovSf: { n: number; x: number; sf: number | null }[];
  wasserstein: {
    name: string; u: FixtureSample; v: FixtureSample; uWeights: FixtureSample | null; vWeights: FixtureSample | null;
    expected: number;
  }[];
  jensenShannon: { name: string; p: number[]; q: number[]; base: number | null; expected: number }[];
  psi: { name: string; expectedCounts: number[]; actualCounts: number[]; epsilon: number | null; expected: number }[];
  chi2Contingency: {
    name: string; table: number[][]; correction: boolean;
    expected: { statistic: number; pvalue: number; dof: number; expected: number[][] };
  }[];
  proportionsZTest: { name: string; args: [number, number, number, number]; expected: { statistic: number; pvalue: number } }[];
}

/** The fixture, read once. */
export const fixture = JSON.parse(
  readFileSync(new URL('../../../test/fixtures/drift/scipy-drift.json', import.meta.url), 'utf8'),
) as DriftFixture;

/** Materialises a fixture sample. */
export function materialise(s: FixtureSample): Float64Array {
  return 'values' in s ? Float64Array.from(s.values) : seededSample(s.spec);
}

/** The relative error |a - e| / |e| (absolute when e = 0); 0 when both are NaN/null or equal. */
export function relErr(actual: number, expected: number | null): number {
  const e = expected ?? Number.NaN;
  if (Number.isNaN(e) && Number.isNaN(actual)) return 0;
  if (actual === e) return 0;
  return e === 0 ? Math.abs(actual) : Math.abs(actual - e) / Math.abs(e);
}

/** Worst relative error observed per statistic (filled by the tests, read by the report hook). */
export const worst: Record<string, number> = {};

function track(key: string, err: number): void {
  worst[key] = Math.max(worst[key] ?? 0, err);
}

/** Asserts a value within 1e-9 relative (KS statistic, Wasserstein, JS, PSI). */
export function assertValue(key: string, actual: number, expected: number | null, what: string): void {
  const err = relErr(actual, expected);
  track(key, err);
  assert.ok(err <= 1e-9, `${what}: got ${actual}, scipy ${expected} (relative error ${err})`);
}

/** Asserts a p-value within 1e-6 relative or 1e-12 absolute. */
export function assertPvalue(key: string, actual: number, expected: number | null, what: string): void {
  const err = relErr(actual, expected);
  const abs = Math.abs(actual - (expected ?? Number.NaN));
  track(key, err);
  assert.ok(err <= 1e-6 || abs <= 1e-12, `${what}: got ${actual}, scipy ${expected} (relative error ${err})`);
}

/** A one-line summary of the worst errors, for t.diagnostic. */
export function worstSummary(): string {
  return Object.entries(worst).map(([k, v]) => `${k}=${v.toExponential(2)}`).join(' ');
}
