import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { writeParquetFile, type ParquetWriteColumn } from '../src/contracts/index.ts';
import { ROOT } from './support.ts';

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

const COLUMNS: ParquetWriteColumn[] = [
  { name: 'loan_id', logicalType: 'integer' },
  { name: 'income', logicalType: 'number' },
  { name: 'region', logicalType: 'string' },
  { name: 'opened', logicalType: 'date' },
  { name: 'decided_at', logicalType: 'timestamp' },
  { name: 'approved', logicalType: 'boolean' },
];

async function* loans(rows: Record<string, unknown>[]) {
  yield* rows;
}

function sample(n: number): Record<string, unknown>[] {
  const regions = ['nsw', 'vic', 'qld'];
  return Array.from({ length: n }, (_, i) => ({
    loan_id: 1000 + i,
    income: 30_000 + (i % 50) * 1_000.5,
    region: regions[i % 3],
    opened: `2024-0${1 + (i % 9)}-1${i % 10}`,
    decided_at: `2024-03-01T${String(i % 24).padStart(2, '0')}:15:00Z`,
    approved: i % 4 !== 0,
  }));
}

test('contracts infer and contracts check read Parquet files', { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tarmac-parquet-cli-'));
  try {
    const data = path.join(dir, 'loans.parquet');
    await writeParquetFile(data, COLUMNS, loans(sample(300)), { rowGroupSize: 128 });
    const contractFile = path.join(dir, 'loans.odcs.yaml');
    const inferred = await tarmac(['contracts', 'infer', data, '--out', contractFile]);
    assert.equal(inferred.code, 0, inferred.stderr);
    const yaml = await readFile(contractFile, 'utf8');
    // Parquet's own types survive as Tarmac logical types (dates and timestamps arrive as ISO strings)
    const doc = parse(yaml) as { schema: { properties: { name: string; logicalType: string }[] }[] };
    assert.deepEqual(Object.fromEntries(doc.schema[0]!.properties.map((p) => [p.name, p.logicalType])), {
      loan_id: 'integer', income: 'number', region: 'string', opened: 'date', decided_at: 'timestamp', approved: 'boolean',
    });
    assert.match(yaml, /validValues/);

    const clean = path.join(dir, 'clean.parquet');
    await writeParquetFile(clean, COLUMNS, loans(sample(5)));
    const ok = await tarmac(['--json', 'contracts', 'check', clean, '--contract', contractFile]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as { rows: number }).rows, 5);

    const dirty = path.join(dir, 'dirty.parquet');
    const rows = sample(3);
    rows[1]!.region = 'atlantis';
    rows[2]!.income = null;
    await writeParquetFile(dirty, COLUMNS, loans(rows));
    const checked = await tarmac(['--json', 'contracts', 'check', dirty, '--contract', contractFile]);
    assert.equal(checked.code, 8, checked.stderr);
    const report = JSON.parse(checked.stdout) as { rows: number; rowsWithViolations: number; first: { row: number; field: string; rule: string }[] };
    assert.equal(report.rows, 3);
    assert.equal(report.rowsWithViolations, 2);
    const found = report.first.map((v) => `${v.row} ${v.field} ${v.rule}`);
    assert.ok(found.includes('2 region enum'), found.join('; '));
    assert.ok(found.includes('3 income required'), found.join('; '));

    const fake = path.join(dir, 'fake.parquet');
    await writeFile(fake, 'loan_id,income\n1,2\n');
    const refused = await tarmac(['contracts', 'check', fake, '--contract', contractFile]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /fake\.parquet: not a Parquet file/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
