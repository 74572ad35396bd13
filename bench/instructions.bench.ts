import { execFile, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { parseCallgrind, threadRoleOf, topFunctions, type ThreadProfile, type ThreadRole } from './callgrind.ts';
import type { ServerInfo } from './child.ts';
import {
  alive, answers, assertAgreement, fmt, fmtInt, intSetting, logCounters, machineOf, RESULTS_DIR, ROOT, runBench, settleLog,
  startChild, stopChild, stopChildren, tempDirs, writeResults,
  type LogCounters, type Prediction,
} from './harness.ts';
import { benchRecords, generateBenchModels, type GeneratedModel } from './models/generate.ts';
import { buildSetting, compileServers, NODE_FLAGS, serverEntry, type NodeServerKind } from './servers.ts';

// The CPU-cost benchmark: instructions executed per request by Tarmac and by the bare node:http + ONNX Runtime server,
// counted by valgrind's callgrind, so the number does not depend on how fast or how busy the machine is. Each server
// runs alone under callgrind with instrumentation off; after a warm-up the bench switches it on
// (`callgrind_control -i on`), sends the measured requests one at a time, waits for the prediction log to be written,
// switches it off and dumps one file per thread. See bench/README.md.

const CALLGRIND_DIR = path.join(RESULTS_DIR, 'callgrind');
/** The servers compiled to JavaScript for BENCH_TARMAC_BUILD=dist (not perf.bench's directory: the two may overlap). */
const COMPILED_SERVERS_DIR = path.join(RESULTS_DIR, '.servers-instructions');
/** Starting node under valgrind (Tarmac: tsc-compiled modules, SQLite migrations, the model's probe) is slow. */
const READY_TIMEOUT_MS = 600_000;
const STOP_TIMEOUT_MS = 60_000;
/** How long the bench waits at most for Tarmac's prediction log to be idle before a window opens. */
const SETTLE_MAX_MS = 120_000;
/** A pause between the warm-up and the window, so background work the warm-up started (compilation, GC) mostly ends first. */
const QUIET_MS = 2_000;
/** Tarmac and the bare server run the same ONNX Runtime session: float32 rounding only. */
const NODE_AGREEMENT = 1e-5;
/** Threads below this share of a window's instructions are summed into one `rest` row in the Markdown. */
const THREAD_ROW_MIN_SHARE = 0.001;
const TOP_FUNCTIONS = 5;
/**
 * Under valgrind the model's timed probe is ~50× slower than natively, so Tarmac would place the small model in its
 * worker-thread pool, which it never does natively; this keeps it inline (on the event loop), as in production.
 */
const TARMAC_ENV = { TARMAC_INLINE_MAX_US: process.env.TARMAC_INLINE_MAX_US || '1000000' };

const execFileAsync = promisify(execFile);

/** The knobs, read from BENCH_IR_* variables. */
interface Settings {
  /** Requests measured per (server, case). */
  requests: number;
  /** Requests sent before each window, not measured. */
  warmup: number;
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
  requests: number;
  warmup: number;
  /** Wall seconds the window was open (requests + tail), under valgrind. */
  windowS: number;
  mainPerRequest: number;
  totalPerRequest: number;
  /**
   * All threads but V8's compiler threads: TurboFan/Maglev work left over from the warm-up comes in a few large,
   * lumpy compilations, so this is steadier than the total.
   */
  exceptCompilerPerRequest: number;
  threads: ThreadCost[];
  /** Tarmac only: prediction log rows written in the window (expected: requests × records) and still buffered after. */
  predictionLog?: { expected: number; written: number; dropped: number; bufferedAfter: number };
  /** The dump's files, relative to the repository, for callgrind_annotate or KCachegrind. */
  files: string[];
}

/** Tarmac / bare for one case. */
interface Ratio {
  case: string;
  main: number;
  total: number;
  exceptCompiler: number;
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

function readSettings(): Settings {
  return {
    requests: intSetting('BENCH_IR_REQUESTS', 1000, 1, 1_000_000),
    warmup: intSetting('BENCH_IR_WARMUP', 10_000, 0, 1_000_000),
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
  const perCase = s.records.map((n) => (s.warmup * 0.003 + s.requests * 0.015) * Math.max(1, n / 4) + (QUIET_MS + s.tailMs) / 1000 + 2);
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

/** Sends `count` requests one at a time (c=1); throws on the first that is not a 200 with one prediction per record. */
async function send(server: Running, benchCase: IrCase, count: number): Promise<void> {
  const url = `${server.info.url}${server.info.path}`;
  const headers = { ...server.info.headers, 'content-type': 'application/json' };
  for (let i = 0; i < count; i++) {
    const res = await fetch(url, { method: 'POST', headers, body: benchCase.bodies[i % benchCase.bodies.length] });
    const text = await res.text();
    const predictions = res.status === 200 ? (JSON.parse(text) as { predictions?: unknown[] }).predictions : undefined;
    if (predictions?.length !== benchCase.records) {
      throw new Error(`${server.kind} ${benchCase.name}: request ${i + 1} of ${count} answered ${res.status}: ${text.slice(0, 300)}`);
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
  return { expected, written: after.written - before.written, dropped: after.dropped - before.dropped, bufferedAfter: after.buffered };
}

/**
 * One window: warm-up, quiet, instrumentation on, the measured requests, the tail, instrumentation off, a dump. The
 * /metrics reads around it (Tarmac's prediction log) happen while instrumentation is off.
 */
async function measure(server: Running, benchCase: IrCase, settings: Settings): Promise<Measurement> {
  if (!alive(server.child)) throw new Error(`${server.kind} exited (code ${server.child.exitCode}, signal ${server.child.signalCode})`);
  const tag = `${server.kind} ${benchCase.name}`;
  process.stderr.write(`  ${tag}: ${fmtInt(settings.warmup)} warm-up requests\n`);
  const warmStart = Date.now();
  await send(server, benchCase, settings.warmup);
  await settleLog(server.info, SETTLE_MAX_MS);
  const before = await logCounters(server.info);
  await delay(QUIET_MS);
  process.stderr.write(`  ${tag}: warm-up took ${fmt((Date.now() - warmStart) / 1000, 0)} s; ${fmtInt(settings.requests)} measured requests\n`);
  const started = Date.now();
  await control(server, '-i', 'on');
  await send(server, benchCase, settings.requests);
  await delay(settings.tailMs);
  await control(server, '-i', 'off');
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
    requests: settings.requests,
    warmup: settings.warmup,
    windowS,
    mainPerRequest: main?.irPerRequest ?? Number.NaN,
    totalPerRequest: perRequest(threads),
    exceptCompilerPerRequest: perRequest(threads.filter((t) => t.role !== 'V8 platform: compiler')),
    threads,
    ...(predictionLog ? { predictionLog } : {}),
    files,
  };
  process.stderr.write(`  ${tag}: ${fmtInt(m.mainPerRequest)} instructions/request on the main thread, ${fmtInt(m.totalPerRequest)} in all `
    + `${threads.length} threads, ${fmtInt(m.exceptCompilerPerRequest)} without V8's compiler threads (window ${fmt(windowS, 1)} s)\n`);
  const log = m.predictionLog;
  if (log && (log.written < log.expected || log.bufferedAfter > 0)) {
    process.stderr.write(`warning: ${tag}: the prediction log wrote ${log.written} of ${log.expected} rows while instrumentation was on `
      + `(${log.bufferedAfter} still buffered); the writer's cost is undercounted: raise BENCH_IR_TAIL_MS\n`);
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
    for (const benchCase of cases) measurements.push(await measure(server, benchCase, settings));
    return { measurements, answers: got, facts: server.info.facts, exit: await finish(server) };
  } finally {
    await stopChild(server.child, STOP_TIMEOUT_MS);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// report

function ratiosOf(results: Measurement[]): Ratio[] {
  const out: Ratio[] = [];
  for (const t of results.filter((m) => m.server === 'tarmac')) {
    const b = results.find((m) => m.server === 'bare' && m.case === t.case);
    if (b) {
      out.push({
        case: t.case,
        main: t.mainPerRequest / b.mainPerRequest,
        total: t.totalPerRequest / b.totalPerRequest,
        exceptCompiler: t.exceptCompilerPerRequest / b.exceptCompilerPerRequest,
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

function markdown(meta: Record<string, string>, results: Measurement[], ratios: Ratio[]): string {
  const lines = ['# Instructions per request: Tarmac vs bare node:http + ONNX Runtime (callgrind)', ''];
  for (const [k, v] of Object.entries(meta)) lines.push(`- ${k}: ${v}`);
  lines.push('', '| case | server | main thread Ir/request | all threads Ir/request | all but V8 compiler threads Ir/request | all threads Ir/record | prediction log rows written in window |',
    '| --- | --- | ---: | ---: | ---: | ---: | --- |');
  for (const m of results) {
    const log = m.predictionLog ? `${fmtInt(m.predictionLog.written)} of ${fmtInt(m.predictionLog.expected)}` : 'n/a';
    lines.push(`| ${m.case} | ${m.server} | ${fmtInt(m.mainPerRequest)} | ${fmtInt(m.totalPerRequest)} | ${fmtInt(m.exceptCompilerPerRequest)} | `
      + `${fmtInt(m.totalPerRequest / m.records)} | ${log} |`);
  }
  for (const r of ratios) lines.push(`| ${r.case} | **Tarmac / bare** | **${fmt(r.main)}×** | **${fmt(r.total)}×** | **${fmt(r.exceptCompiler)}×** | | |`);
  for (const m of results) {
    lines.push('', `## Threads: ${m.server}, ${m.case}`, '',
      '| thread | role (guessed from its code) | Ir/request | share | top functions by self cost, % of the thread |', '| ---: | --- | ---: | ---: | --- |',
      ...threadRows(m));
  }
  lines.push('', 'Ir: instructions executed in user space (callgrind counts no kernel time). Files: '
    + `\`${path.relative(ROOT, CALLGRIND_DIR)}/<server>/callgrind.out.<case>-<thread>\` (\`callgrind_annotate\`, KCachegrind).`, '');
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
  process.stderr.write(`instructions bench: bare and Tarmac under callgrind, lr30, ${cases.map((c) => c.name).join(' + ')}, `
    + `${fmtInt(settings.warmup)} warm-up + ${fmtInt(settings.requests)} measured requests each, c=1; `
    + `about ${fmt(expectedSeconds(settings) / 60, 0)} min\n`);
  const startedAt = Date.now();
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'tarmac-instructions-'));
  tempDirs.add(workDir);
  const results: Measurement[] = [];
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
    for (const kind of ['bare', 'tarmac'] as const) {
      const run = await measureServer(kind, model, cases, settings, workDir, sample, reference);
      reference ??= run.answers;
      results.push(...run.measurements);
      servers[kind] = { facts: run.facts, exit: run.exit };
    }
  } finally {
    await stopChildren(STOP_TIMEOUT_MS);
    await rm(workDir, { recursive: true, force: true });
    await rm(COMPILED_SERVERS_DIR, { recursive: true, force: true });
    tempDirs.delete(workDir);
    tempDirs.delete(COMPILED_SERVERS_DIR);
  }

  const ratios = ratiosOf(results);
  const meta: Record<string, string> = {
    date: new Date().toISOString(),
    node: process.version,
    valgrind: valgrindVersion(),
    onnxruntime: servers.bare?.facts.onnxruntime ?? 'unknown',
    machine: machineOf(),
    model: `lr30 (${model.shape}), sha256 ${model.onnxSha256.slice(0, 16)}…, intra-op threads ${settings.intraOpThreads}, Tarmac with TARMAC_INLINE_MAX_US=${TARMAC_ENV.TARMAC_INLINE_MAX_US}`,
    run: `per server and case ${fmtInt(settings.warmup)} warm-up requests, a ${QUIET_MS / 1000} s pause, then ${fmtInt(settings.requests)} measured `
      + `requests one at a time (c=1) and a ${fmt(settings.tailMs / 1000, 1)} s tail with instrumentation on; took ${fmt((Date.now() - startedAt) / 1000, 0)} s`,
    'node servers': settings.build === 'dist'
      ? `compiled (Tarmac from dist/, as \`npm run serve\`), node ${NODE_FLAGS.join(' ') || '(no flags)'}`
      : `from source through tsx (as \`npm start\`), node ${NODE_FLAGS.join(' ') || '(no flags)'}`,
    'server exits': Object.entries(servers).map(([k, v]) => `${k} ${v.exit}`).join(', '),
  };
  await writeResults('instructions', { meta, settings, results, ratios, servers }, markdown(meta, results, ratios));
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
