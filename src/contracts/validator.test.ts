import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codePointLength, compileValidator, parseContract, pointerSegment } from './index.ts';
import type { Contract, FieldRule, FieldViolation } from './index.ts';

function contractOf(...fields: (Partial<FieldRule> & Pick<FieldRule, 'name' | 'logicalType'>)[]): Contract {
  return {
    id: 't', name: 't', version: '1.0.0', status: 'active', compatibility: 'backward', primaryKey: [], warnings: [],
    fields: fields.map((f) => ({
      required: false, nullable: !(f.required ?? false), unique: false, primaryKey: false, pii: false, ...f,
    })),
  };
}

/** Validate `value` as field `x` of a one-field contract; return the rules that failed. */
function rulesFor(rule: Partial<FieldRule> & Pick<FieldRule, 'logicalType'>, value: unknown): string[] {
  const v = compileValidator(contractOf({ name: 'x', ...rule }));
  return v.validate(value === MISSING ? {} : { x: value }, '/records/0').map((x) => x.rule);
}
const MISSING = Symbol('missing');

function table(rule: Partial<FieldRule> & Pick<FieldRule, 'logicalType'>, good: unknown[], bad: [unknown, string][]) {
  for (const g of good) assert.deepEqual(rulesFor(rule, g), [], `good ${String(g)} for ${JSON.stringify(rule)}`);
  for (const [b, r] of bad) assert.deepEqual(rulesFor(rule, b), [r], `bad ${String(b)} for ${JSON.stringify(rule)}`);
}

test('missing vs null vs present', () => {
  table({ logicalType: 'string', required: true }, ['', 'a'], [[MISSING, 'required'], [null, 'required'], [undefined, 'required']]);
  table({ logicalType: 'string', required: false }, [MISSING, null, undefined, ''], []);
  table({ logicalType: 'integer', required: true }, [0], [[MISSING, 'required'], [null, 'required']]);
  const v = compileValidator(contractOf({ name: 'x', logicalType: 'number', required: true }));
  const [nullV] = v.validate({ x: null }, '/r');
  assert.equal(nullV!.field, '/r/x');
  assert.match(nullV!.message, /null/);
  // inherited properties are not fields of the record
  const c = compileValidator(contractOf({ name: 'constructor', logicalType: 'string', required: true }));
  assert.deepEqual(c.validate({}, '').map((x) => x.rule), ['required']);
});

test('type confusions', () => {
  table({ logicalType: 'integer' }, [0, -7, 12, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, -0], [
    ['12', 'type'], [1.5, 'type'], [NaN, 'type'], [Infinity, 'type'], [-Infinity, 'type'], ['NaN', 'type'],
    [2 ** 53, 'type'], [-(2 ** 53), 'type'], [1e308, 'type'], [true, 'type'], [12n, 'type'], [[1], 'type'], [{}, 'type'],
  ]);
  table({ logicalType: 'number' }, [0, 1.5, -2.25, 1e308, -1e308, 5e-324, 2 ** 60], [
    ['12', 'type'], ['12.5', 'type'], ['NaN', 'type'], ['Infinity', 'type'], [NaN, 'type'], [Infinity, 'type'],
    [-Infinity, 'type'], [false, 'type'], ['', 'type'], [[], 'type'],
  ]);
  table({ logicalType: 'string' }, ['', '12', 'true', 'NaN'], [[12, 'type'], [true, 'type'], [{}, 'type'], [['a'], 'type']]);
  table({ logicalType: 'boolean' }, [true, false], [['true', 'type'], ['false', 'type'], [1, 'type'], [0, 'type']]);
  table({ logicalType: 'object' }, [{}, { a: 1 }], [[[], 'type'], ['{}', 'type'], [1, 'type']]);
  table({ logicalType: 'array' }, [[], [1, 'a']], [[{}, 'type'], ['[]', 'type']]);
});

test('numeric bounds, including huge numbers', () => {
  table({ logicalType: 'number', minimum: 0, maximum: 100 }, [0, 100, 50.5], [[-0.0001, 'minimum'], [100.0001, 'maximum'], [1e308, 'maximum'], [-1e308, 'minimum']]);
  table({ logicalType: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 }, [0.5, Number.MIN_VALUE], [[0, 'exclusive_minimum'], [1, 'exclusive_maximum'], [-3, 'exclusive_minimum']]);
  table({ logicalType: 'integer', minimum: 18, exclusiveMaximum: 100 }, [18, 99], [[17, 'minimum'], [100, 'exclusive_maximum']]);
  table({ logicalType: 'number', maximum: 1e308 }, [1e308], [[1.7e308, 'maximum']]);
  const [v] = compileValidator(contractOf({ name: 'x', logicalType: 'number', maximum: 10 })).validate({ x: 11 }, '/records/3');
  assert.deepEqual(v, { field: '/records/3/x', name: 'x', rule: 'maximum', message: '11 must be <= 10', value: 11 });
});

test('string lengths count code points; empty string is present', () => {
  assert.equal(codePointLength('💳'), 1);
  assert.equal('💳'.length, 2);
  assert.equal(codePointLength('a💳b'), 3);
  assert.equal(codePointLength('\ud800'), 1); // lone surrogate
  table({ logicalType: 'string', required: true, minLength: 1 }, ['a', '💳', 'é'], [['', 'min_length']]);
  table({ logicalType: 'string', minLength: 2 }, ['ab', '💳💳', 'a💳'], [['💳', 'min_length'], ['a', 'min_length']]);
  table({ logicalType: 'string', maxLength: 1 }, ['', 'a', '💳'], [['ab', 'max_length'], ['💳💳', 'max_length']]);
  table({ logicalType: 'string', maxLength: 3 }, ['💳💳💳', 'abc', '日本語'], [['💳💳💳💳', 'max_length'], ['abcd', 'max_length']]);
  const long = 'x'.repeat(1_000_000);
  table({ logicalType: 'string', maxLength: 255 }, ['x'.repeat(255)], [[long, 'max_length'], ['x'.repeat(256), 'max_length']]);
  const [v] = compileValidator(contractOf({ name: 'x', logicalType: 'string', maxLength: 5 })).validate({ x: long }, '');
  assert.ok((v!.value as string).length < 300, 'long values are truncated in violations');
  table({ logicalType: 'string', minLength: 0, maxLength: 0 }, [''], [['a', 'max_length']]);
});

test('pattern (unanchored, ECMA-262, unicode-aware)', () => {
  table({ logicalType: 'string', pattern: 'ACC[0-9]{8}' }, ['ACC12345678', 'xxACC12345678yy'], [['ACC1234567', 'pattern'], ['', 'pattern']]);
  table({ logicalType: 'string', pattern: '^[A-Z]{2}$' }, ['GB'], [['gb', 'pattern'], ['GBR', 'pattern']]);
  table({ logicalType: 'string', pattern: '^.$' }, ['💳'], [['ab', 'pattern']]);
  table({ logicalType: 'string', pattern: '^\\p{Lu}+$' }, ['ÉCOLE'], [['école', 'pattern']]);
  const v = compileValidator(contractOf({ name: 'x', logicalType: 'string', pattern: '^a', maxLength: 1 }));
  assert.deepEqual(v.validate({ x: 'bb' }, '').map((x) => x.rule).sort(), ['max_length', 'pattern']);
});

test('string formats', () => {
  table({ logicalType: 'string', format: 'email' }, ['a@b.co', 'first.last+tag@example.org'], [['a@b', 'format'], ['a b@c.de', 'format'], ['', 'format'], ['@x.io', 'format']]);
  table({ logicalType: 'string', format: 'uuid' }, ['53581432-6c55-4ba2-a65f-72344a91553a', '53581432-6C55-4BA2-A65F-72344A91553A'], [['53581432-6c55-4ba2-a65f-72344a91553', 'format'], ['not-a-uuid', 'format']]);
  table({ logicalType: 'string', format: 'uri' }, ['https://example.com/a?b=1', 'mailto:x@y.z', 'urn:isbn:123'], [['example.com', 'format'], ['http://a b', 'format'], ['/relative', 'format']]);
  table({ logicalType: 'string', format: 'ipv4' }, ['127.0.0.1', '255.255.255.255'], [['256.0.0.1', 'format'], ['1.2.3', 'format'], ['::1', 'format']]);
  table({ logicalType: 'string', format: 'ipv6' }, ['::1', '2001:db8::1'], [['127.0.0.1', 'format'], ['2001:::1', 'format']]);
  table({ logicalType: 'string', format: 'hostname' }, ['example.com', 'localhost'], [['-bad.com', 'format'], ['a_b.com', 'format']]);
  table({ logicalType: 'string', format: 'date' }, ['2024-02-29'], [['2023-02-29', 'format']]);
  table({ logicalType: 'string', format: 'date-time' }, ['2024-01-01T00:00:00Z'], [['2024-01-01T00:00:00', 'format']]);
  table({ logicalType: 'string', format: 'password' }, ['anything'], []); // unenforced formats pass
});

test('date: real calendar dates, bounds compared as dates', () => {
  table({ logicalType: 'date' }, ['2024-02-29', '2000-02-29', '1999-12-31', '0001-01-01'], [
    ['2023-02-29', 'format'], ['1900-02-29', 'format'], ['2024-13-01', 'format'], ['2024-04-31', 'format'], ['2024-00-10', 'format'],
    ['2024-1-1', 'format'], ['20240101', 'format'], ['2024-01-01T00:00:00Z', 'format'], ['', 'format'],
    [20240101, 'type'], [new Date('2024-01-01'), 'type'],
  ]);
  table({ logicalType: 'date', exclusiveMinimum: '2020-01-01', maximum: '2021-01-01' }, ['2020-01-02', '2021-01-01'], [
    ['2020-01-01', 'exclusive_minimum'], ['2021-01-02', 'maximum'], ['1999-06-01', 'exclusive_minimum'],
  ]);
  table({ logicalType: 'date', minimum: '2020-01-01', exclusiveMaximum: '2021-01-01' }, ['2020-01-01'], [['2019-12-31', 'minimum'], ['2021-01-01', 'exclusive_maximum']]);
});

test('timestamp: RFC 3339 with timezone, compared as instants', () => {
  table({ logicalType: 'timestamp' }, ['2024-01-01T00:00:00Z', '2024-01-01T00:00:00.123456+02:00', '2024-01-01 10:00:00-05:30', '2024-01-01t00:00:00z'], [
    ['2024-01-01T00:00:00', 'format'], ['2024-01-01', 'format'], ['2024-01-01T24:00:00Z', 'format'], ['2024-02-30T00:00:00Z', 'format'],
    ['2024-01-01T00:00:00+25:00', 'format'], ['yesterday', 'format'], [1704067200000, 'type'],
  ]);
  // bounds without a timezone are UTC
  table({ logicalType: 'timestamp', minimum: '2020-01-01 00:00:00', maximum: '2021-01-01 00:00:00' }, [
    '2020-01-01T00:00:00Z', '2020-01-01T02:00:00+02:00', '2020-12-31T23:59:59.999Z',
  ], [['2019-12-31T23:59:59Z', 'minimum'], ['2020-01-01T01:00:00+02:00', 'minimum'], ['2021-01-01T00:00:00.001Z', 'maximum']]);
  table({ logicalType: 'timestamp', exclusiveMinimum: '2020-01-01T00:00:00+10:00' }, ['2019-12-31T14:00:01Z'], [['2019-12-31T14:00:00Z', 'exclusive_minimum']]);
});

test('time: HH:mm:ss, compared as wall-clock time', () => {
  table({ logicalType: 'time', minimum: '09:00:00', maximum: '17:30:00' }, ['09:00:00', '12:00:00.5', '17:30:00'], [
    ['08:59:59', 'minimum'], ['17:30:01', 'maximum'], ['25:00:00', 'format'], ['9:00:00', 'format'], [900, 'type'],
  ]);
});

test('enum (validValues): strict equality, no coercion', () => {
  table({ logicalType: 'string', validValues: ['a', 'b', ''] }, ['a', 'b', ''], [['A', 'enum'], [' a', 'enum'], ['c', 'enum']]);
  table({ logicalType: 'integer', validValues: [1, 2] }, [1, 2], [[3, 'enum'], ['1', 'type']]);
  table({ logicalType: 'boolean', validValues: [true] }, [true], [[false, 'enum']]);
  table({ logicalType: 'string', validValues: ['1'] }, ['1'], [[1, 'type']]);
});

test('unknown fields and non-object records', () => {
  const v = compileValidator(contractOf({ name: 'a', logicalType: 'integer' }));
  assert.deepEqual(v.fields, ['a']);
  const out = v.validate({ a: 1, b: 2, 'c/d~e': 3 }, '/records/1');
  assert.deepEqual(out.map((x) => [x.field, x.name, x.rule]), [
    ['/records/1/b', 'b', 'unknown_field'], ['/records/1/c~1d~0e', 'c/d~e', 'unknown_field'],
  ]);
  assert.deepEqual(compileValidator(contractOf({ name: 'a', logicalType: 'integer' }), { allowUnknown: true }).validate({ a: 1, b: 2 }, ''), []);
  for (const bad of [null, undefined, 1, 'x', [], [{ a: 1 }], true]) {
    const r = v.validate(bad, '/records/7');
    assert.equal(r.length, 1);
    assert.equal(r[0]!.rule, 'not_object');
    assert.equal(r[0]!.field, '/records/7');
  }
  // prototype-less and JSON.parse'd objects with __proto__ keys
  const o = Object.create(null) as Record<string, unknown>;
  o.a = 1;
  assert.deepEqual(v.validate(o, ''), []);
  const proto = JSON.parse('{"a": 1, "__proto__": {"x": 1}}') as unknown;
  assert.deepEqual(v.validate(proto, '').map((x) => x.name), ['__proto__']);
  assert.equal(pointerSegment('a/b~c'), 'a~1b~0c');
});

test('every violation of a record is listed, in field order, with pointers', () => {
  const v = compileValidator(contractOf(
    { name: 'age', logicalType: 'integer', required: true, minimum: 18 },
    { name: 'name', logicalType: 'string', required: true, minLength: 1 },
    { name: 'score', logicalType: 'number' },
  ));
  const out: FieldViolation[] = v.validate({ age: 12, name: '', score: 'high', extra: 1 }, '/records/3');
  assert.deepEqual(out.map((x) => `${x.field} ${x.rule}`), [
    '/records/3/age minimum', '/records/3/name min_length', '/records/3/score type', '/records/3/extra unknown_field',
  ]);
  assert.equal(out[2]!.value, 'high');
});

test('validators compiled from a parsed YAML contract', () => {
  const c = parseContract(`apiVersion: v3.1.0
kind: DataContract
id: x
version: 1.0.0
status: active
schema:
  - name: t
    properties:
      - name: account_id
        logicalType: string
        required: true
        logicalTypeOptions: { minLength: 11, maxLength: 11, pattern: "^ACC[0-9]{8}$" }
      - name: status
        logicalType: string
        quality:
          - metric: invalidValues
            mustBe: 0
            arguments: { validValues: [open, closed] }
`);
  const v = compileValidator(c);
  assert.deepEqual(v.validate({ account_id: 'ACC12345678', status: 'open' }, ''), []);
  assert.deepEqual(v.validate({ account_id: 'ACC1234567X', status: 'Open' }, '').map((x) => x.rule), ['pattern', 'enum']);
});
