import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTarmacError } from '../shared/errors.ts';
import { halfToNumber, numberToHalf } from './element-types.ts';
import { OnnxEngine } from './onnx-engine.ts';
import { parseOnnxModel } from './onnx-model.ts';
import { outputsToPredictions, recordsToFeeds } from './records.ts';
import { loadFixture } from './test-fixtures.ts';
import { buildModel, ELEM, floatInitializer, int64Initializer, node, tensorInfo, zipMapInfo } from './test-onnx-builder.ts';
import type { Signature, Tensor } from './types.ts';

const engine = new OnnxEngine();

async function rejectsWith(promise: Promise<unknown>, code: string, message?: RegExp): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    assert.ok(isTarmacError(err), String(err));
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return err;
  }
  assert.fail(`expected ${code}`);
}

const identities = buildModel({
  inputs: [
    tensorInfo('i64', ELEM.INT64, [null, 2]), tensorInfo('s', ELEM.STRING, [null]), tensorInfo('b', ELEM.BOOL, [null]),
    tensorInfo('h', ELEM.FLOAT16, [null, 1]), tensorInfo('u', ELEM.UINT64, [null]), tensorInfo('u8', ELEM.UINT8, [null]),
  ],
  outputs: [
    tensorInfo('i64_out', ELEM.INT64, [null, 2]), tensorInfo('s_out', ELEM.STRING, [null]), tensorInfo('b_out', ELEM.BOOL, [null]),
    tensorInfo('h_out', ELEM.FLOAT16, [null, 1]), tensorInfo('u_out', ELEM.UINT64, [null]), tensorInfo('u8_out', ELEM.UINT8, [null]),
  ],
  nodes: ['i64', 's', 'b', 'h', 'u', 'u8'].map((n) => node('Identity', [n], [`${n}_out`])),
});

test('int64, string, bool, float16, uint64 and uint8 tensors round-trip exactly, in fresh buffers', async () => {
  const { signature } = parseOnnxModel(identities);
  assert.equal(signature.layout, 'tensor');
  const model = await engine.load(identities, signature);
  try {
    const feeds: Record<string, Tensor> = {
      i64: { type: 'int64', dims: [2, 2], data: BigInt64Array.from([9007199254740991n, -9007199254740991n, 5300000000000n, 0n]) },
      s: { type: 'string', dims: [2], data: ['é', ''] },
      b: { type: 'bool', dims: [2], data: Uint8Array.from([1, 0]) },
      h: { type: 'float16', dims: [2, 1], data: Uint16Array.from([numberToHalf(0.1), numberToHalf(-65504)]) },
      u: { type: 'uint64', dims: [2], data: BigUint64Array.from([2n ** 64n - 1n, 1n]) },
      u8: { type: 'uint8', dims: [2], data: Uint8Array.from([255, 0]) },
    };
    const out = await model.run(feeds);
    for (const [name, feed] of Object.entries(feeds)) {
      const got = out[`${name}_out`]!;
      assert.equal(got.type, feed.type, name);
      assert.deepEqual(got.dims, feed.dims, name);
      assert.deepEqual(Array.from(got.data as ArrayLike<unknown>), Array.from(feed.data as ArrayLike<unknown>), name);
      if (!Array.isArray(got.data)) assert.notEqual((got.data as Uint8Array).buffer, (feed.data as Uint8Array).buffer, name);
    }
    assert.equal(halfToNumber((out.h_out!.data as Uint16Array)[1]!), -65504);
  } finally {
    await model.dispose();
  }
});

test('load refuses bytes ONNX Runtime cannot load, and signatures that name absent tensors', async () => {
  const { signature } = parseOnnxModel(loadFixture('iris_tree').bytes);
  await rejectsWith(engine.load(new TextEncoder().encode('{"not":"onnx"}'), signature), 'REGISTRY_INVALID_ONNX');
  await rejectsWith(engine.load(new Uint8Array(), signature), 'REGISTRY_INVALID_ONNX');
  const wrong: Signature = { ...signature, inputs: [{ name: 'nope', type: 'float32', shape: [null, 4] }] };
  await rejectsWith(engine.load(loadFixture('iris_tree').bytes, wrong), 'REGISTRY_INVALID_ONNX', /"nope"/);
});

test('load refuses a model that fails on a synthetic row', async () => {
  const reshape = buildModel({
    inputs: [tensorInfo('x', ELEM.FLOAT, [null, 3])],
    outputs: [tensorInfo('y', ELEM.FLOAT, [2, 3])],
    nodes: [node('Reshape', ['x', 'shape'], ['y'])],
    initializers: [int64Initializer('shape', [2], [2, 3])],
  });
  const { signature } = parseOnnxModel(reshape);
  const err = await rejectsWith(engine.load(reshape, signature), 'REGISTRY_INVALID_ONNX', /synthetic row/);
  assert.ok(err.cause);
});

test('run wraps runtime failures in SERVING_INFERENCE_FAILED, checks feeds, and stops after dispose', async () => {
  const add = buildModel({
    inputs: [tensorInfo('x', ELEM.FLOAT, [null, null])],
    outputs: [tensorInfo('y', ELEM.FLOAT, [null, 3])],
    nodes: [node('Add', ['x', 'c'], ['y'])],
    initializers: [floatInitializer('c', [3], [1, 2, 3])],
  });
  const { signature } = parseOnnxModel(add);
  const model = await new OnnxEngine({ intraOpThreads: 1, interOpThreads: 1 }).load(add, signature);
  const ok = await model.run({ x: { type: 'float32', dims: [1, 3], data: Float32Array.from([1, 1, 1]) } });
  assert.deepEqual(Array.from(ok.y!.data as Float32Array), [2, 3, 4]);
  // [2, 2] does not broadcast against [3]: ONNX Runtime's own error, wrapped.
  const err = await rejectsWith(model.run({ x: { type: 'float32', dims: [2, 2], data: new Float32Array(4) } }), 'SERVING_INFERENCE_FAILED');
  assert.ok(err.cause);
  await rejectsWith(model.run({ x: { type: 'float32', dims: [2, 2], data: new Float32Array(3) } }), 'SERVING_INFERENCE_FAILED');
  await rejectsWith(model.run({}), 'SERVING_INPUT_INVALID', /"x"/);
  await model.dispose();
  await model.dispose();
  await rejectsWith(model.run({ x: { type: 'float32', dims: [1, 3], data: new Float32Array(3) } }), 'SERVING_MODEL_NOT_READY');
});

test('a ZipMap-only model with string labels and no ai.onnx opset serves argmax predictions', async () => {
  const bytes = buildModel({
    inputs: [tensorInfo('x', ELEM.FLOAT, [null, 3])],
    outputs: [zipMapInfo('probs', ELEM.STRING)],
    nodes: [node('ZipMap', ['x'], ['probs'], { domain: 'ai.onnx.ml', strings: { classlabels_strings: ['low', 'mid', 'high'] } })],
    opsets: { 'ai.onnx.ml': 1 },
  });
  const { signature } = parseOnnxModel(bytes, { features: ['a', 'b', 'c'] });
  const model = await engine.load(bytes, signature);
  try {
    const records = [{ a: 0.2, b: 0.5, c: 0.3 }, { a: 0.1, b: 0.45, c: 0.45 }];
    const preds = outputsToPredictions(signature, await model.run(recordsToFeeds(signature, records)), 2);
    assert.deepEqual(preds.map((p) => p.prediction), ['mid', 'mid']);
    assert.deepEqual(preds[0]!.probabilities, { low: Math.fround(0.2), mid: 0.5, high: Math.fround(0.3) });
  } finally {
    await model.dispose();
  }
});

test('load accepts a view into a larger buffer', async () => {
  const { bytes } = loadFixture('diabetes_linear_f64');
  const padded = new Uint8Array(bytes.length + 64);
  padded.set(bytes, 32);
  const view = padded.subarray(32, 32 + bytes.length);
  const model = await engine.load(view, parseOnnxModel(view).signature);
  await model.dispose();
});
