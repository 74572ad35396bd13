import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from './cli-support.ts';

// `tarmac experiments analyze` runs locally on one file: the readout of test/fixtures/experiments/expected.json, offline.

interface Readout {
  metric: string;
  arms: { variant: string; n: number; mean: number }[];
  comparisons: {
    variant: string; control: string; absolute_lift: number; relative_lift: number; test: string; p_value: number; p_value_holm: number;
    ci95_abs: [number, number]; ci95_rel: [number, number]; sequential_p_value: number; sequential_ci_rel: [number, number];
  }[];
  srm: { statistic: number; p_value: number; mismatch: boolean };
}
interface FixtureCase { name: string; arms: { variant: string; n: number; successes?: number; sample?: { values: number[] } }[]; comparisons: Readout['comparisons']; srm: Readout['srm'] }

const fixture = JSON.parse(readFileSync(new URL('./fixtures/experiments/expected.json', import.meta.url), 'utf8')) as { cases: FixtureCase[] };
let dir = '';

function csv(c: FixtureCase): string {
  const lines = ['unit_id,variant,value'];
  let id = 0;
  for (const a of c.arms) {
    if (a.successes !== undefined) for (let i = 0; i < a.n; i++) lines.push(`u${id++},${a.variant},${i < a.successes ? 1 : 0}`);
    else for (const v of a.sample!.values) lines.push(`u${id++},${a.variant},${v}`);
  }
  return lines.join('\n') + '\n';
}

function near(actual: number, expected: number, what: string): void {
  const rel = Math.abs(actual - expected) / Math.abs(expected);
  assert.ok(rel <= 1e-9, `${what}: ${actual} vs ${expected}`);
}

const binary = fixture.cases.find((c) => c.name === 'binary, unequal arms, SRM present')!;
const tiny = fixture.cases.find((c) => c.name === 'continuous, tiny n')!;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tarmac-experiments-cli-'));
  await writeFile(path.join(dir, 'binary.csv'), csv(binary));
  await writeFile(path.join(dir, 'tiny.csv'), csv(tiny));
  await writeFile(path.join(dir, 'tiny.jsonl'), csv(tiny).trim().split('\n').slice(1).map((l) => {
    const [unit_id, variant, value] = l.split(',');
    return JSON.stringify({ unit_id, variant, value: Number(value) });
  }).join('\n') + '\n');
  await writeFile(path.join(dir, 'dup.csv'), 'unit_id,variant,value\nu1,control,1\nu2,b,0\nu1,b,1\n');
  await writeFile(path.join(dir, 'three.csv'), 'unit_id,variant,value\n' + Array.from({ length: 300 }, (_, i) => `u${i},${['control', 'b', 'c'][i % 3]},${(i * 7) % 5}`).join('\n') + '\n');
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function checkAgainst(r: Readout, c: FixtureCase): void {
  assert.deepEqual(r.arms.map((a) => [a.variant, a.n]), c.arms.map((a) => [a.variant, a.n]));
  for (const [i, e] of c.comparisons.entries()) {
    const g = r.comparisons[i]!;
    assert.equal(g.variant, e.variant);
    assert.equal(g.control, 'control');
    for (const k of ['absolute_lift', 'relative_lift', 'p_value', 'sequential_p_value'] as const) near(g[k], e[k], k);
    for (const k of ['ci95_abs', 'ci95_rel', 'sequential_ci_rel'] as const) {
      near(g[k][0], e[k][0], k);
      near(g[k][1], e[k][1], k);
    }
  }
  near(r.srm.statistic, c.srm.statistic, 'srm.statistic');
  near(r.srm.p_value, c.srm.p_value, 'srm.p_value');
  assert.equal(r.srm.mismatch, c.srm.mismatch);
}

test('--json prints the documented shape and the fixture answers; 0/1 values are inferred binary', async () => {
  const res = await runCli(['--json', 'experiments', 'analyze', path.join(dir, 'binary.csv'), '--control', 'control'], {});
  assert.equal(res.code, 0, res.stderr);
  const r = JSON.parse(res.stdout) as Readout;
  assert.equal(r.metric, 'binary');
  assert.equal(r.comparisons[0]!.test, 'two-proportion-z');
  checkAgainst(r, binary);
  assert.equal(r.srm.mismatch, true);
});

test('continuous values from CSV and JSON Lines give the same Welch readout', async () => {
  for (const file of ['tiny.csv', 'tiny.jsonl']) {
    const res = await runCli(['--json', 'experiments', 'analyze', path.join(dir, file), '--control', 'control'], {});
    assert.equal(res.code, 0, res.stderr);
    const r = JSON.parse(res.stdout) as Readout;
    assert.equal(r.metric, 'continuous');
    assert.equal(r.comparisons[0]!.test, 'welch-t');
    checkAgainst(r, tiny);
  }
});

test('--weights feeds the SRM test; --metric overrides inference; several treatments get Holm; tables for people', async () => {
  const res = await runCli(['experiments', 'analyze', path.join(dir, 'three.csv'), '--control', 'control', '--weights', 'control=0.5,b=0.25,c=0.25'], {});
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /SAMPLE RATIO MISMATCH/);
  assert.match(res.stdout, /welch-t/);
  const json = await runCli(['--json', 'experiments', 'analyze', path.join(dir, 'binary.csv'), '--control', 'control', '--metric', 'continuous'], {});
  assert.equal(json.code, 0, json.stderr);
  assert.equal((JSON.parse(json.stdout) as Readout).comparisons[0]!.test, 'welch-t');
  const three = JSON.parse((await runCli(['--json', 'experiments', 'analyze', path.join(dir, 'three.csv'), '--control', 'control'], {})).stdout) as Readout;
  assert.equal(three.comparisons.length, 2);
  assert.equal(three.srm.mismatch, false);
  const [b, c] = three.comparisons;
  const small = Math.min(b!.p_value, c!.p_value);
  assert.ok(Math.abs(Math.min(b!.p_value_holm, c!.p_value_holm) - Math.min(1, 2 * small)) < 1e-15);
});

test('bad usage is exit 2 with a message naming the problem', async () => {
  const cases: [string[], RegExp][] = [
    [['experiments', 'analyze', path.join(dir, 'nope.csv'), '--control', 'control'], /nope\.csv/],
    [['experiments', 'analyze', path.join(dir, 'dup.csv'), '--control', 'control'], /unit u1 appears more than once/],
    [['experiments', 'analyze', path.join(dir, 'binary.csv'), '--control', 'ghost'], /ghost/],
    [['experiments', 'analyze', path.join(dir, 'binary.csv'), '--control', 'control', '--metric', 'ratio'], /--metric/],
    [['experiments', 'analyze', path.join(dir, 'binary.csv'), '--control', 'control', '--weights', 'control=0.5'], /--weights/],
    [['experiments', 'analyze', path.join(dir, 'binary.csv'), '--control', 'control', '--weights', 'control=0.5,x=0.5'], /variant b/],
    [['experiments', 'analyze', path.join(dir, 'tiny.csv'), '--control', 'control', '--metric', 'binary'], /0\/1/],
    [['experiments', 'analyze', path.join(dir, 'tiny.csv')], /--control/],
  ];
  for (const [args, message] of cases) {
    const res = await runCli(args, {});
    assert.equal(res.code, 2, `${args.join(' ')}: ${res.stdout}${res.stderr}`);
    assert.match(res.stderr, message);
  }
});
