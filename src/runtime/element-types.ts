import type { ElementType, TensorData } from './types.ts';

/** The rule a single JSON value can break when it is stored as a tensor element. */
export type ValueRule = 'type' | 'finite' | 'integer' | 'range' | 'max_length';

/** Longest string a request may carry in one string element. */
export const MAX_STRING_LENGTH = 10_000;

/** Largest integer magnitude a JSON number carries exactly, and so the int64 bound Tarmac accepts. */
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

const INT_RANGES: Partial<Record<ElementType, readonly [number, number]>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  int64: [-MAX_SAFE, MAX_SAFE],
  uint64: [0, MAX_SAFE],
};

/** Every element type Tarmac serves, in a stable order. */
export const ELEMENT_TYPES: readonly ElementType[] = [
  'float32', 'float64', 'float16', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bool',
  'string',
];

/** True for the types whose elements are JSON numbers on the wire. */
export function isNumericType(type: ElementType): boolean {
  return type !== 'string' && type !== 'bool';
}

/** True for float16, float32 and float64. */
export function isFloatType(type: ElementType): boolean {
  return type === 'float32' || type === 'float64' || type === 'float16';
}

/** Allocates zero-filled (or empty-string) row-major data for `length` elements of `type`. */
export function allocateData(type: ElementType, length: number): TensorData {
  switch (type) {
    case 'float32': return new Float32Array(length);
    case 'float64': return new Float64Array(length);
    // ONNX Runtime's JS API carries float16 as raw IEEE half bits.
    case 'float16': return new Uint16Array(length);
    case 'int8': return new Int8Array(length);
    case 'uint8': return new Uint8Array(length);
    case 'int16': return new Int16Array(length);
    case 'uint16': return new Uint16Array(length);
    case 'int32': return new Int32Array(length);
    case 'uint32': return new Uint32Array(length);
    case 'int64': return new BigInt64Array(length);
    case 'uint64': return new BigUint64Array(length);
    case 'bool': return new Uint8Array(length);
    case 'string': return new Array<string>(length).fill('');
  }
}

/**
 * Stores one JSON value as element `index` of `data` (allocated by allocateData for `type`); returns the rule the value
 * breaks, or undefined once stored. Never throws; callers turn the rule into a FieldIssue.
 */
export function storeJsonValue(type: ElementType, data: TensorData, index: number, value: unknown): ValueRule | undefined {
  switch (type) {
    case 'float32':
    case 'float64': {
      if (typeof value !== 'number') return 'type';
      if (!Number.isFinite(value)) return 'finite';
      const target = data as Float32Array;
      target[index] = value;
      // Finite doubles above float32's maximum round to Infinity on the store.
      if (type === 'float32' && !Number.isFinite(target[index]!)) return 'range';
      return undefined;
    }
    case 'float16': {
      if (typeof value !== 'number') return 'type';
      if (!Number.isFinite(value)) return 'finite';
      const bits = numberToHalf(value);
      if ((bits & 0x7c00) === 0x7c00) return 'range';
      (data as Uint16Array)[index] = bits;
      return undefined;
    }
    case 'int64':
    case 'uint64': {
      if (typeof value !== 'number') return 'type';
      if (!Number.isInteger(value)) return Number.isFinite(value) ? 'integer' : 'finite';
      if (value > MAX_SAFE || value < (type === 'int64' ? -MAX_SAFE : 0)) return 'range';
      // Exact: every safe integer converts to BigInt without loss.
      (data as BigInt64Array)[index] = BigInt(value);
      return undefined;
    }
    case 'int8':
    case 'uint8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32': {
      if (typeof value !== 'number') return 'type';
      if (!Number.isInteger(value)) return Number.isFinite(value) ? 'integer' : 'finite';
      const [min, max] = INT_RANGES[type]!;
      if (value < min || value > max) return 'range';
      (data as Int32Array)[index] = value;
      return undefined;
    }
    case 'bool':
      if (typeof value !== 'boolean') return 'type';
      (data as Uint8Array)[index] = value ? 1 : 0;
      return undefined;
    case 'string':
      if (typeof value !== 'string') return 'type';
      if (value.length > MAX_STRING_LENGTH) return 'max_length';
      (data as string[])[index] = value;
      return undefined;
  }
}

/** A human sentence for a rule broken by `value` against `type`; only called on the error path. */
export function valueRuleMessage(type: ElementType, rule: ValueRule, value: unknown): string {
  switch (rule) {
    case 'type':
      return `expected ${expectedKind(type)}, got ${jsonKind(value)}`;
    case 'finite':
      return `expected a finite number for ${type}`;
    case 'integer':
      return `expected an integer for ${type}, got ${String(value)}`;
    case 'range': {
      if (type === 'int64' || type === 'uint64') {
        return `${String(value)} is outside ${type === 'int64' ? '±' : '0..'}(2^53 - 1), the integers a JSON number carries exactly`;
      }
      const range = INT_RANGES[type];
      if (range) return `${String(value)} is outside the ${type} range [${range[0]}, ${range[1]}]`;
      return `${String(value)} overflows ${type}`;
    }
    case 'max_length':
      return `string of ${(value as string).length} characters is longer than ${MAX_STRING_LENGTH}`;
  }
}

function expectedKind(type: ElementType): string {
  if (type === 'string') return 'a string';
  if (type === 'bool') return 'true or false';
  if (isFloatType(type)) return `a number (${type})`;
  return `an integer (${type})`;
}

/** The JSON kind of a value, for error messages. */
export function jsonKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string': return 'a string';
    case 'number': return Number.isFinite(value) ? 'a number' : String(value);
    case 'boolean': return 'a boolean';
    case 'object': return 'an object';
    default: return typeof value;
  }
}

/**
 * Reads element `index` of `data` as a JSON value: int64/uint64 become numbers when safe and decimal strings beyond,
 * bool becomes true/false, float16 becomes its number, float32 is widened to a double as-is (never rounded to text).
 */
export function readJsonValue(type: ElementType, data: TensorData, index: number): number | string | boolean {
  switch (type) {
    case 'int64':
    case 'uint64': {
      const big = (data as BigInt64Array)[index]!;
      const n = Number(big);
      return Number.isSafeInteger(n) ? n : big.toString();
    }
    case 'bool': return (data as Uint8Array)[index] !== 0;
    case 'float16': return halfToNumber((data as Uint16Array)[index]!);
    case 'string': return (data as string[])[index]!;
    default: return (data as Float64Array)[index]!;
  }
}

/** Reads element `index` of numeric `data` as a JS number (bigints converted, possibly losing precision past 2^53). */
export function readNumber(type: ElementType, data: TensorData, index: number): number {
  if (type === 'float16') return halfToNumber((data as Uint16Array)[index]!);
  if (type === 'string') return Number.NaN;
  return Number((data as Float64Array)[index]!);
}

/** Encodes a JS number as IEEE 754 binary16 bits, rounding to nearest even; overflow gives ±Infinity bits. */
export function numberToHalf(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const a = Math.abs(value);
  if (a === Infinity) return sign | 0x7c00;
  if (a === 0) return sign;
  if (a < 2 ** -14) {
    // Subnormal: a = m * 2^-24; m = 1024 rounds up into the smallest normal, whose bits are exactly 0x0400.
    return sign | roundHalfEven(a * 2 ** 24);
  }
  let exponent = Math.floor(Math.log2(a));
  // log2 can be off by one near powers of two; the scaling below must be exact.
  if (2 ** exponent > a) exponent--;
  else if (2 ** (exponent + 1) <= a) exponent++;
  if (exponent > 15) return sign | 0x7c00;
  let mantissa = roundHalfEven((a / 2 ** exponent - 1) * 1024);
  if (mantissa === 1024) {
    mantissa = 0;
    exponent++;
    if (exponent > 15) return sign | 0x7c00;
  }
  return sign | ((exponent + 15) << 10) | mantissa;
}

/** Decodes IEEE 754 binary16 bits into a JS number. */
export function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? Number.NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}
