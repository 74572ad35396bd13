/**
 * Just enough of the protobuf wire format to splice messages without decoding them: a full decode/encode through the
 * generated classes would drop any field newer than onnx-proto's schema (ONNX 1.10) and so could corrupt newer models.
 */

/** One top-level field of an encoded message: its number, wire type and byte ranges inside the buffer. */
export interface WireField {
  field: number;
  wire: number;
  /** Offset of the tag: `bytes.subarray(start, end)` is the whole field, ready to copy unchanged. */
  start: number;
  end: number;
  /** Offset of a length-delimited payload (wire type 2); equals `end` for other wire types. */
  payloadStart: number;
}

function readVarint(bytes: Uint8Array, pos: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= bytes.length) throw new Error('truncated varint');
    const b = bytes[pos++]!;
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return [value, pos];
    scale *= 128;
  }
  throw new Error('varint longer than 10 bytes');
}

/** Splits an encoded message into its top-level fields; throws on malformed input. */
export function readFields(bytes: Uint8Array): WireField[] {
  const out: WireField[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const start = pos;
    let tag: number;
    [tag, pos] = readVarint(bytes, pos);
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (field === 0) throw new Error('field number 0');
    let payloadStart = pos;
    if (wire === 0) [, pos] = readVarint(bytes, pos);
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      let length: number;
      [length, payloadStart] = readVarint(bytes, pos);
      pos = payloadStart + length;
    } else throw new Error(`unsupported wire type ${wire}`);
    if (pos > bytes.length) throw new Error('field runs past the end of the message');
    out.push({ field, wire, start, end: pos, payloadStart: wire === 2 ? payloadStart : pos });
  }
  return out;
}

/** The payload of a length-delimited field (a view, not a copy). */
export function payloadOf(bytes: Uint8Array, f: WireField): Uint8Array {
  return bytes.subarray(f.payloadStart, f.end);
}

function varint(n: number): Uint8Array {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Uint8Array.from(out);
}

/** Encodes a length-delimited field (wire type 2) holding `payload`. */
export function lengthDelimited(field: number, payload: Uint8Array): Uint8Array {
  return concatBytes([varint(field * 8 + 2), varint(payload.length), payload]);
}

/** Concatenates byte arrays into one new array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
