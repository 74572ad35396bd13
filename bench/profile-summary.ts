/**
 * Summarises V8 CPU profiles (`node --cpu-prof`, e.g. from `BENCH_CPU_PROF=1 npm run bench:perf`) by self time:
 *   npx tsx bench/profile-summary.ts bench/results/profiles/tarmac-lr30 [--top 25]
 * For each .cpuprofile (one per thread: the main thread and every worker) it prints the busy time, then the self
 * time per area (a Tarmac module under src/, an npm package, a node: built-in, GC) and per function. When the
 * directory holds the bench's windows.json, only samples inside the measured runs count (start-up and warm-ups are
 * left out); `--run TEXT` keeps the runs whose name holds TEXT (e.g. `single c=16`, every round of it), `--all`
 * counts everything.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}

interface Window {
  run: string;
  /** perf.bench.ts's interleaved round; every round of a run has its own window under the same name. */
  round?: number;
  startUs: number;
  endUs: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

/** Where a function lives: `src/serving/predict.service.ts` (or `dist/…js`), `npm:fastify`, `node:internal/...`, `(garbage collector)`. */
function areaOf(frame: CallFrame): string {
  if (SPECIAL.has(frame.functionName) && !frame.url) return frame.functionName;
  const url = frame.url;
  if (!url) return '(native)';
  if (url.startsWith('node:')) return url.replace(/^node:internal\/(.*?)\/.*/, 'node:internal/$1');
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/');
    return `npm:${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const src = url.search(/\/(src|dist|bench|scripts)\//);
  return src >= 0 ? url.slice(src + 1) : url.replace(/^file:\/\//, '');
}

function label(frame: CallFrame): string {
  const where = frame.url ? `${areaOf(frame)}:${frame.lineNumber + 1}` : '';
  return `${frame.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
}

function top(map: Map<string, number>, n: number): [string, number][] {
  return [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
}

/** Prints one profile's summary, counting only samples inside `windows` when given. */
function summarise(file: string, n: number, windows: Window[] | undefined): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<number, number>();
  // A sample's timestamp is the profile's start plus the deltas so far; its weight is the gap to the next sample.
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    const weight = profile.timeDeltas[i + 1] ?? 0;
    if (windows && !windows.some((w) => at >= w.startUs && at <= w.endUs)) return;
    self.set(id, (self.get(id) ?? 0) + weight / 1000);
  });
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, ms] of self) {
    const frame = byId.get(id)!.callFrame;
    total += ms;
    if (frame.functionName === '(idle)') {
      idle += ms;
      continue;
    }
    const area = areaOf(frame);
    areas.set(area, (areas.get(area) ?? 0) + ms);
    functions.set(label(frame), (functions.get(label(frame)) ?? 0) + ms);
  }
  const busy = total - idle;
  const pct = (ms: number): string => `${((100 * ms) / Math.max(busy, 1e-9)).toFixed(1).padStart(5)}%`;
  console.log(`\n## ${path.basename(file)}: ${(total / 1000).toFixed(1)} s sampled${windows ? ' in the measured runs' : ''}, ${(busy / 1000).toFixed(2)} s busy `
    + `(${((100 * busy) / Math.max(total, 1e-9)).toFixed(0)}%)`);
  console.log('\nself time by area (share of busy time):');
  for (const [area, ms] of top(areas, n)) console.log(`  ${pct(ms)} ${ms.toFixed(0).padStart(7)} ms  ${area}`);
  console.log('\nself time by function:');
  for (const [fn, ms] of top(functions, n)) console.log(`  ${pct(ms)} ${ms.toFixed(0).padStart(7)} ms  ${fn}`);
}

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const n = topAt >= 0 ? Number(args[topAt + 1]) : 25;
const all = args.includes('--all');
const runAt = args.indexOf('--run');
const runFilter = runAt >= 0 ? args[runAt + 1] : undefined;
// The values of --top and --run are not targets (an absent option's index is -1, which must not skip argument 0).
const optionValues = new Set([topAt, runAt].filter((at) => at >= 0).map((at) => at + 1));
const targets = args.filter((a, i) => !a.startsWith('--') && !optionValues.has(i));
if (targets.length === 0) {
  console.error('usage: npx tsx bench/profile-summary.ts DIR|FILE.cpuprofile… [--top N] [--run TEXT] [--all]');
  process.exit(2);
}
for (const target of targets) {
  const dir = statSync(target).isDirectory() ? target : path.dirname(target);
  const files = dir === target
    ? readdirSync(target).filter((f) => f.endsWith('.cpuprofile')).sort().map((f) => path.join(target, f))
    : [target];
  const windowsFile = path.join(dir, 'windows.json');
  const windows = !all && existsSync(windowsFile)
    ? (JSON.parse(readFileSync(windowsFile, 'utf8')) as Window[]).filter((w) => runFilter === undefined || w.run.includes(runFilter))
    : undefined;
  if (windows) console.log(`${dir}: counting ${windows.length} measured run(s): ${windows.map((w) => (w.round === undefined ? w.run : `${w.run} r${w.round}`)).join('; ')}`);
  for (const file of files) summarise(file, n, windows);
}
