/**
 * Builds the demo ONNX graph the way skl2onnx converts a ColumnTransformer(StandardScaler, OneHotEncoder) +
 * LogisticRegression pipeline: one [N, 1] input per column, ai.onnx.ml Scaler/OneHotEncoder/LinearClassifier and
 * an L1 Normalizer over the class scores.
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { EMPLOYMENT_TYPES, NUMERIC_FEATURES } from './data.ts';
import type { LogisticModel } from './train.ts';

const { onnx } = onnxProto;
const AttrType = onnx.AttributeProto.AttributeType;
const DataType = onnx.TensorProto.DataType;

/** Producer name written into the ONNX model. */
export const PRODUCER_NAME = 'tarmac-demo';
/** Producer version written into the ONNX model; bump when the graph layout changes. */
export const PRODUCER_VERSION = '1.0.0';
/** Default-domain opset the graph imports. */
export const ONNX_OPSET = 15;
/** ai.onnx.ml opset the graph imports. */
export const ML_OPSET = 1;

const ML = 'ai.onnx.ml';
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function attrInt(name: string, i: number): OnnxTypes.IAttributeProto {
  return { name, type: AttrType.INT, i };
}
function attrInts(name: string, ints: number[]): OnnxTypes.IAttributeProto {
  return { name, type: AttrType.INTS, ints };
}
function attrFloats(name: string, floats: number[]): OnnxTypes.IAttributeProto {
  return { name, type: AttrType.FLOATS, floats };
}
function attrString(name: string, s: string): OnnxTypes.IAttributeProto {
  return { name, type: AttrType.STRING, s: utf8(s) };
}
function attrStrings(name: string, strings: readonly string[]): OnnxTypes.IAttributeProto {
  return { name, type: AttrType.STRINGS, strings: strings.map(utf8) };
}

/** A tensor value-info whose dims are numbers (fixed) or strings (symbolic, e.g. 'N'). */
function tensorInfo(name: string, elemType: number, dims: (number | string)[]): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function node(
  opType: string,
  name: string,
  input: string[],
  output: string[],
  attribute: OnnxTypes.IAttributeProto[] = [],
  domain = '',
): OnnxTypes.INodeProto {
  return { opType, name, input, output, attribute, domain };
}

/** Builds the ONNX ModelProto for a trained logistic model (binary, coefficients laid out as skl2onnx does: [-w, w]). */
export function buildOnnxModel(model: LogisticModel): OnnxTypes.ModelProto {
  const nCats = EMPLOYMENT_TYPES.length;
  const numericInputs = NUMERIC_FEATURES.map((f) => tensorInfo(f, DataType.FLOAT, ['N', 1]));
  const stringInput = tensorInfo('employment_type', DataType.STRING, ['N', 1]);
  const negated = model.weights.map((w) => -w);

  const nodes: OnnxTypes.INodeProto[] = [
    node('Concat', 'concat_numeric', [...NUMERIC_FEATURES], ['numeric_features'], [attrInt('axis', 1)]),
    node('Scaler', 'standard_scaler', ['numeric_features'], ['numeric_scaled'],
      [attrFloats('offset', model.means), attrFloats('scale', model.scales)], ML),
    node('OneHotEncoder', 'onehot_employment_type', ['employment_type'], ['employment_onehot'],
      [attrStrings('cats_strings', EMPLOYMENT_TYPES), attrInt('zeros', 1)], ML),
    node('Reshape', 'flatten_onehot', ['employment_onehot', 'onehot_shape'], ['employment_encoded']),
    node('Concat', 'concat_features', ['numeric_scaled', 'employment_encoded'], ['features'], [attrInt('axis', 1)]),
    node('LinearClassifier', 'logistic_regression', ['features'], ['label', 'probability_tensor'], [
      attrInts('classlabels_ints', [0, 1]),
      attrFloats('coefficients', [...negated, ...model.weights]),
      attrFloats('intercepts', [-model.intercept, model.intercept]),
      attrInt('multi_class', 0),
      attrString('post_transform', 'LOGISTIC'),
    ], ML),
    node('Normalizer', 'normalizer', ['probability_tensor'], ['probabilities'], [attrString('norm', 'L1')], ML),
  ];

  return onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [
      { domain: '', version: ONNX_OPSET },
      { domain: ML, version: ML_OPSET },
    ],
    producerName: PRODUCER_NAME,
    producerVersion: PRODUCER_VERSION,
    domain: 'dev.tarmac.demo',
    modelVersion: 1,
    docString: 'Tarmac demo: probability that a loan application defaults (synthetic data, logistic regression).',
    graph: {
      name: 'loan_default',
      node: nodes,
      initializer: [{ name: 'onehot_shape', dataType: DataType.INT64, dims: [2], int64Data: [-1, nCats] }],
      input: [...numericInputs, stringInput],
      output: [tensorInfo('label', DataType.INT64, ['N']), tensorInfo('probabilities', DataType.FLOAT, ['N', 2])],
    },
  });
}

/** Serialises a ModelProto to bytes (protobufjs writes fields in a fixed order, so this is deterministic). */
export function encodeOnnxModel(model: OnnxTypes.ModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}
