import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import type { Result } from 'autocannon';
import { waitForReady, type ServerInfo } from './child.ts';

// What the benchmark entry points (serve.bench.ts, perf.bench.ts, instructions.bench.ts) share: server children and
// their clean-up, the autocannon run with per-response latencies, the prediction log counters, /proc CPU and RSS
// sampling, the sanity requests that check two servers agree, the watchdog and signal handling around main, and the
// report output. See bench/README.md.

export const BENCH_DIR = fileURLToPath(new URL('./', import.meta.url));
export const ROOT = path.resolve(BENCH_DIR, '..');
export const RESULTS_DIR = path.join(BENCH_DIR, 'results');
export const RSS_SAMPLE_MS = 100;

export interface BenchCase {
  name: string;
  records: number;
  body: string;
}

export interface Prediction {
  label: number;
  probabilities: number[];
}

export interface LatencyStats {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p99_9: number;
  max: number;
}

/** What every measured (server, case) run reports. Latencies are in ms, measured per 2xx response by the client. */
export interface LoadMeasurement {
  case: string;
  records: number;
  connections: number;
  durationS: number;
  requests: number;
  reqPerSec: number;
  recordsPerSec: number;
  latencyMs: LatencyStats;
  non2xx: number;
  errors: number;
  timeouts: number;
  warmupFailures: number;
  /** Tarmac only: prediction log rows written and dropped during the measured run, and still buffered at its end. */
  predictionLog?: PredictionLogUse;
}

export interface PredictionLogUse {
  answered: number;
  written: number;
  dropped: number;
  bufferedAtEnd: number;
}

/** Counters read from a server's Prometheus endpoint. */
export interface LogCounters {
  written: number;
  dropped: number;
  buffered: number;
}

export interface ProcessUse {
  /** CPU seconds (user + system, all threads) the server process used during the measured run. */
  cpuS: number;
  /** cpuS / duration: how many cores the server kept busy. */
  cores: number;
  /** The largest RSS sampled every 100 ms during the measured run, MiB. */
  peakRssMb: number;
}

// ---------------------------------------------------------------------------------------------------------------
// settings

export function intSetting(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}

/** BENCH_INTRA_OP_THREADS for a server child, when set. */
export function threadEnvOf(intraOpThreads: number | undefined): Record<string, string> {
  return intraOpThreads ? { BENCH_INTRA_OP_THREADS: String(intraOpThreads) } : {};
}

/** Warns on stderr when the 1-minute load average says other work will skew the numbers. */
export function warnIfLoaded(load1: number): void {
  if (load1 > os.cpus().length / 2) {
    process.stderr.write(`warning: load average ${load1.toFixed(1)} on ${os.cpus().length} CPUs; other work will skew the numbers\n`);
  }
}

/** `linux x64, 2 × CPU model`, for the report header. */
export function machineOf(): string {
  const cpus = os.cpus();
  return `${os.platform()} ${os.arch()}, ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}`;
}

// ---------------------------------------------------------------------------------------------------------------
// children

/** Children still running and temp dirs not yet removed, so every exit path can clean up. */
const children = new Set<ChildProcess>();
export const tempDirs = new Set<string>();

/** Last-resort cleanup for the watchdog and signals: kill what is left, remove temp dirs, synchronously. */
function abandon(signal: NodeJS.Signals): void {
  for (const child of children) child.kill(signal);
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
}

/** Registers a child so that every exit path stops it. */
export function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

export function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** SIGTERM, then SIGKILL after stopTimeoutMs; resolves once the child has exited. */
export async function stopChild(child: ChildProcess, stopTimeoutMs: number): Promise<void> {
  if (!alive(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
  await exited;
  clearTimeout(timer);
}

/** Stops every child still running. */
export async function stopChildren(stopTimeoutMs: number): Promise<void> {
  await Promise.all([...children].map((child) => stopChild(child, stopTimeoutMs)));
}

/** Stops every child still running, then removes a run's temporary directories and stops tracking them. */
export async function cleanUpRun(dirs: readonly string[], stopTimeoutMs: number): Promise<void> {
  await stopChildren(stopTimeoutMs);
  for (const dir of dirs) {
    await rm(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  }
}

/** Spawns a node bench server child (args after the node binary) and waits for its ready line; stops it if that fails. */
export function startNodeChild(
  label: string, args: string[], env: Record<string, string>, timeouts: { readyMs: number; stopMs: number },
): Promise<{ child: ChildProcess; info: ServerInfo }> {
  return startChild(label, process.execPath, args, env, timeouts);
}

/** Spawns a bench server child as `command args` (node, or node under valgrind) and waits for its ready line; stops it if that fails. */
export async function startChild(
  label: string, command: string, args: string[], env: Record<string, string>, timeouts: { readyMs: number; stopMs: number },
): Promise<{ child: ChildProcess; info: ServerInfo }> {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  track(child);
  try {
    return { child, info: await waitForReady(child, label, timeouts.readyMs) };
  } catch (err) {
    await stopChild(child, timeouts.stopMs);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// /proc: CPU time and memory of a server process (Linux; elsewhere the columns say n/a)

const CLOCK_TICKS = (() => {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(out.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** User + system CPU seconds of a process (all its threads), or undefined off Linux or when it is gone. */
function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces, inside parentheses): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** A `VmRSS`/`VmHWM` line of /proc/<pid>/status, in MiB. */
export function statusMb(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
    return line ? Number(line.split(/\s+/)[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Samples a process's RSS every RSS_SAMPLE_MS and its CPU time at the ends, for one measured run. */
export function watchProcess(pid: number | undefined): { stop(durationS: number): ProcessUse | undefined } {
  if (pid === undefined || cpuSeconds(pid) === undefined) return { stop: () => undefined };
  const cpu0 = cpuSeconds(pid)!;
  let peak = statusMb(pid, 'VmRSS') ?? 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, statusMb(pid, 'VmRSS') ?? 0);
  }, RSS_SAMPLE_MS);
  return {
    stop(durationS) {
      clearInterval(timer);
      peak = Math.max(peak, statusMb(pid, 'VmRSS') ?? 0);
      const cpuS = (cpuSeconds(pid) ?? cpu0) - cpu0;
      return { cpuS, cores: cpuS / durationS, peakRssMb: peak };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// load

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Mean, percentiles and max of per-response latencies (ms). */
export function latencyStats(latencies: number[]): LatencyStats {
  const sorted = Float64Array.from(latencies).sort();
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(sorted.length, 1);
  return {
    mean,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    p99_9: percentile(sorted, 99.9),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
  };
}

/** Sums every series of `name` in a Prometheus text exposition. */
function metricValue(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** The prediction log counters of a server with a metrics endpoint; errorChars bounds the body quoted on failure. */
export async function logCounters(info: ServerInfo, errorChars = Infinity): Promise<LogCounters | undefined> {
  if (!info.metricsPath) return undefined;
  const res = await fetch(`${info.url}${info.metricsPath}`, { headers: info.headers });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${info.metricsPath} answered ${res.status}: ${text.slice(0, errorChars)}`);
  return {
    written: metricValue(text, 'tarmac_prediction_log_written_total'),
    dropped: metricValue(text, 'tarmac_prediction_log_dropped_total'),
    buffered: metricValue(text, 'tarmac_prediction_log_buffered'),
  };
}

/**
 * Waits until the server's prediction log is idle: nothing buffered and no rows written over the last 200 ms (the
 * writer has caught up). A case that outran the log (batched requests, say) would otherwise leave its backlog to be
 * written during the next case's measurement. Returns the milliseconds waited; gives up after `maxMs`.
 */
export async function settleLog(info: ServerInfo, maxMs: number): Promise<number> {
  if (!info.metricsPath) return 0;
  const started = Date.now();
  let last = await logCounters(info);
  while (Date.now() - started < maxMs) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const now = await logCounters(info);
    if (!now || !last) return Date.now() - started;
    if (now.buffered === 0 && now.written === last.written) return Date.now() - started;
    last = now;
  }
  return Date.now() - started;
}

/** The prediction log's part of one measured run, when both counter readings exist. */
export function predictionLogOf(
  before: LogCounters | undefined, after: LogCounters | undefined, result: Result, benchCase: BenchCase,
): { predictionLog?: PredictionLogUse } {
  return before && after ? {
    predictionLog: {
      answered: result['2xx'] * benchCase.records,
      written: after.written - before.written,
      dropped: after.dropped - before.dropped,
      bufferedAtEnd: after.buffered,
    },
  } : {};
}

/** One autocannon run; latencies come from each 2xx response (autocannon's own histogram rounds to whole ms). */
export function load(
  info: ServerInfo, benchCase: BenchCase, connections: number, durationS: number, timeoutS: number,
): Promise<{ result: Result; latencies: number[] }> {
  return new Promise((resolve, reject) => {
    const latencies: number[] = [];
    const instance = autocannon({
      url: `${info.url}${info.path}`,
      method: 'POST',
      headers: { ...info.headers, 'content-type': 'application/json' },
      body: benchCase.body,
      connections,
      pipelining: 1,
      duration: durationS,
      timeout: timeoutS,
    }, (err: unknown, result: Result) => {
      if (err) reject(err instanceof Error ? err : new Error(String(err)));
      else resolve({ result, latencies });
    });
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    });
  });
}

export function failuresOf(m: { non2xx: number; errors: number; warmupFailures: number }): number {
  return m.non2xx + m.errors + m.warmupFailures;
}

// ---------------------------------------------------------------------------------------------------------------
// agreement

/** One sanity request of `records` to a server: its predictions, label and probabilities; throws unless 200 with one per record. */
export async function answers(info: ServerInfo, label: string, records: Record<string, number>[]): Promise<Prediction[]> {
  const res = await fetch(`${info.url}${info.path}`, {
    method: 'POST',
    headers: { ...info.headers, 'content-type': 'application/json' },
    body: JSON.stringify({ records }),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${label}: sanity request answered ${res.status}: ${text.slice(0, 500)}`);
  const body = JSON.parse(text) as { predictions?: Record<string, unknown>[] };
  if (!Array.isArray(body.predictions) || body.predictions.length !== records.length) {
    throw new Error(`${label}: sanity request answered without ${records.length} predictions: ${text.slice(0, 500)}`);
  }
  return body.predictions.map((p) => ({
    label: Number(p.prediction ?? p.label),
    probabilities: Object.values(p.probabilities as Record<string, number>),
  }));
}

/** Throws unless both servers gave the same labels and probabilities within `tolerance`; returns the largest difference. */
export function assertAgreement(a: Prediction[], aName: string, b: Prediction[], bName: string, tolerance: number): number {
  let worst = 0;
  a.forEach((x, i) => {
    const y = b[i]!;
    const diffs = x.probabilities.map((p, j) => Math.abs(p - (y.probabilities[j] ?? Number.NaN)));
    const diff = Math.max(...diffs);
    if (x.label !== y.label || x.probabilities.length !== y.probabilities.length || !(diff <= tolerance)) {
      throw new Error(`${aName} and ${bName} disagree on sample record ${i}: ${JSON.stringify(x)} vs ${JSON.stringify(y)}`);
    }
    worst = Math.max(worst, diff);
  });
  return worst;
}

// ---------------------------------------------------------------------------------------------------------------
// report

export const fmt = (n: number, digits = 2): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
export const fmtInt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');

/** Writes results/<name>-latest.{json,md} and prints the Markdown. */
export async function writeResults(name: string, json: unknown, md: string): Promise<void> {
  await mkdir(RESULTS_DIR, { recursive: true });
  await writeFile(path.join(RESULTS_DIR, `${name}-latest.json`), `${JSON.stringify(json, null, 2)}\n`);
  await writeFile(path.join(RESULTS_DIR, `${name}-latest.md`), md);
  process.stdout.write(`\n${md}\nwritten to ${path.relative(ROOT, RESULTS_DIR)}/${name}-latest.{json,md}\n`);
}

// ---------------------------------------------------------------------------------------------------------------
// running

/**
 * Runs main under a watchdog of watchdogMs (so a wedged server cannot hang CI), with SIGINT/SIGTERM and failures
 * cleaning up the children and temp dirs; exits with main's code, 1 on failure, 130/143 on a signal.
 */
export function runBench(main: () => Promise<number>, watchdogMs: number): void {
  const watchdog = setTimeout(() => {
    console.error(`FAILED: the benchmark did not finish within ${Math.round(watchdogMs / 1000)} s`);
    abandon('SIGKILL');
    process.exit(1);
  }, watchdogMs);
  watchdog.unref();

  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      abandon('SIGTERM');
      process.exit(code);
    });
  }

  main().then((code) => process.exit(code), (err: unknown) => {
    console.error('FAILED:', err instanceof Error ? err.message : err);
    abandon('SIGKILL');
    process.exit(1);
  });
}
