import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from './cli-support.ts';

// `tarmac drift` runs locally on two files: no server, as a pilot team would use it.

let dir = '';

function rows(n: number, seed: number, shift: number): string {
  let s = seed;
  const next = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  const lines = ['income,age,segment'];
  for (let i = 0; i < n; i++) {
    lines.push(`${Math.round(50000 + 20000 * (next() + next() - 1) + shift * 10000)},${20 + Math.floor(next() * 40)},${['a', 'b', 'c'][Math.floor(next() * 3)]}`);
  }
  return lines.join('\n') + '\n';
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tarmac-drift-cli-'));
  await writeFile(path.join(dir, 'ref.csv'), rows(800, 1, 0));
  await writeFile(path.join(dir, 'same.csv'), rows(600, 2, 0));
  await writeFile(path.join(dir, 'moved.csv'), rows(600, 3, 1.5));
  await writeFile(path.join(dir, 'moved.jsonl'), rows(600, 3, 1.5).trim().split('\n').slice(1).map((l) => {
    const [income, age, segment] = l.split(',');
    return JSON.stringify({ income: Number(income), age: Number(age), segment });
  }).join('\n') + '\n');
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('tarmac drift --json prints the documented report: columns with method, statistic, p_value, threshold, drift', async () => {
  const res = await runCli(['--json', 'drift', path.join(dir, 'ref.csv'), path.join(dir, 'moved.csv')], {});
  assert.equal(res.code, 0, res.stderr);
  const report = JSON.parse(res.stdout) as { columns: { column: string; type: string; method: string; statistic: number; p_value?: number; threshold: number; drift: boolean }[]; drift_share: number; dataset_drift: boolean };
  assert.deepEqual(report.columns.map((c) => [c.column, c.type, c.method]), [['income', 'numeric', 'ks'], ['age', 'numeric', 'ks'], ['segment', 'categorical', 'chisquare']]);
  const income = report.columns[0]!;
  assert.equal(income.drift, true);
  assert.ok(income.p_value! < 0.001);
  assert.equal(income.threshold, 0.05);
  assert.equal(report.columns[1]!.drift, false);
  assert.equal(report.drift_share, 1 / 3);
  assert.equal(report.dataset_drift, false);
});

test('the same report from CSV against JSON Lines; --method and --threshold apply to every column', async () => {
  const res = await runCli(['--json', 'drift', path.join(dir, 'ref.csv'), path.join(dir, 'moved.jsonl'), '--method', 'psi', '--threshold', '0.2', '--columns', 'income,segment'], {});
  assert.equal(res.code, 0, res.stderr);
  const report = JSON.parse(res.stdout) as { columns: { column: string; method: string; threshold: number; drift: boolean; p_value?: number }[] };
  assert.deepEqual(report.columns.map((c) => [c.column, c.method, c.threshold, 'p_value' in c]), [['income', 'psi', 0.2, false], ['segment', 'psi', 0.2, false]]);
  assert.equal(report.columns[0]!.drift, true);
});

test('--fail-on-drift exits 8 when the dataset drifted, 0 when it did not; tables for people', async () => {
  const drifted = await runCli(['drift', path.join(dir, 'ref.csv'), path.join(dir, 'moved.csv'), '--drift-share', '0.3', '--fail-on-drift'], {});
  assert.equal(drifted.code, 8, drifted.stderr);
  assert.match(drifted.stdout, /DATASET DRIFT/);
  assert.match(drifted.stdout, /income\s+numeric\s+ks/);
  const calm = await runCli(['drift', path.join(dir, 'ref.csv'), path.join(dir, 'same.csv'), '--fail-on-drift'], {});
  assert.equal(calm.code, 0, calm.stderr);
  assert.match(calm.stdout, /no dataset drift/);
});

test('bad usage is exit 2 with a message naming the problem', async () => {
  const cases: [string[], RegExp][] = [
    [['drift', path.join(dir, 'ref.csv'), path.join(dir, 'nope.csv')], /nope\.csv/],
    [['drift', path.join(dir, 'ref.csv'), path.join(dir, 'same.csv'), '--method', 'magic'], /--method/],
    [['drift', path.join(dir, 'ref.csv'), path.join(dir, 'same.csv'), '--threshold', 'x'], /--threshold/],
    [['drift', path.join(dir, 'ref.csv'), path.join(dir, 'same.csv'), '--columns', 'missing'], /missing/],
    [['drift', path.join(dir, 'ref.csv'), path.join(dir, 'same.csv'), '--method', 'ks', '--columns', 'segment'], /ks/],
  ];
  for (const [args, message] of cases) {
    const res = await runCli(args, {});
    assert.equal(res.code, 2, `${args.join(' ')}: ${res.stdout}${res.stderr}`);
    assert.match(res.stderr, message);
  }
});
