import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTarmacError } from '../shared/errors.ts';
import type { FieldIssue } from '../shared/errors.ts';
import { ELEMENT_TYPES, numberToHalf } from './element-types.ts';
import { parseOnnxModel } from './onnx-model.ts';
import { loadFixture } from './test-fixtures.ts';
import type { Signature, Tensor } from './types.ts';
import { fromV2Datatype, tensorsToV2Outputs, toV2Datatype, v2ModelMetadata, v2RequestToFeeds } from './v2.ts';

const iris = parseOnnxModel(loadFixture('iris_tree').bytes).signature;
const loans = parseOnnxModel(loadFixture('loans_pipeline_multi_input').bytes).signature;
const counts = parseOnnxModel(loadFixture('counts_int64').bytes).signature;

const typed: Signature = {
  inputs: [
    { name: 'flags', type: 'bool', shape: [null, 2] },
    { name: 'ids', type: 'int64', shape: [null] },
    { name: 'small', type: 'int8', shape: [null, 1] },
    { name: 'half', type: 'float16', shape: [null, 1] },
  ],
  outputs: [{ name: 'y', type: 'float32', shape: [null, 1], kind: 'tensor' }],
  layout: 'tensor', features: [], task: 'regression', predictionOutput: 'y',
};

const irisInput = (over: Record<string, unknown> = {}) => ({ name: 'input', shape: [2, 4], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6, 7, 8], ...over });
const loansInputs = (n = 1) => loans.inputs.map((s) => ({
  name: s.name, shape: [n, 1], datatype: toV2Datatype(s.type), data: Array.from({ length: n }, () => (s.type === 'string' ? 'nsw' : 1)),
}));
const typedInputs = () => [
  { name: 'flags', shape: [1, 2], datatype: 'BOOL', data: [true, false] },
  { name: 'ids', shape: [1], datatype: 'INT64', data: [7] },
  { name: 'small', shape: [1, 1], datatype: 'INT8', data: [-128] },
  { name: 'half', shape: [1, 1], datatype: 'FP16', data: [0.5] },
];

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

const missingInput = [['/inputs', 'required']];

/** `also`: the further issues the same body rightly produces. */
const badBodies: { name: string; body: unknown; field: string; rule: string; signature?: Signature; also?: string[][] }[] = [
  { name: 'a null body', body: null, field: '', rule: 'type' },
  { name: 'an array body', body: [irisInput()], field: '', rule: 'type' },
  { name: 'no inputs', body: {}, field: '/inputs', rule: 'required' },
  { name: 'inputs as an object', body: { inputs: irisInput() }, field: '/inputs', rule: 'type' },
  { name: 'empty inputs', body: { inputs: [] }, field: '/inputs', rule: 'min_items' },
  { name: 'a numeric id', body: { id: 42, inputs: [irisInput()] }, field: '/id', rule: 'type' },
  { name: 'parameters as an array', body: { parameters: [], inputs: [irisInput()] }, field: '/parameters', rule: 'type' },
  { name: 'outputs as a string', body: { outputs: 'label', inputs: [irisInput()] }, field: '/outputs', rule: 'type' },
  { name: 'an output without a name', body: { outputs: [{}], inputs: [irisInput()] }, field: '/outputs/0/name', rule: 'required' },
  { name: 'an unknown output', body: { outputs: [{ name: 'label' }, { name: 'nope' }], inputs: [irisInput()] }, field: '/outputs/1/name', rule: 'unknown_output' },
  { name: 'an input that is not an object', body: { inputs: ['input'] }, field: '/inputs/0', rule: 'type', also: missingInput },
  { name: 'an input without a name', body: { inputs: [irisInput({ name: undefined })] }, field: '/inputs/0/name', rule: 'required', also: missingInput },
  { name: 'an unknown input', body: { inputs: [irisInput({ name: 'x' })] }, field: '/inputs/0/name', rule: 'unknown_input', also: missingInput },
  { name: 'a duplicate input', body: { inputs: [irisInput(), irisInput()] }, field: '/inputs/1/name', rule: 'duplicate' },
  { name: 'an invalid datatype', body: { inputs: [irisInput({ datatype: 'FLOAT' })] }, field: '/inputs/0/datatype', rule: 'enum' },
  { name: 'a lowercase datatype', body: { inputs: [irisInput({ datatype: 'fp32' })] }, field: '/inputs/0/datatype', rule: 'enum' },
  { name: 'the wrong datatype', body: { inputs: [irisInput({ datatype: 'FP64' })] }, field: '/inputs/0/datatype', rule: 'datatype' },
  { name: 'a negative dim', body: { inputs: [irisInput({ shape: [-1, 4] })] }, field: '/inputs/0/shape', rule: 'shape' },
  { name: 'a fractional dim', body: { inputs: [irisInput({ shape: [1.5, 4] })] }, field: '/inputs/0/shape', rule: 'shape' },
  { name: 'a string shape', body: { inputs: [irisInput({ shape: '2,4' })] }, field: '/inputs/0/shape', rule: 'shape' },
  { name: 'the wrong rank', body: { inputs: [irisInput({ shape: [8] })] }, field: '/inputs/0/shape', rule: 'shape' },
  { name: 'the wrong fixed dim', body: { inputs: [irisInput({ shape: [4, 2] })] }, field: '/inputs/0/shape', rule: 'shape' },
  { name: 'too few values', body: { inputs: [irisInput({ data: [1, 2, 3, 4] })] }, field: '/inputs/0/data', rule: 'shape' },
  { name: 'too many nested values', body: { inputs: [irisInput({ data: [[1, 2, 3, 4], [5, 6, 7, 8], [9]] })] }, field: '/inputs/0/data', rule: 'shape' },
  { name: 'no data', body: { inputs: [irisInput({ data: undefined })] }, field: '/inputs/0/data', rule: 'required' },
  { name: 'data as a string', body: { inputs: [irisInput({ data: '1,2' })] }, field: '/inputs/0/data', rule: 'type' },
  { name: 'a string in FP32 data', body: { inputs: [irisInput({ data: [1, 2, '3', 4, 5, 6, 7, 8] })] }, field: '/inputs/0/data/2', rule: 'type' },
  { name: 'a null in nested data', body: { inputs: [irisInput({ data: [[1, 2, 3, 4], [5, 6, null, 8]] })] }, field: '/inputs/0/data/1/2', rule: 'type' },
  { name: 'an FP32 overflow', body: { inputs: [irisInput({ data: [1, 2, 3, 4, 5, 6, 7, 1e300] })] }, field: '/inputs/0/data/7', rule: 'range' },
  {
    name: 'a fractional INT64', body: { inputs: [{ name: 'counts', shape: [1, 6], datatype: 'INT64', data: [1, 2, 3.5, 4, 5, 6] }] },
    field: '/inputs/0/data/2', rule: 'integer', signature: counts,
  },
  {
    name: 'an INT64 beyond 2^53', body: { inputs: [{ name: 'counts', shape: [1, 6], datatype: 'INT64', data: [1, 2, 3, 4, 2 ** 53, 6] }] },
    field: '/inputs/0/data/4', rule: 'range', signature: counts,
  },
  { name: 'a missing model input', body: { inputs: loansInputs().slice(1) }, field: '/inputs', rule: 'required', signature: loans },
  {
    name: 'a missing datatype on a multi-input model', body: { inputs: loansInputs().map((i, k) => (k === 2 ? { ...i, datatype: undefined } : i)) },
    field: '/inputs/2/datatype', rule: 'required', signature: loans,
  },
  {
    name: 'a missing shape on a multi-input model', body: { inputs: loansInputs().map((i, k) => (k === 0 ? { ...i, shape: undefined } : i)) },
    field: '/inputs/0/shape', rule: 'required', signature: loans,
  },
  {
    name: 'batch sizes that disagree', body: { inputs: [...loansInputs(2).slice(0, 3), ...loansInputs(1).slice(3)] },
    field: '/inputs/3/shape', rule: 'shape', signature: loans, also: [4, 5, 6].map((k) => [`/inputs/${k}/shape`, 'shape']),
  },
  {
    name: 'a number in BYTES data', body: { inputs: loansInputs().map((i) => (i.name === 'region' ? { ...i, data: [3] } : i)) },
    field: '/inputs/6/data/0', rule: 'type', signature: loans,
  },
  { name: '1 for BOOL', body: { inputs: typedInputs().map((i, k) => (k === 0 ? { ...i, data: [1, false] } : i)) }, field: '/inputs/0/data/0', rule: 'type', signature: typed },
  { name: '128 for INT8', body: { inputs: typedInputs().map((i, k) => (k === 2 ? { ...i, data: [128] } : i)) }, field: '/inputs/2/data/0', rule: 'range', signature: typed },
  { name: '1e5 for FP16', body: { inputs: typedInputs().map((i, k) => (k === 3 ? { ...i, data: [1e5] } : i)) }, field: '/inputs/3/data/0', rule: 'range', signature: typed },
  { name: 'a flat shape it cannot infer', body: { inputs: [{ name: 'input', data: [1, 2, 3] }] }, field: '/inputs/0/shape', rule: 'required' },
];

for (const c of badBodies) {
  test(`v2RequestToFeeds refuses ${c.name}: ${c.field || '(body)'} ${c.rule}`, () => {
    const issues = issuesOf(() => v2RequestToFeeds(c.signature ?? iris, c.body));
    assert.deepEqual(issues.map((i) => [i.field, i.rule]), [[c.field, c.rule], ...(c.also ?? [])]);
  });
}

test('v2RequestToFeeds reports every problem at once', () => {
  const issues = issuesOf(() => v2RequestToFeeds(loans, {
    id: 1,
    outputs: [{ name: 'nope' }],
    inputs: [{ name: 'income', shape: [1, 1], datatype: 'FP32', data: ['x'] }, { name: 'bogus' }],
  }));
  assert.deepEqual(issues.map((i) => [i.field, i.rule]), [
    ['/id', 'type'], ['/outputs/0/name', 'unknown_output'], ['/inputs/0/data/0', 'type'], ['/inputs/1/name', 'unknown_input'],
    ...loans.inputs.slice(1).map(() => ['/inputs', 'required']),
  ]);
});

test('v2RequestToFeeds builds typed tensors from flat and nested data', () => {
  const flat = v2RequestToFeeds(iris, { id: 'a', inputs: [irisInput()], outputs: [{ name: 'probabilities' }] });
  assert.deepEqual(flat.requestedOutputs, ['probabilities']);
  assert.equal(flat.id, 'a');
  assert.equal(flat.rows, 2);
  assert.ok(flat.feeds.input!.data instanceof Float32Array);
  assert.deepEqual(flat.feeds.input!.dims, [2, 4]);
  const nested = v2RequestToFeeds(iris, { inputs: [irisInput({ data: [[1, 2, 3, 4], [5, 6, 7, 8]] })] });
  assert.deepEqual(nested.feeds, flat.feeds);
  assert.equal(nested.requestedOutputs, undefined);
  const big = v2RequestToFeeds(counts, { inputs: [{ name: 'counts', shape: [1, 6], datatype: 'INT64', data: [0, 1, -1, 2 ** 53 - 1, 5_300_000_000_000, 6] }] });
  assert.deepEqual(Array.from(big.feeds.counts!.data as BigInt64Array), [0n, 1n, -1n, 9007199254740991n, 5300000000000n, 6n]);
  const t = v2RequestToFeeds(typed, { inputs: typedInputs() });
  assert.deepEqual(Array.from(t.feeds.flags!.data as Uint8Array), [1, 0]);
  assert.deepEqual(Array.from(t.feeds.half!.data as Uint16Array), [numberToHalf(0.5)]);
  assert.deepEqual(t.feeds.ids!.dims, [1]);
  const columns = v2RequestToFeeds(loans, { inputs: loansInputs(2).map((i) => ({ ...i, data: i.data.map((v) => [v]) })) });
  assert.deepEqual(columns.feeds.region, { type: 'string', dims: [2, 1], data: ['nsw', 'nsw'] });
  const strings = v2RequestToFeeds(loans, { inputs: loansInputs(3) });
  assert.deepEqual(strings.feeds.region, { type: 'string', dims: [3, 1], data: ['nsw', 'nsw', 'nsw'] });
  assert.equal(strings.rows, 3);
});

test('v2RequestToFeeds: a single-input model may omit datatype and shape', () => {
  const nested = v2RequestToFeeds(iris, { inputs: [{ name: 'input', data: [[1, 2, 3, 4], [5, 6, 7, 8]] }] });
  assert.deepEqual(nested.feeds.input!.dims, [2, 4]);
  const flat = v2RequestToFeeds(iris, { inputs: [{ name: 'input', data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] }] });
  assert.deepEqual([flat.feeds.input!.dims, flat.rows], [[3, 4], 3]);
  assert.equal(flat.feeds.input!.type, 'float32');
});

test('V2 datatypes map both ways; unknown names give undefined', () => {
  for (const type of ELEMENT_TYPES) assert.equal(fromV2Datatype(toV2Datatype(type)), type);
  assert.deepEqual(['FP32', 'FP64', 'INT64', 'BYTES', 'BOOL', 'FP16'].map(fromV2Datatype), ['float32', 'float64', 'int64', 'string', 'bool', 'float16']);
  assert.equal(fromV2Datatype('BF16'), undefined);
  assert.equal(fromV2Datatype('constructor'), undefined);
});

test('tensorsToV2Outputs writes flat data; int64 beyond 2^53 as strings; bool as booleans; in requested order', () => {
  const outputs: Record<string, Tensor> = {
    label: { type: 'int64', dims: [2], data: BigInt64Array.from([1n, 2n ** 60n]) },
    probabilities: { type: 'float32', dims: [2, 3], data: Float32Array.from([0.1, 0.2, 0.7, 1, 0, 0]) },
  };
  assert.deepEqual(tensorsToV2Outputs(iris, outputs), [
    { name: 'label', datatype: 'INT64', shape: [2], data: [1, '1152921504606846976'] },
    { name: 'probabilities', datatype: 'FP32', shape: [2, 3], data: [Math.fround(0.1), Math.fround(0.2), Math.fround(0.7), 1, 0, 0] },
  ]);
  assert.deepEqual(tensorsToV2Outputs(iris, outputs, ['probabilities', 'label']).map((t) => t.name), ['probabilities', 'label']);
  const misc = tensorsToV2Outputs(iris, {
    b: { type: 'bool', dims: [2], data: Uint8Array.from([1, 0]) },
    h: { type: 'float16', dims: [1], data: Uint16Array.from([numberToHalf(-2.5)]) },
    s: { type: 'string', dims: [1], data: ['x'] },
  }, ['b', 'h', 's']);
  assert.deepEqual(misc.map((t) => [t.datatype, t.data]), [['BOOL', [true, false]], ['FP16', [-2.5]], ['BYTES', ['x']]]);
  assert.throws(() => tensorsToV2Outputs(iris, {}), { code: 'SERVING_INFERENCE_FAILED' });
});

test('v2ModelMetadata follows the protocol, with -1 for dynamic dims and the ZipMap as FP32 [-1, C]', () => {
  const wine = parseOnnxModel(loadFixture('wine_logreg_zipmap').bytes).signature;
  assert.deepEqual(v2ModelMetadata('wine', ['1', '2'], wine), {
    name: 'wine', versions: ['1', '2'], platform: 'onnxruntime_onnx',
    inputs: [{ name: 'float_input', datatype: 'FP32', shape: [-1, 13] }],
    outputs: [{ name: 'output_label', datatype: 'INT64', shape: [-1] }, { name: 'output_probability', datatype: 'FP32', shape: [-1, 3] }],
  });
  assert.equal(v2ModelMetadata('x', [], wine, 'custom').platform, 'custom');
});
