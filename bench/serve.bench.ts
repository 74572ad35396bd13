import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { ServerInfo } from './child.ts';
import {
  BENCH_DIR, failuresOf, fmt, fmtInt, intSetting, latencyStats, load, logCounters, machineOf, predictionLogOf, ROOT,
  runBench, startNodeChild, stopChildren, tempDirs, threadEnvOf, warnIfLoaded, writeResults,
  type BenchCase, type LoadMeasurement, type Prediction,
} from './harness.ts';

// The serving benchmark: Tarmac's records API against a bare node:http + ONNX Runtime server on the same model, each
// in its own process, loaded by autocannon from this one. See bench/README.md.

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 5_000;
/** autocannon's per-request timeout, seconds. */
const LOAD_TIMEOUT_S = 10;
/** Tarmac and the baseline must agree on every probability of the sample records to this tolerance. */
const AGREEMENT_TOLERANCE = 1e-6;

type ServerName = 'bare' | 'tarmac';

/** The knobs, read from BENCH_* variables. */
interface Settings {
  durationS: number;
  warmupS: number;
  connections: number;
  batchSize: number;
  intraOpThreads: number | undefined;
}

/** One measured (server, case). Latencies are in milliseconds, measured per response by the client. */
interface Measurement extends LoadMeasurement {
  server: ServerName;
}

/** Tarmac/bare for one case: below 1 for req/s and above 1 for p99 is Tarmac's overhead. */
interface Ratio {
  case: string;
  reqPerSec: number;
  p50: number;
  p99: number;
}

function readSettings(): Settings {
  const threads = intSetting('BENCH_INTRA_OP_THREADS', 0, 0, 256);
  return {
    durationS: intSetting('BENCH_DURATION_S', 10, 1, 600),
    warmupS: intSetting('BENCH_WARMUP_S', 2, 0, 60),
    connections: intSetting('BENCH_CONNECTIONS', 16, 1, 1024),
    batchSize: intSetting('BENCH_BATCH_SIZE', 32, 2, 10_000),
    intraOpThreads: threads === 0 ? undefined : threads,
  };
}

async function sampleRecords(): Promise<Record<string, unknown>[]> {
  const text = await readFile(path.join(ROOT, 'demo', 'sample-records.json'), 'utf8');
  const records = (JSON.parse(text) as { records: Record<string, unknown>[] }).records;
  if (!Array.isArray(records) || records.length === 0) throw new Error('demo/sample-records.json has no records');
  return records;
}

function casesOf(samples: Record<string, unknown>[], batchSize: number): BenchCase[] {
  const batch = Array.from({ length: batchSize }, (_, i) => samples[i % samples.length]!);
  return [
    { name: 'single', records: 1, body: JSON.stringify({ records: [samples[0]] }) },
    { name: `batch-${batchSize}`, records: batchSize, body: JSON.stringify({ records: batch }) },
  ];
}

async function startChild(name: ServerName, file: string, env: Record<string, string>): Promise<{ child: ChildProcess; info: ServerInfo }> {
  return startNodeChild(name, ['--import', 'tsx', path.join(BENCH_DIR, file)], env, { readyMs: READY_TIMEOUT_MS, stopMs: STOP_TIMEOUT_MS });
}

/** Posts the sample records once and returns the predictions in one shape, so both servers can be compared. */
async function sanityCheck(server: ServerName, info: ServerInfo, samples: Record<string, unknown>[]): Promise<Prediction[]> {
  const res = await fetch(`${info.url}${info.path}`, {
    method: 'POST',
    headers: { ...info.headers, 'content-type': 'application/json' },
    body: JSON.stringify({ records: samples }),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${server}: sanity request answered ${res.status}: ${text}`);
  const body = JSON.parse(text) as { predictions?: Record<string, unknown>[] };
  if (!Array.isArray(body.predictions) || body.predictions.length !== samples.length) {
    throw new Error(`${server}: sanity request answered without ${samples.length} predictions: ${text}`);
  }
  return body.predictions.map((p) => ({
    label: Number(server === 'tarmac' ? p.prediction : p.label),
    probabilities: Object.values(p.probabilities as Record<string, number>),
  }));
}

function assertAgreement(tarmac: Prediction[], bare: Prediction[]): void {
  tarmac.forEach((t, i) => {
    const b = bare[i]!;
    const close = t.probabilities.length === b.probabilities.length
      && t.probabilities.every((p, j) => Math.abs(p - b.probabilities[j]!) <= AGREEMENT_TOLERANCE);
    if (t.label !== b.label || !close) {
      throw new Error(`Tarmac and the baseline disagree on sample record ${i}: ${JSON.stringify(t)} vs ${JSON.stringify(b)}`);
    }
  });
}

async function measure(server: ServerName, info: ServerInfo, benchCase: BenchCase, settings: Settings): Promise<Measurement> {
  let warmupFailures = 0;
  if (settings.warmupS > 0) {
    process.stderr.write(`  ${server} ${benchCase.name}: warm-up ${settings.warmupS} s\n`);
    const { result } = await load(info, benchCase, settings.connections, settings.warmupS, LOAD_TIMEOUT_S);
    warmupFailures = result.non2xx + result.errors;
  }
  process.stderr.write(`  ${server} ${benchCase.name}: measuring ${settings.durationS} s\n`);
  const before = await logCounters(info);
  const { result, latencies } = await load(info, benchCase, settings.connections, settings.durationS, LOAD_TIMEOUT_S);
  const after = await logCounters(info);
  return {
    server,
    case: benchCase.name,
    records: benchCase.records,
    connections: settings.connections,
    durationS: result.duration,
    requests: result['2xx'],
    reqPerSec: result.requests.mean,
    recordsPerSec: result.requests.mean * benchCase.records,
    latencyMs: latencyStats(latencies),
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    warmupFailures,
    ...predictionLogOf(before, after, result, benchCase),
  };
}

function ratiosOf(results: Measurement[]): Ratio[] {
  const ratios: Ratio[] = [];
  for (const t of results.filter((r) => r.server === 'tarmac')) {
    const b = results.find((r) => r.server === 'bare' && r.case === t.case);
    if (!b) continue;
    ratios.push({
      case: t.case,
      reqPerSec: t.reqPerSec / b.reqPerSec,
      p50: t.latencyMs.p50 / b.latencyMs.p50,
      p99: t.latencyMs.p99 / b.latencyMs.p99,
    });
  }
  return ratios;
}

function markdown(results: Measurement[], ratios: Ratio[], meta: Record<string, string>): string {
  const lines = [
    '# Serving benchmark: Tarmac vs bare ONNX Runtime',
    '',
    Object.entries(meta).map(([k, v]) => `${k}: ${v}`).join(' · '),
    '',
    '| server | case | connections | req/s | records/s | p50 ms | p99 ms | p99.9 ms | errors |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.map((m) => `| ${m.server} | ${m.case} | ${m.connections} | ${fmtInt(m.reqPerSec)} | ${fmtInt(m.recordsPerSec)} | `
      + `${fmt(m.latencyMs.p50)} | ${fmt(m.latencyMs.p99)} | ${fmt(m.latencyMs.p99_9)} | ${failuresOf(m)} |`),
    '',
    '| case | Tarmac/bare req/s | Tarmac/bare p50 | Tarmac/bare p99 |',
    '| --- | ---: | ---: | ---: |',
    ...ratios.map((r) => `| ${r.case} | ${fmt(r.reqPerSec)}× | ${fmt(r.p50)}× | ${fmt(r.p99)}× |`),
    '',
    'Tarmac prediction log during each measured run (it must keep up, or the throughput above is bought by dropping events):',
    '',
    ...results.filter((m) => m.predictionLog).map((m) => {
      const log = m.predictionLog!;
      return `- ${m.case}: ${fmtInt(log.answered)} records answered, ${fmtInt(log.written)} rows written, `
        + `${fmtInt(log.dropped)} dropped, ${fmtInt(log.bufferedAtEnd)} still buffered at the end`;
    }),
    '',
    'req/s ratio below 1 and latency ratios above 1 are what Tarmac costs on top of the runtime (auth, validation, '
      + 'prediction ids, metrics, the prediction log, Fastify). errors = non-2xx + connection errors + timeouts, warm-up included.',
    '',
  ];
  return lines.join('\n');
}

async function main(): Promise<number> {
  const settings = readSettings();
  const samples = await sampleRecords();
  const cases = casesOf(samples, settings.batchSize);
  const perRunS = settings.warmupS + settings.durationS;
  process.stderr.write(`serve bench: 2 servers × ${cases.length} cases × (${settings.warmupS} s warm-up + ${settings.durationS} s), `
    + `${settings.connections} connections, about ${2 * cases.length * perRunS + 10} s\n`);

  const loadBefore = os.loadavg()[0]!;
  warnIfLoaded(loadBefore);
  const threadEnv = threadEnvOf(settings.intraOpThreads);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'tarmac-bench-'));
  tempDirs.add(dataDir);
  const results: Measurement[] = [];
  const answers = new Map<ServerName, Prediction[]>();
  const facts: Record<string, string> = {};
  try {
    const specs: { name: ServerName; file: string; env: Record<string, string> }[] = [
      { name: 'bare', file: 'bare-server.ts', env: threadEnv },
      { name: 'tarmac', file: 'tarmac-server.ts', env: { ...threadEnv, BENCH_TARMAC_DATA_DIR: dataDir } },
    ];
    const running: { name: ServerName; child: ChildProcess; info: ServerInfo }[] = [];
    for (const spec of specs) {
      process.stderr.write(`starting ${spec.name}\n`);
      const { child, info } = await startChild(spec.name, spec.file, spec.env);
      running.push({ name: spec.name, child, info });
      if (info.facts.onnxruntime) facts.onnxruntime = info.facts.onnxruntime;
      answers.set(spec.name, await sanityCheck(spec.name, info, samples));
    }
    assertAgreement(answers.get('tarmac')!, answers.get('bare')!);
    // Both stay up (an idle server costs nothing) so the two runs of a case are adjacent in time: on a shared or
    // drifting machine that keeps the ratios honest. Each run has its own warm-up, which also absorbs the previous
    // server's leftover background work (Tarmac's prediction log flush).
    const checkAlive = (): void => {
      for (const server of running) {
        if (server.child.exitCode !== null || server.child.signalCode !== null) {
          throw new Error(`${server.name} exited during the benchmark (code ${server.child.exitCode}, signal ${server.child.signalCode})`);
        }
      }
    };
    for (const benchCase of cases) {
      for (const server of running) {
        checkAlive();
        try {
          results.push(await measure(server.name, server.info, benchCase, settings));
        } catch (err) {
          // A server that died mid-run is the real story; give its exit a moment to arrive.
          await delay(500);
          checkAlive();
          throw new Error(`${server.name} ${benchCase.name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        }
      }
    }
    checkAlive();
  } finally {
    await stopChildren(STOP_TIMEOUT_MS);
    await rm(dataDir, { recursive: true, force: true });
    tempDirs.delete(dataDir);
  }

  const ratios = ratiosOf(results);
  const meta: Record<string, string> = {
    date: new Date().toISOString(),
    node: process.version,
    onnxruntime: facts.onnxruntime ?? 'unknown',
    machine: machineOf(),
    run: `${settings.durationS} s per case after ${settings.warmupS} s warm-up, ${settings.connections} connections, pipelining 1`,
    'intra-op threads': settings.intraOpThreads ? String(settings.intraOpThreads) : 'runtime default',
    'load average before the run': loadBefore.toFixed(2),
  };
  const md = markdown(results, ratios, meta);
  await writeResults('serve', { meta, settings, results, ratios }, md);

  const failed = results.filter((m) => failuresOf(m) > 0);
  for (const m of failed) {
    console.error(`FAILED: ${m.server} ${m.case}: ${m.non2xx} non-2xx, ${m.errors} connection errors (${m.timeouts} timeouts), `
      + `${m.warmupFailures} failures during warm-up`);
  }
  return failed.length > 0 ? 1 : 0;
}

// A hard bound on the whole run (2 servers × 2 cases, plus start-up slack), so a wedged server cannot hang CI.
const settingsForWatchdog = (() => {
  try {
    return readSettings();
  } catch {
    return undefined;
  }
})();
const watchdogMs = settingsForWatchdog
  ? (4 * (settingsForWatchdog.durationS + settingsForWatchdog.warmupS) + 180) * 1000
  : 60_000;
runBench(main, watchdogMs);
