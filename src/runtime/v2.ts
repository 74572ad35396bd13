import { TarmacError } from '../shared/errors.ts';
import { allocateData, jsonKind, readJsonValue, storeJsonValue, valueRuleMessage } from './element-types.ts';
import { IssueList, isPlainObject } from './issues.ts';
import type { ElementType, Signature, Tensor, TensorData, TensorSpec } from './types.ts';

/** A tensor as the Open Inference Protocol (V2) writes it in JSON: flat row-major data. */
export interface V2Tensor {
  name: string;
  datatype: string;
  shape: number[];
  data: (number | string | boolean)[];
  parameters?: Record<string, unknown>;
}

/** One input of a V2 inference request; `data` may be flat or nested. */
export interface V2RequestInput {
  name: string;
  shape: number[];
  datatype: string;
  data: unknown[];
  parameters?: Record<string, unknown>;
}

/** The body of `POST /v2/models/{name}[/versions/{v}]/infer`. */
export interface V2InferenceRequest {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: V2RequestInput[];
  outputs?: { name: string; parameters?: Record<string, unknown> }[];
}

/** The body of a successful V2 inference response. */
export interface V2InferenceResponse {
  model_name: string;
  model_version?: string;
  id?: string;
  parameters?: Record<string, unknown>;
  outputs: V2Tensor[];
}

/** One tensor of the V2 model metadata response; -1 marks a dynamic dimension. */
export interface V2MetadataTensor {
  name: string;
  datatype: string;
  shape: number[];
}

/** The body of `GET /v2/models/{name}[/versions/{v}]`. */
export interface V2ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: V2MetadataTensor[];
  outputs: V2MetadataTensor[];
}

/** What v2RequestToFeeds extracts from a valid request. */
export interface V2Feeds {
  feeds: Record<string, Tensor>;
  /** Output names the client asked for, when it asked. */
  requestedOutputs?: string[];
  id?: string;
  /** The batch size: dim 0 of the inputs (1 for scalar inputs). */
  rows: number;
}

const TO_V2: Readonly<Record<ElementType, string>> = {
  bool: 'BOOL', uint8: 'UINT8', uint16: 'UINT16', uint32: 'UINT32', uint64: 'UINT64', int8: 'INT8', int16: 'INT16',
  int32: 'INT32', int64: 'INT64', float16: 'FP16', float32: 'FP32', float64: 'FP64', string: 'BYTES',
};
const FROM_V2: ReadonlyMap<string, ElementType> = new Map(
  Object.entries(TO_V2).map(([type, name]) => [name, type as ElementType]),
);
/** Deeper nesting than any tensor needs; bounds the recursion on hostile input. */
const MAX_DEPTH = 32;

/** The V2 datatype name (`FP32`, `INT64`, `BYTES`, ...) of an element type. */
export function toV2Datatype(type: ElementType): string {
  return TO_V2[type];
}

/** The element type of a V2 datatype name, or undefined when the name is not one the protocol defines (or BF16). */
export function fromV2Datatype(name: string): ElementType | undefined {
  return FROM_V2.get(name);
}

/** Counts the leaves of nested arrays; -1 when nested deeper than MAX_DEPTH. */
function countLeaves(data: readonly unknown[], depth: number): number {
  if (depth > MAX_DEPTH) return -1;
  let n = 0;
  for (const v of data) {
    if (!Array.isArray(v)) n++;
    else {
      const inner = countLeaves(v, depth + 1);
      if (inner < 0) return -1;
      n += inner;
    }
  }
  return n;
}

interface FillState {
  type: ElementType;
  data: TensorData;
  index: number;
  issues: IssueList;
  base: string;
  path: number[];
}

function fillNested(values: readonly unknown[], depth: number, st: FillState): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    st.path[depth] = i;
    if (Array.isArray(v)) {
      fillNested(v, depth + 1, st);
      continue;
    }
    const rule = storeJsonValue(st.type, st.data, st.index++, v);
    if (rule !== undefined) st.issues.add(`${st.base}/${st.path.slice(0, depth + 1).join('/')}`, rule, valueRuleMessage(st.type, rule, v));
  }
}

function formatShape(shape: readonly (number | null)[]): string {
  return `[${shape.map((d) => d ?? -1).join(', ')}]`;
}

function isShape(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((d) => Number.isSafeInteger(d) && (d as number) >= 0);
}

/** Infers a shape for the single-input convenience: from the nesting, or from the model's shape with one free dim. */
function inferShape(spec: TensorSpec, data: readonly unknown[], leaves: number): number[] | string {
  if (data.length > 0 && Array.isArray(data[0])) {
    const dims: number[] = [];
    for (let a: unknown = data; Array.isArray(a); a = a[0]) dims.push(a.length);
    return dims;
  }
  if (spec.shape.length === 1) return [leaves];
  const free = spec.shape.filter((d) => d === null).length;
  const fixed = spec.shape.reduce<number>((p, d) => p * (d ?? 1), 1);
  if (free === 0) return spec.shape as number[];
  if (free === 1 && fixed > 0 && leaves % fixed === 0) return spec.shape.map((d) => d ?? leaves / fixed);
  return `cannot infer a shape for ${leaves} values from the model's ${formatShape(spec.shape)}; send "shape"`;
}

function parseOutputs(signature: Signature, outputs: unknown, issues: IssueList): string[] | undefined {
  if (outputs === undefined) return undefined;
  if (!Array.isArray(outputs)) {
    issues.add('/outputs', 'type', `expected an array of {"name": ...}, got ${jsonKind(outputs)}`);
    return undefined;
  }
  const known = new Set(signature.outputs.map((o) => o.name));
  const names: string[] = [];
  outputs.forEach((item: unknown, j) => {
    if (!isPlainObject(item)) return issues.add(`/outputs/${j}`, 'type', `expected an object, got ${jsonKind(item)}`);
    const name = item.name;
    if (typeof name !== 'string') {
      return issues.add(`/outputs/${j}/name`, name === undefined ? 'required' : 'type', 'expected the name of a model output');
    }
    if (!known.has(name)) {
      return issues.add(`/outputs/${j}/name`, 'unknown_output', `"${name}" is not an output of this model (outputs: ${[...known].join(', ')})`);
    }
    if (!names.includes(name)) names.push(name);
  });
  return names.length ? names : undefined;
}

/**
 * Validates an Open Inference Protocol request body against the signature and builds the model's feeds; throws one
 * SERVING_INPUT_INVALID listing every problem (up to 100) with pointers like `/inputs/0/datatype`.
 */
export function v2RequestToFeeds(signature: Signature, body: unknown): V2Feeds {
  const issues = new IssueList();
  if (!isPlainObject(body)) {
    issues.add('', 'type', `expected a JSON object with "inputs", got ${jsonKind(body)}`);
    issues.throwIfAny('SERVING_INPUT_INVALID', 'The inference request is not valid');
  }
  const request = body as Record<string, unknown>;
  if (request.id !== undefined && typeof request.id !== 'string') issues.add('/id', 'type', `expected a string, got ${jsonKind(request.id)}`);
  if (request.parameters !== undefined && !isPlainObject(request.parameters)) {
    issues.add('/parameters', 'type', `expected an object, got ${jsonKind(request.parameters)}`);
  }
  const requestedOutputs = parseOutputs(signature, request.outputs, issues);
  const inputs = request.inputs;
  const feeds: Record<string, Tensor> = {};
  if (inputs === undefined) issues.add('/inputs', 'required', '"inputs" is required');
  else if (!Array.isArray(inputs)) issues.add('/inputs', 'type', `expected an array of input tensors, got ${jsonKind(inputs)}`);
  else if (inputs.length === 0) issues.add('/inputs', 'min_items', 'expected at least one input tensor');
  if (Array.isArray(inputs) && inputs.length > 0) {
    const specs = new Map(signature.inputs.map((s) => [s.name, s]));
    const seen = new Set<string>();
    const convenient = signature.inputs.length === 1;
    let batchOf: { name: string; size: number } | undefined;
    for (let i = 0; i < inputs.length; i++) {
      const item: unknown = inputs[i];
      const base = `/inputs/${i}`;
      if (!isPlainObject(item)) {
        issues.add(base, 'type', `expected an input tensor object, got ${jsonKind(item)}`);
        continue;
      }
      const name = item.name;
      if (typeof name !== 'string') {
        issues.add(`${base}/name`, name === undefined ? 'required' : 'type', 'expected the name of a model input');
        continue;
      }
      const spec = specs.get(name);
      if (!spec) {
        issues.add(`${base}/name`, 'unknown_input', `"${name}" is not an input of this model (inputs: ${[...specs.keys()].join(', ')})`);
        continue;
      }
      if (seen.has(name)) {
        issues.add(`${base}/name`, 'duplicate', `input "${name}" is given twice`);
        continue;
      }
      seen.add(name);
      const before = issues.count;
      const { datatype, data } = item;
      if (datatype === undefined && !convenient) issues.add(`${base}/datatype`, 'required', '"datatype" is required');
      else if (datatype !== undefined) {
        const type = typeof datatype === 'string' ? fromV2Datatype(datatype) : undefined;
        if (typeof datatype !== 'string' || type === undefined) {
          issues.add(`${base}/datatype`, 'enum', `expected one of ${[...FROM_V2.keys()].join(', ')}, got ${JSON.stringify(datatype)}`);
        } else if (type !== spec.type) {
          issues.add(`${base}/datatype`, 'datatype', `model input "${name}" takes ${toV2Datatype(spec.type)}, got ${datatype}`);
        }
      }
      if (!Array.isArray(data)) {
        issues.add(`${base}/data`, data === undefined ? 'required' : 'type', `expected an array of values, got ${jsonKind(data)}`);
        continue;
      }
      const leaves = countLeaves(data, 1);
      if (leaves < 0) {
        issues.add(`${base}/data`, 'shape', `data is nested deeper than ${MAX_DEPTH} levels`);
        continue;
      }
      let shape: number[];
      if (item.shape === undefined && convenient) {
        const inferred = inferShape(spec, data, leaves);
        if (typeof inferred === 'string') {
          issues.add(`${base}/shape`, 'required', inferred);
          continue;
        }
        shape = inferred;
      } else if (!isShape(item.shape)) {
        const rule = item.shape === undefined ? 'required' : 'shape';
        issues.add(`${base}/shape`, rule, `expected an array of non-negative integers, got ${JSON.stringify(item.shape) ?? 'nothing'}`);
        continue;
      } else shape = item.shape;
      const fits = shape.length === spec.shape.length && spec.shape.every((d, k) => d === null || d === shape[k]);
      if (!fits) {
        issues.add(`${base}/shape`, 'shape', `shape ${formatShape(shape)} does not fit model input "${name}" ${formatShape(spec.shape)}`);
        continue;
      }
      const expected = shape.reduce((p, d) => p * d, 1);
      if (expected !== leaves) {
        issues.add(`${base}/data`, 'shape', `data holds ${leaves} values but shape ${formatShape(shape)} needs ${expected}`);
        continue;
      }
      if (spec.shape.length > 0 && spec.shape[0] === null) {
        // Inputs that all leave dim 0 free share the batch dimension; fixed leading dims are checked above.
        if (batchOf === undefined) batchOf = { name, size: shape[0]! };
        else if (batchOf.size !== shape[0]) {
          issues.add(`${base}/shape`, 'shape', `batch size ${shape[0]} differs from ${batchOf.size} of input "${batchOf.name}"`);
          continue;
        }
      }
      // A wrong datatype makes every element check noise.
      if (issues.count > before) continue;
      const values = allocateData(spec.type, leaves);
      // Flat data (the protocol's canonical form) takes the fast path; [[v], [v]] has as many leaves but is nested.
      if (leaves === data.length && !data.some(Array.isArray)) {
        for (let j = 0; j < leaves; j++) {
          const rule = storeJsonValue(spec.type, values, j, data[j]);
          if (rule !== undefined) issues.add(`${base}/data/${j}`, rule, valueRuleMessage(spec.type, rule, data[j]));
        }
      } else fillNested(data, 0, { type: spec.type, data: values, index: 0, issues, base: `${base}/data`, path: [] });
      feeds[name] = { type: spec.type, dims: shape, data: values };
    }
    for (const spec of signature.inputs) {
      if (!seen.has(spec.name)) issues.add('/inputs', 'required', `model input "${spec.name}" is missing`);
    }
  }
  issues.throwIfAny('SERVING_INPUT_INVALID', 'The inference request is not valid');
  const batch = signature.inputs.find((s) => s.shape.length > 0);
  const result: V2Feeds = { feeds, rows: batch ? feeds[batch.name]!.dims[0]! : 1 };
  if (requestedOutputs) result.requestedOutputs = requestedOutputs;
  if (typeof request.id === 'string') result.id = request.id;
  return result;
}

function jsonData(t: Tensor): (number | string | boolean)[] {
  switch (t.type) {
    case 'float32': case 'float64': case 'int8': case 'uint8': case 'int16': case 'uint16': case 'int32': case 'uint32':
      return Array.from(t.data as Float64Array);
    case 'string':
      return (t.data as string[]).slice();
    default: {
      const out = new Array<number | string | boolean>(t.data.length);
      for (let i = 0; i < out.length; i++) out[i] = readJsonValue(t.type, t.data, i);
      return out;
    }
  }
}

/**
 * Writes model outputs as V2 response tensors (flat row-major data; int64 as numbers, or decimal strings beyond 2^53;
 * a ZipMap output as FP32 [N, C]), in `requested` order or else signature order. Throws SERVING_INFERENCE_FAILED
 * when an output is missing.
 */
export function tensorsToV2Outputs(signature: Signature, outputs: Record<string, Tensor>, requested?: string[]): V2Tensor[] {
  const names = requested ?? signature.outputs.map((o) => o.name);
  return names.map((name) => {
    const t = outputs[name];
    if (!t) throw new TarmacError('SERVING_INFERENCE_FAILED', `The model returned no output "${name}".`);
    return { name, datatype: toV2Datatype(t.type), shape: t.dims.slice(), data: jsonData(t) };
  });
}

/** The V2 model metadata response for a signature; dynamic dimensions are written as -1. */
export function v2ModelMetadata(name: string, versions: string[], signature: Signature, platform = 'onnxruntime_onnx'): V2ModelMetadata {
  const describe = (s: TensorSpec): V2MetadataTensor => ({ name: s.name, datatype: toV2Datatype(s.type), shape: s.shape.map((d) => d ?? -1) });
  return { name, versions, platform, inputs: signature.inputs.map(describe), outputs: signature.outputs.map(describe) };
}
