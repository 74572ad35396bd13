import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import type { ServerInfo } from './child.ts';
import {
  alive, answers, assertAgreement, BENCH_DIR, failuresOf, settleLog, fmt, fmtInt, intSetting, latencyStats, load, logCounters, machineOf, predictionLogOf,
  RESULTS_DIR, ROOT, RSS_SAMPLE_MS, runBench, startNodeChild, statusMb, stopChild, cleanUpRun, tempDirs, threadEnvOf,
  track, warnIfLoaded, watchProcess, writeResults,
  type BenchCase, type LoadMeasurement, type ProcessUse,
} from './harness.ts';
import {
  benchRecords, buildLogistic, DEFAULT_MLP_HIDDEN, generateBenchModels, timeSingleRow, writeModel,
  type GeneratedModel, type RunTiming,
} from './models/generate.ts';
import { medianRound, pairedRatio, pairedRatios } from './rounds.ts';
import { buildSetting, compileServers, NODE_FLAGS, serverEntry } from './servers.ts';
import type { BenchModelSpec } from './tarmac-server.ts';

// The performance benchmark of the issue: Tarmac's records API (auth, validation, prediction log, metrics all on)
// against a bare node:http + ONNX Runtime server and a FastAPI + scikit-learn server, for a small and a heavy model,
// at several concurrencies, single and batched; plus Tarmac's batcher on/off and its idle memory. See bench/README.md.

const PROFILE_DIR = path.join(RESULTS_DIR, 'profiles');
/** The bench's node servers compiled to JavaScript for BENCH_TARMAC_BUILD=dist (under ROOT, so node_modules resolve). */
const COMPILED_SERVERS_DIR = path.join(RESULTS_DIR, '.servers');
const FASTAPI_SCRIPT = path.join(BENCH_DIR, 'baselines', 'fastapi_server.py');
const READY_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 15_000;
/** How long a measurement waits at most for the previous one's prediction-log backlog to be written (settleLog). */
const SETTLE_MAX_MS = 120_000;
/** How much of a failed metrics response an error quotes. */
const LOG_ERROR_CHARS = 200;
/** Tarmac and the bare server run the same session (but maybe in other batch shapes): float32 rounding only. */
const NODE_AGREEMENT = 1e-5;
/** scikit-learn computes in float64, ONNX Runtime in float32. */
const PYTHON_AGREEMENT = 1e-4;
/** Idle-memory models: lr30 with these seeds. */
const IDLE_SEED_BASE = 40_000;

type ServerKind = 'bare' | 'fastapi' | 'tarmac';
type ModelName = 'lr30' | 'mlp';
const MODEL_NAMES: readonly ModelName[] = ['lr30', 'mlp'];

/** The knobs, read from BENCH_* variables. */
interface Settings {
  quick: boolean;
  durationS: number;
  warmupS: number;
  /**
   * Interleaved rounds per (connections, case): each round measures every server once, in the same order. The tables
   * show each server's median round by req/s; Tarmac's ratios are the median of the per-round ratios.
   */
  rounds: number;
  concurrencies: number[];
  batchSize: number;
  models: ModelName[];
  mlpHidden: number;
  /** The Python interpreter, or undefined to skip the FastAPI baseline. */
  python: string | undefined;
  intraOpThreads: number | undefined;
  idleModels: number;
  idleWaitS: number;
  /** autocannon's per-request timeout. */
  timeoutS: number;
  /** Which request shapes to run: 'single', 'batch'. */
  cases: ('single' | 'batch')[];
  /** Write V8 CPU profiles of every node server child (and its threads) under bench/results/profiles/. */
  cpuProf: boolean;
  /** `dist`: Tarmac as `npm run build && npm run serve` runs it (compiled, no loader); `source`: through tsx. */
  build: 'dist' | 'source';
}

/** One measured (model, server, case, connections). Latencies are in ms, measured per 2xx response by the client. */
interface Measurement extends LoadMeasurement {
  model: string;
  server: ServerKind;
  label: string;
  process: ProcessUse | undefined;
  /** CPU seconds the load generator (this process) used during the measured run. */
  loadGenCpuS: number;
  /** Which interleaved round (1-based) of its (model, case, connections); absent for the one-off batching runs. */
  round?: number;
}

/** A running server child. */
interface Running {
  kind: ServerKind;
  label: string;
  child: ChildProcess;
  info: ServerInfo;
  rssAtReadyMb: number | undefined;
  /** Where its CPU profiles go (BENCH_CPU_PROF), with the measured windows for bench/profile-summary.ts. */
  profile?: { dir: string; windows: { run: string; round?: number; startUs: number; endUs: number }[] };
}

interface Target {
  target: string;
  value: number;
  comparison: '>=' | '<=';
  threshold: number;
  unit: string;
  met: boolean | undefined;
  detail: string;
}

// ---------------------------------------------------------------------------------------------------------------
// settings

function listSetting<T extends string | number>(name: string, fallback: T[], parse: (s: string) => T | undefined): T[] {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  return raw.split(',').map((s) => {
    const value = parse(s.trim());
    if (value === undefined) throw new Error(`${name}: cannot read "${s}" in "${raw}"`);
    return value;
  });
}

function defaultPython(): string {
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

function readSettings(): Settings {
  const quick = ['1', 'true', 'yes', 'on'].includes((process.env.BENCH_QUICK ?? '').toLowerCase());
  const threads = intSetting('BENCH_INTRA_OP_THREADS', 0, 0, 256);
  const python = process.env.BENCH_PYTHON ?? defaultPython();
  return {
    quick,
    durationS: intSetting('BENCH_DURATION_S', quick ? 2 : 5, 1, 600),
    warmupS: intSetting('BENCH_WARMUP_S', 1, 0, 60),
    rounds: intSetting('BENCH_ROUNDS', quick ? 1 : 3, 1, 20),
    concurrencies: listSetting('BENCH_CONCURRENCY', quick ? [16] : [1, 16, 64], (s) => {
      const n = Number(s);
      return Number.isInteger(n) && n >= 1 && n <= 1024 ? n : undefined;
    }),
    batchSize: intSetting('BENCH_BATCH_SIZE', 32, 2, 10_000),
    models: process.env.BENCH_PERF_MODELS === 'none' ? []
      : listSetting<ModelName>('BENCH_PERF_MODELS', [...MODEL_NAMES], (s) => MODEL_NAMES.find((m) => m === s)),
    mlpHidden: intSetting('BENCH_MLP_HIDDEN', DEFAULT_MLP_HIDDEN, 2, 16_384),
    python: python === '' || python === 'none' ? undefined : python,
    intraOpThreads: threads === 0 ? undefined : threads,
    idleModels: intSetting('BENCH_IDLE_MODELS', 10, 0, 100),
    idleWaitS: intSetting('BENCH_IDLE_WAIT_S', 3, 0, 60),
    timeoutS: intSetting('BENCH_TIMEOUT_S', 30, 1, 600),
    cases: listSetting<'single' | 'batch'>('BENCH_CASES', ['single', 'batch'], (s) => (s === 'single' || s === 'batch' ? s : undefined)),
    cpuProf: ['1', 'true', 'yes', 'on'].includes((process.env.BENCH_CPU_PROF ?? '').toLowerCase()),
    build: buildSetting(),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// children

async function started(kind: ServerKind, label: string, child: ChildProcess, info: ServerInfo, profileDir?: string): Promise<Running> {
  return {
    kind, label, child, info, rssAtReadyMb: child.pid ? statusMb(child.pid, 'VmRSS') : undefined,
    ...(profileDir ? { profile: { dir: profileDir, windows: [] } } : {}),
  };
}

/** Microseconds on CLOCK_MONOTONIC, the clock of V8's CPU profile timestamps in every process on this machine. */
function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** Starts a bench server child (bare-server or tarmac-server, from source or compiled) and waits for its ready line. */
async function startNode(kind: 'bare' | 'tarmac', label: string, env: Record<string, string>, profileDir?: string): Promise<Running> {
  const entry = serverEntry(kind, existsSync(COMPILED_SERVERS_DIR) ? COMPILED_SERVERS_DIR : undefined);
  const dir = profileDir ? path.join(profileDir, label) : undefined;
  const profile = dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
  const { child, info } = await startNodeChild(label, [...NODE_FLAGS, ...profile, ...entry], env, { readyMs: READY_TIMEOUT_MS, stopMs: STOP_TIMEOUT_MS });
  return started(kind, label, child, info, dir);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Imports the Python stack; returns its versions, or why the FastAPI baseline is skipped. */
function probePython(python: string | undefined): { versions?: Record<string, string>; skipped?: string } {
  if (!python) return { skipped: 'BENCH_PYTHON=none' };
  const out = spawnSync(python, [FASTAPI_SCRIPT, '--probe'], { encoding: 'utf8', timeout: 60_000 });
  if (out.error) return { skipped: `${python} cannot run: ${out.error.message}` };
  if (out.status !== 0) return { skipped: (out.stderr || out.stdout || `${python} exited ${out.status}`).trim().split('\n').pop()! };
  try {
    return { versions: JSON.parse(out.stdout) as Record<string, string> };
  } catch {
    return { skipped: `unexpected probe output: ${out.stdout.slice(0, 200)}` };
  }
}

/** Starts the FastAPI + scikit-learn server for a model and waits until GET /health answers 200. */
async function startFastapi(python: string, label: string, model: GeneratedModel): Promise<Running> {
  const port = await freePort();
  const child = spawn(python, [
    FASTAPI_SCRIPT, '--weights', model.weightsPath, '--check', model.checkPath, '--host', '127.0.0.1', '--port', String(port),
    '--exit-on-stdin-eof',
  ], { cwd: ROOT, env: { ...process.env, PYTHONUNBUFFERED: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
  track(child);
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => process.stderr.write(`[${label}] ${line}\n`));
  }
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  try {
    for (;;) {
      if (!alive(child)) throw new Error(`${label}: exited before it was ready (code ${child.exitCode}, signal ${child.signalCode})`);
      if (Date.now() > deadline) throw new Error(`${label}: not ready after ${READY_TIMEOUT_MS} ms`);
      const health = await fetch(`${url}/health`).then(async (r) => (r.ok ? (await r.json()) as Record<string, unknown> : undefined), () => undefined);
      if (health) {
        const facts = Object.fromEntries(Object.entries(health).map(([k, v]) => [k, String(v)]));
        return await started('fastapi', label, child, { url, path: '/predict', headers: {}, facts });
      }
      await delay(200);
    }
  } catch (err) {
    await stopChild(child, STOP_TIMEOUT_MS);
    throw err;
  }
}

/** Stops the servers; returns each one's peak RSS over its life and how it exited (`code 0` is clean). */
async function stopAll(servers: Running[]): Promise<Record<string, { hwmMb: number | undefined; exit: string }>> {
  const out: Record<string, { hwmMb: number | undefined; exit: string }> = {};
  const hwm = new Map(servers.map((s) => [s.label, s.child.pid ? statusMb(s.child.pid, 'VmHWM') : undefined]));
  await Promise.all(servers.map((s) => stopChild(s.child, STOP_TIMEOUT_MS)));
  for (const s of servers) {
    const exit = s.child.signalCode ? `signal ${s.child.signalCode}` : `code ${s.child.exitCode}`;
    if (exit !== 'code 0') process.stderr.write(`warning: ${s.label} did not stop cleanly on SIGTERM: ${exit}\n`);
    out[s.label] = { hwmMb: hwm.get(s.label), exit };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// load

async function measure(
  model: string, server: Running, benchCase: BenchCase, connections: number, settings: Settings, round?: number,
): Promise<Measurement> {
  if (!alive(server.child)) throw new Error(`${server.label} exited (code ${server.child.exitCode}, signal ${server.child.signalCode})`);
  const tag = `${model} ${server.label} ${benchCase.name} c=${connections}${round === undefined ? '' : ` r${round}/${settings.rounds}`}`;
  const settledMs = await settleLog(server.info, SETTLE_MAX_MS);
  if (settledMs > 1_000) process.stderr.write(`  ${tag}: waited ${fmt(settledMs / 1000, 1)} s for the prediction log to catch up first\n`);
  let warmupFailures = 0;
  if (settings.warmupS > 0) {
    const { result } = await load(server.info, benchCase, connections, settings.warmupS, settings.timeoutS);
    warmupFailures = result.non2xx + result.errors;
  }
  const before = await logCounters(server.info, LOG_ERROR_CHARS);
  const watch = watchProcess(server.child.pid);
  const cpu0 = process.cpuUsage();
  const startUs = monotonicUs();
  const { result, latencies } = await load(server.info, benchCase, connections, settings.durationS, settings.timeoutS);
  const cpu = process.cpuUsage(cpu0);
  if (server.profile) {
    server.profile.windows.push({ run: `${model} ${benchCase.name} c=${connections}`, ...(round === undefined ? {} : { round }), startUs, endUs: monotonicUs() });
    await mkdir(server.profile.dir, { recursive: true });
    await writeFile(path.join(server.profile.dir, 'windows.json'), `${JSON.stringify(server.profile.windows, null, 2)}\n`);
  }
  const use = watch.stop(result.duration);
  const after = await logCounters(server.info, LOG_ERROR_CHARS);
  const reqPerSec = result['2xx'] / result.duration;
  const m: Measurement = {
    model,
    server: server.kind,
    label: server.label,
    case: benchCase.name,
    records: benchCase.records,
    connections,
    durationS: result.duration,
    requests: result['2xx'],
    reqPerSec,
    recordsPerSec: reqPerSec * benchCase.records,
    latencyMs: latencyStats(latencies),
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    warmupFailures,
    process: use,
    loadGenCpuS: (cpu.user + cpu.system) / 1e6,
    ...predictionLogOf(before, after, result, benchCase),
    ...(round === undefined ? {} : { round }),
  };
  process.stderr.write(`  ${tag.padEnd(42)} ${fmtInt(m.reqPerSec).padStart(7)} req/s  p50 ${fmt(m.latencyMs.p50)} ms  `
    + `p99 ${fmt(m.latencyMs.p99)} ms  cpu ${fmt(use?.cores ?? Number.NaN)} cores  rss ${fmt(use?.peakRssMb ?? Number.NaN, 0)} MiB`
    + `${failuresOf(m) ? `  FAILURES ${failuresOf(m)}` : ''}\n`);
  return m;
}

// ---------------------------------------------------------------------------------------------------------------
// report

const fmtMs = (n: number): string => (!Number.isFinite(n) ? 'n/a' : n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

function find(results: Measurement[], model: string, server: ServerKind | string, caseName: string, connections: number): Measurement | undefined {
  return results.find((r) => r.model === model && (r.server === server || r.label === server) && r.case === caseName && r.connections === connections);
}

function target(name: string, value: number | undefined, comparison: '>=' | '<=', threshold: number, unit: string, detail: string): Target {
  const v = value ?? Number.NaN;
  return {
    target: name,
    value: v,
    comparison,
    threshold,
    unit,
    met: Number.isFinite(v) ? (comparison === '>=' ? v >= threshold : v <= threshold) : undefined,
    detail,
  };
}

const reqPerSecOf = (m: Measurement): number => m.reqPerSec;
const p99Of = (m: Measurement): number => m.latencyMs.p99;

/** The per-round ratios as the targets' detail and the Rounds section print them: `0.81, 0.78, 0.86`. */
const fmtRatios = (ratios: number[]): string => (ratios.length ? ratios.map((x) => fmt(x)).join(', ') : 'n/a');

function targetsOf(
  results: Measurement[], rounds: Measurement[], batching: Measurement[], idleRssMb: number | undefined, settings: Settings,
  pythonSkipped: string | undefined,
): Target[] {
  const single = 'single';
  const t = (m: string, s: ServerKind, c: number): Measurement | undefined => find(results, m, s, single, c);
  const ratio = (a: number | undefined, b: number | undefined): number | undefined => (a !== undefined && b !== undefined && b > 0 ? a / b : undefined);
  // Tarmac against a baseline measured in the same rounds: the median of the per-round ratios, and the ratios.
  const paired = (model: string, b: ServerKind, metric: (m: Measurement) => number): { value: number | undefined; rounds: string } => ({
    value: pairedRatio(rounds, model, single, 16, 'tarmac', b, metric),
    rounds: fmtRatios(pairedRatios(rounds, model, single, 16, 'tarmac', b, metric)),
  });
  const lrT = t('lr30', 'tarmac', 16);
  const lrB = t('lr30', 'bare', 16);
  const lrReq = paired('lr30', 'bare', reqPerSecOf);
  const lrP99 = paired('lr30', 'bare', p99Of);
  // A bare server that kept less than ~0.9 of a core busy was not its own bottleneck (the load generator or the
  // machine's other tenants were): that round's ratio says little about Tarmac's cost.
  const bareCores = fmtRatios(rounds
    .filter((m) => m.model === 'lr30' && m.server === 'bare' && m.case === single && m.connections === 16)
    .map((m) => m.process?.cores ?? Number.NaN));
  const off = batching.find((m) => m.label === 'tarmac-batching-off');
  const on = batching.find((m) => m.label === 'tarmac-batching-on');
  const noPython = pythonSkipped ? `FastAPI skipped: ${pythonSkipped}` : '';
  const targets = [
    target('Tarmac / bare req/s, lr30, c=16, single record', lrReq.value, '>=', 0.85, '×',
      `${fmtInt(lrT?.reqPerSec ?? Number.NaN)} vs ${fmtInt(lrB?.reqPerSec ?? Number.NaN)} req/s (medians); rounds ${lrReq.rounds}; `
      + `bare server busy ${bareCores} cores in those rounds (below ~0.9 it was not its own bottleneck)`),
    target('Tarmac p99 / bare p99, lr30, c=16, single record', lrP99.value, '<=', 1.5, '×',
      `${fmtMs(lrT?.latencyMs.p99 ?? Number.NaN)} vs ${fmtMs(lrB?.latencyMs.p99 ?? Number.NaN)} ms (median rounds); rounds ${lrP99.rounds}`),
  ];
  for (const model of MODEL_NAMES) {
    const tm = t(model, 'tarmac', 16);
    const fm = t(model, 'fastapi', 16);
    const vsFastapi = paired(model, 'fastapi', reqPerSecOf);
    targets.push(target(`Tarmac / FastAPI+sklearn req/s, ${model}, c=16, single record`, vsFastapi.value, '>=', 5, '×',
      noPython || `${fmtInt(tm?.reqPerSec ?? Number.NaN)} vs ${fmtInt(fm?.reqPerSec ?? Number.NaN)} req/s (medians); rounds ${vsFastapi.rounds}`));
  }
  targets.push(target('Tarmac batching on / off req/s, mlp, c=64, single record', ratio(on?.reqPerSec, off?.reqPerSec), '>=', 2, '×',
    `${fmtInt(on?.reqPerSec ?? Number.NaN)} vs ${fmtInt(off?.reqPerSec ?? Number.NaN)} req/s`));
  targets.push(target(`Tarmac idle RSS, ${settings.idleModels} lr30 models deployed, after ${settings.idleWaitS} s`, idleRssMb, '<=', 250, ' MiB',
    idleRssMb === undefined ? 'not measured' : `VmRSS of the Tarmac process`));
  return targets;
}

/**
 * A table row. `Tarmac vs`: for a row of the rounds, the median of the per-round req/s ratios against each baseline;
 * for a one-off run (batching), its req/s over the baseline's median round.
 */
function measurementRow(m: Measurement, results: Measurement[], rounds: Measurement[]): string {
  const vs = (server: ServerKind): string => {
    const other = find(results, m.model, server, m.case, m.connections);
    if (!other || m.server === server) return '';
    const ratio = m.round !== undefined
      ? pairedRatio(rounds, m.model, m.case, m.connections, m.server, server, reqPerSecOf)
      : m.reqPerSec / other.reqPerSec;
    return `${fmt(ratio ?? Number.NaN)}× ${server}`;
  };
  const ratios = m.server === 'tarmac' ? [vs('bare'), vs('fastapi')].filter(Boolean).join(', ') : '';
  const p = m.process;
  return `| ${m.label} | ${m.case} | ${m.connections} | ${fmtInt(m.reqPerSec)} | ${fmtInt(m.recordsPerSec)} | ${fmtMs(m.latencyMs.p50)} | `
    + `${fmtMs(m.latencyMs.p99)} | ${fmtMs(m.latencyMs.p99_9)} | ${fmt(p?.cpuS ?? Number.NaN)} | ${fmt(p?.cores ?? Number.NaN)} | `
    + `${p && m.requests ? fmt((p.cpuS * 1000) / m.requests, 3) : 'n/a'} | ${fmt(p?.peakRssMb ?? Number.NaN, 0)} | ${failuresOf(m)} | ${ratios} |`;
}

const TABLE_HEAD = [
  '| server | case | conns | req/s | records/s | p50 ms | p99 ms | p99.9 ms | CPU s | cores | CPU ms/req | peak RSS MiB | errors | Tarmac vs |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
];

interface Report {
  meta: Record<string, string>;
  models: (GeneratedModel & { singleRow: RunTiming })[];
  servers: Record<string, { facts: Record<string, string>; rssAtReadyMb?: number; peakRssLifetimeMb?: number; exit?: string }>;
  /** Each server's median round by req/s, per (model, case, connections). */
  results: Measurement[];
  /** Every measurement of the interleaved rounds, in the order they ran. */
  rounds: Measurement[];
  batching: Measurement[];
  idle: { models: number; waitS: number; rssAtReadyMb?: number; rssMb?: number; hwmMb?: number } | undefined;
  targets: Target[];
  pythonSkipped?: string;
}

/** `## Rounds`: every round's req/s per server (the median round in bold) and Tarmac's ratio to each baseline per round. */
function roundsSection(r: Report, settings: Settings): string[] {
  const kinds = (['bare', 'fastapi', 'tarmac'] as const).filter((k) => r.rounds.some((m) => m.server === k));
  const baselines = kinds.filter((k) => k !== 'tarmac');
  const name = { bare: 'bare', fastapi: 'FastAPI', tarmac: 'Tarmac' } as const;
  const keys = [...new Map(r.rounds.map((m) => [`${m.model} ${m.case} ${m.connections}`, m])).values()];
  const lines = ['## Rounds', '',
    `${settings.rounds} interleaved round(s) per (model, case, conns); each round measures ${kinds.join(', ')} back to back, in that order. `
    + 'The tables above show each server\'s median round by req/s (bold here). Tarmac\'s ratios are taken within each round '
    + '(Tarmac round r / baseline round r); the targets and the `Tarmac vs` column use their median.', '',
    `| model | case | conns | ${kinds.map((k) => `${k} req/s per round`).join(' | ')} | ${baselines.map((b) => `Tarmac / ${name[b]} per round (median)`).join(' | ')} |`,
    `| --- | --- | ---: | ${kinds.map(() => '---:').join(' | ')} | ${baselines.map(() => '---:').join(' | ')} |`,
  ];
  for (const key of keys) {
    const same = (m: Measurement): boolean => m.model === key.model && m.case === key.case && m.connections === key.connections;
    const perServer = kinds.map((k) => {
      const chosen = find(r.results, key.model, k, key.case, key.connections);
      return r.rounds.filter((m) => same(m) && m.server === k).sort((a, b) => (a.round ?? 0) - (b.round ?? 0))
        .map((m) => (m.round === chosen?.round ? `**${fmtInt(m.reqPerSec)}**` : fmtInt(m.reqPerSec))).join(', ');
    });
    const ratios = baselines.map((b) => {
      const each = pairedRatios(r.rounds, key.model, key.case, key.connections, 'tarmac', b, reqPerSecOf);
      return `${fmtRatios(each)} (${fmt(pairedRatio(r.rounds, key.model, key.case, key.connections, 'tarmac', b, reqPerSecOf) ?? Number.NaN)})`;
    });
    lines.push(`| ${key.model} | ${key.case} | ${key.connections} | ${perServer.join(' | ')} | ${ratios.join(' | ')} |`);
  }
  lines.push('');
  return lines;
}

function markdown(r: Report, settings: Settings): string {
  const lines: string[] = [
    '# Serving performance: Tarmac vs bare ONNX Runtime vs FastAPI + scikit-learn',
    '',
    ...Object.entries(r.meta).map(([k, v]) => `- ${k}: ${v}`),
    '',
    '## Targets',
    '',
    '| target | value | goal | status | detail |',
    '| --- | ---: | ---: | --- | --- |',
    ...r.targets.map((t) => `| ${t.target} | ${fmt(t.value)}${t.unit} | ${t.comparison} ${t.threshold}${t.unit} | `
      + `${t.met === undefined ? 'not measured' : t.met ? '**met**' : '**missed**'} | ${t.detail} |`),
    '',
    '## Models',
    '',
    `| model | architecture | parameters | ONNX bytes | ONNX sha256 | single-row session.run, ${settings.intraOpThreads ?? 1} intra-op thread(s) (median, p90) |`,
    '| --- | --- | ---: | ---: | --- | --- |',
    ...r.models.map((m) => `| ${m.name} | ${m.shape} | ${fmtInt(m.parameters)} | ${fmtInt(m.onnxBytes)} | \`${m.onnxSha256}\` | `
      + `${fmt(m.singleRow.medianMs, 3)} ms, ${fmt(m.singleRow.p90Ms, 3)} ms |`),
    '',
  ];
  for (const model of settings.models) {
    const rows = r.results.filter((m) => m.model === model);
    if (!rows.length) continue;
    lines.push(`## ${model}`, '', ...TABLE_HEAD, ...rows.map((m) => measurementRow(m, r.results, r.rounds)), '');
  }
  if (r.rounds.length) lines.push(...roundsSection(r, settings));
  if (r.batching.length) {
    lines.push('## Tarmac batching, mlp, c=64, single record (separate Tarmac processes)', '', ...TABLE_HEAD,
      ...r.batching.map((m) => measurementRow(m, r.results, r.rounds)), '');
  }
  if (r.idle) {
    lines.push('## Idle memory', '',
      `Tarmac with ${r.idle.models} lr30 models (different seeds) registered and deployed: VmRSS ${fmt(r.idle.rssAtReadyMb ?? Number.NaN, 1)} MiB when ready, `
      + `${fmt(r.idle.rssMb ?? Number.NaN, 1)} MiB after ${r.idle.waitS} s idle (peak ${fmt(r.idle.hwmMb ?? Number.NaN, 1)} MiB).`, '');
  }
  // The Tarmac config is in the header; a server's row repeats it only where it differs (the batching-off process).
  const shownFact = ([k, v]: [string, string]): boolean => !['dataDir', 'model', 'status'].includes(k)
    && !(k === 'config' && v === r.meta['Tarmac config (resolved)']);
  lines.push('## Servers', '', '| server | RSS when ready MiB | peak RSS over its life MiB | exit on SIGTERM | facts |',
    '| --- | ---: | ---: | --- | --- |',
    ...Object.entries(r.servers).map(([label, s]) => `| ${label} | ${fmt(s.rssAtReadyMb ?? Number.NaN, 0)} | ${fmt(s.peakRssLifetimeMb ?? Number.NaN, 0)} | `
      + `${s.exit === undefined ? 'n/a' : s.exit === 'code 0' ? 'clean' : `**${s.exit}**`} | `
      + `${Object.entries(s.facts).filter(shownFact).map(([k, v]) => `${k}=${v.replace(/\|/g, '\\|')}`).join(', ')} |`), '');
  const logged = [...r.results, ...r.batching].filter((m) => m.predictionLog);
  if (logged.length) {
    lines.push('## Tarmac prediction log during each measured run', '',
      '| model | server | case | conns | records answered | rows written | dropped | buffered at end |', '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |',
      ...logged.map((m) => `| ${m.model} | ${m.label} | ${m.case} | ${m.connections} | ${fmtInt(m.predictionLog!.answered)} | `
        + `${fmtInt(m.predictionLog!.written)} | ${fmtInt(m.predictionLog!.dropped)} | ${fmtInt(m.predictionLog!.bufferedAtEnd)} |`), '');
  }
  lines.push('req/s = 2xx responses / measured seconds. Latencies per 2xx response, measured by the client. CPU s = user + system '
    + 'seconds of the server process (all threads) during the measured run; cores = CPU s / run seconds; peak RSS sampled every '
    + `${RSS_SAMPLE_MS} ms during the run. errors = non-2xx + connection errors + timeouts, warm-up included; must be 0 in every round. `
    + 'The load generator (autocannon) runs on the same machine and competes for its CPUs.', '');
  if (r.pythonSkipped) lines.push(`FastAPI + scikit-learn baseline skipped: ${r.pythonSkipped}`, '');
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// main

function casesOf(records: Record<string, number>[], settings: Settings): BenchCase[] {
  const n = settings.batchSize;
  return [
    ...(settings.cases.includes('single') ? [{ name: 'single', records: 1, body: JSON.stringify({ records: records.slice(0, 1) }) }] : []),
    ...(settings.cases.includes('batch') ? [{ name: `batch-${n}`, records: n, body: JSON.stringify({ records: records.slice(0, n) }) }] : []),
  ];
}

function intraOpOf(tarmac: Running): number | undefined {
  try {
    const config = JSON.parse(tarmac.info.facts.config ?? '{}') as { intraOpThreads?: number };
    return config.intraOpThreads && config.intraOpThreads > 0 ? config.intraOpThreads : undefined;
  } catch {
    return undefined;
  }
}

function modelSpec(m: GeneratedModel): BenchModelSpec {
  return { name: m.name, path: m.onnxPath, features: [...m.features] };
}

function expectedSeconds(s: Settings, python: boolean): number {
  const perRun = s.warmupS + s.durationS;
  const servers = python ? 3 : 2;
  return s.models.length * s.concurrencies.length * s.cases.length * s.rounds * servers * perRun + (s.models.includes('mlp') ? 2 * perRun : 0)
    + s.idleWaitS + s.models.length * 30 + 40;
}

async function main(): Promise<number> {
  const settings = readSettings();
  const records = benchRecords(Math.max(settings.batchSize, 3));
  const cases = casesOf(records, settings);
  const python = probePython(settings.python);
  if (python.skipped) process.stderr.write(`FastAPI + scikit-learn baseline skipped: ${python.skipped}\n`);
  process.stderr.write(`perf bench${settings.quick ? ' (quick)' : ''}: models ${settings.models.join(', ')}, connections `
    + `${settings.concurrencies.join('/')}, ${cases.map((c) => c.name).join(' + ')}, ${settings.rounds} interleaved round(s) per case, `
    + `${settings.warmupS} s warm-up + ${settings.durationS} s each; `
    + `about ${Math.round(expectedSeconds(settings, !python.skipped) / 60 * 10) / 10} min\n`);
  const loadBefore = os.loadavg();
  warnIfLoaded(loadBefore[0]!);
  const startedAt = Date.now();
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'tarmac-perf-'));
  tempDirs.add(workDir);
  const single: BenchCase = { name: 'single', records: 1, body: JSON.stringify({ records: records.slice(0, 1) }) };
  const report: Report = {
    meta: {}, models: [], servers: {}, results: [], rounds: [], batching: [], idle: undefined, targets: [],
    ...(python.skipped ? { pythonSkipped: python.skipped } : {}),
  };
  const threadEnv = threadEnvOf(settings.intraOpThreads);
  let tarmacConfig = '';
  const profileDir = settings.cpuProf ? PROFILE_DIR : undefined;
  if (profileDir) {
    await rm(profileDir, { recursive: true, force: true });
    process.stderr.write(`CPU profiles of the node servers go to ${path.relative(ROOT, profileDir)}/<server>/ (summarise: npx tsx bench/profile-summary.ts DIR)\n`);
  }
  const onnxruntime = { version: 'unknown' };
  try {
    rmSync(COMPILED_SERVERS_DIR, { recursive: true, force: true });
    if (settings.build === 'dist') {
      process.stderr.write('building Tarmac (tsc -p tsconfig.build.json) and compiling the bench servers\n');
      tempDirs.add(COMPILED_SERVERS_DIR);
      compileServers(COMPILED_SERVERS_DIR);
    }
    process.stderr.write(`generating models into ${workDir}\n`);
    const generated = await generateBenchModels(path.join(workDir, 'models'), { mlpHidden: settings.mlpHidden });
    for (const name of settings.models) {
      const m = generated[name];
      const built = readFileSync(m.onnxPath);
      const singleRow = await timeSingleRow(new Uint8Array(built), settings.intraOpThreads ?? 1);
      process.stderr.write(`  ${m.name}: ${m.shape}, ${fmtInt(m.onnxBytes)} bytes, sha256 ${m.onnxSha256}, single-row run ${fmt(singleRow.medianMs, 3)} ms median\n`);
      if (name === 'mlp' && singleRow.medianMs < 1) {
        process.stderr.write(`warning: a single-row run of mlp takes ${fmt(singleRow.medianMs, 3)} ms (< 1 ms) here; raise BENCH_MLP_HIDDEN\n`);
      }
      report.models.push({ ...m, singleRow });
    }

    const record = (s: Running): void => {
      report.servers[`${s.label}`] = { facts: s.info.facts, ...(s.rssAtReadyMb !== undefined ? { rssAtReadyMb: s.rssAtReadyMb } : {}) };
      if (s.info.facts.onnxruntime) onnxruntime.version = s.info.facts.onnxruntime;
    };
    const finish = async (servers: Running[]): Promise<void> => {
      const stopped = await stopAll(servers);
      for (const s of servers) {
        const entry = report.servers[s.label];
        const { hwmMb, exit } = stopped[s.label]!;
        if (entry && hwmMb !== undefined) entry.peakRssLifetimeMb = hwmMb;
        if (entry) entry.exit = exit;
      }
    };

    for (const name of settings.models) {
      const model = generated[name];
      process.stderr.write(`\n${name}: starting servers\n`);
      const servers: Running[] = [];
      try {
        const tarmac = await startNode('tarmac', `tarmac-${name}`, {
          ...threadEnv, BENCH_TARMAC_DATA_DIR: await mkdtemp(path.join(workDir, 'tarmac-')), BENCH_MODELS: JSON.stringify([modelSpec(model)]),
        }, profileDir);
        record(tarmac);
        tarmacConfig = tarmac.info.facts.config ?? '';
        // The bare server gets Tarmac's resolved intra-op threads, so both run the same session options.
        const intra = settings.intraOpThreads ?? intraOpOf(tarmac);
        const bare = await startNode('bare', `bare-${name}`, {
          BENCH_MODEL_PATH: model.onnxPath, BENCH_FEATURES: model.features.join(','), ...(intra ? { BENCH_INTRA_OP_THREADS: String(intra) } : {}),
        }, profileDir);
        record(bare);
        servers.push(bare);
        if (settings.python && !python.skipped) {
          const fastapi = await startFastapi(settings.python, `fastapi-${name}`, model);
          record(fastapi);
          servers.push(fastapi);
        }
        servers.push(tarmac);

        const sample = records.slice(0, 3);
        const bareAnswers = await answers(bare.info, bare.label, sample);
        assertAgreement(await answers(tarmac.info, tarmac.label, sample), tarmac.label, bareAnswers, bare.label, NODE_AGREEMENT);
        const fastapi = servers.find((s) => s.kind === 'fastapi');
        if (fastapi) assertAgreement(await answers(fastapi.info, fastapi.label, sample), fastapi.label, bareAnswers, bare.label, PYTHON_AGREEMENT);

        // Within a round the servers run back to back, so a drifting machine shifts all three alike; the others idle.
        // The rounds interleave them, and each server's row is its median round (ratios pair rounds: see rounds.ts).
        for (const connections of settings.concurrencies) {
          for (const benchCase of cases) {
            const measured = new Map<Running, Measurement[]>(servers.map((s) => [s, []]));
            for (let round = 1; round <= settings.rounds; round++) {
              for (const server of servers) {
                const m = await measure(name, server, benchCase, connections, settings, round);
                report.rounds.push(m);
                measured.get(server)!.push(m);
              }
            }
            for (const server of servers) report.results.push(medianRound(measured.get(server)!)!);
          }
        }
      } finally {
        await finish(servers);
      }
    }

    if (settings.models.includes('mlp')) {
      process.stderr.write('\nbatching: mlp, c=64, single record, Tarmac with TARMAC_BATCHING=off then on\n');
      const model = generated.mlp;
      for (const mode of ['off', 'on'] as const) {
        const tarmac = await startNode('tarmac', `tarmac-batching-${mode}`, {
          ...threadEnv, TARMAC_BATCHING: mode,
          BENCH_TARMAC_DATA_DIR: await mkdtemp(path.join(workDir, 'tarmac-')), BENCH_MODELS: JSON.stringify([modelSpec(model)]),
        }, profileDir);
        record(tarmac);
        try {
          report.batching.push(await measure('mlp', tarmac, single, 64, settings));
        } finally {
          await finish([tarmac]);
        }
      }
    }

    if (settings.idleModels > 0) {
      process.stderr.write(`\nidle memory: Tarmac with ${settings.idleModels} lr30 models\n`);
      const specs: BenchModelSpec[] = [];
      for (let i = 1; i <= settings.idleModels; i++) {
        const name = `lr30-${String(i).padStart(2, '0')}`;
        specs.push(modelSpec(await writeModel(path.join(workDir, 'idle'), name, IDLE_SEED_BASE + i, buildLogistic(IDLE_SEED_BASE + i))));
      }
      const tarmac = await startNode('tarmac', 'tarmac-idle', {
        ...threadEnv, BENCH_TARMAC_DATA_DIR: await mkdtemp(path.join(workDir, 'tarmac-')), BENCH_MODELS: JSON.stringify(specs),
      }, profileDir);
      record(tarmac);
      try {
        await delay(settings.idleWaitS * 1000);
        const pid = tarmac.child.pid!;
        report.idle = {
          models: settings.idleModels,
          waitS: settings.idleWaitS,
          ...(tarmac.rssAtReadyMb !== undefined ? { rssAtReadyMb: tarmac.rssAtReadyMb } : {}),
          ...(statusMb(pid, 'VmRSS') !== undefined ? { rssMb: statusMb(pid, 'VmRSS') } : {}),
          ...(statusMb(pid, 'VmHWM') !== undefined ? { hwmMb: statusMb(pid, 'VmHWM') } : {}),
        };
        process.stderr.write(`  VmRSS ${fmt(report.idle.rssMb ?? Number.NaN, 1)} MiB after ${settings.idleWaitS} s idle\n`);
      } finally {
        await finish([tarmac]);
      }
    }
  } finally {
    await cleanUpRun([workDir, COMPILED_SERVERS_DIR], STOP_TIMEOUT_MS);
  }

  report.targets = targetsOf(report.results, report.rounds, report.batching, report.idle?.rssMb, settings, python.skipped);
  report.meta = {
    date: new Date().toISOString(),
    node: process.version,
    onnxruntime: onnxruntime.version,
    python: python.versions ? Object.entries(python.versions).map(([k, v]) => `${k} ${v}`).join(', ') : `skipped (${python.skipped})`,
    machine: `${machineOf()}, ${fmt(os.totalmem() / 2 ** 30, 1)} GiB`,
    run: `${settings.quick ? 'BENCH_QUICK, ' : ''}${settings.warmupS} s warm-up + ${settings.durationS} s per measurement, connections `
      + `${settings.concurrencies.join('/')}, pipelining 1, batch ${settings.batchSize}; ${settings.rounds} interleaved round(s) per (connections, case), `
      + `each measuring every server once in the same order (rows: median round by req/s; Tarmac ratios: median of per-round ratios); `
      + `took ${fmt((Date.now() - startedAt) / 1000, 0)} s`,
    'node servers': settings.build === 'dist'
      ? `compiled (Tarmac from dist/ after \`npm run build\`, as \`npm run serve\`), node ${NODE_FLAGS.join(' ') || '(no flags)'}`
      : `from source through tsx (as \`npm start\`), node ${NODE_FLAGS.join(' ') || '(no flags)'}`,
    'Tarmac config (resolved)': tarmacConfig || 'n/a',
    'load average (1/5/15 min)': `${loadBefore.map((l) => l.toFixed(2)).join(' ')} before, ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} after`,
  };
  const md = markdown(report, settings);
  await writeResults('perf', { ...report, settings }, md);

  const failed = [...report.rounds, ...report.batching].filter((m) => failuresOf(m) > 0);
  for (const m of failed) {
    console.error(`FAILED: ${m.model} ${m.label} ${m.case} c=${m.connections}${m.round === undefined ? '' : ` round ${m.round}`}: ${m.non2xx} non-2xx, ${m.errors} connection errors `
      + `(${m.timeouts} timeouts), ${m.warmupFailures} failures during warm-up`);
  }
  return failed.length > 0 ? 1 : 0;
}

// A hard bound on the whole run, so a wedged server cannot hang CI.
const watchdogMs = (() => {
  try {
    const s = readSettings();
    return (expectedSeconds(s, true) * 1.5 + 240) * 1000;
  } catch {
    return 60_000;
  }
})();
runBench(main, watchdogMs);
