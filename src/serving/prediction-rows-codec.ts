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
  /**
   * Rows that carry their inputs' JSON text as the client sent it (PredictionRecord.inputsJson), as UTF-8 in one
   * buffer: row `rows[k]`'s text is `bytes[ends[k - 1] ?? 0 .. ends[k]]`. One transferred buffer, reused by the sender
   * (see TextBuffers), instead of one cloned string per row: cloning ~100 KB of strings into a fresh serialisation
   * buffer per batch cost the event loop more than the rest of the hand-off.
   */
  texts: PackedTexts;
}

/** JSON texts packed as UTF-8 (see EncodedPredictionRows.texts). */
export interface PackedTexts {
  rows: Uint32Array;
  ends: Uint32Array;
  bytes: Uint8Array;
}

/**
 * Where encodePredictionRows takes the buffer for a batch's texts: `take(bytes)` gives an ArrayBuffer of at least that
 * many bytes (a spare one given back by the receiver, or a new one).
 */
export interface TextBuffers {
  take(bytes: number): ArrayBuffer;
}

/**
 * Keeps a few buffers the receiver gave back, so batch after batch writes into memory that is already mapped. The
 * default keeps enough for a flush's slice of chunks in flight at once (8, see PredictionLogger) and some: with
 * fewer, every slice allocated (and zero-filled) fresh buffers for its last chunks.
 */
export class SpareTextBuffers implements TextBuffers {
  private readonly spare: ArrayBuffer[] = [];

  constructor(private readonly keep = 12, private readonly minBytes = 256 * 1024) {}

  take(bytes: number): ArrayBuffer {
    for (let i = this.spare.length - 1; i >= 0; i--) {
      if (this.spare[i]!.byteLength >= bytes) return this.spare.splice(i, 1)[0]!;
    }
    return new ArrayBuffer(Math.max(bytes, this.minBytes));
  }

  /** Takes back a buffer the receiver is done with (ignored beyond `keep`). */
  give(buffer: ArrayBuffer): void {
    if (this.spare.length < this.keep && buffer.byteLength > 0) this.spare.push(buffer);
  }
}

const freshBuffers: TextBuffers = { take: (bytes) => new ArrayBuffer(bytes) };

function packTexts(texts: [number, string][], buffers: TextBuffers): PackedTexts {
  const rows = new Uint32Array(texts.length);
  const ends = new Uint32Array(texts.length);
  let most = 0;
  for (const [, text] of texts) most += text.length * 3; // a UTF-16 code unit takes at most 3 bytes of UTF-8
  const buffer = buffers.take(most);
  const bytes = Buffer.from(buffer, 0, most);
  let at = 0;
  for (let k = 0; k < texts.length; k++) {
    rows[k] = texts[k]![0];
    at += bytes.write(texts[k]![1], at, 'utf8');
    ends[k] = at;
  }
  return { rows, ends, bytes: new Uint8Array(buffer, 0, at) };
}

/** The texts of a PackedTexts, keyed by row index (copied out: the buffer may be handed back after this). */
export function unpackTexts(packed: PackedTexts): Map<number, string> {
  const out = new Map<number, string>();
  const bytes = Buffer.from(packed.bytes.buffer, packed.bytes.byteOffset, packed.bytes.byteLength);
  let start = 0;
  for (let k = 0; k < packed.rows.length; k++) {
    const end = packed.ends[k]!;
    out.set(packed.rows[k]!, bytes.toString('utf8', start, end));
    start = end;
  }
  return out;
}

type Primitive = string | number | boolean | null | undefined;

const EMPTY_TEXTS: PackedTexts = { rows: new Uint32Array(0), ends: new Uint32Array(0), bytes: new Uint8Array(0) };

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

/** Packs rows for postMessage (see EncodedPredictionRows); the texts go into a buffer from `buffers`. */
export function encodePredictionRows(rows: readonly PredictionRecord[], buffers: TextBuffers = freshBuffers): EncodedPredictionRows {
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
    outputs: new Array<unknown>(n), keys: [], columns: [], irregular: [], texts: EMPTY_TEXTS,
  };
  const texts: [number, string][] = [];
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
      texts.push([i, row.inputsJson]);
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
  if (texts.length > 0) out.texts = packTexts(texts, buffers);
  return out;
}

/** The buffers of an encoding that postMessage can move instead of copying. */
export function transferablesOf(e: EncodedPredictionRows): ArrayBuffer[] {
  const buffers = [e.model, e.variant, e.version, e.createdAt, e.latencyMs].map((a) => a.buffer as ArrayBuffer);
  for (const c of e.columns) if (c instanceof Float64Array) buffers.push(c.buffer as ArrayBuffer);
  if (e.texts.rows.length > 0) buffers.push(e.texts.rows.buffer as ArrayBuffer, e.texts.ends.buffer as ArrayBuffer, e.texts.bytes.buffer as ArrayBuffer);
  return buffers;
}

/**
 * A decoded row whose inputs arrived as the client's JSON text: the text is what the writer stores, so the values are
 * parsed only if something asks for `inputs`. A getter on the class, not one defined per row: `Object.defineProperty`
 * on each decoded object cost the writer thread about 3 µs a row.
 */
class TextInputsRow implements PredictionRecord {
  constructor(
    readonly id: string,
    readonly model: string,
    readonly version: number,
    readonly variant: string,
    readonly requestId: string,
    readonly createdAt: number,
    readonly outputs: unknown,
    readonly latencyMs: number,
    readonly inputsJson: string,
  ) {}

  get inputs(): unknown {
    return JSON.parse(this.inputsJson) as unknown;
  }
}

/** Unpacks what encodePredictionRows packed, in the same order. */
export function decodePredictionRows(e: EncodedPredictionRows): PredictionRecord[] {
  const irregular = new Map(e.irregular);
  const texts = unpackTexts(e.texts);
  const rows = new Array<PredictionRecord>(e.n);
  for (let i = 0; i < e.n; i++) {
    const text = texts.get(i);
    if (text !== undefined) {
      rows[i] = new TextInputsRow(e.ids[i]!, e.names[e.model[i]!]!, e.version[i]!, e.names[e.variant[i]!]!, e.requestIds[i]!,
        e.createdAt[i]!, e.outputs[i], e.latencyMs[i]!, text);
      continue;
    }
    let inputs: unknown;
    if (irregular.has(i)) inputs = irregular.get(i);
    else {
      const obj: Record<string, unknown> = {};
      for (let j = 0; j < e.keys.length; j++) obj[e.keys[j]!] = e.columns[j]![i];
      inputs = obj;
    }
    rows[i] = {
      id: e.ids[i]!, model: e.names[e.model[i]!]!, version: e.version[i]!, variant: e.names[e.variant[i]!]!,
      requestId: e.requestIds[i]!, createdAt: e.createdAt[i]!, inputs, outputs: e.outputs[i], latencyMs: e.latencyMs[i]!,
    };
  }
  return rows;
}
