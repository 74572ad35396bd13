import onnxProto from 'onnx-proto';
import { concatBytes, lengthDelimited, payloadOf, readFields } from './protobuf-wire.ts';
import type { WireField } from './protobuf-wire.ts';

const proto = onnxProto.onnx;
const utf8 = new TextDecoder();

// Field numbers from onnx.proto.
const MODEL_GRAPH = 7;
const MODEL_OPSET_IMPORT = 8;
const GRAPH_NODE = 1;
const GRAPH_OUTPUT = 12;
const GRAPH_VALUE_INFO = 13;
const NODE_OP_TYPE = 4;
const NODE_DOMAIN = 7;
const VALUE_INFO_NAME = 1;
const OPSET_DOMAIN = 1;
/** ONNX TensorProto.DataType.FLOAT. */
const ELEM_FLOAT = 1;
/** Opset added when a model imports no default domain, so the Identity that replaces ZipMap resolves. */
const IDENTITY_OPSET = 13;

function stringField(bytes: Uint8Array, fields: readonly WireField[], number: number): string | undefined {
  const f = fields.find((x) => x.field === number && x.wire === 2);
  return f ? utf8.decode(payloadOf(bytes, f)) : undefined;
}

function isZipMap(node: Uint8Array): boolean {
  const fields = readFields(node);
  const domain = stringField(node, fields, NODE_DOMAIN) ?? '';
  return stringField(node, fields, NODE_OP_TYPE) === 'ZipMap' && domain === 'ai.onnx.ml';
}

/** The number of class labels of a ZipMap node (the columns of its input), or undefined. */
function classCount(zip: { attribute: { name?: string | null; ints?: unknown[] | null; strings?: unknown[] | null }[] }): number | undefined {
  for (const a of zip.attribute) {
    if (a.name === 'classlabels_int64s' && a.ints?.length) return a.ints.length;
    if (a.name === 'classlabels_strings' && a.strings?.length) return a.strings.length;
  }
  return undefined;
}

/** Rewrites one GraphProto; `replaced` collects ZipMap output name → class count. */
function rewriteGraph(graph: Uint8Array, replaced: Map<string, number | undefined>): Uint8Array {
  const fields = readFields(graph);
  const parts: Uint8Array[] = [];
  let changed = false;
  for (const f of fields) {
    if (f.field === GRAPH_NODE && f.wire === 2 && isZipMap(payloadOf(graph, f))) {
      const zip = proto.NodeProto.decode(payloadOf(graph, f));
      const [x] = zip.input;
      const [y] = zip.output;
      if (x === undefined || y === undefined) throw new Error('ZipMap node without input or output');
      replaced.set(y, classCount(zip));
      changed = true;
      const identity = proto.NodeProto.encode({
        input: [x], output: [y], name: zip.name || `${y}_identity`, opType: 'Identity', domain: '',
      }).finish();
      parts.push(lengthDelimited(GRAPH_NODE, identity));
    } else parts.push(graph.subarray(f.start, f.end));
  }
  if (!changed) return graph;
  const out: Uint8Array[] = [];
  for (const part of parts) {
    const [f] = readFields(part);
    if (f && (f.field === GRAPH_OUTPUT || f.field === GRAPH_VALUE_INFO)) {
      const info = payloadOf(part, f);
      const name = stringField(info, readFields(info), VALUE_INFO_NAME);
      if (name !== undefined && replaced.has(name)) {
        // A stale seq(map) value_info would contradict the new tensor type.
        if (f.field === GRAPH_VALUE_INFO) continue;
        const classes = replaced.get(name);
        // [N, C] as skl2onnx builds it; without labels the rank stays unknown rather than guessed.
        const shape = classes === undefined ? undefined : { dim: [{}, { dimValue: classes }] };
        const retyped = proto.ValueInfoProto.encode({ name, type: { tensorType: { elemType: ELEM_FLOAT, ...(shape ? { shape } : {}) } } }).finish();
        out.push(lengthDelimited(GRAPH_OUTPUT, retyped));
        continue;
      }
    }
    out.push(part);
  }
  return concatBytes(out);
}

/**
 * Returns model bytes that ONNX Runtime's JS API can serve: every `ai.onnx.ml` ZipMap node of the main graph becomes an
 * Identity and its graph output a float tensor [N, C] (onnxruntime-node cannot return sequences of maps). Returns the
 * very same bytes when there is no ZipMap. Throws on bytes that are not a well-formed protobuf message.
 */
export function prepareForServing(bytes: Uint8Array): Uint8Array {
  const top = readFields(bytes);
  const replaced = new Map<string, number | undefined>();
  const parts: Uint8Array[] = [];
  let hasDefaultOpset = false;
  for (const f of top) {
    if (f.field === MODEL_OPSET_IMPORT && f.wire === 2) {
      const opset = payloadOf(bytes, f);
      const domain = stringField(opset, readFields(opset), OPSET_DOMAIN) ?? '';
      if (domain === '' || domain === 'ai.onnx') hasDefaultOpset = true;
    }
    if (f.field === MODEL_GRAPH && f.wire === 2) {
      const graph = payloadOf(bytes, f);
      const rewritten = rewriteGraph(graph, replaced);
      parts.push(rewritten === graph ? bytes.subarray(f.start, f.end) : lengthDelimited(MODEL_GRAPH, rewritten));
    } else parts.push(bytes.subarray(f.start, f.end));
  }
  if (replaced.size === 0) return bytes;
  if (!hasDefaultOpset) {
    parts.push(lengthDelimited(MODEL_OPSET_IMPORT, proto.OperatorSetIdProto.encode({ domain: '', version: IDENTITY_OPSET }).finish()));
  }
  return concatBytes(parts);
}
