import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { isTarmacError } from '../shared/errors.ts';
import type { ErrorCode } from '../shared/errors.ts';
import { parseOnnxModel, prepareForServing } from './onnx-model.ts';
import type { ParseOptions } from './onnx-model.ts';
import { fixtureNames, fixturesModelsDir, loadFixture } from './test-fixtures.ts';
import { buildModel, ELEM, node, tensorInfo, zipMapInfo } from './test-onnx-builder.ts';

const proto = onnxProto.onnx;

function rejects(fn: () => unknown, code: ErrorCode, message?: RegExp): { issues: { field: string; rule: string }[] } {
  try {
    fn();
  } catch (err) {
    assert.ok(isTarmacError(err), `expected a TarmacError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return err;
  }
  assert.fail(`expected ${code}`);
}

/** A deterministic byte generator, so "random bytes" fail the same way on every run. */
function pseudoRandomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

test('every fixture parses into the signature its sidecar describes', () => {
  for (const name of fixtureNames()) {
    const { bytes, sidecar } = loadFixture(name);
    const parsed = parseOnnxModel(bytes);
    const sig = parsed.signature;
    assert.equal(parsed.irVersion, 8, name);
    assert.match(parsed.producer, /^(skl2onnx 1\.14\.0|pytorch 1\.13\.0)$/, name);
    assert.deepEqual(parsed.opsets, (sidecar as unknown as { onnx_opsets: Record<string, number> }).onnx_opsets, name);
    assert.deepEqual(sig.inputs, sidecar.inputs.map((i) => ({ name: i.name, type: i.dtype, shape: i.shape })), name);
    assert.deepEqual(sig.outputs.map((o) => o.name), sidecar.outputs.map((o) => o.name), name);
    assert.equal(sig.layout, sidecar.input_layout, name);
    assert.equal(sig.task, sidecar.task === 'regression' ? 'regression' : 'classification', name);
    if (sidecar.classes) assert.deepEqual(sig.classLabels, sidecar.classes, name);
    if (sidecar.input_layout === 'matrix') {
      assert.deepEqual(sig.features.map((f) => f.name), sidecar.feature_names.map((_, i) => `f${i}`), name);
      const named = parseOnnxModel(bytes, { features: sidecar.feature_names }).signature;
      assert.deepEqual(named.features.map((f) => [f.name, f.input, f.column]), sidecar.feature_names.map((f, i) => [f, sidecar.input_name, i]));
    } else {
      assert.deepEqual(sig.features.map((f) => f.name), sidecar.feature_names, name);
    }
  }
});

test('wine_logreg_zipmap: a classifier with a ZipMap probability output and int64 class labels', () => {
  const sig = parseOnnxModel(loadFixture('wine_logreg_zipmap').bytes).signature;
  assert.deepEqual(sig.outputs, [
    { name: 'output_label', type: 'int64', shape: [null], kind: 'tensor' },
    { name: 'output_probability', type: 'float32', shape: [null, 3], kind: 'zipmap' },
  ]);
  assert.equal(sig.task, 'classification');
  assert.equal(sig.predictionOutput, 'output_label');
  assert.equal(sig.probabilityOutput, 'output_probability');
  assert.deepEqual(sig.classLabels, [0, 1, 2]);
});

test('loans: one string/float32 tensor per feature, named like the inputs', () => {
  const sig = parseOnnxModel(loadFixture('loans_pipeline_multi_input').bytes).signature;
  assert.equal(sig.layout, 'one_tensor_per_feature');
  assert.equal(sig.features.length, 7);
  assert.deepEqual(sig.features.find((f) => f.name === 'region'), { name: 'region', input: 'region', column: 0, type: 'string' });
  assert.deepEqual(sig.features.find((f) => f.name === 'income'), { name: 'income', input: 'income', column: 0, type: 'float32' });
  assert.deepEqual([sig.predictionOutput, sig.probabilityOutput, sig.classLabels], ['label', 'probabilities', [0, 1]]);
  const features = ['region', 'income', 'loan_amount', 'age', 'credit_history_years', 'debt_ratio', 'employment_type'];
  assert.equal(parseOnnxModel(loadFixture('loans_pipeline_multi_input').bytes, { features }).signature.features.length, 7);
});

test('wine_torch_mlp: the named dynamic axis is dynamic, the softmax output makes an argmax classifier', () => {
  const sig = parseOnnxModel(loadFixture('wine_torch_mlp').bytes).signature;
  assert.deepEqual(sig.inputs, [{ name: 'features', type: 'float32', shape: [null, 13] }]);
  assert.equal(sig.task, 'classification');
  assert.equal(sig.predictionOutput, undefined);
  assert.equal(sig.probabilityOutput, 'probabilities');
  assert.deepEqual(sig.classLabels, [0, 1, 2]);
});

test('regressions: float64 diabetes and int64 counts', () => {
  const diabetes = parseOnnxModel(loadFixture('diabetes_linear_f64').bytes).signature;
  assert.deepEqual([diabetes.task, diabetes.predictionOutput, diabetes.inputs[0]!.type, diabetes.outputs[0]!.type],
    ['regression', 'variable', 'float64', 'float64']);
  const counts = parseOnnxModel(loadFixture('counts_int64').bytes).signature;
  assert.deepEqual([counts.task, counts.features.length, counts.features[4]!.type], ['regression', 6, 'int64']);
});

test('refuses what is not an ONNX model with REGISTRY_INVALID_ONNX', () => {
  rejects(() => parseOnnxModel(new Uint8Array()), 'REGISTRY_INVALID_ONNX', /empty/);
  for (let seed = 1; seed <= 20; seed++) rejects(() => parseOnnxModel(pseudoRandomBytes(2048, seed)), 'REGISTRY_INVALID_ONNX');
  const json = readFileSync(join(fixturesModelsDir(), 'iris_tree.json'));
  rejects(() => parseOnnxModel(json), 'REGISTRY_INVALID_ONNX');
  rejects(() => parseOnnxModel(new TextEncoder().encode('{"not": "onnx"}')), 'REGISTRY_INVALID_ONNX');
  const truncated = loadFixture('iris_tree').bytes.subarray(0, 300);
  rejects(() => parseOnnxModel(truncated), 'REGISTRY_INVALID_ONNX');
  rejects(() => parseOnnxModel(proto.ModelProto.encode({ irVersion: 8 }).finish()), 'REGISTRY_INVALID_ONNX', /no graph/);
});

test('refuses graphs without inputs or outputs, counting initializers as constants', () => {
  const x = tensorInfo('x', ELEM.FLOAT, [null, 2]);
  const y = tensorInfo('y', ELEM.FLOAT, [null, 2]);
  rejects(() => parseOnnxModel(buildModel({ inputs: [], outputs: [y] })), 'REGISTRY_INVALID_ONNX', /no inputs/);
  rejects(() => parseOnnxModel(buildModel({ inputs: [x], outputs: [] })), 'REGISTRY_INVALID_ONNX', /no outputs/);
  const onlyConstant = buildModel({
    inputs: [tensorInfo('w', ELEM.FLOAT, [2])], outputs: [y], initializers: [{ name: 'w', dims: [2], dataType: ELEM.FLOAT, floatData: [1, 2] }],
  });
  rejects(() => parseOnnxModel(onlyConstant), 'REGISTRY_INVALID_ONNX', /no inputs/);
  // IR 3 style: the weight is listed among the inputs and has an initializer, so it is no input.
  const withWeight = buildModel({
    inputs: [x, tensorInfo('w', ELEM.FLOAT, [2])], outputs: [y], irVersion: 3,
    initializers: [{ name: 'w', dims: [2], dataType: ELEM.FLOAT, floatData: [1, 2] }],
  });
  assert.deepEqual(parseOnnxModel(withWeight).signature.inputs.map((i) => i.name), ['x']);
});

test('refuses unsupported element types and non-tensor values, naming them', () => {
  const y = tensorInfo('y', ELEM.FLOAT, [null, 1]);
  rejects(() => parseOnnxModel(buildModel({ inputs: [tensorInfo('img', ELEM.BFLOAT16, [null, 4])], outputs: [y] })),
    'REGISTRY_INVALID_ONNX', /"img".*bfloat16/);
  rejects(() => parseOnnxModel(buildModel({ inputs: [tensorInfo('x', ELEM.FLOAT, [null, 1])], outputs: [tensorInfo('z', ELEM.COMPLEX64, [null])] })),
    'REGISTRY_INVALID_ONNX', /"z".*complex64/);
  rejects(() => parseOnnxModel(buildModel({ inputs: [tensorInfo('x', ELEM.FLOAT, null)], outputs: [y] })), 'REGISTRY_INVALID_ONNX', /no shape/);
  // A seq(map) output that no ZipMap produces is not something Tarmac knows how to serve.
  rejects(() => parseOnnxModel(buildModel({ inputs: [tensorInfo('x', ELEM.FLOAT, [null, 1])], outputs: [zipMapInfo('m', ELEM.INT64)] })),
    'REGISTRY_INVALID_ONNX', /"m".*sequence/);
  const seqInput = { name: 's', type: { sequenceType: { elemType: { tensorType: { elemType: ELEM.FLOAT } } } } };
  rejects(() => parseOnnxModel(buildModel({ inputs: [seqInput], outputs: [y] })), 'REGISTRY_INVALID_ONNX', /"s".*not a tensor/);
});

test('feature mapping: matrix, one tensor per feature, and V2-only tensors', () => {
  const out = [tensorInfo('y', ELEM.FLOAT, [null, 1])];
  const parse = (inputs: ReturnType<typeof tensorInfo>[], options?: ParseOptions) => parseOnnxModel(buildModel({ inputs, outputs: out }), options).signature;
  const column = parse([tensorInfo('amount', ELEM.DOUBLE, [null, 1])]);
  assert.deepEqual([column.layout, column.features], ['one_tensor_per_feature', [{ name: 'amount', input: 'amount', column: 0, type: 'float64' }]]);
  const renamed = parse([tensorInfo('x', ELEM.FLOAT, [null, 1])], { features: ['amount'] });
  assert.deepEqual([renamed.layout, renamed.features[0]!.name, renamed.features[0]!.input], ['matrix', 'amount', 'x']);
  const vector = parse([tensorInfo('x', ELEM.INT64, ['batch'])]);
  assert.deepEqual([vector.layout, vector.features[0]!.name], ['one_tensor_per_feature', 'x']);
  const mixedRanks = parse([tensorInfo('a', ELEM.FLOAT, [null]), tensorInfo('b', ELEM.STRING, [null, 1])]);
  assert.equal(mixedRanks.layout, 'one_tensor_per_feature');
  assert.equal(parse([tensorInfo('img', ELEM.FLOAT, [null, 3, 4])]).layout, 'tensor');
  assert.equal(parse([tensorInfo('x', ELEM.FLOAT, [null, null])]).layout, 'tensor');
  const twoMatrices = parse([tensorInfo('a', ELEM.FLOAT, [null, 2]), tensorInfo('b', ELEM.FLOAT, [null, 1])]);
  assert.deepEqual([twoMatrices.layout, twoMatrices.features], ['tensor', []]);
  // Input names that cannot be record fields leave the model servable through V2 only.
  assert.equal(parse([tensorInfo('input:0', ELEM.FLOAT, [null, 1]), tensorInfo('b', ELEM.FLOAT, [null, 1])]).layout, 'tensor');
});

test('declared features that do not fit give REGISTRY_FEATURES_MISMATCH with an issue each', () => {
  const iris = loadFixture('iris_tree').bytes;
  const count = rejects(() => parseOnnxModel(iris, { features: ['a', 'b', 'c'] }), 'REGISTRY_FEATURES_MISMATCH', /expected 4 feature names, got 3/);
  assert.deepEqual(count.issues.map((i) => [i.field, i.rule]), [['/features', 'count']]);
  const names = rejects(() => parseOnnxModel(iris, { features: ['ok', '1bad', 'ok', 'has space'] }), 'REGISTRY_FEATURES_MISMATCH');
  assert.deepEqual(names.issues.map((i) => [i.field, i.rule]), [['/features/1', 'pattern'], ['/features/2', 'duplicate'], ['/features/3', 'pattern']]);
  assert.throws(() => parseOnnxModel(iris, { features: ['a'.repeat(129), 'b', 'c', 'd'] }), { code: 'REGISTRY_FEATURES_MISMATCH' });
  assert.equal(parseOnnxModel(iris, { features: ['a'.repeat(128), 'b.c', 'd-e', '_f'] }).signature.features.length, 4);

  const loans = loadFixture('loans_pipeline_multi_input').bytes;
  const features = ['income', 'loan_amount', 'age', 'credit_history_years', 'debt_ratio', 'employment_type', 'postcode'];
  const mismatch = rejects(() => parseOnnxModel(loans, { features }), 'REGISTRY_FEATURES_MISMATCH');
  assert.deepEqual(mismatch.issues.map((i) => [i.field, i.rule]), [['/features', 'missing'], ['/features/6', 'extra']]);
  assert.match(JSON.stringify(mismatch.issues), /region/);

  const image = buildModel({ inputs: [tensorInfo('img', ELEM.FLOAT, [null, 3, 4])], outputs: [tensorInfo('y', ELEM.FLOAT, [null, 1])] });
  const layout = rejects(() => parseOnnxModel(image, { features: ['a'] }), 'REGISTRY_FEATURES_MISMATCH');
  assert.deepEqual(layout.issues.map((i) => [i.field, i.rule]), [['/features', 'layout']]);
});

test('task inference: classifier labels come from ZipMap or the ai.onnx.ml classifier node', () => {
  const x = tensorInfo('x', ELEM.FLOAT, [null, 4]);
  const stringClassifier = buildModel({
    inputs: [x],
    outputs: [tensorInfo('label', ELEM.STRING, [null]), tensorInfo('probabilities', ELEM.FLOAT, [null, 2])],
    nodes: [node('LinearClassifier', ['x'], ['label', 'probabilities'], { domain: 'ai.onnx.ml', strings: { classlabels_strings: ['no', 'yes'] } })],
    opsets: { '': 13, 'ai.onnx.ml': 1 },
  });
  const s = parseOnnxModel(stringClassifier).signature;
  assert.deepEqual([s.task, s.predictionOutput, s.probabilityOutput, s.classLabels], ['classification', 'label', 'probabilities', ['no', 'yes']]);

  const intClassifier = buildModel({
    inputs: [x],
    outputs: [tensorInfo('label', ELEM.INT64, [null]), tensorInfo('probabilities', ELEM.FLOAT, [null, 2])],
    nodes: [node('TreeEnsembleClassifier', ['x'], ['label', 'probabilities'], { domain: 'ai.onnx.ml', ints: { classlabels_int64s: [3, 7] } })],
    opsets: { '': 13, 'ai.onnx.ml': 1 },
  });
  assert.deepEqual(parseOnnxModel(intClassifier).signature.classLabels, [3, 7]);

  const zipStrings = buildModel({
    inputs: [x],
    outputs: [zipMapInfo('probs', ELEM.STRING)],
    nodes: [node('ZipMap', ['x'], ['probs'], { domain: 'ai.onnx.ml', strings: { classlabels_strings: ['a', 'b', 'c', 'd'] } })],
    opsets: { 'ai.onnx.ml': 1 },
  });
  const z = parseOnnxModel(zipStrings).signature;
  assert.deepEqual([z.task, z.predictionOutput, z.probabilityOutput, z.classLabels], ['classification', undefined, 'probs', ['a', 'b', 'c', 'd']]);
  assert.deepEqual(z.outputs[0], { name: 'probs', type: 'float32', shape: [null, 4], kind: 'zipmap' });
});

test('task inference: softmax or "prob" output, regression, other', () => {
  const x = tensorInfo('x', ELEM.FLOAT, [null, 4]);
  const softmax = buildModel({ inputs: [x], outputs: [tensorInfo('out', ELEM.FLOAT, [null, 4])], nodes: [node('Softmax', ['x'], ['out'])] });
  assert.deepEqual(parseOnnxModel(softmax).signature.classLabels, [0, 1, 2, 3]);
  const named = buildModel({ inputs: [x], outputs: [tensorInfo('class_probs', ELEM.DOUBLE, ['n', 4])] });
  assert.equal(parseOnnxModel(named).signature.task, 'classification');
  const logits = buildModel({ inputs: [x], outputs: [tensorInfo('logits', ELEM.FLOAT, [null, 4])] });
  assert.deepEqual([parseOnnxModel(logits).signature.task, parseOnnxModel(logits).signature.predictionOutput], ['regression', 'logits']);
  const vector = buildModel({ inputs: [x], outputs: [tensorInfo('y', ELEM.INT32, [null])] });
  assert.equal(parseOnnxModel(vector).signature.task, 'regression');
  const image = buildModel({ inputs: [x], outputs: [tensorInfo('y', ELEM.FLOAT, [null, 2, 2])] });
  assert.deepEqual([parseOnnxModel(image).signature.task, parseOnnxModel(image).signature.predictionOutput], ['other', undefined]);
  const two = buildModel({ inputs: [x], outputs: [tensorInfo('a', ELEM.FLOAT, [null, 1]), tensorInfo('b', ELEM.FLOAT, [null, 1])] });
  // Several outputs without a label output: nothing says which one is the prediction.
  assert.equal(parseOnnxModel(two).signature.task, 'other');
});

test('declared task and class labels override inference, and are checked', () => {
  const iris = loadFixture('iris_tree').bytes;
  const named = parseOnnxModel(iris, { classLabels: ['setosa', 'versicolor', 'virginica'] }).signature;
  assert.deepEqual(named.classLabels, ['setosa', 'versicolor', 'virginica']);
  const other = parseOnnxModel(iris, { task: 'other' }).signature;
  assert.deepEqual([other.task, other.predictionOutput, other.probabilityOutput, other.classLabels], ['other', undefined, undefined, undefined]);
  const count = rejects(() => parseOnnxModel(iris, { classLabels: ['a', 'b'] }), 'VALIDATION_FAILED');
  assert.deepEqual(count.issues.map((i) => [i.field, i.rule]), [['/classLabels', 'count']]);
  const dup = rejects(() => parseOnnxModel(iris, { classLabels: [1, '1', 2] }), 'VALIDATION_FAILED');
  assert.deepEqual(dup.issues.map((i) => [i.field, i.rule]), [['/classLabels', 'duplicate']]);
  const diabetes = loadFixture('diabetes_linear_f64').bytes;
  assert.deepEqual(rejects(() => parseOnnxModel(diabetes, { classLabels: [0] }), 'VALIDATION_FAILED').issues.map((i) => i.rule), ['task']);
  const strings = buildModel({ inputs: [tensorInfo('x', ELEM.FLOAT, [null, 1])], outputs: [tensorInfo('s', ELEM.STRING, [null, 2, 2])] });
  assert.equal(parseOnnxModel(strings).signature.task, 'other');
  assert.deepEqual(rejects(() => parseOnnxModel(strings, { task: 'classification' }), 'VALIDATION_FAILED').issues.map((i) => i.field), ['/task']);
  assert.deepEqual(rejects(() => parseOnnxModel(strings, { task: 'regression' }), 'VALIDATION_FAILED').issues.map((i) => i.field), ['/task']);
});

test('prepareForServing replaces ZipMap by Identity and retypes its output, leaving other models untouched', () => {
  const iris = loadFixture('iris_tree').bytes;
  assert.equal(prepareForServing(iris), iris);
  const wine = loadFixture('wine_logreg_zipmap').bytes;
  const prepared = prepareForServing(wine);
  assert.notEqual(prepared, wine);
  const model = proto.ModelProto.decode(prepared);
  const graph = proto.GraphProto.fromObject(model.graph!);
  const ops = graph.node.map((n) => n.opType);
  assert.ok(!ops.includes('ZipMap'));
  const identity = graph.node.find((n) => n.opType === 'Identity')!;
  assert.deepEqual([identity.input, identity.output, identity.domain], [['probabilities'], ['output_probability'], '']);
  const out = graph.output.find((o) => o.name === 'output_probability')!;
  assert.equal(out.type?.tensorType?.elemType, ELEM.FLOAT);
  // The default-domain opset already there is kept as is.
  assert.deepEqual(model.opsetImport.map((o) => [o.domain, Number(o.version)]), [['ai.onnx.ml', 1], ['', 9]]);
  const sig = parseOnnxModel(prepared).signature;
  assert.deepEqual(sig.outputs[1], { name: 'output_probability', type: 'float32', shape: [null, 3], kind: 'tensor' });
  // Everything but the graph is byte-identical: producer, IR version and opsets survive.
  assert.deepEqual([Number(model.irVersion), model.producerName], [8, 'skl2onnx']);
});

test('prepareForServing adds an ai.onnx opset when the model imports only ai.onnx.ml', () => {
  const bytes = buildModel({
    inputs: [tensorInfo('x', ELEM.FLOAT, [null, 2])],
    outputs: [zipMapInfo('probs', ELEM.INT64)],
    nodes: [node('ZipMap', ['x'], ['probs'], { domain: 'ai.onnx.ml', ints: { classlabels_int64s: [0, 1] } })],
    opsets: { 'ai.onnx.ml': 1 },
  });
  const model = proto.ModelProto.decode(prepareForServing(bytes));
  assert.deepEqual(model.opsetImport.map((o) => [o.domain, Number(o.version)]), [['ai.onnx.ml', 1], ['', 13]]);
  assert.throws(() => prepareForServing(pseudoRandomBytes(64, 7)));
});
