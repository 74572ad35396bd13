// Reading callgrind's output files (valgrind --tool=callgrind --separate-threads=yes: one file per thread) for
// bench/instructions.bench.ts: a thread's instruction count, the self cost of its functions, and a guess at what the
// thread is from them. Pure functions only, so test/bench-callgrind.test.ts can import them without running valgrind.
// The format: https://valgrind.org/docs/manual/cl-format.html

/** One function's self cost (instructions executed in its own code, not in its callees) in one thread. */
export interface FunctionCost {
  fn: string;
  /** The ELF object (executable or shared library) the function is in; `???` for JIT code. */
  object: string;
  ir: number;
}

/** One thread's part of a callgrind dump: one file of --separate-threads=yes. */
export interface ThreadProfile {
  /** Valgrind's thread number (1 is the main thread); 0 when the file does not say. */
  thread: number;
  /** Instructions the thread executed while instrumentation was on: the file's `totals:` (else `summary:`). */
  ir: number;
  /** Every function the thread ran (entered or returned to) while instrumentation was on, most expensive first. */
  functions: FunctionCost[];
}

/** What a thread's code says it is: see threadRoleOf. */
export type ThreadRole =
  | 'main'
  | 'prediction-log writer'
  | 'ONNX Runtime'
  | 'V8 platform: GC'
  | 'V8 platform: compiler'
  | 'V8 platform: GC + compiler'
  | 'V8 platform'
  | 'worker thread'
  | 'other';

/** Name-compressed specifications (`fn=(12) name`, later `fn=(12)`) share one table per kind. */
const TABLE_OF: Record<string, 'fn' | 'ob' | 'fl'> = {
  fn: 'fn', cfn: 'fn', ob: 'ob', cob: 'ob', fl: 'fl', fi: 'fl', fe: 'fl', cfi: 'fl', cfl: 'fl',
};

/** The name of `(id) name`, `(id)` (defined earlier in the file) or `name`; records definitions in `table`. */
function resolveName(spec: string, table: Map<string, string>): string {
  const m = /^\((\d+)\)(?: (.*))?$/.exec(spec);
  if (!m) return spec;
  if (m[2] !== undefined) {
    table.set(m[1]!, m[2]);
    return m[2];
  }
  return table.get(m[1]!) ?? `(${m[1]})`;
}

/** Column `column` of a header line's values (`totals: 123 456`, column 1 → 456), or undefined. */
function numberAt(value: string | undefined, column: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value.trim().split(/\s+/)[column] ?? 0);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Parses one callgrind output file: the thread number, its total Ir and the self cost of each function. A cost line
 * right after `calls=` is the inclusive cost of that call, charged to the callee's own lines, so it is not self cost.
 */
export function parseCallgrind(text: string): ThreadProfile {
  const tables = { fn: new Map<string, string>(), ob: new Map<string, string>(), fl: new Map<string, string>() };
  const self = new Map<string, FunctionCost>();
  let thread = 0;
  let totals: string | undefined;
  let summary: string | undefined;
  let positions = 1;
  let irColumn = 0;
  let object = '???';
  let current: FunctionCost | undefined;
  let callCost = false;
  for (const line of text.split('\n')) {
    const c = line.charCodeAt(0);
    // A cost line: positions (number, +n, -n or *) then event counts; missing trailing counts are 0.
    if ((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 42) {
      if (callCost) {
        callCost = false;
        continue;
      }
      const ir = Number(line.split(' ')[positions + irColumn] ?? 0);
      if (current && ir > 0) current.ir += ir;
      continue;
    }
    const eq = line.indexOf('=');
    const colon = line.indexOf(':');
    if (eq > 0 && (colon < 0 || eq < colon)) {
      const key = line.slice(0, eq);
      const value = line.slice(eq + 1);
      if (key === 'calls') {
        callCost = true;
        continue;
      }
      const table = TABLE_OF[key];
      if (!table) continue;
      const name = resolveName(value, tables[table]);
      if (key === 'ob') object = name;
      else if (key === 'fn') {
        const id = `${object}\0${name}`;
        current = self.get(id);
        if (!current) {
          current = { fn: name, object, ir: 0 };
          self.set(id, current);
        }
      }
      continue;
    }
    if (colon > 0) {
      const key = line.slice(0, colon);
      const value = line.slice(colon + 1).trim();
      if (key === 'thread') thread = numberAt(value, 0) ?? 0;
      else if (key === 'totals') totals = value;
      else if (key === 'summary') summary = value;
      else if (key === 'positions') positions = value.split(/\s+/).length;
      else if (key === 'events') irColumn = Math.max(0, value.split(/\s+/).indexOf('Ir'));
    }
  }
  const functions = [...self.values()].sort((a, b) => b.ir - a.ir);
  const selfSum = functions.reduce((sum, f) => sum + f.ir, 0);
  return { thread, ir: numberAt(totals, irColumn) ?? numberAt(summary, irColumn) ?? selfSum, functions };
}

/** The share of a thread's self cost in functions matching `test`. */
function shareOf(profile: ThreadProfile, test: (f: FunctionCost) => boolean): number {
  if (profile.ir <= 0) return 0;
  return profile.functions.reduce((sum, f) => sum + (test(f) ? f.ir : 0), 0) / profile.ir;
}

const SQLITE = (f: FunctionCost): boolean => /sqlite3/i.test(f.fn) || /better_sqlite3/.test(f.object);
const ONNX_RUNTIME = (f: FunctionCost): boolean => /onnxruntime/i.test(f.object);
const V8_GC = (f: FunctionCost): boolean =>
  /^(heap::|cppgc::)|v8::internal::(heap::|\w*(Heap|Scavenge|MarkCompact|Marking|Sweep|Evacuat|Compactor|Remembered|Worklist|SlotSet|BackingStore))/.test(f.fn);
const V8_COMPILER = (f: FunctionCost): boolean =>
  /v8::internal::(compiler::|maglev::|baseline::|wasm::)|v8::internal::\w*(Parser|Scanner|Compiler|Compile|Bytecode|Optimiz|Pipeline|Turbofan|Maglev)/.test(f.fn);
/** The loop of the threads V8 posts background work to (node's platform workers). */
const V8_PLATFORM = (f: FunctionCost): boolean => /PlatformWorkerThread|v8::platform::DefaultJobWorker/.test(f.fn);
const EVENT_LOOP = (f: FunctionCost): boolean => /^uv__io_poll$|^uv_run$|node::InternalCallbackScope/.test(f.fn);

/**
 * What a thread is, from its code: thread 1 is the main thread; a thread with ≥ 5 % of its instructions in SQLite is
 * Tarmac's prediction-log writer (a worker thread with its own connection); a thread running node's platform worker
 * loop, or with ≥ 10 % in V8's GC and compiler code, is one of V8's platform threads, named by what its instructions
 * did, GC (scavenging, marking, sweeping, freeing array buffers) or compilation (TurboFan, Maglev); a thread with ≥ 20 % in ONNX
 * Runtime's library is one of its threads; another thread running an event loop is a worker thread (worker_threads,
 * or a module loader's). A guess: the top functions (in the results) say more.
 */
export function threadRoleOf(profile: ThreadProfile): ThreadRole {
  if (profile.thread === 1) return 'main';
  if (shareOf(profile, SQLITE) >= 0.05) return 'prediction-log writer';
  const gc = shareOf(profile, V8_GC);
  const compiler = shareOf(profile, V8_COMPILER);
  if (profile.functions.some(V8_PLATFORM) || gc + compiler >= 0.1) {
    if (gc >= 0.1 && compiler >= 0.1) return 'V8 platform: GC + compiler';
    if (compiler >= 0.1) return 'V8 platform: compiler';
    return gc >= 0.02 ? 'V8 platform: GC' : 'V8 platform';
  }
  if (shareOf(profile, ONNX_RUNTIME) >= 0.2) return 'ONNX Runtime';
  if (profile.functions.some(EVENT_LOOP)) return 'worker thread';
  return 'other';
}

/**
 * A short name for a report: C++ argument lists, template arguments and all but the last two `::` scopes dropped
 * (`v8::internal::compiler::GraphReducer::ReduceTop()` → `GraphReducer::ReduceTop`); callgrind's `'2` recursion
 * suffix, `[clone .part.0]` and symbol versions (`@@GLIBC_2.34`) dropped; a bare address becomes `(JIT code)`
 * (object `???`) or `(code in libfoo.so)`.
 */
export function shortName(f: Pick<FunctionCost, 'fn' | 'object'>): string {
  if (/^0x[0-9a-f]+$/i.test(f.fn)) return f.object === '???' ? '(JIT code)' : `(code in ${f.object.split('/').pop()})`;
  let name = f.fn.replace(/'\d+$/, '').replace(/ \[clone [^\]]*\]/g, '').replace(/@@?[A-Z_]+[\d.]*$/, '');
  // Strip nested <...> and (...) groups, innermost first, until none is left.
  for (let before = ''; before !== name;) {
    before = name;
    name = name.replace(/<[^<>]*>/g, '').replace(/\([^()]*\)/g, '');
  }
  name = name.replace(/\s+const$/, '').trim();
  const last = name.split(' ').pop() ?? name;
  return last.split('::').slice(-2).join('::');
}

/**
 * A thread's most expensive functions by self cost, by shortName: entries with the same short name (every JIT
 * address, say) are added up first. `share` is of the thread's total.
 */
export function topFunctions(profile: ThreadProfile, n: number): { name: string; ir: number; share: number }[] {
  const byName = new Map<string, number>();
  for (const f of profile.functions) {
    const name = shortName(f);
    byName.set(name, (byName.get(name) ?? 0) + f.ir);
  }
  return [...byName.entries()]
    .filter(([, ir]) => ir > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, ir]) => ({ name, ir, share: profile.ir > 0 ? ir / profile.ir : 0 }));
}
