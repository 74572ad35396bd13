import onnxProto from 'onnx-proto';
import type { onnx } from 'onnx-proto';
import { TarmacError } from '../shared/errors.ts';
import { isFloatType, isNumericType } from './element-types.ts';
import { IssueList } from './issues.ts';
import type { ElementType, FeatureSpec, OutputSpec, Signature, Task, TensorSpec } from './types.ts';

export { prepareForServing } from './onnx-rewrite.ts';

const proto = onnxProto.onnx;
const utf8 = new TextDecoder();

/** What Tarmac reads from an ONNX file: the serving signature plus provenance for the registry. */
export interface ParsedModel {
  signature: Signature;
  irVersion: number;
  producer: string;
  /** Imported opsets by domain; the default domain is reported as `ai.onnx`. */
  opsets: Record<string, number>;
}

/** Declarations that refine what is inferred from the graph. */
export interface ParseOptions {
  /** Feature names: the column names of a matrix input, or exactly the input names of a one-tensor-per-feature model. */
  features?: string[];
  task?: Task;
  /** Class labels in probability-column order. */
  classLabels?: (string | number)[];
}

/** What a feature (record field) name may look like. */
export const FEATURE_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;

const ELEMENT_TYPES: Readonly<Record<number, ElementType>> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string', 9: 'bool',
  10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64',
};
const UNSUPPORTED_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'undefined', 14: 'complex64', 15: 'complex128', 16: 'bfloat16', 17: 'float8e4m3fn', 18: 'float8e4m3fnuz',
  19: 'float8e5m2', 20: 'float8e5m2fnuz', 21: 'uint4', 22: 'int4', 23: 'float4e2m1',
};

type Int = number | { toNumber(): number } | null | undefined;
const toNumber = (v: Int): number => (typeof v === 'number' ? v : v ? v.toNumber() : 0);

function invalidOnnx(message: string, cause?: unknown): TarmacError {
  return new TarmacError('REGISTRY_INVALID_ONNX', message, cause === undefined ? {} : { cause });
}

function decodeModel(bytes: Uint8Array): onnx.ModelProto {
  if (bytes.length === 0) throw invalidOnnx('The file is empty; expected an ONNX model (a serialized ModelProto).');
  let model: onnx.ModelProto;
  try {
    model = proto.ModelProto.decode(bytes);
  } catch (err) {
    throw invalidOnnx(`The file is not an ONNX model: protobuf decoding failed (${(err as Error).message}).`, err);
  }
  const ir = toNumber(model.irVersion);
  // Arbitrary bytes sometimes decode "successfully"; a real model always states a plausible IR version.
  if (ir < 1 || ir > 64) throw invalidOnnx(`The file is not an ONNX model: ir_version ${ir} is missing or implausible.`);
  return model;
}

function elementTypeOf(elemType: number, what: string): ElementType {
  const type = ELEMENT_TYPES[elemType];
  if (type) return type;
  const name = UNSUPPORTED_TYPE_NAMES[elemType] ?? `element type ${elemType}`;
  throw invalidOnnx(`${what} has element type ${name}, which Tarmac cannot serve.`);
}

function shapeOf(tensorType: onnx.TypeProto.ITensor, what: string): (number | null)[] {
  if (!tensorType.shape) throw invalidOnnx(`${what} declares no shape; Tarmac needs at least its rank.`);
  return (tensorType.shape.dim ?? []).map((d) => {
    const n = d.dimValue == null ? -1 : toNumber(d.dimValue);
    return n >= 0 ? n : null;
  });
}

function tensorSpecOf(info: onnx.IValueInfoProto, what: string): TensorSpec {
  const tensorType = info.type?.tensorType;
  if (!tensorType) throw invalidOnnx(`${what} is not a tensor (${typeKind(info.type)}); only tensor inputs can be served.`);
  return { name: info.name ?? '', type: elementTypeOf(tensorType.elemType ?? 0, what), shape: shapeOf(tensorType, what) };
}

function typeKind(type: onnx.ITypeProto | null | undefined): string {
  if (!type) return 'no type';
  if (type.tensorType) return 'tensor';
  if (type.sequenceType) return `sequence of ${typeKind(type.sequenceType.elemType)}`;
  if (type.mapType) return 'map';
  if (type.optionalType) return 'optional';
  if (type.sparseTensorType) return 'sparse tensor';
  return 'an unknown type';
}

function attribute(node: onnx.INodeProto, name: string): onnx.IAttributeProto | undefined {
  return node.attribute?.find((a) => a.name === name);
}

/** Class labels of an ai.onnx.ml node (ZipMap or a classifier), or undefined when it declares none. */
function classLabelsOf(node: onnx.INodeProto): (string | number)[] | undefined {
  const strings = attribute(node, 'classlabels_strings')?.strings;
  if (strings?.length) return strings.map((s) => utf8.decode(s));
  for (const name of ['classlabels_int64s', 'classlabels_ints']) {
    const ints = attribute(node, name)?.ints;
    if (ints?.length) {
      return ints.map((v) => {
        const n = toNumber(v);
        return Number.isSafeInteger(n) ? n : String(v);
      });
    }
  }
  return undefined;
}

function isMlNode(node: onnx.INodeProto, opType: string): boolean {
  return node.opType === opType && node.domain === 'ai.onnx.ml';
}

function outputSpecOf(info: onnx.IValueInfoProto, producer: onnx.INodeProto | undefined): OutputSpec & { labels?: (string | number)[] } {
  const what = `Output "${info.name}"`;
  const type = info.type;
  if (type?.tensorType) return { ...tensorSpecOf(info, what), kind: 'tensor' };
  const map = type?.sequenceType?.elemType?.mapType;
  if (map && map.valueType?.tensorType && producer && isMlNode(producer, 'ZipMap')) {
    const labels = classLabelsOf(producer);
    if (!labels) throw invalidOnnx(`${what} comes from a ZipMap without class labels.`);
    return { name: info.name ?? '', type: 'float32', shape: [null, labels.length], kind: 'zipmap', labels };
  }
  throw invalidOnnx(`${what} is a ${typeKind(type)}; Tarmac serves tensors and skl2onnx ZipMap outputs only.`);
}

function checkNames(specs: readonly TensorSpec[], what: string): void {
  const seen = new Set<string>();
  for (const s of specs) {
    if (!s.name) throw invalidOnnx(`A graph ${what} has an empty name.`);
    if (seen.has(s.name)) throw invalidOnnx(`The graph ${what} "${s.name}" is declared twice.`);
    seen.add(s.name);
  }
}

interface FeatureMapping {
  layout: Signature['layout'];
  features: FeatureSpec[];
}

function isColumn(s: TensorSpec): boolean {
  return s.shape.length === 1 || (s.shape.length === 2 && s.shape[1] === 1);
}

function checkDeclaredNames(declared: readonly string[], issues: IssueList): void {
  const seen = new Set<string>();
  declared.forEach((name, i) => {
    if (typeof name !== 'string' || !FEATURE_NAME_PATTERN.test(name)) {
      issues.add(`/features/${i}`, 'pattern', `feature name ${JSON.stringify(name)} must match ${FEATURE_NAME_PATTERN.source}`);
    } else if (seen.has(name)) issues.add(`/features/${i}`, 'duplicate', `feature "${name}" is declared twice`);
    seen.add(name);
  });
}

function mapFeatures(inputs: readonly TensorSpec[], declared: readonly string[] | undefined): FeatureMapping {
  const issues = new IssueList();
  const [only] = inputs;
  const perFeature = inputs.length > 1
    ? inputs.every(isColumn)
    : only !== undefined && (only.shape.length === 1 || (isColumn(only) && declared === undefined));
  if (perFeature) {
    const features = inputs.map((s) => ({ name: s.name, input: s.name, column: 0, type: s.type }));
    if (declared === undefined) {
      // Inputs named like "input:0" cannot be record fields; such a model is still servable through V2 tensors.
      if (!features.every((f) => FEATURE_NAME_PATTERN.test(f.name))) return { layout: 'tensor', features: [] };
      return { layout: 'one_tensor_per_feature', features };
    }
    checkDeclaredNames(declared, issues);
    const names = new Set(declared);
    for (const s of inputs) {
      if (!names.has(s.name)) issues.add('/features', 'missing', `model input "${s.name}" has no declared feature of that name`);
    }
    const inputNames = new Set(inputs.map((s) => s.name));
    declared.forEach((name, i) => {
      if (!inputNames.has(name)) issues.add(`/features/${i}`, 'extra', `"${name}" is not an input of the model (one input per feature)`);
    });
    issues.throwIfAny('REGISTRY_FEATURES_MISMATCH', 'The declared features do not match the model inputs');
    return { layout: 'one_tensor_per_feature', features };
  }
  if (only !== undefined && inputs.length === 1 && only.shape.length === 2 && typeof only.shape[1] === 'number' && only.shape[1] > 0) {
    const k = only.shape[1];
    const names = declared ?? Array.from({ length: k }, (_, i) => `f${i}`);
    if (declared !== undefined) {
      if (declared.length !== k) {
        issues.add('/features', 'count', `input "${only.name}" has ${k} columns: expected ${k} feature names, got ${declared.length}`);
      }
      checkDeclaredNames(declared, issues);
      issues.throwIfAny('REGISTRY_FEATURES_MISMATCH', 'The declared features do not match the model inputs');
    }
    return { layout: 'matrix', features: names.map((name, column) => ({ name, input: only.name, column, type: only.type })) };
  }
  if (declared !== undefined && declared.length > 0) {
    issues.add('/features', 'layout', 'the model takes neither one [N, k] matrix nor one [N, 1] tensor per feature, so it '
      + 'accepts V2 tensor requests only and its inputs cannot be named as features');
    issues.throwIfAny('REGISTRY_FEATURES_MISMATCH', 'The declared features do not match the model inputs');
  }
  return { layout: 'tensor', features: [] };
}

type TaskFields = Pick<Signature, 'task' | 'predictionOutput' | 'probabilityOutput' | 'classLabels'>;
type ParsedOutput = OutputSpec & { labels?: (string | number)[] };

function classifierLabels(nodes: readonly onnx.INodeProto[], labelOutput: string | undefined): (string | number)[] | undefined {
  const classifiers = nodes.filter((n) => n.domain === 'ai.onnx.ml' && (n.opType ?? '').endsWith('Classifier'));
  // Prefer the classifier that emits the label output directly, for graphs that stack several.
  const direct = classifiers.find((n) => labelOutput !== undefined && n.output?.includes(labelOutput));
  for (const node of direct ? [direct, ...classifiers] : classifiers) {
    const labels = classLabelsOf(node);
    if (labels) return labels;
  }
  return undefined;
}

function columnsOf(out: OutputSpec | undefined): number | null {
  return out && out.shape.length === 2 ? out.shape[1] ?? null : null;
}

function defaultLabels(prob: ParsedOutput | undefined, nodes: readonly onnx.INodeProto[], label: OutputSpec | undefined) {
  if (prob?.labels) return prob.labels;
  const c = columnsOf(prob);
  const found = classifierLabels(nodes, label?.name);
  if (found && (c === null || found.length === c)) return found;
  return c === null ? undefined : Array.from({ length: c }, (_, i) => i);
}

function inferTask(outputs: readonly ParsedOutput[], nodes: readonly onnx.INodeProto[], options: ParseOptions): TaskFields {
  const producers = new Map<string, onnx.INodeProto>();
  for (const n of nodes) for (const o of n.output ?? []) producers.set(o, n);
  const label = outputs.find((o) => o.kind === 'tensor' && o.shape.length === 1 && (o.type === 'int64' || o.type === 'string'));
  const prob = outputs.find((o) => o.kind === 'zipmap')
    ?? outputs.find((o) => o.kind === 'tensor' && isFloatType(o.type) && o.shape.length === 2);
  const single = outputs.length === 1 ? outputs[0] : undefined;
  let inferred: TaskFields = { task: 'other' };
  if (label && prob) {
    inferred = { task: 'classification', predictionOutput: label.name, probabilityOutput: prob.name };
  } else if (single && (single.kind === 'zipmap' || (isFloatType(single.type) && (columnsOf(single) ?? 0) > 1
    && (/prob/i.test(single.name) || producers.get(single.name)?.opType === 'Softmax')))) {
    // No label output: the prediction is the argmax of the probabilities.
    inferred = { task: 'classification', probabilityOutput: single.name };
  } else if (single && single.kind === 'tensor' && isNumericType(single.type) && single.shape.length <= 2) {
    inferred = { task: 'regression', predictionOutput: single.name };
  }
  const issues = new IssueList();
  let fields = inferred;
  if (options.task !== undefined && options.task !== inferred.task) {
    if (options.task === 'classification') {
      if (!label && !prob) issues.add('/task', 'task', 'classification needs a label output (int64/string [N]) or a probability output (float [N, C])');
      fields = { task: 'classification', predictionOutput: label?.name, probabilityOutput: prob?.name };
    } else if (options.task === 'regression') {
      const numeric = outputs.find((o) => o.kind === 'tensor' && isNumericType(o.type));
      if (!numeric) issues.add('/task', 'task', 'regression needs a numeric tensor output');
      fields = { task: 'regression', predictionOutput: numeric?.name };
    } else fields = { task: 'other' };
  }
  if (fields.task === 'classification') {
    const probOut = outputs.find((o) => o.name === fields.probabilityOutput);
    let labels = defaultLabels(probOut, nodes, outputs.find((o) => o.name === fields.predictionOutput));
    if (options.classLabels !== undefined) {
      const c = columnsOf(probOut);
      if (c !== null && options.classLabels.length !== c) {
        issues.add('/classLabels', 'count', `the probability output "${probOut?.name}" has ${c} columns, got ${options.classLabels.length} class labels`);
      }
      const keys = new Set(options.classLabels.map(String));
      if (keys.size !== options.classLabels.length) issues.add('/classLabels', 'duplicate', 'class labels must be distinct as strings');
      labels = options.classLabels;
    }
    fields = labels ? { ...fields, classLabels: labels } : fields;
  } else if (options.classLabels !== undefined) {
    issues.add('/classLabels', 'task', `class labels only apply to classification, not ${fields.task}`);
  }
  issues.throwIfAny('VALIDATION_FAILED', 'The declared task or class labels do not fit the model outputs');
  for (const key of Object.keys(fields) as (keyof TaskFields)[]) if (fields[key] === undefined) delete fields[key];
  return fields;
}

/**
 * Reads an ONNX file into a serving signature (inputs, outputs, feature layout, task) plus provenance; throws
 * REGISTRY_INVALID_ONNX for anything that is not a servable ONNX model, REGISTRY_FEATURES_MISMATCH when declared
 * features do not fit the inputs, and VALIDATION_FAILED when a declared task or class labels do not fit the outputs.
 */
export function parseOnnxModel(bytes: Uint8Array, options: ParseOptions = {}): ParsedModel {
  const model = decodeModel(bytes);
  const graph = model.graph;
  if (!graph) throw invalidOnnx('The ONNX model has no graph.');
  const initializers = new Set<string>();
  for (const t of graph.initializer ?? []) if (t.name) initializers.add(t.name);
  for (const s of graph.sparseInitializer ?? []) if (s.values?.name) initializers.add(s.values.name);
  // Graph inputs that have an initializer are overridable constants (IR < 4 lists them), not inputs callers must send.
  const inputs = (graph.input ?? []).filter((i) => !initializers.has(i.name ?? '')).map((i) => tensorSpecOf(i, `Input "${i.name}"`));
  if (inputs.length === 0) throw invalidOnnx('The ONNX graph has no inputs (other than initializers).');
  if ((graph.output ?? []).length === 0) throw invalidOnnx('The ONNX graph has no outputs.');
  checkNames(inputs, 'input');
  const nodes = graph.node ?? [];
  const producers = new Map<string, onnx.INodeProto>();
  for (const n of nodes) for (const o of n.output ?? []) producers.set(o, n);
  const parsed = (graph.output ?? []).map((o) => outputSpecOf(o, producers.get(o.name ?? '')));
  checkNames(parsed, 'output');
  const { layout, features } = mapFeatures(inputs, options.features);
  const task = inferTask(parsed, nodes, options);
  const outputs: OutputSpec[] = parsed.map(({ name, type, shape, kind }) => ({ name, type, shape, kind }));
  const opsets: Record<string, number> = {};
  for (const o of model.opsetImport ?? []) opsets[o.domain || 'ai.onnx'] = toNumber(o.version);
  return {
    signature: { inputs, outputs, layout, features, ...task },
    irVersion: toNumber(model.irVersion),
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    opsets,
  };
}
