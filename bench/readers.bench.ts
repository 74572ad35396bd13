/**
 * Readers: DuckDB vs Tarmac's own (`npm run bench:readers`). Generates a CSV of BENCH_ROWS rows (default 1,000,000;
 * 11 columns: ids, numbers, categories, ISO timestamps, strings, booleans) in a temp dir, converts it to Parquet with
 * DuckDB (its defaults: Snappy, 122,880-row groups), then reads each file into JS row objects, each case in its own
 * child process so its peak RSS is its own:
 *
 * - tarmac-csv: readCsvRows; duckdb-csv: DuckDB read_csv streamed, chunk by chunk, as JS row objects;
 * - tarmac-parquet: readParquetRows; duckdb-parquet: DuckDB read_parquet streamed the same way;
 * - duckdb-*-scan: DuckDB aggregating the same file without handing rows to JS (the engine's own speed, a reference).
 *
 * Every case touches every value of every row (a checksum) so nothing is left lazily unconverted. It prints a
 * Markdown table and writes bench/results/readers-latest.json.
 */
import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);

const CASES = ['tarmac-csv', 'duckdb-csv', 'duckdb-csv-scan', 'tarmac-parquet', 'duckdb-parquet', 'duckdb-parquet-scan'] as const;
type CaseName = (typeof CASES)[number];

interface CaseResult {
  case: CaseName;
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  /** RSS after imports and DuckDB start-up, before reading (MB). */
  startRssMb: number;
  /** Peak RSS of the whole child process over its life (MB). */
  peakRssMb: number;
  checksum: number;
}

/** Folds any value into a number so every value is really materialised. */
function touch(v: unknown): number {
  if (v === null || v === undefined) return 1;
  switch (typeof v) {
    case 'number':
      return Number.isFinite(v) ? (v % 1000) : 2;
    case 'bigint':
      return Number(v % 1000n);
    case 'string':
      return v.length;
    case 'boolean':
      return v ? 3 : 4;
    default:
      return v instanceof Date ? v.getUTCSeconds() : 5;
  }
}

function rowChecksum(row: Record<string, unknown>): number {
  let sum = 0;
  for (const k in row) sum += touch(row[k]);
  return sum;
}

// ---- data generation -------------------------------------------------------------------------------------------

const CATEGORIES = ['grocery', 'electronics', 'apparel', 'home', 'toys', 'sports', 'books', 'beauty'];
const REGIONS = ['nsw', 'vic', 'qld', 'wa', 'sa'];
const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima'];

/** A deterministic PRNG (mulberry32) so every run reads the same data. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function writeCsv(file: string, rows: number): Promise<void> {
  const out = createWriteStream(file);
  const rnd = prng(42);
  const start = Date.UTC(2024, 0, 1);
  out.write('id,customer_id,amount,score,quantity,category,region,created_at,email,note,is_return\n');
  let buf = '';
  for (let i = 0; i < rows; i++) {
    const created = new Date(start + Math.floor(rnd() * 365 * 86_400_000)).toISOString();
    const w1 = WORDS[Math.floor(rnd() * WORDS.length)]!;
    const w2 = WORDS[Math.floor(rnd() * WORDS.length)]!;
    // one note in ten is quoted with a comma inside, as real exports have
    const note = rnd() < 0.1 ? `"${w1}, ${w2}"` : `${w1} ${w2} ${i % 97}`;
    const amount = (rnd() * 500).toFixed(2);
    const score = rnd() < 0.02 ? '' : rnd().toFixed(6);
    buf += `${i + 1},${100_000 + Math.floor(rnd() * 900_000)},${amount},${score},${1 + Math.floor(rnd() * 9)},` +
      `${CATEGORIES[Math.floor(rnd() * CATEGORIES.length)]},${REGIONS[Math.floor(rnd() * REGIONS.length)]},${created},` +
      `user${Math.floor(rnd() * 50_000)}@example.com,${note},${rnd() < 0.05}\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      buf = '';
    }
  }
  out.write(buf);
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

// ---- one case, in a child --------------------------------------------------------------------------------------

async function runCase(name: CaseName, csv: string, parquet: string): Promise<CaseResult> {
  let rows = 0;
  let checksum = 0;
  let begin = 0;
  let startRss = 0;
  const started = () => {
    startRss = process.memoryUsage().rss;
    begin = performance.now();
  };
  if (name === 'tarmac-csv' || name === 'tarmac-parquet') {
    const { readCsvRows, readParquetRows } = await import('../src/contracts/index.ts');
    started();
    const source = name === 'tarmac-csv' ? readCsvRows(csv) : readParquetRows(parquet);
    for await (const row of source) {
      rows++;
      checksum += rowChecksum(row);
    }
  } else {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const instance = await DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    const file = name.startsWith('duckdb-csv') ? csv : parquet;
    const from = name.startsWith('duckdb-csv') ? `read_csv('${file}')` : `read_parquet('${file}')`;
    started();
    if (name.endsWith('-scan')) {
      // the engine's own speed: every column is read and aggregated, nothing crosses into JS row by row
      const res = await conn.runAndReadAll(`SELECT count(*)::BIGINT AS n, sum(amount)::DOUBLE AS a, count(DISTINCT category)::BIGINT AS c,
        max(created_at)::VARCHAR AS t, sum(length(note))::BIGINT AS l, sum(length(email))::BIGINT AS e FROM ${from}`);
      const r = res.getRowObjectsJS()[0]!;
      rows = Number(r.n);
      checksum = rowChecksum(r);
    } else {
      const result = await conn.stream(`SELECT * FROM ${from}`);
      for await (const chunk of result.yieldRowObjectJs()) {
        for (const row of chunk) {
          rows++;
          checksum += rowChecksum(row);
        }
      }
    }
    conn.closeSync();
    instance.closeSync();
  }
  const seconds = (performance.now() - begin) / 1000;
  return {
    case: name, rows, seconds, rowsPerSecond: rows / seconds, startRssMb: startRss / 2 ** 20,
    peakRssMb: process.resourceUsage().maxRSS / 1024, checksum,
  };
}

// ---- parent ----------------------------------------------------------------------------------------------------

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

async function main(): Promise<void> {
  const [, , flag, name, csv, parquet] = process.argv;
  if (flag === '--case') {
    const result = await runCase(name as CaseName, csv!, parquet!);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }

  const dir = await mkdtemp(path.join(os.tmpdir(), 'tarmac-readers-bench-'));
  try {
    const csvFile = path.join(dir, 'events.csv');
    const parquetFile = path.join(dir, 'events.parquet');
    let t = performance.now();
    await writeCsv(csvFile, ROWS);
    console.error(`generated ${fmt(ROWS)} rows of CSV (${fmt((await stat(csvFile)).size / 2 ** 20, 1)} MB) in ${fmt((performance.now() - t) / 1000, 1)} s`);
    t = performance.now();
    {
      const { DuckDBInstance } = await import('@duckdb/node-api');
      const instance = await DuckDBInstance.create(':memory:');
      const conn = await instance.connect();
      await conn.run(`COPY (SELECT * FROM read_csv('${csvFile}')) TO '${parquetFile}' (FORMAT parquet)`);
      conn.closeSync();
      instance.closeSync();
    }
    console.error(`converted to Parquet with DuckDB (${fmt((await stat(parquetFile)).size / 2 ** 20, 1)} MB) in ${fmt((performance.now() - t) / 1000, 1)} s`);

    const results: CaseResult[] = [];
    for (const name of CASES) {
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', SELF, '--case', name, csvFile, parquetFile], {
        cwd: ROOT, maxBuffer: 1 << 20,
      });
      const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as CaseResult;
      if (result.rows !== ROWS) throw new Error(`${name} read ${result.rows} rows, expected ${ROWS}`);
      console.error(`${name}: ${fmt(result.rowsPerSecond)} rows/s, peak RSS ${fmt(result.peakRssMb)} MB`);
      results.push(result);
    }

    const byName = new Map(results.map((r) => [r.case, r]));
    const lines = [
      `| case | rows/s | seconds | RSS before reading (MB) | peak RSS (MB) | vs Tarmac's reader |`,
      '| --- | ---: | ---: | ---: | ---: | ---: |',
      ...results.map((r) => {
        const ours = byName.get(r.case.includes('csv') ? 'tarmac-csv' : 'tarmac-parquet')!;
        return `| ${r.case} | ${fmt(r.rowsPerSecond)} | ${fmt(r.seconds, 2)} | ${fmt(r.startRssMb)} | ${fmt(r.peakRssMb)} | ${fmt(r.rowsPerSecond / ours.rowsPerSecond, 2)}× |`;
      }),
    ];
    console.log(`\n${fmt(ROWS)} rows, 11 columns; node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'})\n`);
    console.log(lines.join('\n'));
    const resultsDir = path.join(ROOT, 'bench', 'results');
    await mkdir(resultsDir, { recursive: true });
    await writeFile(path.join(resultsDir, 'readers-latest.json'), `${JSON.stringify({ rows: ROWS, node: process.version, cpus: os.cpus().length, results }, null, 2)}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
