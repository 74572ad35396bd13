/**
 * What the live monitor costs: Tarmac serving the demo model with the monitor off and on (a reference profile set and
 * 10-second windows, so windows close and are compared with the reference during the run; production windows are
 * 5 minutes, so this charges the monitor thirty times the window work it would do), in one run, alternating
 * off/on/off/on per case so machine drift falls on both; then the drift computation beside scipy (bench/drift.bench.ts,
 * 30 features × 1,000,000 rows).
 *
 *   npm run bench:monitor          (BENCH_DURATION_S, BENCH_CONNECTIONS, BENCH_DRIFT_ROWS to change the run)
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { referenceProfileOf } from '../src/cli/monitor.commands.ts';
import type { ServerInfo } from './child.ts';
import {
  BENCH_DIR, failuresOf, fmt, fmtInt, intSetting, latencyStats, load, machineOf, ROOT, runBench, startNodeChild,
  stopChild, tempDirs, warnIfLoaded, writeResults, type BenchCase,
} from './harness.ts';

type Mode = 'monitor-off' | 'monitor-on';

interface Run {
  mode: Mode;
  case: string;
  reqPerSec: number;
  p50: number;
  p99: number;
  failures: number;
}

const FEATURES = ['income', 'loan_amount', 'age', 'credit_history_years', 'debt_ratio'].map((name) => ({ name, type: 'float' }))
  .concat([{ name: 'employment_type', type: 'string' }]);

async function startTarmac(mode: Mode): Promise<{ stop: () => Promise<void>; info: ServerInfo }> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'tarmac-bench-monitor-'));
  tempDirs.add(dataDir);
  const env: Record<string, string> = {
    BENCH_TARMAC_DATA_DIR: dataDir,
    TARMAC_MONITOR: mode === 'monitor-on' ? 'on' : 'off',
    TARMAC_MONITOR_WINDOW_SECONDS: '10',
    TARMAC_MONITOR_GRACE_SECONDS: '1',
  };
  const { child, info } = await startNodeChild(mode, ['--import', 'tsx', path.join(BENCH_DIR, 'tarmac-server.ts')], env, { readyMs: 60_000, stopMs: 5_000 });
  if (mode === 'monitor-on') {
    const { profile } = await referenceProfileOf(path.join(ROOT, 'demo/loans-demo.csv'), FEATURES);
    const res = await fetch(`${info.url}/v1/models/loan-default/versions/1/reference-profile`, {
      method: 'PUT', headers: { ...info.headers, 'content-type': 'application/json' }, body: JSON.stringify({ profile, source: 'loans-demo.csv' }),
    });
    if (res.status !== 200) throw new Error(`reference profile refused: ${res.status} ${await res.text()}`);
  }
  return {
    info,
    stop: async () => {
      await stopChild(child, 5_000);
      await rm(dataDir, { recursive: true, force: true });
      tempDirs.delete(dataDir);
    },
  };
}

async function windowsClosed(info: ServerInfo): Promise<number> {
  const res = await fetch(`${info.url}/v1/models/loan-default/monitor/windows?limit=999`, { headers: info.headers });
  const body = await res.json() as { windows: { closed: boolean; drift: unknown }[] };
  return body.windows.filter((w) => w.closed && w.drift).length;
}

async function main(): Promise<number> {
  const durationS = intSetting('BENCH_DURATION_S', 10, 1, 600);
  const connections = intSetting('BENCH_CONNECTIONS', 16, 1, 1024);
  const driftRows = intSetting('BENCH_DRIFT_ROWS', 1_000_000, 1000, 10_000_000);
  const samples = (JSON.parse(await readFile(path.join(ROOT, 'demo', 'sample-records.json'), 'utf8')) as { records: Record<string, unknown>[] }).records;
  const cases: BenchCase[] = [
    { name: 'single', records: 1, body: JSON.stringify({ records: [samples[0]] }) },
    { name: 'batch-32', records: 32, body: JSON.stringify({ records: Array.from({ length: 32 }, (_, i) => samples[i % samples.length]) }) },
  ];
  const loadBefore = os.loadavg()[0]!;
  warnIfLoaded(loadBefore);
  const servers = new Map<Mode, { stop: () => Promise<void>; info: ServerInfo }>();
  const runs: Run[] = [];
  let closedWindows: number;
  try {
    for (const mode of ['monitor-off', 'monitor-on'] as Mode[]) servers.set(mode, await startTarmac(mode));
    for (const c of cases) {
      for (const mode of ['monitor-off', 'monitor-on', 'monitor-off', 'monitor-on'] as Mode[]) {
        const { info } = servers.get(mode)!;
        process.stderr.write(`  ${mode} ${c.name}: warm-up 2 s, measuring ${durationS} s\n`);
        await load(info, c, connections, 2, 10);
        const { result, latencies } = await load(info, c, connections, durationS, 10);
        const stats = latencyStats(latencies);
        runs.push({ mode, case: c.name, reqPerSec: result.requests.mean, p50: stats.p50, p99: stats.p99, failures: failuresOf({ non2xx: result.non2xx, errors: result.errors, warmupFailures: 0 }) });
      }
    }
    closedWindows = await windowsClosed(servers.get('monitor-on')!.info);
  } finally {
    for (const s of servers.values()) await s.stop();
  }

  const mean = (mode: Mode, c: string) => {
    const rs = runs.filter((r) => r.mode === mode && r.case === c);
    return { reqPerSec: rs.reduce((a, r) => a + r.reqPerSec, 0) / rs.length, p99: rs.reduce((a, r) => a + r.p99, 0) / rs.length };
  };
  const ratios = cases.map((c) => ({ case: c.name, ratio: mean('monitor-on', c.name).reqPerSec / mean('monitor-off', c.name).reqPerSec }));

  process.stderr.write(`drift computation: ${driftRows} rows × 30 features vs scipy\n`);
  const drift = spawnSync(process.execPath, ['--max-old-space-size=4096', '--import', 'tsx', path.join(BENCH_DIR, 'drift.bench.ts'), '--rows', String(driftRows)], { cwd: ROOT, encoding: 'utf8', maxBuffer: 16 << 20 });
  const driftMd = drift.status === 0 ? drift.stdout.trim().replace(/^# .*\n/, '') : `drift benchmark failed: ${drift.stderr.trim().split('\n').at(-1)}`;

  const md = [
    '# Monitoring benchmark',
    '',
    `date: ${new Date().toISOString()} · node: ${process.version} · machine: ${machineOf()} · load average before: ${loadBefore.toFixed(2)}`,
    '',
    `## Serving with the monitor off and on (demo model, ${connections} connections, ${durationS} s per run, two runs per mode and case, alternating)`,
    '',
    '| mode | case | req/s (mean of 2) | p99 ms | failures |',
    '| --- | --- | ---: | ---: | ---: |',
    ...cases.flatMap((c) => (['monitor-off', 'monitor-on'] as Mode[]).map((m) => {
      const rs = runs.filter((r) => r.mode === m && r.case === c.name);
      return `| ${m} | ${c.name} | ${fmtInt(mean(m, c.name).reqPerSec)} | ${fmt(mean(m, c.name).p99)} | ${rs.reduce((a, r) => a + r.failures, 0)} |`;
    })),
    '',
    ...ratios.map((r) => `- ${r.case}: monitor on / off = **${fmt(r.ratio)}×** (target ≥ 0.90, i.e. the monitor costs under 10%)`),
    `- windows closed and compared with the reference during the monitor-on runs: ${closedWindows}`,
    '',
    '## Drift computation beside scipy',
    '',
    driftMd,
    '',
  ].join('\n');
  await writeResults('monitor', { runs, ratios, closedWindows }, md);
  return runs.some((r) => r.failures > 0) ? 1 : 0;
}

runBench(main, 15 * 60_000);
