import type { PredictionRecord } from '../store/index.ts';

/**
 * Prediction rows packed for the hop to the log's writer thread. Structured-cloning one plain object per feature per
 * row cost more on the event loop than anything else the log does (about 6 µs a row for 30 features); most rows of a
 * batch share one model's feature layout, so the inputs travel as one column per feature instead: a Float64Array
 * where every value is a number, otherwise an array of primitives. Rows whose inputs do not fit the layout (other
 * keys or order, nested values) travel as they are. Decoding gives back rows whose JSON is the same text.
 */
export interface EncodedPredictionRows {
  n: number;
  ids: string[];
  requestIds: string[];
  /** Distinct model and variant names; `model`/`variant` index into it. */
  names: string[];
  model: Uint32Array;
  variant: Uint32Array;
  version: Float64Array;
  createdAt: Float64Array;
  latencyMs: Float64Array;
  outputs: unknown[];
  /** The feature layout (keys in order) of the rows packed in `columns`. */
  keys: string[];
  columns: (Float64Array | Primitive[])[];
  /** Rows whose inputs are not in the layout: [row index, inputs] pairs. */
  irregular: [number, unknown][];
  /** Rows that carry their inputs' JSON text as the client sent it (PredictionRecord.inputsJson): [row index, text]. */
  texts: [number, string][];
}

type Primitive = string | number | boolean | null | undefined;

const isPrimitive = (v: unknown): v is Primitive => v === null || typeof v !== 'object';

/** The keys of `inputs` in order when it is a plain object of primitives, else undefined. */
function layoutOf(inputs: unknown): string[] | undefined {
  if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs)) return undefined;
  const keys = Object.keys(inputs);
  for (const k of keys) if (k === '__proto__' || !isPrimitive((inputs as Record<string, unknown>)[k])) return undefined;
  return keys;
}

/**
 * Writes row `i`'s inputs into the columns when they have exactly `keys`, in that order, with primitive values; returns
 * false otherwise (what it wrote of the row is then ignored: the row travels as it is). One pass, for speed.
 */
function packInputs(inputs: unknown, keys: readonly string[], columns: (Float64Array | Primitive[])[], i: number): boolean {
  if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs)) return false;
  let j = 0;
  for (const key in inputs) {
    if (key !== keys[j]) return false;
    const v = (inputs as Record<string, unknown>)[key];
    if (typeof v === 'number') columns[j]![i] = v;
    else if (v === null || typeof v !== 'object') {
      let column = columns[j]!;
      if (column instanceof Float64Array) {
        column = Array.from(column) as Primitive[];
        columns[j] = column;
      }
      column[i] = v as Primitive;
    } else return false;
    j++;
  }
  return j === keys.length;
}

/** Packs rows for postMessage (see EncodedPredictionRows). */
export function encodePredictionRows(rows: readonly PredictionRecord[]): EncodedPredictionRows {
  const n = rows.length;
  const names: string[] = [];
  const nameIndex = new Map<string, number>();
  const indexOf = (name: string): number => {
    let i = nameIndex.get(name);
    if (i === undefined) {
      i = names.length;
      names.push(name);
      nameIndex.set(name, i);
    }
    return i;
  };
  const out: EncodedPredictionRows = {
    n, ids: new Array<string>(n), requestIds: new Array<string>(n), names,
    model: new Uint32Array(n), variant: new Uint32Array(n),
    version: new Float64Array(n), createdAt: new Float64Array(n), latencyMs: new Float64Array(n),
    outputs: new Array<unknown>(n), keys: [], columns: [], irregular: [], texts: [],
  };
  let keys: string[] | undefined;
  for (let i = 0; i < n; i++) {
    const row = rows[i]!;
    out.ids[i] = row.id;
    out.requestIds[i] = row.requestId;
    out.model[i] = indexOf(row.model);
    out.variant[i] = indexOf(row.variant);
    out.version[i] = row.version;
    out.createdAt[i] = row.createdAt;
    out.latencyMs[i] = row.latencyMs;
    out.outputs[i] = row.outputs;
    if (row.inputsJson !== undefined) {
      // The text is all the writer stores: the values need not travel too.
      out.texts.push([i, row.inputsJson]);
      continue;
    }
    if (keys === undefined) {
      keys = layoutOf(row.inputs);
      if (keys !== undefined) {
        out.keys = keys;
        out.columns = keys.map(() => new Float64Array(n));
      }
    }
    if (keys === undefined || !packInputs(row.inputs, keys, out.columns, i)) out.irregular.push([i, row.inputs]);
  }
  return out;
}

/** The buffers of an encoding that postMessage can move instead of copying. */
export function transferablesOf(e: EncodedPredictionRows): ArrayBuffer[] {
  const buffers = [e.model, e.variant, e.version, e.createdAt, e.latencyMs].map((a) => a.buffer as ArrayBuffer);
  for (const c of e.columns) if (c instanceof Float64Array) buffers.push(c.buffer as ArrayBuffer);
  return buffers;
}

/** Unpacks what encodePredictionRows packed, in the same order. */
export function decodePredictionRows(e: EncodedPredictionRows): PredictionRecord[] {
  const irregular = new Map(e.irregular);
  const texts = new Map(e.texts);
  const rows = new Array<PredictionRecord>(e.n);
  for (let i = 0; i < e.n; i++) {
    let inputs: unknown;
    const text = texts.get(i);
    if (text !== undefined) inputs = undefined; // parsed only if asked for (below): the writer stores the text
    else if (irregular.has(i)) inputs = irregular.get(i);
    else {
      const obj: Record<string, unknown> = {};
      for (let j = 0; j < e.keys.length; j++) obj[e.keys[j]!] = e.columns[j]![i];
      inputs = obj;
    }
    rows[i] = {
      id: e.ids[i]!, model: e.names[e.model[i]!]!, version: e.version[i]!, variant: e.names[e.variant[i]!]!,
      requestId: e.requestIds[i]!, createdAt: e.createdAt[i]!, inputs, outputs: e.outputs[i], latencyMs: e.latencyMs[i]!,
    };
    if (text !== undefined) {
      rows[i]!.inputsJson = text;
      Object.defineProperty(rows[i], 'inputs', { get: () => JSON.parse(text) as unknown, enumerable: true, configurable: true });
    }
  }
  return rows;
}
