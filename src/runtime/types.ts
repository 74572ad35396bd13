/** Element types Tarmac serves, named as ONNX Runtime names them. */
export type ElementType = 'float32' | 'float64' | 'int64' | 'int32' | 'bool' | 'string' | 'int8' | 'uint8' | 'int16'
  | 'uint16' | 'uint32' | 'uint64' | 'float16';

/** The typed-array (or string array) that holds a tensor's data, row-major. */
export type TensorData = Float32Array | Float64Array | BigInt64Array | BigUint64Array | Int32Array | Uint32Array
  | Int16Array | Uint16Array | Int8Array | Uint8Array | string[];

/** A tensor independent of ONNX Runtime: element type, concrete shape, row-major data. */
export interface Tensor {
  type: ElementType;
  dims: number[];
  data: TensorData;
}

/** One input or output of a model as its graph declares it; `null` in a shape is a dynamic dimension. */
export interface TensorSpec {
  name: string;
  type: ElementType;
  shape: (number | null)[];
}

/** An output: a tensor, or a skl2onnx ZipMap (`seq(map(k, float))`) that Tarmac serves as a float32 [N, C] tensor. */
export interface OutputSpec extends TensorSpec {
  /** `zipmap` when the graph's output was a ZipMap sequence of maps, rewritten to a plain tensor at load. */
  kind: 'tensor' | 'zipmap';
}

/** How one record field maps onto the model's inputs: a whole [N, 1] input, or column `column` of an [N, k] input. */
export interface FeatureSpec {
  name: string;
  input: string;
  /** Column index inside a matrix input; 0 for a one-tensor-per-feature input. */
  column: number;
  type: ElementType;
}

/** What the model predicts, inferred from its outputs unless declared. */
export type Task = 'classification' | 'regression' | 'other';

/** The full serving signature of a version: graph inputs/outputs plus how records map to them. */
export interface Signature {
  inputs: TensorSpec[];
  outputs: OutputSpec[];
  /** `matrix`: one input [N, k]; `one_tensor_per_feature`: each feature its own [N, 1] input; `tensor`: raw V2 only. */
  layout: 'matrix' | 'one_tensor_per_feature' | 'tensor';
  features: FeatureSpec[];
  task: Task;
  /** Output holding the predicted label (classifiers) or the value (regression). */
  predictionOutput?: string;
  /** Output holding class probabilities [N, C] (classifiers). */
  probabilityOutput?: string;
  /** Class labels in probability-column order (classifiers); numbers for int64 labels. */
  classLabels?: (string | number)[];
}
