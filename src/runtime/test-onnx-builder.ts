import onnxProto from 'onnx-proto';
import type { onnx } from 'onnx-proto';

const proto = onnxProto.onnx;

/** ONNX TensorProto.DataType numbers used by the tests. */
export const ELEM = {
  FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, STRING: 8, BOOL: 9, FLOAT16: 10, DOUBLE: 11, UINT64: 13,
  COMPLEX64: 14, BFLOAT16: 16,
} as const;

/** A tensor ValueInfoProto; dims are numbers (fixed), strings (named dynamic) or null (anonymous dynamic). */
export function tensorInfo(name: string, elemType: number, dims: (number | string | null)[] | null): onnx.IValueInfoProto {
  const shape = dims === null ? null : {
    dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {})),
  };
  return { name, type: { tensorType: { elemType, ...(shape ? { shape } : {}) } } };
}

/** A `seq(map(key, float))` ValueInfoProto, the type skl2onnx gives a ZipMap output. */
export function zipMapInfo(name: string, keyType: number): onnx.IValueInfoProto {
  return {
    name,
    type: { sequenceType: { elemType: { mapType: { keyType, valueType: { tensorType: { elemType: ELEM.FLOAT } } } } } },
  };
}

/** A NodeProto; attributes given as ints (int64 lists), strings or a single int. */
export function node(
  opType: string, inputs: string[], outputs: string[],
  options: { domain?: string; ints?: Record<string, number[]>; strings?: Record<string, string[]>; int?: Record<string, number> } = {},
): onnx.INodeProto {
  const attribute: onnx.IAttributeProto[] = [];
  for (const [name, ints] of Object.entries(options.ints ?? {})) attribute.push({ name, type: proto.AttributeProto.AttributeType.INTS, ints });
  for (const [name, strings] of Object.entries(options.strings ?? {})) {
    attribute.push({ name, type: proto.AttributeProto.AttributeType.STRINGS, strings: strings.map((s) => new TextEncoder().encode(s)) });
  }
  for (const [name, i] of Object.entries(options.int ?? {})) attribute.push({ name, type: proto.AttributeProto.AttributeType.INT, i });
  return { opType, input: inputs, output: outputs, name: `${opType}_${outputs[0]}`, domain: options.domain ?? '', attribute };
}

/** An int64 initializer. */
export function int64Initializer(name: string, dims: number[], values: number[]): onnx.ITensorProto {
  return { name, dims, dataType: ELEM.INT64, int64Data: values };
}

/** A float initializer. */
export function floatInitializer(name: string, dims: number[], values: number[]): onnx.ITensorProto {
  return { name, dims, dataType: ELEM.FLOAT, floatData: values };
}

/** Encodes a small ModelProto (IR 8, ai.onnx 13 unless `opsets` says otherwise) for tests. */
export function buildModel(graph: {
  inputs: onnx.IValueInfoProto[];
  outputs: onnx.IValueInfoProto[];
  nodes?: onnx.INodeProto[];
  initializers?: onnx.ITensorProto[];
  opsets?: Record<string, number>;
  irVersion?: number;
}): Uint8Array {
  const opsets = graph.opsets ?? { '': 13 };
  return proto.ModelProto.encode({
    irVersion: graph.irVersion ?? 8,
    producerName: 'tarmac-test',
    producerVersion: '1',
    opsetImport: Object.entries(opsets).map(([domain, version]) => ({ domain, version })),
    graph: {
      name: 'test',
      node: graph.nodes ?? [],
      input: graph.inputs,
      output: graph.outputs,
      initializer: graph.initializers ?? [],
    },
  }).finish();
}
