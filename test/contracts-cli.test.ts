import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { FIXTURES_DIR, ROOT } from './support.ts';

const run = promisify(execFile);

/** Runs the CLI; resolves with its exit code and output instead of throwing on a non-zero exit. */
async function tarmac(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: ROOT, env: { ...process.env, TARMAC_URL: 'http://127.0.0.1:9' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('contracts infer proposes a contract that contracts check then applies to every row, exiting 8 on violations', { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tarmac-contracts-'));
  try {
    const contractFile = path.join(dir, 'loans.odcs.yaml');
    const inferred = await tarmac(['contracts', 'infer', path.join(FIXTURES_DIR, 'data', 'loans.csv'), '--out', contractFile]);
    assert.equal(inferred.code, 0, inferred.stderr);
    const yaml = await readFile(contractFile, 'utf8');
    assert.match(yaml, /apiVersion: v3\.1\.0/);
    assert.match(yaml, /validValues/);

    const sample = path.join(dir, 'sample.csv');
    await writeFile(sample, [
      'income,loan_amount,age,credit_history_years,debt_ratio,employment_type,region,default',
      '52000,18000,34,6.5,0.42,salaried,nsw,0',
      '"52000",18000,34,6.5,0.42,pirate,nsw,0',
      '52000,,34,6.5,0.42,salaried,atlantis,1',
    ].join('\n'));
    const checked = await tarmac(['--json', 'contracts', 'check', sample, '--contract', contractFile]);
    assert.equal(checked.code, 8, checked.stderr);
    const report = JSON.parse(checked.stdout) as { rows: number; rowsWithViolations: number; first: { row: number; field: string; rule: string }[] };
    assert.equal(report.rows, 3);
    assert.equal(report.rowsWithViolations, 2);
    const found = report.first.map((v) => `${v.row} ${v.field} ${v.rule}`);
    // "atlantis" breaks both the region enum and its inferred maximum length (the longest region seen has 3 letters).
    assert.deepEqual(found.sort(), ['2 employment_type enum', '3 loan_amount required', '3 region enum', '3 region max_length']);

    const clean = path.join(dir, 'clean.csv');
    await writeFile(clean, 'income,loan_amount,age,credit_history_years,debt_ratio,employment_type,region,default\n52000,18000,34,6.5,0.42,salaried,nsw,0\n');
    assert.equal((await tarmac(['contracts', 'check', clean, '--contract', contractFile])).code, 0);

    const missing = await tarmac(['contracts', 'check', path.join(dir, 'nope.csv'), '--contract', contractFile]);
    assert.equal(missing.code, 2);
    await writeFile(path.join(dir, 'bad.yaml'), 'apiVersion: v3.1.0\nkind: Nope\n');
    const bad = await tarmac(['contracts', 'check', clean, '--contract', path.join(dir, 'bad.yaml')]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not a valid contract/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
