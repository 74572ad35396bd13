import { execFile, spawnSync, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { parseCallgrind, threadRoleOf, topFunctions, type ThreadProfile, type ThreadRole } from './callgrind.ts';
import type { ServerInfo } from './child.ts';
import {
  alive, answers, assertAgreement, fmt, fmtInt, intSetting, logCounters, machineOf, RESULTS_DIR, ROOT, runBench,
  startChild, stopChild, cleanUpRun, tempDirs, writeResults,
  type LogCounters, type Prediction,
} from './harness.ts';
import { benchRecords, generateBenchModels, type GeneratedModel } from './models/generate.ts';
import { median } from './rounds.ts';
import { buildSetting, compileServers, NODE_FLAGS, serverEntry, type NodeServerKind } from './servers.ts';

// The CPU-cost benchmark: instructions executed per request by Tarmac and by the bare node:http + ONNX Runtime server,
// counted by valgrind's callgrind, so the number does not depend on how fast or how busy the machine is. Each server
// runs alone under callgrind with instrumentation off; after a warm-up, for each of a few windows, the bench switches
// it on (`callgrind_control -i on`), sends the measured requests one at a time over one connection, waits for the
// prediction log's writer, switches it off and dumps one file per thread; the report gives every window and their
// medians. See bench/README.md.

const CALLGRIND_DIR = path.join(RESULTS_DIR, 'callgrind');
/** The servers compiled to JavaScript for BENCH_TARMAC_BUILD=dist (not perf.bench's directory: the two may overlap). */
const COMPILED_SERVERS_DIR = path.join(RESULTS_DIR, '.servers-instructions');
/** Starting node under valgrind (Tarmac: tsc-compiled modules, SQLite migrations, the model's probe) is slow. */
const READY_TIMEOUT_MS = 600_000;
const STOP_TIMEOUT_MS = 60_000;
/** How long the bench waits at most for Tarmac's prediction log to be idle before a window opens. */
const SETTLE_MAX_MS = 120_000;
/** The prediction log is idle when its counters have not moved for this long (polled every LOG_POLL_MS). */
const LOG_IDLE_MS = 1_000;
const LOG_POLL_MS = 250;
/** A pause between the warm-up and the window, so background work the warm-up started (compilation, GC) mostly ends first. */
const QUIET_MS = 2_000;
/** Tarmac and the bare server run the same ONNX Runtime session: float32 rounding only. */
const NODE_AGREEMENT = 1e-5;
/** Threads below this share of a window's instructions are summed into one `rest` row in the Markdown. */
const THREAD_ROW_MIN_SHARE = 0.001;
const TOP_FUNCTIONS = 5;
/** Requests per connection in the warm-up; a window sends all its requests over one connection. */
const WARMUP_CONNECTION_REQUESTS = 250;
/**
 * Tarmac's settings that valgrind's slowness (~50 requests/s) would otherwise change, or tie to the wall clock; a
 * value in the environment wins.
 * - TARMAC_INLINE_MAX_US: the model's timed probe at load is ~50× slower under valgrind, so Tarmac would place the
 *   small model in its worker-thread pool, which it never does natively; this keeps it inline, as in production.
 * - TARMAC_MONITOR_MAX_PROFILED_ROWS: the monitor profiles a sample sized from the request rate (about 20,000 events
 *   per window). At valgrind's rate that is every request and on a faster machine fewer, so the count would depend
 *   on the machine; a budget out of reach pins it: every request is profiled (an upper bound of the monitor's cost;
 *   at thousands of requests/s it profiles a few per cent).
 * - TARMAC_MONITOR_WINDOW_SECONDS, TARMAC_KEY_LAST_USED_FLUSH_SECONDS, TARMAC_PREDICTION_LOG_FLUSH_MS: work done per
 *   unit of time (closing a 5-minute monitor window, writing key usage every 5 s, flushing the prediction log every
 *   200 ms) is spread over thousands of requests at production rates but over a few here, and would land in a window
 *   or not by the clock. Pushed out of reach, the log flushes by size only (128 rows, as it does under load) and the
 *   rest does not run during the measurement.
 */
const TARMAC_ENV = {
  TARMAC_INLINE_MAX_US: process.env.TARMAC_INLINE_MAX_US || '1000000',
  TARMAC_MONITOR_MAX_PROFILED_ROWS: process.env.TARMAC_MONITOR_MAX_PROFILED_ROWS || '10000000',
  TARMAC_MONITOR_WINDOW_SECONDS: process.env.TARMAC_MONITOR_WINDOW_SECONDS || '86400',
  TARMAC_KEY_LAST_USED_FLUSH_SECONDS: process.env.TARMAC_KEY_LAST_USED_FLUSH_SECONDS || '3600',
  TARMAC_PREDICTION_LOG_FLUSH_MS: process.env.TARMAC_PREDICTION_LOG_FLUSH_MS || '60000',
};

const execFileAsync = promisify(execFile);

/** The knobs, read from BENCH_IR_* variables. */
interface Settings {
  /** Requests measured per (server, case). */
  requests: number;
  /** Requests sent before a case's first window, not measured. */
  warmup: number;
  /** Measured windows per (server, case); the summary is their median. */
  windows: number;
  servers: NodeServerKind[];
  /** Records per request, one case each. */
  records: number[];
  /** How long the window stays open after the last measured response, for the prediction log's writer. */
  tailMs: number;
  intraOpThreads: number;
  build: 'dist' | 'source';
}

/** One thread's part of a window. */
interface ThreadCost {
  /** Valgrind's thread number (1 is the main thread). */
  thread: number;
  role: ThreadRole;
  ir: number;
  irPerRequest: number;
  /** Of all threads' instructions in the window. */
  share: number;
  /** Most expensive functions by self cost; share is of this thread. */
  top: { name: string; share: number }[];
}

/** One measured (server, case). */
interface Measurement {
  server: NodeServerKind;
  case: string;
  records: number;
  /** Which of the case's windows (1-based), all in the same server process, one after another. */
  window: number;
  requests: number;
  warmup: number;
  /** Wall seconds the window was open (requests + tail), under valgrind. */
  windowS: number;
  mainPerRequest: number;
  totalPerRequest: number;
  /**
   * All threads but V8's platform threads: the request's own work (main thread, prediction-log writer, ONNX Runtime)
   * without the background GC and compilation, which come in lumps (a major GC, a few TurboFan compilations left over
   * from the warm-up) that one window catches and the next does not.
   */
  exceptPlatformPerRequest: number;
  threads: ThreadCost[];
  /**
   * Tarmac only: the window's rows (expected: requests × records) and where they went: written while instrumentation
   * was on, or still buffered (less than a batch: the log flushes by size here) after it, beside what was before.
   */
  predictionLog?: { expected: number; written: number; dropped: number; bufferedBefore: number; bufferedAfter: number; complete: boolean };
  /** The dump's files, relative to the repository, for callgrind_annotate or KCachegrind. */
  files: string[];
}

/** One (server, case): the median of its windows, per column. */
interface Summary {
  server: NodeServerKind;
  case: string;
  records: number;
  windows: number;
  mainPerRequest: number;
  totalPerRequest: number;
  exceptPlatformPerRequest: number;
  /** Per window, in order: main thread and all threads, Ir/request. */
  mainByWindow: number[];
  totalByWindow: number[];
  /** The window whose all-threads count is the median (the lower middle one for an even count): its threads are in the report. */
  medianWindow: number;
}

/** Tarmac / bare for one case, of the medians. */
interface Ratio {
  case: string;
  main: number;
  total: number;
  exceptPlatform: number;
}

/** A server running under callgrind. */
interface Running {
  kind: NodeServerKind;
  child: ChildProcess;
  info: ServerInfo;
  /** Where its callgrind files go: `callgrind.out.<dump>-<thread>`. */
  dir: string;
  dumps: number;
}

/** A request shape: the body of request i is bodies[i % bodies.length]. */
interface IrCase {
  name: string;
  records: number;
  bodies: string[];
}

// ---------------------------------------------------------------------------------------------------------------
// settings

function recordsSetting(): number[] {
  const raw = process.env.BENCH_IR_RECORDS ?? '';
  if (raw.trim() === '') return [1];
  return raw.split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new Error(`BENCH_IR_RECORDS: "${s}" is not an integer from 1 to 10000 (in "${raw}")`);
    return n;
  });
}

function serversSetting(): NodeServerKind[] {
  const raw = process.env.BENCH_IR_SERVERS ?? '';
  if (raw.trim() === '') return ['bare', 'tarmac'];
  return raw.split(',').map((s) => {
    const kind = s.trim();
    if (kind !== 'bare' && kind !== 'tarmac') throw new Error(`BENCH_IR_SERVERS: "${s}" is neither bare nor tarmac (in "${raw}")`);
    return kind;
  });
}

function readSettings(): Settings {
  return {
    requests: intSetting('BENCH_IR_REQUESTS', 1000, 1, 1_000_000),
    warmup: intSetting('BENCH_IR_WARMUP', 10_000, 0, 1_000_000),
    windows: intSetting('BENCH_IR_WINDOWS', 3, 1, 20),
    servers: serversSetting(),
    records: recordsSetting(),
    tailMs: intSetting('BENCH_IR_TAIL_MS', 1500, 0, 60_000),
    intraOpThreads: intSetting('BENCH_INTRA_OP_THREADS', 1, 1, 256),
    build: buildSetting(),
  };
}

/** Why the bench cannot run here (valgrind or callgrind_control missing), or undefined. */
function missingTool(): string | undefined {
  for (const tool of ['valgrind', 'callgrind_control']) {
    const out = spawnSync(tool, ['--version'], { encoding: 'utf8' });
    if (out.error || out.status !== 0) return `${tool} is not installed (${out.error?.message ?? `exit ${out.status}`}); on Debian/Ubuntu: apt-get install valgrind`;
  }
  return undefined;
}

function valgrindVersion(): string {
  return spawnSync('valgrind', ['--version'], { encoding: 'utf8' }).stdout.trim();
}

/**
 * Seconds the run should take, roughly (the 2-vCPU dev VM: a request takes ~3 ms under valgrind with instrumentation
 * off, ~15 ms with it on, Tarmac's a little more than bare's, a batch of 32 about 8× as long): the build, then per
 * server a start under valgrind and per case warm-up + window.
 */
function expectedSeconds(s: Settings): number {
  const perCase = s.records.map((n) => (s.warmup * 0.003 + s.windows * s.requests * 0.015) * Math.max(1, n / 4) + s.windows * ((QUIET_MS + s.tailMs) / 1000 + 3));
  return (s.build === 'dist' ? 30 : 0) + 2 * (15 + perCase.reduce((a, b) => a + b, 0));
}

// ---------------------------------------------------------------------------------------------------------------
// servers under callgrind

/** Starts a bench server under callgrind, instrumentation off until the first window. */
async function startUnderCallgrind(kind: NodeServerKind, model: GeneratedModel, workDir: string, settings: Settings): Promise<Running> {
  const dir = path.join(CALLGRIND_DIR, kind);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const env: Record<string, string> = kind === 'bare'
    ? { BENCH_MODEL_PATH: model.onnxPath, BENCH_FEATURES: model.features.join(',') }
    : {
      ...TARMAC_ENV,
      BENCH_TARMAC_DATA_DIR: await mkdtemp(path.join(workDir, 'tarmac-')),
      BENCH_MODELS: JSON.stringify([{ name: model.name, path: model.onnxPath, features: [...model.features] }]),
    };
  env.BENCH_INTRA_OP_THREADS = String(settings.intraOpThreads);
  const compiled = settings.build === 'dist' ? COMPILED_SERVERS_DIR : undefined;
  const args = [
    '--tool=callgrind', '--instr-atstart=no', '--separate-threads=yes',
    `--callgrind-out-file=${path.join(dir, 'callgrind.out')}`, `--log-file=${path.join(dir, 'valgrind.log')}`,
    process.execPath, ...NODE_FLAGS, ...serverEntry(kind, compiled),
  ];
  process.stderr.write(`${kind}: starting under callgrind (instrumentation off)\n`);
  try {
    const { child, info } = await startChild(kind, 'valgrind', args, env, { readyMs: READY_TIMEOUT_MS, stopMs: STOP_TIMEOUT_MS });
    return { kind, child, info, dir, dumps: 0 };
  } catch (err) {
    const log = await readFile(path.join(dir, 'valgrind.log'), 'utf8').catch(() => '');
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${log.split('\n').slice(-15).join('\n')}`, { cause: err });
  }
}

/** `callgrind_control <flag…> <pid>`; throws unless it reports OK. */
async function control(server: Running, ...flags: string[]): Promise<void> {
  const { stdout } = await execFileAsync('callgrind_control', [...flags, String(server.child.pid)], { timeout: 120_000 });
  if (!/\bOK\b/.test(stdout)) throw new Error(`callgrind_control ${flags.join(' ')} ${server.child.pid}: ${stdout.trim()}`);
}

/** Reads the per-thread files of dump `n` (`callgrind.out.<n>-<thread>`), leaving out threads that ran no instruction. */
async function readDump(dir: string, n: number): Promise<{ profiles: ThreadProfile[]; files: string[] }> {
  const files = (await readdir(dir)).filter((f) => f.startsWith(`callgrind.out.${n}-`)).sort();
  if (files.length === 0) throw new Error(`no callgrind dump ${n} in ${dir}`);
  const profiles: ThreadProfile[] = [];
  for (const file of files) {
    const profile = parseCallgrind(await readFile(path.join(dir, file), 'utf8'));
    if (profile.ir > 0) profiles.push(profile);
  }
  return { profiles, files: files.map((f) => path.relative(ROOT, path.join(dir, f))) };
}

// ---------------------------------------------------------------------------------------------------------------
// requests

function casesOf(settings: Settings): IrCase[] {
  const pool = benchRecords(64);
  return settings.records.map((n) => ({
    name: n === 1 ? 'single' : `batch-${n}`,
    records: n,
    bodies: pool.map((_, i) => JSON.stringify({ records: Array.from({ length: n }, (_, k) => pool[(i + k) % pool.length]) })),
  }));
}

/**
 * The bench's HTTP client: one keep-alive connection at a time, opened by the first request after `reconnect()` and
 * closed by the client. Connections open and close at request counts the bench chooses, never on a timer: a server
 * closing an idle connection (node's default keepAliveTimeout is 5 s) in or just before a window runs code V8 has
 * not seen on that path and deoptimises the socket and stream functions, so the count would depend on how long the
 * pauses took on a busy machine.
 */
class Client {
  private agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  private readonly url: URL;
  private readonly headers: Record<string, string>;

  constructor(info: ServerInfo) {
    this.url = new URL(`${info.url}${info.path}`);
    this.headers = { ...info.headers, 'content-type': 'application/json' };
  }

  /** POSTs a body and reads the whole answer. */
  post(body: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request(this.url, {
        method: 'POST', agent: this.agent, headers: { ...this.headers, 'content-length': Buffer.byteLength(body) },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Closes the connection (if any); the next request opens a new one. */
  reconnect(): void {
    this.agent.destroy();
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * Sends `count` requests one at a time (c=1), a new connection every `perConnection` requests; throws on the first
 * answer that is not a 200 with one prediction per record.
 */
async function send(client: Client, label: string, benchCase: IrCase, count: number, perConnection = Infinity): Promise<void> {
  for (let i = 0; i < count; i++) {
    if (i > 0 && i % perConnection === 0) client.reconnect();
    const { status, text } = await client.post(benchCase.bodies[i % benchCase.bodies.length]!);
    const predictions = status === 200 ? (JSON.parse(text) as { predictions?: unknown[] }).predictions : undefined;
    if (predictions?.length !== benchCase.records) {
      throw new Error(`${label} ${benchCase.name}: request ${i + 1} of ${count} answered ${status}: ${text.slice(0, 300)}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// measuring

function threadCosts(profiles: ThreadProfile[], requests: number): ThreadCost[] {
  const total = profiles.reduce((sum, p) => sum + p.ir, 0);
  return profiles.map((p) => ({
    thread: p.thread,
    role: threadRoleOf(p),
    ir: p.ir,
    irPerRequest: p.ir / requests,
    share: total > 0 ? p.ir / total : 0,
    top: topFunctions(p, TOP_FUNCTIONS).map(({ name, share }) => ({ name, share })),
  }));
}

function logDelta(before: LogCounters | undefined, after: LogCounters | undefined, expected: number): Measurement['predictionLog'] {
  if (!before || !after) return undefined;
  const written = after.written - before.written;
  const dropped = after.dropped - before.dropped;
  return {
    expected, written, dropped, bufferedBefore: before.buffered, bufferedAfter: after.buffered,
    complete: dropped === 0 && written + after.buffered - before.buffered === expected,
  };
}

/**
 * Waits until Tarmac's prediction log is idle: neither rows written nor rows buffered change over LOG_IDLE_MS. Less
 * than a batch may stay buffered (the log flushes by size here). Gives up after SETTLE_MAX_MS.
 */
async function logIdle(info: ServerInfo): Promise<void> {
  if (!info.metricsPath) return;
  const started = Date.now();
  let last = await logCounters(info);
  let since = Date.now();
  while (Date.now() - started < SETTLE_MAX_MS && Date.now() - since < LOG_IDLE_MS) {
    await delay(LOG_POLL_MS);
    const now = await logCounters(info);
    if (now?.written !== last?.written || now?.buffered !== last?.buffered) {
      last = now;
      since = Date.now();
    }
  }
}

/**
 * The warm-up before a case's windows: requests not measured, so V8 has compiled the hot code first, over connections
 * of WARMUP_CONNECTION_REQUESTS requests so that opening and closing one is warm too.
 */
async function warmUp(server: Running, benchCase: IrCase, settings: Settings): Promise<void> {
  if (!alive(server.child)) throw new Error(`${server.kind} exited (code ${server.child.exitCode}, signal ${server.child.signalCode})`);
  const started = Date.now();
  const client = new Client(server.info);
  try {
    await send(client, server.kind, benchCase, settings.warmup, WARMUP_CONNECTION_REQUESTS);
  } finally {
    client.close();
  }
  process.stderr.write(`  ${server.kind} ${benchCase.name}: ${fmtInt(settings.warmup)} warm-up requests took ${fmt((Date.now() - started) / 1000, 0)} s\n`);
}

/**
 * One window: the prediction log idle, a quiet pause, instrumentation on, the measured requests over one new
 * connection, the tail, instrumentation off, the connection closed, a dump. The /metrics reads around it (Tarmac's
 * prediction log) happen while instrumentation is off.
 */
async function measureWindow(server: Running, benchCase: IrCase, settings: Settings, window: number): Promise<Measurement> {
  if (!alive(server.child)) throw new Error(`${server.kind} exited (code ${server.child.exitCode}, signal ${server.child.signalCode})`);
  const tag = `${server.kind} ${benchCase.name} window ${window}/${settings.windows}`;
  await logIdle(server.info);
  const before = await logCounters(server.info);
  await delay(QUIET_MS);
  const started = Date.now();
  const client = new Client(server.info);
  try {
    await control(server, '-i', 'on');
    await send(client, server.kind, benchCase, settings.requests);
    await delay(settings.tailMs);
    await control(server, '-i', 'off');
  } finally {
    client.close();
  }
  const windowS = (Date.now() - started) / 1000;
  await control(server, '-d');
  server.dumps += 1;
  const after = await logCounters(server.info);
  const { profiles, files } = await readDump(server.dir, server.dumps);
  const threads = threadCosts(profiles, settings.requests);
  const main = threads.find((t) => t.thread === 1);
  const perRequest = (list: ThreadCost[]): number => list.reduce((sum, t) => sum + t.irPerRequest, 0);
  const predictionLog = logDelta(before, after, settings.requests * benchCase.records);
  const m: Measurement = {
    server: server.kind,
    case: benchCase.name,
    records: benchCase.records,
    window,
    requests: settings.requests,
    warmup: settings.warmup,
    windowS,
    mainPerRequest: main?.irPerRequest ?? Number.NaN,
    totalPerRequest: perRequest(threads),
    exceptPlatformPerRequest: perRequest(threads.filter((t) => !t.role.startsWith('V8 platform'))),
    threads,
    ...(predictionLog ? { predictionLog } : {}),
    files,
  };
  process.stderr.write(`  ${tag}: ${fmtInt(m.mainPerRequest)} instructions/request on the main thread, ${fmtInt(m.totalPerRequest)} in all `
    + `${threads.length} threads, ${fmtInt(m.exceptPlatformPerRequest)} without V8's platform threads (${fmt(windowS, 1)} s)\n`);
  const log = m.predictionLog;
  if (log && !log.complete) {
    process.stderr.write(`warning: ${tag}: of the window's ${log.expected} prediction log rows, ${log.written} were written while `
      + `instrumentation was on and ${log.bufferedAfter - log.bufferedBefore} more are buffered, ${log.dropped} dropped; the rest `
      + `were being written when the window closed, so the writer is undercounted: raise BENCH_IR_TAIL_MS\n`);
  }
  return m;
}

/** Stops a server (SIGTERM) and removes the dump valgrind writes at exit: instrumentation was off, so it holds nothing measured. */
async function finish(server: Running): Promise<string> {
  await stopChild(server.child, STOP_TIMEOUT_MS);
  for (const file of await readdir(server.dir)) {
    if (/^callgrind\.out(-\d+)?$/.test(file)) await rm(path.join(server.dir, file), { force: true });
  }
  return server.child.signalCode ? `signal ${server.child.signalCode}` : `code ${server.child.exitCode}`;
}

/** Runs every case on one server under callgrind; checks its answers on the sample against `reference` (the bare server's). */
async function measureServer(
  kind: NodeServerKind, model: GeneratedModel, cases: IrCase[], settings: Settings, workDir: string,
  sample: Record<string, number>[], reference: Prediction[] | undefined,
): Promise<{ measurements: Measurement[]; answers: Prediction[]; facts: Record<string, string>; exit: string }> {
  const server = await startUnderCallgrind(kind, model, workDir, settings);
  try {
    const got = await answers(server.info, kind, sample);
    if (reference) assertAgreement(got, kind, reference, 'bare', NODE_AGREEMENT);
    const measurements: Measurement[] = [];
    for (const benchCase of cases) {
      await warmUp(server, benchCase, settings);
      for (let w = 1; w <= settings.windows; w++) measurements.push(await measureWindow(server, benchCase, settings, w));
    }
    return { measurements, answers: got, facts: server.info.facts, exit: await finish(server) };
  } finally {
    await stopChild(server.child, STOP_TIMEOUT_MS);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// report

/** Each (server, case) in run order, summarised over its windows. */
function summariesOf(windows: Measurement[]): Summary[] {
  const groups = new Map<string, Measurement[]>();
  for (const m of windows) groups.set(`${m.server}\0${m.case}`, [...(groups.get(`${m.server}\0${m.case}`) ?? []), m]);
  return [...groups.values()].map((list) => {
    const first = list[0]!;
    const of = (f: (m: Measurement) => number): number => median(list.map(f)) ?? Number.NaN;
    return {
      server: first.server,
      case: first.case,
      records: first.records,
      windows: list.length,
      mainPerRequest: of((m) => m.mainPerRequest),
      totalPerRequest: of((m) => m.totalPerRequest),
      exceptPlatformPerRequest: of((m) => m.exceptPlatformPerRequest),
      mainByWindow: list.map((m) => m.mainPerRequest),
      totalByWindow: list.map((m) => m.totalPerRequest),
      medianWindow: [...list].sort((a, b) => a.totalPerRequest - b.totalPerRequest)[(list.length - 1) >> 1]!.window,
    };
  });
}

function ratiosOf(summaries: Summary[]): Ratio[] {
  const out: Ratio[] = [];
  for (const t of summaries.filter((m) => m.server === 'tarmac')) {
    const b = summaries.find((m) => m.server === 'bare' && m.case === t.case);
    if (b) {
      out.push({
        case: t.case,
        main: t.mainPerRequest / b.mainPerRequest,
        total: t.totalPerRequest / b.totalPerRequest,
        exceptPlatform: t.exceptPlatformPerRequest / b.exceptPlatformPerRequest,
      });
    }
  }
  return out;
}

const pct = (x: number): string => `${fmt(x * 100, 1)} %`;

function threadRows(m: Measurement): string[] {
  const shown = m.threads.filter((t) => t.thread === 1 || t.share >= THREAD_ROW_MIN_SHARE);
  const rest = m.threads.filter((t) => !shown.includes(t));
  const rows = shown.map((t) => `| ${t.thread} | ${t.role} | ${fmtInt(t.irPerRequest)} | ${pct(t.share)} | `
    + `${t.top.map((f) => `${f.name.replace(/\|/g, '\\|')} ${fmt(f.share * 100, 1)}`).join(', ')} |`);
  if (rest.length) {
    const ir = rest.reduce((sum, t) => sum + t.irPerRequest, 0);
    rows.push(`| ${rest.map((t) => t.thread).join(', ')} | ${[...new Set(rest.map((t) => t.role))].join(', ')} | ${fmtInt(ir)} | `
      + `${pct(rest.reduce((sum, t) => sum + t.share, 0))} | (each < ${pct(THREAD_ROW_MIN_SHARE)}) |`);
  }
  return rows;
}

const thousands = (values: number[]): string => values.map((v) => `${fmt(v / 1000, 0)}k`).join(' / ');

function markdown(meta: Record<string, string>, summaries: Summary[], ratios: Ratio[], windows: Measurement[]): string {
  const lines = ['# Instructions per request: Tarmac vs bare node:http + ONNX Runtime (callgrind)', ''];
  for (const [k, v] of Object.entries(meta)) lines.push(`- ${k}: ${v}`);
  lines.push('', 'Ir/request, the median of the windows (each column on its own):', '',
    '| case | server | main thread | all threads | all but V8 platform threads | all threads per record | per window: main thread | per window: all threads |',
    '| --- | --- | ---: | ---: | ---: | ---: | --- | --- |');
  for (const m of summaries) {
    lines.push(`| ${m.case} | ${m.server} | ${fmtInt(m.mainPerRequest)} | ${fmtInt(m.totalPerRequest)} | ${fmtInt(m.exceptPlatformPerRequest)} | `
      + `${fmtInt(m.totalPerRequest / m.records)} | ${thousands(m.mainByWindow)} | ${thousands(m.totalByWindow)} |`);
  }
  for (const r of ratios) lines.push(`| ${r.case} | **Tarmac / bare** | **${fmt(r.main)}×** | **${fmt(r.total)}×** | **${fmt(r.exceptPlatform)}×** | | | |`);
  const logs = windows.filter((m) => m.predictionLog);
  if (logs.length) {
    const incomplete = logs.filter((m) => !m.predictionLog!.complete);
    lines.push('', `Tarmac's prediction log: ${incomplete.length === 0 ? 'every window' : `${logs.length - incomplete.length} of ${logs.length} windows`} `
      + 'wrote (or left buffered, less than a batch) all its rows while instrumentation was on'
      + `${incomplete.length ? `; not ${incomplete.map((m) => `${m.case} window ${m.window}`).join(', ')} (raise BENCH_IR_TAIL_MS)` : ''}.`);
  }
  for (const s of summaries) {
    const m = windows.find((w) => w.server === s.server && w.case === s.case && w.window === s.medianWindow)!;
    lines.push('', `## Threads: ${m.server}, ${m.case} (window ${m.window} of ${s.windows}, the median by all threads)`, '',
      '| thread | role (guessed from its code) | Ir/request | share | top functions by self cost, % of the thread |', '| ---: | --- | ---: | ---: | --- |',
      ...threadRows(m));
  }
  lines.push('', 'Ir: instructions executed in user space (callgrind counts no kernel time). V8 platform threads: background GC and '
    + `compilation. Files: \`${path.relative(ROOT, CALLGRIND_DIR)}/<server>/callgrind.out.<dump>-<thread>\` (\`callgrind_annotate\`, KCachegrind).`, '');
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// main

async function main(): Promise<number> {
  const missing = missingTool();
  if (missing) {
    process.stderr.write(`instructions bench skipped: ${missing}\n`);
    return 0;
  }
  const settings = readSettings();
  const cases = casesOf(settings);
  process.stderr.write(`instructions bench: ${settings.servers.join(' and ')} under callgrind, lr30, ${cases.map((c) => c.name).join(' + ')}, `
    + `${fmtInt(settings.warmup)} warm-up + ${settings.windows} × ${fmtInt(settings.requests)} measured requests each, c=1; `
    + `about ${fmt(expectedSeconds(settings) / 60, 0)} min\n`);
  const startedAt = Date.now();
  const loadBefore = os.loadavg();
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'tarmac-instructions-'));
  tempDirs.add(workDir);
  const windows: Measurement[] = [];
  const servers: Record<string, { facts: Record<string, string>; exit: string }> = {};
  let model: GeneratedModel;
  try {
    await rm(COMPILED_SERVERS_DIR, { recursive: true, force: true });
    if (settings.build === 'dist') {
      process.stderr.write('building Tarmac (tsc -p tsconfig.build.json) and compiling the bench servers\n');
      tempDirs.add(COMPILED_SERVERS_DIR);
      compileServers(COMPILED_SERVERS_DIR);
    }
    model = (await generateBenchModels(path.join(workDir, 'models'))).lr30;
    const sample = benchRecords(3);
    let reference: Prediction[] | undefined;
    for (const kind of settings.servers) {
      const run = await measureServer(kind, model, cases, settings, workDir, sample, reference);
      reference ??= run.answers;
      windows.push(...run.measurements);
      servers[kind] = { facts: run.facts, exit: run.exit };
    }
  } finally {
    await cleanUpRun([workDir, COMPILED_SERVERS_DIR], STOP_TIMEOUT_MS);
  }

  const summaries = summariesOf(windows);
  const ratios = ratiosOf(summaries);
  const meta: Record<string, string> = {
    date: new Date().toISOString(),
    node: process.version,
    valgrind: valgrindVersion(),
    onnxruntime: servers.bare?.facts.onnxruntime ?? 'unknown',
    machine: machineOf(),
    model: `lr30 (${model.shape}), sha256 ${model.onnxSha256.slice(0, 16)}…, intra-op threads ${settings.intraOpThreads}`,
    'Tarmac settings': Object.entries(TARMAC_ENV).map(([k, v]) => `${k}=${v}`).join(', '),
    run: `per server and case ${fmtInt(settings.warmup)} warm-up requests (a new connection every ${WARMUP_CONNECTION_REQUESTS}), then `
      + `${settings.windows} window(s), each a ${QUIET_MS / 1000} s pause and ${fmtInt(settings.requests)} requests one at a time (c=1) over one new `
      + `connection plus a ${fmt(settings.tailMs / 1000, 1)} s tail with instrumentation on; took ${fmt((Date.now() - startedAt) / 1000, 0)} s`,
    'load average (1/5/15 min)': `${loadBefore.map((l) => l.toFixed(2)).join(' ')} before, ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} after (it changes how long the run takes, not the counts)`,
    'node servers': settings.build === 'dist'
      ? `compiled (Tarmac from dist/, as \`npm run serve\`), node ${NODE_FLAGS.join(' ') || '(no flags)'}`
      : `from source through tsx (as \`npm start\`), node ${NODE_FLAGS.join(' ') || '(no flags)'}`,
    'server exits': Object.entries(servers).map(([k, v]) => `${k} ${v.exit}`).join(', '),
  };
  await writeResults('instructions', { meta, settings, summaries, ratios, windows, servers }, markdown(meta, summaries, ratios, windows));
  return 0;
}

// A hard bound on the whole run, so a wedged server cannot hang CI.
const watchdogMs = (() => {
  try {
    return (expectedSeconds(readSettings()) * 3 + 600) * 1000;
  } catch {
    return 60_000;
  }
})();
runBench(main, watchdogMs);
