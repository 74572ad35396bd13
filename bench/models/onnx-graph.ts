/**
 * ONNX graphs of the benchmark models, built with onnx-proto (protobufjs) the way scripts/demo-model/onnx.ts builds
 * the demo model: one matrix input `input` float32 [N, k], outputs `label` int64 [N] and `probabilities` float32 [N, 2].
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

const { onnx } = onnxProto;
const AttrType = onnx.AttributeProto.AttributeType;
const DataType = onnx.TensorProto.DataType;

/** Producer name written into the benchmark models. */
export const PRODUCER_NAME = 'tarmac-bench';
/** Producer version; bump when a graph layout changes (it changes every model's bytes). */
export const PRODUCER_VERSION = '1.0.0';
const ONNX_OPSET = 15;
const ML_OPSET = 1;
const ML = 'ai.onnx.ml';
/** Name of the single matrix input of every benchmark model. */
export const INPUT_NAME = 'input';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function tensorInfo(name: string, elemType: number, dims: (number | string)[]): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

function node(opType: string, name: string, input: string[], output: string[], attribute: OnnxTypes.IAttributeProto[] = [], domain = ''): OnnxTypes.INodeProto {
  return { opType, name, input, output, attribute, domain };
}

/** Little-endian float32 bytes (ONNX raw_data is little-endian on every platform). */
export function float32Le(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return out;
}

function initializer(name: string, dims: number[], values: Float32Array): OnnxTypes.ITensorProto {
  return { name, dataType: DataType.FLOAT, dims, rawData: float32Le(values) };
}

function model(graph: OnnxTypes.IGraphProto, docString: string, withMl: boolean): OnnxTypes.ModelProto {
  return onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: ONNX_OPSET }, ...(withMl ? [{ domain: ML, version: ML_OPSET }] : [])],
    producerName: PRODUCER_NAME,
    producerVersion: PRODUCER_VERSION,
    domain: 'dev.tarmac.bench',
    modelVersion: 1,
    docString,
    graph,
  });
}

/** A binary logistic regression: P(1) = sigmoid(x·w + b). */
export interface LogisticWeights {
  weights: Float32Array;
  intercept: number;
}

/**
 * The logistic regression as skl2onnx exports LogisticRegression on a matrix input: ai.onnx.ml LinearClassifier with
 * coefficients [-w, w] and a LOGISTIC post-transform, then an L1 Normalizer over the two class scores.
 */
export function logisticGraph(lr: LogisticWeights): OnnxTypes.ModelProto {
  const k = lr.weights.length;
  const w = Array.from(lr.weights);
  const nodes = [
    node('LinearClassifier', 'logistic_regression', [INPUT_NAME], ['label', 'probability_tensor'], [
      { name: 'classlabels_ints', type: AttrType.INTS, ints: [0, 1] },
      { name: 'coefficients', type: AttrType.FLOATS, floats: [...w.map((x) => -x), ...w] },
      { name: 'intercepts', type: AttrType.FLOATS, floats: [-lr.intercept, lr.intercept] },
      { name: 'multi_class', type: AttrType.INT, i: 0 },
      { name: 'post_transform', type: AttrType.STRING, s: utf8('LOGISTIC') },
    ], ML),
    node('Normalizer', 'normalizer', ['probability_tensor'], ['probabilities'], [{ name: 'norm', type: AttrType.STRING, s: utf8('L1') }], ML),
  ];
  return model({
    name: 'lr',
    node: nodes,
    input: [tensorInfo(INPUT_NAME, DataType.FLOAT, ['N', k])],
    output: [tensorInfo('label', DataType.INT64, ['N']), tensorInfo('probabilities', DataType.FLOAT, ['N', 2])],
  }, `Tarmac benchmark: binary logistic regression over ${k} float features (seeded random weights).`, true);
}

/** One dense layer: y = x · weights + bias, weights row-major [in, out]. */
export interface DenseLayer {
  inputs: number;
  outputs: number;
  weights: Float32Array;
  bias: Float32Array;
}

/**
 * A dense MLP in plain ai.onnx ops: (MatMul, Add, Relu) per hidden layer, then MatMul, Add, Softmax over the last axis
 * into `probabilities` and an ArgMax of the logits into `label` (int64 [N]; the first class on ties).
 */
export function mlpGraph(layers: readonly DenseLayer[]): OnnxTypes.ModelProto {
  const nodes: OnnxTypes.INodeProto[] = [];
  const inits: OnnxTypes.ITensorProto[] = [];
  let x = INPUT_NAME;
  layers.forEach((layer, i) => {
    const last = i === layers.length - 1;
    inits.push(initializer(`w${i}`, [layer.inputs, layer.outputs], layer.weights), initializer(`b${i}`, [layer.outputs], layer.bias));
    nodes.push(node('MatMul', `matmul_${i}`, [x, `w${i}`], [`mm${i}`]));
    nodes.push(node('Add', `add_${i}`, [`mm${i}`, `b${i}`], [last ? 'logits' : `z${i}`]));
    if (!last) {
      nodes.push(node('Relu', `relu_${i}`, [`z${i}`], [`h${i}`]));
      x = `h${i}`;
    }
  });
  nodes.push(node('Softmax', 'softmax', ['logits'], ['probabilities'], [{ name: 'axis', type: AttrType.INT, i: -1 }]));
  nodes.push(node('ArgMax', 'argmax', ['logits'], ['label'], [
    { name: 'axis', type: AttrType.INT, i: 1 },
    { name: 'keepdims', type: AttrType.INT, i: 0 },
  ]));
  const k = layers[0]!.inputs;
  const classes = layers[layers.length - 1]!.outputs;
  const sizes = [k, ...layers.map((l) => l.outputs)].join(' → ');
  return model({
    name: 'mlp',
    node: nodes,
    initializer: inits,
    input: [tensorInfo(INPUT_NAME, DataType.FLOAT, ['N', k])],
    output: [tensorInfo('label', DataType.INT64, ['N']), tensorInfo('probabilities', DataType.FLOAT, ['N', classes])],
  }, `Tarmac benchmark: dense MLP ${sizes} (ReLU, softmax; seeded random weights).`, false);
}

/** Serialises a ModelProto (protobufjs writes fields in a fixed order, so equal models give equal bytes). */
export function encodeModel(m: OnnxTypes.ModelProto): Uint8Array {
  return onnx.ModelProto.encode(m).finish();
}
