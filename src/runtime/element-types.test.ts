import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allocateData, halfToNumber, numberToHalf, readJsonValue, storeJsonValue } from './element-types.ts';

test('float16 encoding matches IEEE 754 binary16 on known values', () => {
  const cases: [number, number][] = [
    [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [0.1, 0x2e66], [65504, 0x7bff], [65519, 0x7bff], [65520, 0x7c00],
    [2 ** -24, 0x0001], [2 ** -25, 0x0000], [1.5 * 2 ** -25, 0x0001], [2 ** -14, 0x0400], [Infinity, 0x7c00], [-Infinity, 0xfc00],
    // Ties to even: 1 + 2^-11 lies halfway between 1 and 1 + 2^-10.
    [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02],
  ];
  for (const [value, bits] of cases) assert.equal(numberToHalf(value), bits, `${value}`);
  assert.ok(Number.isNaN(halfToNumber(numberToHalf(Number.NaN))));
});

test('every non-NaN float16 bit pattern survives decode then encode', () => {
  for (let bits = 0; bits < 0x10000; bits++) {
    const exponent = (bits >> 10) & 0x1f;
    if (exponent === 0x1f && (bits & 0x3ff) !== 0) continue;
    assert.equal(numberToHalf(halfToNumber(bits)), bits);
  }
});

test('readJsonValue turns int64 beyond 2^53 into decimal strings and keeps safe integers as numbers', () => {
  const data = BigInt64Array.from([2n ** 53n - 1n, 2n ** 53n, -(2n ** 63n)]);
  assert.deepEqual([0, 1, 2].map((i) => readJsonValue('int64', data, i)), [9007199254740991, '9007199254740992', '-9223372036854775808']);
  const u = BigUint64Array.from([2n ** 64n - 1n]);
  assert.equal(readJsonValue('uint64', u, 0), '18446744073709551615');
});

test('storeJsonValue enforces each integer range at its edges', () => {
  const edges: [Parameters<typeof allocateData>[0], number, number][] = [
    ['int8', -128, 127], ['uint8', 0, 255], ['int16', -32768, 32767], ['uint16', 0, 65535], ['int32', -(2 ** 31), 2 ** 31 - 1],
    ['uint32', 0, 2 ** 32 - 1], ['int64', -(2 ** 53 - 1), 2 ** 53 - 1], ['uint64', 0, 2 ** 53 - 1],
  ];
  for (const [type, min, max] of edges) {
    const data = allocateData(type, 1);
    assert.equal(storeJsonValue(type, data, 0, min), undefined, `${type} ${min}`);
    assert.equal(storeJsonValue(type, data, 0, max), undefined, `${type} ${max}`);
    assert.equal(storeJsonValue(type, data, 0, min - 1), 'range', `${type} ${min - 1}`);
    assert.equal(storeJsonValue(type, data, 0, max + (type.endsWith('64') ? 2 : 1)), 'range', `${type} above`);
    assert.equal(readJsonValue(type, data, 0), max);
  }
});
