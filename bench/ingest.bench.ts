/**
 * Ingestion benchmark: one 1,000,000-row payments CSV (5% bad rows, 2% duplicates) ingested into a fresh SQLite store
 * with contract validation on and off (same engine, same store, same file), each run in its own child process so
 * peak RSS is per run. A third run goes through the HTTP upload path (`POST /v1/datasets/{name}/batches`).
 *
 *   npm run bench:ingest [-- --rows 1000000]
 *
 * Writes bench/results/ingest-latest.json and .md.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createTarmac } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { csvItems } from '../src/pipelines/index.ts';
import { ensureAdminKey, SYSTEM_PRINCIPAL } from '../src/security/index.ts';
import { createLogger } from '../src/shared/logger.ts';
import { writePaymentsCsv } from './ingest-data.ts';

const HERE = fileURLToPath(new URL('./', import.meta.url));
const ROOT = path.resolve(HERE, '..');
const CONTRACT = readFileSync(path.join(ROOT, 'test/fixtures/payments.odcs.yaml'), 'utf8');

type Mode = 'validation-on' | 'validation-off' | 'http-upload';

interface RunResult {
  mode: Mode;
  rows: number;
  seconds: number;
  rowsPerSec: number;
  peakRssMiB: number;
  counts: Record<string, number>;
}

async function child(mode: Mode, file: string): Promise<RunResult> {
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 50);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'tarmac-bench-ingest-'));
  const config = loadConfig({ TARMAC_DATA_DIR: dataDir, TARMAC_LOG_LEVEL: 'silent', TARMAC_PORT: '0' });
  const tarmac = await createTarmac(config, { log: createLogger({ level: 'silent' }) });
  try {
    await tarmac.contracts.register(CONTRACT, SYSTEM_PRINCIPAL);
    await tarmac.datasets.create({ name: 'payments', contract: 'payments' }, SYSTEM_PRINCIPAL);
    const started = performance.now();
    let counts: Record<string, number>;
    if (mode === 'http-upload') {
      const admin = (await ensureAdminKey(tarmac.keys, dataDir))!;
      const url = await tarmac.listen();
      const response = await fetch(`${url}/v1/datasets/payments/batches`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin.key}`, 'content-type': 'text/csv' },
        body: Readable.toWeb(createReadStream(file)) as unknown as ReadableStream,
        duplex: 'half',
      } as RequestInit);
      const body = await response.json() as { counts: Record<string, number> };
      if (response.status !== 201) throw new Error(`upload failed: ${JSON.stringify(body)}`);
      counts = body.counts;
    } else {
      const pipeline = await tarmac.ingest.pipeline(await tarmac.datasets.get('payments'));
      const result = await tarmac.ingest.ingest('payments', csvItems(createReadStream(file), pipeline.typeCsvCell), {
        source: 'file:bench.csv', by: SYSTEM_PRINCIPAL, validate: mode === 'validation-on',
      });
      counts = { ...result.batch.counts };
    }
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    const rows = counts.read!;
    return { mode, rows, seconds, rowsPerSec: rows / seconds, peakRssMiB: peak / 2 ** 20, counts };
  } finally {
    await tarmac.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

function runChild(mode: Mode, file: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', mode, file], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    proc.on('error', reject);
    proc.on('exit', (code) => {
      if (code !== 0) reject(new Error(`${mode} run exited ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1)!) as RunResult);
    });
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    process.stdout.write(JSON.stringify(await child(args[1] as Mode, args[2]!)) + '\n');
    return;
  }
  const rowsArg = args.indexOf('--rows');
  const rows = rowsArg >= 0 ? Number(args[rowsArg + 1]) : 1_000_000;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tarmac-bench-ingest-data-'));
  try {
    const file = path.join(dir, 'payments.csv');
    const info = await writePaymentsCsv(file, rows);
    const size = (await stat(file)).size;
    const sha = createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 12);
    console.error(`generated ${rows} rows (${(size / 2 ** 20).toFixed(1)} MiB, sha256 ${sha}…): ${info.bad} bad, ${info.duplicates} duplicates`);
    const results: RunResult[] = [];
    // Alternating order spreads any drift in machine load over both modes.
    for (const mode of ['validation-off', 'validation-on', 'http-upload', 'validation-off', 'validation-on'] as Mode[]) {
      const r = await runChild(mode, file);
      console.error(`${mode.padEnd(15)} ${Math.round(r.rowsPerSec).toLocaleString('en').padStart(9)} rows/s  ${r.seconds.toFixed(1)} s  peak RSS ${r.peakRssMiB.toFixed(0)} MiB  ${JSON.stringify(r.counts)}`);
      results.push(r);
    }
    const best = (mode: Mode) => results.filter((r) => r.mode === mode).sort((a, b) => b.rowsPerSec - a.rowsPerSec)[0]!;
    const on = best('validation-on');
    const off = best('validation-off');
    const http = best('http-upload');
    const ratio = on.rowsPerSec / off.rowsPerSec;
    const md = [
      `# Ingestion benchmark (${new Date().toISOString()})`,
      '',
      `${rows.toLocaleString('en')}-row CSV, ${(size / 2 ** 20).toFixed(1)} MiB, ${info.bad.toLocaleString('en')} bad rows, ${info.duplicates.toLocaleString('en')} duplicates; fresh SQLite store per run; best of the runs per mode.`,
      '',
      '| mode | rows/s | seconds | peak RSS (MiB) | accepted | quarantined | duplicates |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...[off, on, http].map((r) => `| ${r.mode} | ${Math.round(r.rowsPerSec).toLocaleString('en')} | ${r.seconds.toFixed(1)} | ${r.peakRssMiB.toFixed(0)} | ${r.counts.accepted} | ${r.counts.quarantined} | ${r.counts.duplicates} |`),
      '',
      `Validation on / off: **${ratio.toFixed(2)}×** (target ≥ 0.7×).`,
    ].join('\n');
    console.log(md);
    await mkdir(path.join(HERE, 'results'), { recursive: true });
    await writeFile(path.join(HERE, 'results', 'ingest-latest.json'), JSON.stringify({ rows, size, info, results, ratio }, null, 2));
    await writeFile(path.join(HERE, 'results', 'ingest-latest.md'), md + '\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
