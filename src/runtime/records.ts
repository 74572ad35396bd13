import { TarmacError } from '../shared/errors.ts';
import { allocateData, readJsonValue, readNumber, storeJsonValue, valueRuleMessage, jsonKind } from './element-types.ts';
import { IssueList, isPlainObject, pointerToken } from './issues.ts';
import type { ElementType, Signature, Tensor, TensorData } from './types.ts';

/** One answered record: the prediction, class probabilities for classifiers, raw outputs for anything else. */
export interface RecordPrediction {
  prediction: number | string | number[] | null;
  /** Probability per class label (keyed by String(label)); classifiers only. */
  probabilities?: Record<string, number>;
  /** Each output's slice for this row, when the task has no single prediction. */
  outputs?: Record<string, unknown>;
}

/** Options of recordsToFeeds. */
export interface RecordsOptions {
  /** JSON pointer of the records array in the request, prefixed to every issue's field; default `/records`. */
  path?: string;
  /** Ignore fields that are not features instead of reporting them. */
  allowUnknownFields?: boolean;
}

/** One tensor to build: a matrix input [N, width] or a per-feature input [N, 1] / [N]. */
interface Slot {
  input: string;
  type: ElementType;
  width: number;
  rank1: boolean;
  fixedBatch: number | null;
}

/** Everything about a signature that recordsToFeeds needs, computed once per signature object. */
interface RecordPlan {
  names: string[];
  pointers: string[];
  /** Feature names that Object.prototype also has, so a plain lookup would find an inherited member. */
  inherited: boolean[];
  types: ElementType[];
  slotOf: number[];
  columns: number[];
  slots: Slot[];
  known: Set<string>;
}

const plans = new WeakMap<Signature, RecordPlan>();

function buildPlan(signature: Signature): RecordPlan {
  const inputs = new Map(signature.inputs.map((s) => [s.name, s]));
  const slots: Slot[] = [];
  const slotIndex = new Map<string, number>();
  const plan: RecordPlan = { names: [], pointers: [], inherited: [], types: [], slotOf: [], columns: [], slots, known: new Set() };
  const columnsPerInput = new Map<string, number>();
  for (const f of signature.features) columnsPerInput.set(f.input, (columnsPerInput.get(f.input) ?? 0) + 1);
  for (const f of signature.features) {
    const spec = inputs.get(f.input);
    if (!spec) throw new TarmacError('INTERNAL', `Feature "${f.name}" maps to unknown input "${f.input}".`);
    let slot = slotIndex.get(f.input);
    if (slot === undefined) {
      slot = slots.length;
      slotIndex.set(f.input, slot);
      const width = signature.layout === 'matrix' ? columnsPerInput.get(f.input)! : 1;
      const batch = spec.shape[0];
      slots.push({ input: f.input, type: spec.type, width, rank1: spec.shape.length === 1, fixedBatch: typeof batch === 'number' ? batch : null });
    }
    plan.names.push(f.name);
    plan.pointers.push(`/${pointerToken(f.name)}`);
    plan.inherited.push(f.name in Object.prototype);
    plan.types.push(spec.type);
    plan.slotOf.push(slot);
    plan.columns.push(f.column);
    plan.known.add(f.name);
  }
  for (const spec of signature.inputs) {
    if (!slotIndex.has(spec.name)) throw new TarmacError('INTERNAL', `Model input "${spec.name}" has no feature.`);
  }
  return plan;
}

function planFor(signature: Signature): RecordPlan {
  let plan = plans.get(signature);
  if (!plan) {
    plan = buildPlan(signature);
    plans.set(signature, plan);
  }
  return plan;
}

/**
 * Validates a records request and builds the model's feeds (row-major, float32 rounded once, float64 and int64 exact);
 * throws one SERVING_INPUT_INVALID listing every problem (up to 100) with JSON pointers like `/records/3/income`.
 */
export function recordsToFeeds(signature: Signature, records: unknown, options: RecordsOptions = {}): Record<string, Tensor> {
  const path = options.path ?? '/records';
  const issues = new IssueList();
  if (signature.layout === 'tensor') {
    issues.add(path, 'layout', 'this model only accepts V2 tensor requests (POST /v2/models/{name}/infer): its inputs do not map to named features');
    issues.throwIfAny('SERVING_INPUT_INVALID', 'The model does not take records');
  }
  const plan = planFor(signature);
  if (!Array.isArray(records)) {
    issues.add(path, 'type', `expected an array of records, got ${jsonKind(records)}`);
  } else if (records.length === 0) {
    issues.add(path, 'min_items', 'expected at least one record');
  } else {
    for (const slot of plan.slots) {
      if (slot.fixedBatch !== null && slot.fixedBatch !== records.length) {
        issues.add(path, 'batch', `this model takes exactly ${slot.fixedBatch} record(s) per request, got ${records.length}`);
        break;
      }
    }
  }
  issues.throwIfAny('SERVING_INPUT_INVALID', 'The records are not valid for this model');
  const rows = (records as unknown[]).length;
  const { names, pointers, inherited, types, slotOf, columns, slots, known } = plan;
  const datas: TensorData[] = slots.map((s) => allocateData(s.type, rows * s.width));
  const featureCount = names.length;
  const checkUnknown = options.allowUnknownFields !== true;
  for (let r = 0; r < rows; r++) {
    const record = (records as unknown[])[r];
    if (!isPlainObject(record)) {
      issues.add(`${path}/${r}`, 'type', `expected a record (a JSON object), got ${jsonKind(record)}`);
      continue;
    }
    let present = 0;
    for (let f = 0; f < featureCount; f++) {
      const name = names[f]!;
      const value = inherited[f] && !Object.hasOwn(record, name) ? undefined : record[name];
      if (value !== undefined) present++;
      if (value === undefined || value === null) {
        issues.add(`${path}/${r}${pointers[f]}`, 'required', `feature "${name}" is ${value === null ? 'null' : 'missing'}`);
        continue;
      }
      const slot = slotOf[f]!;
      const rule = storeJsonValue(types[f]!, datas[slot]!, r * slots[slot]!.width + columns[f]!, value);
      if (rule !== undefined) issues.add(`${path}/${r}${pointers[f]}`, rule, valueRuleMessage(types[f]!, rule, value));
    }
    if (checkUnknown) {
      let keys = 0;
      for (const _key in record) keys++;
      // Every own key was matched to a feature unless there are more keys than matches; only then list them.
      if (keys > present) {
        for (const key of Object.keys(record)) {
          if (!known.has(key)) issues.add(`${path}/${r}/${pointerToken(key)}`, 'unknown_field', `"${key}" is not a feature of this model`);
        }
      }
    }
  }
  issues.throwIfAny('SERVING_INPUT_INVALID', 'The records are not valid for this model');
  const feeds: Record<string, Tensor> = {};
  for (let s = 0; s < slots.length; s++) {
    const slot = slots[s]!;
    feeds[slot.input] = { type: slot.type, dims: slot.rank1 ? [rows] : [rows, slot.width], data: datas[s]! };
  }
  return feeds;
}

function outputOf(outputs: Record<string, Tensor>, name: string, rows: number): Tensor {
  const t = outputs[name];
  if (!t) throw new TarmacError('SERVING_INFERENCE_FAILED', `The model returned no output "${name}".`);
  if (rows > 0 && (t.dims[0] !== rows || t.data.length % rows !== 0)) {
    throw new TarmacError('SERVING_INFERENCE_FAILED', `Output "${name}" has shape [${t.dims.join(', ')}] for a batch of ${rows}.`);
  }
  return t;
}

/** The row's slice of a tensor as JSON: a scalar for [N], nested arrays for higher ranks. */
function rowSlice(t: Tensor, row: number, rows: number): unknown {
  if (t.dims.length <= 1) return readJsonValue(t.type, t.data, row);
  return nested(t, 1, { offset: row * (t.data.length / rows) });
}

function nested(t: Tensor, depth: number, cursor: { offset: number }): unknown[] {
  const size = t.dims[depth]!;
  const out = new Array<unknown>(size);
  const leaf = depth === t.dims.length - 1;
  for (let i = 0; i < size; i++) out[i] = leaf ? readJsonValue(t.type, t.data, cursor.offset++) : nested(t, depth + 1, cursor);
  return out;
}

function rawOutputs(signature: Signature, outputs: Record<string, Tensor>, row: number, rows: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const spec of signature.outputs) out[spec.name] = rowSlice(outputOf(outputs, spec.name, rows), row, rows);
  return out;
}

function setKey(target: Record<string, number>, key: string, value: number): void {
  // A "__proto__" class label would hit the prototype setter on a plain object.
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

function classify(signature: Signature, outputs: Record<string, Tensor>, rows: number): RecordPrediction[] {
  const label = signature.predictionOutput ? outputOf(outputs, signature.predictionOutput, rows) : undefined;
  const probs = signature.probabilityOutput ? outputOf(outputs, signature.probabilityOutput, rows) : undefined;
  const classes = probs ? probs.data.length / rows : 0;
  const labels = signature.classLabels;
  if (probs && labels && labels.length !== classes) {
    throw new TarmacError('SERVING_INFERENCE_FAILED',
      `Output "${signature.probabilityOutput}" has ${classes} columns but the signature lists ${labels.length} class labels.`);
  }
  const keys = labels ? labels.map(String) : Array.from({ length: classes }, (_, j) => String(j));
  const labelWidth = label ? label.data.length / rows : 0;
  const result = new Array<RecordPrediction>(rows);
  for (let i = 0; i < rows; i++) {
    let prediction: RecordPrediction['prediction'] = null;
    let probabilities: Record<string, number> | undefined;
    if (probs) {
      probabilities = {};
      let best = 0;
      let bestValue = -Infinity;
      for (let j = 0; j < classes; j++) {
        const p = readNumber(probs.type, probs.data, i * classes + j);
        setKey(probabilities, keys[j]!, p);
        // Strictly greater: ties keep the first maximum, as sklearn's predict() and the ONNX label do.
        if (p > bestValue) {
          bestValue = p;
          best = j;
        }
      }
      if (!label) prediction = labels ? labels[best]! : best;
    }
    if (label) prediction = readJsonValue(label.type, label.data, i * labelWidth) as number | string;
    result[i] = probabilities ? { prediction, probabilities } : { prediction };
  }
  return result;
}

function regress(signature: Signature, outputs: Record<string, Tensor>, rows: number): RecordPrediction[] {
  const t = outputOf(outputs, signature.predictionOutput!, rows);
  const width = t.data.length / rows;
  const result = new Array<RecordPrediction>(rows);
  const scalar = t.dims.length <= 1 || (t.dims.length === 2 && width === 1);
  for (let i = 0; i < rows; i++) {
    if (scalar) result[i] = { prediction: readJsonValue(t.type, t.data, i) as number | string };
    else if (t.dims.length === 2) {
      const values = new Array<number>(width);
      for (let j = 0; j < width; j++) values[j] = readNumber(t.type, t.data, i * width + j);
      result[i] = { prediction: values };
    } else result[i] = { prediction: null, outputs: rawOutputs(signature, outputs, i, rows) };
  }
  return result;
}

/**
 * Turns a batch's outputs into one prediction per record: the label and per-class probabilities for classifiers (argmax
 * with the first maximum on ties when there is no label output), the value for regressions, raw row slices otherwise.
 * Throws SERVING_INFERENCE_FAILED when an output is missing or its batch size is not `rows`.
 */
export function outputsToPredictions(signature: Signature, outputs: Record<string, Tensor>, rows: number): RecordPrediction[] {
  if (signature.task === 'classification' && (signature.predictionOutput || signature.probabilityOutput)) {
    return classify(signature, outputs, rows);
  }
  if (signature.task === 'regression' && signature.predictionOutput) return regress(signature, outputs, rows);
  const result = new Array<RecordPrediction>(rows);
  for (let i = 0; i < rows; i++) result[i] = { prediction: null, outputs: rawOutputs(signature, outputs, i, rows) };
  return result;
}
