import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCallgrind, shortName, threadRoleOf, topFunctions, type FunctionCost, type ThreadProfile } from '../bench/callgrind.ts';

// Reading callgrind's per-thread files for bench/instructions.bench.ts: totals, self costs, names, thread roles.

const HEADER = `# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 42
cmd:  node server.js
part: 1
thread: 3


desc: Trigger: dump

positions: line
events: Ir
summary: 0

`;

// main: 100 + 50 + 5 of its own (the lines after calls= are its calls' inclusive costs); helper: 1000 + 300; JIT: 7.
const BODY = `ob=(1) /usr/bin/node
fl=(1) ???
fn=(1) main
10 100
+2 50
cfn=(2) helper
calls=2 0
* 1000
-1 5
cob=(2) ???
cfn=(3) 0x00000000deadbeef
calls=1 20
12 7
fn=(2)
20 1000
+1 300
ob=(2)
fn=(3)
0 7
ob=(1)
fn=(1)
15
`;

test('parseCallgrind: thread, totals, and self costs without the inclusive cost of calls', () => {
  const p = parseCallgrind(`${HEADER}${BODY}\ntotals: 1462\n`);
  assert.equal(p.thread, 3);
  assert.equal(p.ir, 1462);
  assert.deepEqual(p.functions, [
    { fn: 'helper', object: '/usr/bin/node', ir: 1300 },
    { fn: 'main', object: '/usr/bin/node', ir: 155 },
    { fn: '0x00000000deadbeef', object: '???', ir: 7 },
  ]);
  assert.equal(p.functions.reduce((sum, f) => sum + f.ir, 0), p.ir);
});

test('parseCallgrind: summary when there is no totals line, else the sum of self costs', () => {
  assert.equal(parseCallgrind(`${HEADER.replace('summary: 0', 'summary: 99')}${BODY}`).ir, 99);
  assert.equal(parseCallgrind(`${HEADER.replace('summary: 0\n', '')}${BODY}`).ir, 1462);
  assert.equal(parseCallgrind('').thread, 0);
  assert.equal(parseCallgrind('').ir, 0);
});

test('parseCallgrind: Ir is found among several events and after several position columns', () => {
  // f: Ir 7 + 2 + 0 (a missing trailing count is 0); g ran, at no cost.
  const text = `thread: 1
positions: instr line
events: Dr Ir Dw
fn=(1) f
0x10 5 3 7 1
+3 * 9 2
-2 +1 4
fn=(2) g
0x20 0
totals: 6 9 3
`;
  const p = parseCallgrind(text);
  assert.equal(p.ir, 9);
  assert.deepEqual(p.functions, [{ fn: 'f', object: '???', ir: 9 }, { fn: 'g', object: '???', ir: 0 }]);
});

const profile = (thread: number, functions: [string, string, number][]): ThreadProfile => {
  const list: FunctionCost[] = functions.map(([fn, object, ir]) => ({ fn, object, ir }));
  return { thread, ir: list.reduce((sum, f) => sum + f.ir, 0), functions: list };
};

test('threadRoleOf tells the main thread, the log writer, V8 platform threads, ONNX Runtime and worker threads apart', () => {
  const node = '/usr/bin/node';
  assert.equal(threadRoleOf(profile(1, [['sqlite3VdbeExec', 'better_sqlite3.node', 10]])), 'main');
  assert.equal(threadRoleOf(profile(12, [['0x1', '???', 80], ['sqlite3VdbeExec', '/x/better_sqlite3.node', 10], ['uv__io_poll', node, 10]])), 'prediction-log writer');
  assert.equal(threadRoleOf(profile(13, [['0x22', '/x/libonnxruntime.so.1', 70], ['memset', 'libc.so.6', 30]])), 'ONNX Runtime');
  assert.equal(threadRoleOf(profile(3, [['v8::internal::compiler::GraphReducer::ReduceTop()', node, 60], ['_int_free', 'libc.so.6', 40]])), 'V8 platform: compiler');
  assert.equal(threadRoleOf(profile(4, [['heap::base::SlotCallbackResult v8::internal::Scavenger::ScavengeObject<X>(Y)', node, 50], ['malloc', 'libc.so.6', 50]])), 'V8 platform: GC');
  assert.equal(threadRoleOf(profile(5, [['v8::internal::Scavenger::Process()', node, 30], ['v8::internal::compiler::Reducer::Reduce()', node, 30], ['x', node, 40]])), 'V8 platform: GC + compiler');
  assert.equal(threadRoleOf(profile(6, [['v8::internal::SweepingJob::SweepYoung()', node, 10], ['_int_free', 'libc.so.6', 90]])), 'V8 platform: GC');
  assert.equal(threadRoleOf(profile(7, [['node::(anonymous namespace)::PlatformWorkerThread(void*)', node, 1], ['_int_free', 'libc.so.6', 99]])), 'V8 platform');
  assert.equal(threadRoleOf(profile(14, [['0x1', '???', 50], ['node::InternalCallbackScope::Close()', node, 50]])), 'worker thread');
  assert.equal(threadRoleOf(profile(17, [['ns_name_pton@@GLIBC_2.34', 'libc.so.6', 50]])), 'other');
});

test('shortName drops arguments, templates, outer scopes, clones and symbol versions; names addresses by object', () => {
  assert.equal(shortName({ fn: 'v8::internal::compiler::GraphReducer::ReduceTop()', object: 'node' }), 'GraphReducer::ReduceTop');
  assert.equal(shortName({
    fn: 'heap::base::SlotCallbackResult v8::internal::Scavenger::ScavengeObject<v8::internal::FullHeapObjectSlot>(v8::internal::FullHeapObjectSlot, v8::internal::HeapObject)',
    object: 'node',
  }), 'Scavenger::ScavengeObject');
  assert.equal(shortName({ fn: 'v8::internal::compiler::PersistentMap<A, B>::operator==(C const&) const [clone .part.0]', object: 'node' }), 'PersistentMap::operator==');
  assert.equal(shortName({ fn: "Builtins_LoadIC'2", object: 'node' }), 'Builtins_LoadIC');
  assert.equal(shortName({ fn: 'pthread_mutex_lock@@GLIBC_2.2.5', object: 'libc.so.6' }), 'pthread_mutex_lock');
  assert.equal(shortName({ fn: '0x0000000058d31dc0', object: '???' }), '(JIT code)');
  assert.equal(shortName({ fn: '0x0000000002385590', object: '/a/b/libonnxruntime.so.1' }), '(code in libonnxruntime.so.1)');
});

test('topFunctions adds up entries with the same short name (every JIT address) before ranking', () => {
  const p = profile(1, [['0x1', '???', 30], ['f(int)', 'node', 40], ['0x2', '???', 20], ['g', 'node', 10]]);
  assert.deepEqual(topFunctions(p, 2), [{ name: '(JIT code)', ir: 50, share: 0.5 }, { name: 'f', ir: 40, share: 0.4 }]);
});
