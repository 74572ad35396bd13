// The readout against test/fixtures/experiments/expected.json (scipy 1.17, statsmodels formulas, a port of GrowthBook's
// gbstats; see make_experiment_fixtures.py) to 1e-9 relative, as the acceptance criterion asks.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { seededSample } from '../../monitoring/stats/seeded.ts';
import type { SampleSpec } from '../../monitoring/stats/seeded.ts';
import {
  analyzeExperiment, armFromValues, holm, normalQuantile, sampleRatioMismatch, studentTCdf, studentTQuantile, studentTSf,
} from './index.ts';
import type { ArmStats, MetricType } from './index.ts';

interface FixtureArm { variant: string; n: number; mean: number; variance: number; successes?: number; sample?: { values: number[] } | { spec: SampleSpec } }
interface FixtureComparison {
  variant: string; statistic: number; p_value: number; p_value_holm: number; df: number | null; ci95_abs: [number, number];
  absolute_lift: number; relative_lift: number; relative_se: number; ci95_rel: [number, number];
  sequential_p_value: number; sequential_ci_rel: [number, number];
}
interface Fixture {
  cases: { name: string; metric: MetricType; control: string; weights: Record<string, number> | null; arms: FixtureArm[]; comparisons: FixtureComparison[]; srm: { statistic: number; p_value: number; mismatch: boolean } }[];
  student_t: { t: number; df: number; sf: number; cdf: number }[];
  student_t_ppf: { p: number; df: number; ppf: number }[];
  normal_ppf: { p: number; ppf: number }[];
}

const fixture = JSON.parse(readFileSync(new URL('../../../test/fixtures/experiments/expected.json', import.meta.url), 'utf8')) as Fixture;
const TOL = 1e-9;
const worst = new Map<string, number>();

function near(actual: number | null | undefined, expected: number, what: string): void {
  assert.ok(typeof actual === 'number', `${what}: got ${actual}`);
  const rel = expected === 0 ? Math.abs(actual) : Math.abs(actual - expected) / Math.abs(expected);
  const key = what.split(': ').pop()!;
  worst.set(key, Math.max(worst.get(key) ?? 0, rel));
  assert.ok(rel <= TOL, `${what}: ${actual} vs ${expected} (relative error ${rel})`);
}

function armOf(a: FixtureArm): ArmStats {
  if (a.successes !== undefined) {
    // A 0/1 sample with `successes` ones, summarised as the CLI would.
    const values = new Float64Array(a.n);
    values.fill(1, 0, a.successes);
    return armFromValues(a.variant, values);
  }
  const s = a.sample!;
  return armFromValues(a.variant, 'values' in s ? s.values : seededSample(s.spec));
}

after(() => {
  const lines = [...worst].map(([k, v]) => `${k}=${v.toExponential(2)}`).join(' ');
  // The worst errors go to the TAP diagnostics, for the report.
  process.stdout.write(`worst relative errors: ${lines}\n`);
});

for (const c of fixture.cases) {
  test(`readout agrees with scipy/statsmodels/gbstats: ${c.name}`, () => {
    const arms = c.arms.map(armOf);
    const r = analyzeExperiment(arms, { control: c.control, metric: c.metric, ...(c.weights ? { weights: c.weights } : {}) });
    for (const [i, a] of c.arms.entries()) {
      assert.equal(r.arms[i]!.n, a.n);
      near(r.arms[i]!.mean, a.mean, `${c.name} ${a.variant}: mean`);
      near(r.arms[i]!.variance, a.variance, `${c.name} ${a.variant}: variance`);
    }
    assert.equal(r.comparisons.length, c.comparisons.length);
    for (const [i, e] of c.comparisons.entries()) {
      const g = r.comparisons[i]!;
      const w = `${c.name} ${e.variant}: `;
      assert.equal(g.variant, e.variant);
      assert.equal(g.test, c.metric === 'binary' ? 'two-proportion-z' : 'welch-t');
      near(g.statistic, e.statistic, `${w}statistic`);
      near(g.p_value, e.p_value, `${w}p_value`);
      near(g.p_value_holm, e.p_value_holm, `${w}p_value_holm`);
      if (e.df !== null) near(g.df, e.df, `${w}df`);
      near(g.absolute_lift, e.absolute_lift, `${w}absolute_lift`);
      near(g.ci95_abs?.[0], e.ci95_abs[0], `${w}ci95_abs`);
      near(g.ci95_abs?.[1], e.ci95_abs[1], `${w}ci95_abs`);
      near(g.relative_lift, e.relative_lift, `${w}relative_lift`);
      near(g.relative_se, e.relative_se, `${w}relative_se`);
      near(g.ci95_rel?.[0], e.ci95_rel[0], `${w}ci95_rel`);
      near(g.ci95_rel?.[1], e.ci95_rel[1], `${w}ci95_rel`);
      near(g.sequential_p_value, e.sequential_p_value, `${w}sequential_p_value`);
      near(g.sequential_ci_rel?.[0], e.sequential_ci_rel[0], `${w}sequential_ci_rel`);
      near(g.sequential_ci_rel?.[1], e.sequential_ci_rel[1], `${w}sequential_ci_rel`);
    }
    near(r.srm.statistic, c.srm.statistic, `${c.name}: srm_statistic`);
    near(r.srm.p_value, c.srm.p_value, `${c.name}: srm_p_value`);
    assert.equal(r.srm.mismatch, c.srm.mismatch);
  });
}

test('the fixtures cover SRM present and absent, binary and continuous, 2 and 3 treatments', () => {
  assert.ok(fixture.cases.some((c) => c.srm.mismatch) && fixture.cases.some((c) => !c.srm.mismatch));
  assert.ok(fixture.cases.some((c) => c.metric === 'binary' && c.comparisons.length === 3));
  assert.ok(fixture.cases.some((c) => c.metric === 'continuous' && c.comparisons.length === 3));
});

test('Student t sf/cdf/ppf and the normal quantile agree with scipy', () => {
  for (const e of fixture.student_t) {
    near(studentTSf(e.t, e.df), e.sf, `t=${e.t} df=${e.df}: t_sf`);
    near(studentTCdf(e.t, e.df), e.cdf, `t=${e.t} df=${e.df}: t_cdf`);
  }
  for (const e of fixture.student_t_ppf) near(studentTQuantile(e.p, e.df), e.ppf, `p=${e.p} df=${e.df}: t_ppf`);
  for (const e of fixture.normal_ppf) near(normalQuantile(e.p), e.ppf, `p=${e.p}: norm_ppf`);
});

test('Holm keeps monotone order, caps at 1 and leaves NaN alone', () => {
  assert.deepEqual(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06]);
  assert.deepEqual(holm([0.5, 0.9]), [1, 1]);
  const out = holm([Number.NaN, 0.02]);
  assert.ok(Number.isNaN(out[0]!));
  assert.equal(out[1], 0.02);
});

test('bad input is a VALIDATION_FAILED value error, and undefined statistics are null', () => {
  const a = armFromValues('a', [1, 2, 3]);
  const b = armFromValues('b', [2, 3, 4]);
  assert.throws(() => analyzeExperiment([a, b], { control: 'zzz', metric: 'continuous' }), { code: 'VALIDATION_FAILED' });
  assert.throws(() => analyzeExperiment([a, b], { control: 'a', metric: 'continuous', weights: { a: 1 } }), { code: 'VALIDATION_FAILED' });
  assert.throws(() => sampleRatioMismatch([1, 2], [1, 0]), { code: 'VALIDATION_FAILED' });
  const zero = armFromValues('zero', [0, 0, 0, 0]);
  const r = analyzeExperiment([zero, armFromValues('t', [0, 1, 1, 0])], { control: 'zero', metric: 'binary' });
  assert.equal(r.comparisons[0]!.relative_lift, null);
  assert.equal(r.comparisons[0]!.ci95_rel, null);
  assert.equal(r.comparisons[0]!.sequential_p_value, null);
});
