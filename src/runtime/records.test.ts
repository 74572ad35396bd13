import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTarmacError } from '../shared/errors.ts';
import type { FieldIssue } from '../shared/errors.ts';
import { outputsToPredictions, recordsToFeeds } from './records.ts';
import type { RecordsOptions } from './records.ts';
import type { ElementType, Signature, Tensor } from './types.ts';

/** One input per feature, of every type the records API documents. */
function perFeature(types: Record<string, ElementType>, rank1: string[] = []): Signature {
  const inputs = Object.entries(types).map(([name, type]) => ({ name, type, shape: rank1.includes(name) ? [null] : [null, 1] }));
  return {
    inputs, outputs: [{ name: 'y', type: 'float32', shape: [null, 1], kind: 'tensor' }], layout: 'one_tensor_per_feature',
    features: inputs.map((i) => ({ name: i.name, input: i.name, column: 0, type: i.type })), task: 'regression', predictionOutput: 'y',
  };
}

const mixed = perFeature({ f32: 'float32', f64: 'float64', i64: 'int64', i32: 'int32', b: 'bool', s: 'string' }, ['b']);
const good = { f32: 1.5, f64: 2.5, i64: 3, i32: 4, b: true, s: 'x' };

const matrix: Signature = {
  inputs: [{ name: 'X', type: 'float32', shape: [null, 3] }],
  outputs: [{ name: 'label', type: 'int64', shape: [null], kind: 'tensor' }, { name: 'probs', type: 'float32', shape: [null, 3], kind: 'tensor' }],
  layout: 'matrix',
  // Declared out of column order on purpose: the column index decides where a value lands.
  features: [
    { name: 'c', input: 'X', column: 2, type: 'float32' },
    { name: 'a', input: 'X', column: 0, type: 'float32' },
    { name: 'b', input: 'X', column: 1, type: 'float32' },
  ],
  task: 'classification', predictionOutput: 'label', probabilityOutput: 'probs', classLabels: [0, 1, 2],
};

function issuesOf(fn: () => unknown): FieldIssue[] {
  try {
    fn();
  } catch (err) {
    assert.ok(isTarmacError(err), String(err));
    assert.equal(err.code, 'SERVING_INPUT_INVALID');
    return err.issues;
  }
  assert.fail('expected SERVING_INPUT_INVALID');
}

const badRecords: { name: string; records: unknown; field: string; rule: string; options?: RecordsOptions; signature?: Signature }[] = [
  { name: 'not an array', records: { f32: 1 }, field: '/records', rule: 'type' },
  { name: 'null', records: null, field: '/records', rule: 'type' },
  { name: 'empty', records: [], field: '/records', rule: 'min_items' },
  { name: 'a number item', records: [1], field: '/records/0', rule: 'type' },
  { name: 'a null item', records: [null], field: '/records/0', rule: 'type' },
  { name: 'an array item', records: [[1, 2]], field: '/records/0', rule: 'type' },
  { name: 'a missing feature', records: [good, { ...good, f32: undefined }], field: '/records/1/f32', rule: 'required' },
  { name: 'a null feature', records: [{ ...good, s: null }], field: '/records/0/s', rule: 'required' },
  { name: 'a numeric string for float32', records: [{ ...good, f32: '1.5' }], field: '/records/0/f32', rule: 'type' },
  { name: '"NaN" for float32', records: [{ ...good, f32: 'NaN' }], field: '/records/0/f32', rule: 'type' },
  { name: 'NaN (not JSON, but guarded)', records: [{ ...good, f64: Number.NaN }], field: '/records/0/f64', rule: 'finite' },
  { name: 'Infinity for float64', records: [{ ...good, f64: Infinity }], field: '/records/0/f64', rule: 'finite' },
  { name: 'a float32 overflow', records: [{ ...good, f32: 1e39 }], field: '/records/0/f32', rule: 'range' },
  { name: 'a boolean for float64', records: [{ ...good, f64: false }], field: '/records/0/f64', rule: 'type' },
  { name: 'a fraction for int64', records: [{ ...good, i64: 1.5 }], field: '/records/0/i64', rule: 'integer' },
  { name: '2^53 for int64', records: [{ ...good, i64: 2 ** 53 }], field: '/records/0/i64', rule: 'range' },
  { name: '-2^53 for int64', records: [{ ...good, i64: -(2 ** 53) }], field: '/records/0/i64', rule: 'range' },
  { name: 'a string for int64', records: [{ ...good, i64: '12' }], field: '/records/0/i64', rule: 'type' },
  { name: '2^31 for int32', records: [{ ...good, i32: 2 ** 31 }], field: '/records/0/i32', rule: 'range' },
  { name: '-2^31-1 for int32', records: [{ ...good, i32: -(2 ** 31) - 1 }], field: '/records/0/i32', rule: 'range' },
  { name: 'a fraction for int32', records: [{ ...good, i32: 0.5 }], field: '/records/0/i32', rule: 'integer' },
  { name: '1 for bool', records: [{ ...good, b: 1 }], field: '/records/0/b', rule: 'type' },
  { name: '"true" for bool', records: [{ ...good, b: 'true' }], field: '/records/0/b', rule: 'type' },
  { name: 'a number for string', records: [{ ...good, s: 5 }], field: '/records/0/s', rule: 'type' },
  { name: 'an object for string', records: [{ ...good, s: { a: 1 } }], field: '/records/0/s', rule: 'type' },
  { name: 'a long string', records: [{ ...good, s: 'x'.repeat(10_001) }], field: '/records/0/s', rule: 'max_length' },
  { name: 'an unknown field', records: [{ ...good, extra: 1 }], field: '/records/0/extra', rule: 'unknown_field' },
  { name: 'an unknown field needing escapes', records: [{ ...good, 'a/b~c': 1 }], field: '/records/0/a~1b~0c', rule: 'unknown_field' },
  { name: 'a custom path', records: [{ ...good, i32: 'x' }], field: '/instances/0/i32', rule: 'type', options: { path: '/instances' } },
  { name: 'the fourth record', records: [good, good, good, { ...good, f64: 'x' }], field: '/records/3/f64', rule: 'type' },
  {
    name: 'a feature named like an Object.prototype member', records: [{}], field: '/records/0/constructor', rule: 'required',
    signature: perFeature(Object.fromEntries([['constructor', 'float32']]) as Record<string, ElementType>),
  },
  { name: 'a matrix feature', records: [{ a: 1, b: 2, c: 'x' }], field: '/records/0/c', rule: 'type', signature: matrix },
  {
    name: 'a tensor-only model', records: [good], field: '/records', rule: 'layout',
    signature: { ...mixed, layout: 'tensor', features: [] },
  },
  {
    name: 'a fixed batch of one', records: [good, good], field: '/records', rule: 'batch',
    signature: { ...mixed, inputs: mixed.inputs.map((i) => ({ ...i, shape: [1, 1] })) },
  },
];

for (const c of badRecords) {
  test(`recordsToFeeds refuses ${c.name}: ${c.field} ${c.rule}`, () => {
    const issues = issuesOf(() => recordsToFeeds(c.signature ?? mixed, c.records, c.options));
    assert.deepEqual(issues.map((i) => [i.field, i.rule]), [[c.field, c.rule]]);
    assert.ok(issues[0]!.message.length > 0);
  });
}

test('recordsToFeeds collects every issue, capped at 100, and counts them all in the message', () => {
  const records = Array.from({ length: 150 }, (_, i) => (i % 2 ? { ...good, f32: 'x', i64: 0.5 } : good));
  try {
    recordsToFeeds(mixed, records);
    assert.fail('expected an error');
  } catch (err) {
    assert.ok(isTarmacError(err));
    assert.equal(err.issues.length, 100);
    assert.match(err.message, /150 problems \(the first 100 are listed\)/);
    assert.deepEqual(err.issues.slice(0, 2).map((i) => [i.field, i.rule]), [['/records/1/f32', 'type'], ['/records/1/i64', 'integer']]);
  }
  const several = issuesOf(() => recordsToFeeds(mixed, [{ f32: 1 }]));
  assert.deepEqual(several.map((i) => i.field), ['/records/0/f64', '/records/0/i64', '/records/0/i32', '/records/0/b', '/records/0/s']);
});

test('recordsToFeeds ignores unknown fields when allowed', () => {
  const feeds = recordsToFeeds(mixed, [{ ...good, note: 'x' }], { allowUnknownFields: true });
  assert.deepEqual(Object.keys(feeds), ['f32', 'f64', 'i64', 'i32', 'b', 's']);
});

test('recordsToFeeds builds typed tensors: float32 rounded once, float64 and int64 exact, rank-1 inputs as [N]', () => {
  const records = [
    { f32: 0.1, f64: 0.1, i64: 2 ** 53 - 1, i32: -(2 ** 31), b: true, s: '' },
    { f32: 5.3e12, f64: 1e-300, i64: -(2 ** 53 - 1), i32: 2 ** 31 - 1, b: false, s: 'é' },
  ];
  const feeds = recordsToFeeds(mixed, records);
  assert.ok(feeds.f32!.data instanceof Float32Array);
  assert.deepEqual(Array.from(feeds.f32!.data as Float32Array), [Math.fround(0.1), Math.fround(5.3e12)]);
  assert.ok(feeds.f64!.data instanceof Float64Array);
  assert.deepEqual(Array.from(feeds.f64!.data as Float64Array), [0.1, 1e-300]);
  assert.ok(feeds.i64!.data instanceof BigInt64Array);
  assert.deepEqual(Array.from(feeds.i64!.data as BigInt64Array), [9007199254740991n, -9007199254740991n]);
  assert.deepEqual(Array.from(feeds.i32!.data as Int32Array), [-(2 ** 31), 2 ** 31 - 1]);
  assert.deepEqual({ type: feeds.b!.type, dims: feeds.b!.dims, data: Array.from(feeds.b!.data as Uint8Array) }, { type: 'bool', dims: [2], data: [1, 0] });
  assert.deepEqual(feeds.s, { type: 'string', dims: [2, 1], data: ['', 'é'] });
  assert.deepEqual(feeds.f64!.dims, [2, 1]);
});

test('recordsToFeeds places matrix features by column, whatever the key order', () => {
  const feeds = recordsToFeeds(matrix, [{ a: 1, b: 2, c: 3 }, { c: 6, b: 5, a: 4 }]);
  assert.deepEqual(feeds.X!.dims, [2, 3]);
  assert.deepEqual(Array.from(feeds.X!.data as Float32Array), [1, 2, 3, 4, 5, 6]);
});

const f32 = (dims: number[], values: number[]): Tensor => ({ type: 'float32', dims, data: Float32Array.from(values) });
const i64 = (values: bigint[]): Tensor => ({ type: 'int64', dims: [values.length], data: BigInt64Array.from(values) });

test('outputsToPredictions: classifier label and probabilities keyed by class label', () => {
  const preds = outputsToPredictions(matrix, { label: i64([2n, 0n]), probs: f32([2, 3], [0.1, 0.2, 0.7, 0.6, 0.3, 0.1]) }, 2);
  assert.deepEqual(preds, [
    { prediction: 2, probabilities: { 0: Math.fround(0.1), 1: Math.fround(0.2), 2: Math.fround(0.7) } },
    { prediction: 0, probabilities: { 0: Math.fround(0.6), 1: Math.fround(0.3), 2: Math.fround(0.1) } },
  ]);
  const huge = outputsToPredictions(matrix, { label: i64([2n ** 60n]), probs: f32([1, 3], [0, 0, 1]) }, 1);
  assert.equal(huge[0]!.prediction, '1152921504606846976');
});

test('outputsToPredictions: argmax classifiers take the first maximum, mapped through class labels', () => {
  const argmax: Signature = { ...matrix, predictionOutput: undefined, classLabels: ['setosa', 'versicolor', 'virginica'] };
  const preds = outputsToPredictions(argmax, { probs: f32([3, 3], [0, 0.5, 0.5, 0.2, 0.2, 0.6, 1 / 3, 1 / 3, 1 / 3]) }, 3);
  assert.deepEqual(preds.map((p) => p.prediction), ['versicolor', 'virginica', 'setosa']);
  assert.deepEqual(Object.keys(preds[0]!.probabilities!), ['setosa', 'versicolor', 'virginica']);
  const noLabels = outputsToPredictions({ ...argmax, classLabels: undefined }, { probs: f32([1, 3], [0.1, 0.8, 0.1]) }, 1);
  assert.deepEqual(noLabels, [{ prediction: 1, probabilities: { 0: Math.fround(0.1), 1: Math.fround(0.8), 2: Math.fround(0.1) } }]);
  const proto = outputsToPredictions({ ...argmax, classLabels: ['__proto__', 'b', 'c'] }, { probs: f32([1, 3], [1, 0, 0]) }, 1);
  assert.deepEqual(Object.keys(proto[0]!.probabilities!), ['__proto__', 'b', 'c']);
  assert.equal(proto[0]!.prediction, '__proto__');
});

test('outputsToPredictions: string labels from the model', () => {
  const sig: Signature = { ...matrix, outputs: [{ name: 'label', type: 'string', shape: [null], kind: 'tensor' }], probabilityOutput: undefined, classLabels: ['no', 'yes'] };
  assert.deepEqual(outputsToPredictions(sig, { label: { type: 'string', dims: [2], data: ['yes', 'no'] } }, 2), [{ prediction: 'yes' }, { prediction: 'no' }]);
});

test('outputsToPredictions: regressions give numbers widened as-is, vectors for [N, k], raw slices otherwise', () => {
  const reg = perFeature({ x: 'float32' });
  const preds = outputsToPredictions(reg, { y: f32([2, 1], [0.1, 3861.25]) }, 2);
  // Math.fround(0.1) is 0.10000000149011612: the float32 value itself, not a re-rounded decimal.
  assert.deepEqual(preds, [{ prediction: Math.fround(0.1) }, { prediction: 3861.25 }]);
  assert.deepEqual(outputsToPredictions(reg, { y: { type: 'int64', dims: [1], data: BigInt64Array.from([2n ** 53n + 1n]) } }, 1), [{ prediction: '9007199254740993' }]);
  assert.deepEqual(outputsToPredictions(reg, { y: f32([2, 2], [1, 2, 3, 4]) }, 2).map((p) => p.prediction), [[1, 2], [3, 4]]);
  const cube = outputsToPredictions(reg, { y: f32([1, 2, 2], [1, 2, 3, 4]) }, 1);
  assert.deepEqual(cube, [{ prediction: null, outputs: { y: [[1, 2], [3, 4]] } }]);
  const other: Signature = { ...reg, task: 'other', predictionOutput: undefined, outputs: [
    { name: 'y', type: 'float32', shape: [null, 2], kind: 'tensor' }, { name: 'flag', type: 'bool', shape: [null], kind: 'tensor' },
  ] };
  const outs = outputsToPredictions(other, { y: f32([2, 2], [1, 2, 3, 4]), flag: { type: 'bool', dims: [2], data: Uint8Array.from([1, 0]) } }, 2);
  assert.deepEqual(outs, [{ prediction: null, outputs: { y: [1, 2], flag: true } }, { prediction: null, outputs: { y: [3, 4], flag: false } }]);
});

test('outputsToPredictions refuses missing outputs and wrong batch sizes with SERVING_INFERENCE_FAILED', () => {
  assert.throws(() => outputsToPredictions(matrix, { label: i64([1n]) }, 1), { code: 'SERVING_INFERENCE_FAILED' });
  assert.throws(() => outputsToPredictions(matrix, { label: i64([1n, 2n]), probs: f32([2, 3], [0, 0, 1, 0, 0, 1]) }, 3), { code: 'SERVING_INFERENCE_FAILED' });
  assert.throws(() => outputsToPredictions(matrix, { label: i64([1n]), probs: f32([1, 2], [0, 1]) }, 1), { code: 'SERVING_INFERENCE_FAILED' });
});
