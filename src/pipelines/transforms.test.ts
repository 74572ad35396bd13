import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { compileTransforms, EXPRESSION_FUNCTION_NAMES } from './index.ts';
import type { CompiledTransforms } from './index.ts';
import type { FieldIssue } from '../shared/errors.ts';

const MISSING = Symbol('missing');

/** The issues compileTransforms throws for `steps` (fails when it does not throw DATASET_INVALID). */
function issuesOf(steps: unknown, options?: { secret?: string; fields?: readonly string[] }): FieldIssue[] {
  try {
    compileTransforms(steps, options);
  } catch (err) {
    const e = err as { code?: string; issues?: FieldIssue[] };
    assert.equal(e.code, 'DATASET_INVALID');
    assert.ok(Array.isArray(e.issues) && e.issues.length > 0);
    return e.issues;
  }
  assert.fail(`expected ${JSON.stringify(steps)} to be refused`);
}

/** `[pointer, rule]` pairs, for compact assertions. */
function rulesOf(steps: unknown, options?: { secret?: string; fields?: readonly string[] }): [string, string][] {
  return issuesOf(steps, options).map((i) => [i.field, i.rule]);
}

function okRow(t: CompiledTransforms, row: Record<string, unknown>): Record<string, unknown> {
  const r = t.apply(row);
  assert.ok(r.ok, `expected ok, got ${JSON.stringify(r)}`);
  return r.row;
}

/** Casts `value` (or a missing field) with one step; returns the field's value, MISSING, or the failure. */
function castOf(to: string, value: unknown): unknown {
  const t = compileTransforms([{ cast: { field: 'x', to } }]);
  const r = t.apply(value === MISSING ? {} : { x: value });
  if (!r.ok) return { failed: r.reasons };
  return Object.hasOwn(r.row, 'x') ? r.row.x : MISSING;
}

function castFails(to: string, value: unknown): boolean {
  const r = castOf(to, value) as { failed?: unknown };
  return typeof r === 'object' && r !== null && 'failed' in r;
}

/** Derives `o` from `expr` over `row`; returns the value or the refusal message. */
function derive(expr: string, row: Record<string, unknown>): unknown {
  const r = compileTransforms([{ derive: { field: 'o', expr } }]).apply(row);
  return r.ok ? r.row.o : { refused: r.reasons[0]?.message, rule: r.reasons[0]?.rule, field: r.reasons[0]?.field };
}

// ------------------------------------------------------------------------------------------------------------
// pipeline basics

test('undefined, null and [] are the identity pipeline, still returning a copy', () => {
  for (const steps of [undefined, null, []]) {
    const t = compileTransforms(steps);
    assert.deepEqual(t.steps, []);
    const input = { a: 1, b: 'x' };
    const r = t.apply(input);
    assert.ok(r.ok);
    assert.deepEqual(r.row, input);
    assert.notEqual(r.row, input);
    assert.deepEqual(t.outputFields(['a', 'b']), ['a', 'b']);
  }
});

test('apply never mutates its input, including on refusal', () => {
  const t = compileTransforms([
    { rename: { from: 'a', to: 'b' } }, { cast: { field: 'n', to: 'number' } }, { derive: { field: 'd', expr: 'n * 2' } },
    { drop: ['z'] }, { mask: { field: 'e', method: 'hash', salt: 's' } }, { mask: { field: 'p', method: 'redact' } },
  ]);
  const input = { a: 1, n: '21', z: true, e: 'me@example.com', p: 'secret', nested: { k: 1 } };
  const snapshot = structuredClone(input);
  const out = okRow(t, input);
  assert.deepEqual(input, snapshot);
  assert.equal(out.b, 1);
  assert.equal(out.n, 21);
  assert.equal(out.d, 42);
  assert.equal(Object.hasOwn(out, 'z'), false);
  assert.equal(out.p, null);
  assert.match(out.e as string, /^[0-9a-f]{64}$/);
  const frozen = Object.freeze({ a: 1, b: 2, n: 'abc' });
  const r = t.apply(frozen);
  assert.equal(r.ok, false);
  assert.deepEqual(frozen, { a: 1, b: 2, n: 'abc' });
});

test('the first refusing step stops the row with its reason', () => {
  const t = compileTransforms([{ cast: { field: 'x', to: 'number' } }, { derive: { field: 'y', expr: 'x / 0' } }]);
  assert.deepEqual(t.apply({ x: 'abc' }), {
    ok: false, reasons: [{ field: '/x', rule: 'cast', message: 'cannot cast "abc" to number' }],
  });
  assert.deepEqual(t.apply({ x: '1' }), {
    ok: false, reasons: [{ field: '/y', rule: 'derive', message: 'cannot derive "y": division by zero' }],
  });
});

test('steps are returned normalized and frozen', () => {
  const steps = [{ drop: ['a', 'a', 'b'] }, { mask: { field: 'e', method: 'hash', salt: 'k' } }];
  const t = compileTransforms(steps);
  assert.deepEqual(t.steps, [{ drop: ['a', 'b'] }, { mask: { field: 'e', method: 'hash', salt: 'k' } }]);
  assert.ok(Object.isFrozen(t.steps));
});

test('outputFields follows every step', () => {
  const t = compileTransforms([
    { rename: { from: 'a', to: 'b' } }, { rename: { from: 'absent', to: 'q' } }, { derive: { field: 'ratio', expr: 'x / y' } },
    { derive: { field: 'x', expr: 'x + 1' } }, { drop: ['y'] }, { cast: { field: 'x', to: 'string' } }, { mask: { field: 'b', method: 'redact' } },
  ]);
  assert.deepEqual(t.outputFields(['a', 'x', 'y']), ['x', 'b', 'ratio']);
  assert.deepEqual(t.outputFields([]), ['ratio', 'x']);
});

// ------------------------------------------------------------------------------------------------------------
// compile-time validation

test('the steps must be an array of one-key objects', () => {
  assert.deepEqual(rulesOf({ rename: { from: 'a', to: 'b' } }), [['/transforms', 'type']]);
  assert.deepEqual(rulesOf('drop a'), [['/transforms', 'type']]);
  assert.deepEqual(rulesOf([null, 3, ['drop'], {}, { rename: { from: 'a', to: 'b' }, drop: ['c'] }]), [
    ['/transforms/0', 'type'], ['/transforms/1', 'type'], ['/transforms/2', 'type'], ['/transforms/3', 'shape'], ['/transforms/4', 'shape'],
  ]);
  assert.deepEqual(rulesOf([{ explode: {} }, { 'a/b~c': 1 }]), [['/transforms/0/explode', 'unknown_step'], ['/transforms/1/a~1b~0c', 'unknown_step']]);
  assert.deepEqual(rulesOf(new Array(1001).fill({ drop: ['a'] })), [['/transforms', 'max_items']]);
});

test('one issue per problem across the whole array, with pointers and rules', () => {
  const err = (() => {
    try {
      compileTransforms([
        { rename: { from: 'a' } },
        { cast: { field: 'x', to: 'float' } },
        { derive: { field: 'r', expr: 'debt / ' } },
        { drop: 'a' },
        { mask: { field: 'e', method: 'hash' } },
        { rename: { from: 1, to: '', extra: true } },
      ]);
    } catch (e) {
      return e as { code: string; message: string; issues: FieldIssue[] };
    }
    return assert.fail('expected a throw');
  })();
  assert.equal(err.code, 'DATASET_INVALID');
  assert.match(err.message, /^invalid transforms: \/transforms\/0\/rename\/to: "to" is required \(and 7 more\)$/);
  assert.deepEqual(err.issues.map((i) => [i.field, i.rule]), [
    ['/transforms/0/rename/to', 'required'],
    ['/transforms/1/cast/to', 'enum'],
    ['/transforms/2/derive/expr', 'syntax'],
    ['/transforms/3/drop', 'type'],
    ['/transforms/4/mask/salt', 'required'],
    ['/transforms/5/rename/extra', 'unknown_key'],
    ['/transforms/5/rename/from', 'type'],
    ['/transforms/5/rename/to', 'empty'],
  ]);
  for (const i of err.issues) assert.ok(i.message.length > 0);
});

test('step bodies: types, empties, reserved names', () => {
  assert.deepEqual(rulesOf([{ rename: 'a->b' }, { cast: null }, { derive: [] }, { mask: 'email' }]), [
    ['/transforms/0/rename', 'type'], ['/transforms/1/cast', 'type'], ['/transforms/2/derive', 'type'], ['/transforms/3/mask', 'type'],
  ]);
  assert.deepEqual(rulesOf([{ rename: { from: 'a', to: 'a' } }]), [['/transforms/0/rename/to', 'same_field']]);
  assert.deepEqual(rulesOf([{ drop: [] }, { drop: ['a', 2, ''] }]), [
    ['/transforms/0/drop', 'empty'], ['/transforms/1/drop/1', 'type'], ['/transforms/1/drop/2', 'empty'],
  ]);
  assert.deepEqual(rulesOf([{ cast: { field: '__proto__', to: 'number' } }, { rename: { from: 'a', to: '__proto__' } }]), [
    ['/transforms/0/cast/field', 'reserved'], ['/transforms/1/rename/to', 'reserved'],
  ]);
  assert.deepEqual(rulesOf([{ cast: { field: 'x', to: 'Number' } }, { cast: { field: 'x', to: 3 } }]), [
    ['/transforms/0/cast/to', 'enum'], ['/transforms/1/cast/to', 'enum'],
  ]);
  assert.deepEqual(rulesOf([{ mask: { field: 'e', method: 'encrypt' } }, { mask: { field: 'e', method: 'hash', salt: 7 } }, { mask: { field: 'e', method: 'hash', salt: '' } }]), [
    ['/transforms/0/mask/method', 'enum'], ['/transforms/1/mask/salt', 'type'], ['/transforms/2/mask/salt', 'empty'],
  ]);
  assert.deepEqual(rulesOf([{ derive: { field: 'o', expr: 3 } }, { derive: { field: 'o', expr: '   ' } }, { derive: { field: 'o', expr: 'a+'.repeat(3000) + 'a' } }]), [
    ['/transforms/0/derive/expr', 'type'], ['/transforms/1/derive/expr', 'empty'], ['/transforms/2/derive/expr', 'max_length'],
  ]);
});

test('expression problems are compile-time issues at /derive/expr', () => {
  const at = '/transforms/0/derive/expr';
  const cases: [string, string][] = [
    ['debt /', 'syntax'], ['(a', 'syntax'], ['a b', 'syntax'], ['"unterminated', 'syntax'], ['"bad \\n escape"', 'syntax'], ['a # b', 'syntax'],
    ['frobnicate(a)', 'unknown_function'], ['toString()', 'unknown_function'], ['constructor(a)', 'unknown_function'],
    ['__proto__(a)', 'unknown_function'], ['hasOwnProperty("a")', 'unknown_function'], ["'eval'(\"1\")", 'unknown_function'],
    ['name ~= "(a+)+$"', 'unsupported'], ['a % 2', 'unsupported'], ['a ? 1 : 2', 'unsupported'],
    ['abs()', 'arity'], ['abs(1, 2)', 'arity'], ['round(1, 2, 3)', 'arity'], ['coalesce()', 'arity'], ['pow(2)', 'arity'],
  ];
  for (const [expr, rule] of cases) {
    assert.deepEqual(rulesOf([{ derive: { field: 'o', expr } }]), [[at, rule]], expr);
  }
  const [syntax] = issuesOf([{ derive: { field: 'o', expr: 'debt / ' } }]);
  assert.match(syntax?.message ?? '', /^syntax error: .*Expecting/);
  assert.doesNotMatch(syntax?.message ?? '', /\n/);
});

test('unknown field references are compile-time issues when the input fields are known', () => {
  const steps = [{ rename: { from: 'inc', to: 'income' } }, { derive: { field: 'ratio', expr: 'debt / income' } }, { derive: { field: 'r2', expr: "ratio * 2 + coalesce(bonus, 0) + 'prix €'" } }];
  assert.doesNotThrow(() => compileTransforms(steps, { fields: ['debt', 'inc', 'bonus', 'prix €'] }));
  assert.deepEqual(rulesOf(steps, { fields: ['debt', 'inc'] }), [['/transforms/2/derive/expr', 'unknown_field'], ['/transforms/2/derive/expr', 'unknown_field']]);
  assert.deepEqual(rulesOf([{ drop: ['debt'] }, { derive: { field: 'o', expr: 'debt' } }], { fields: ['debt'] }), [['/transforms/1/derive/expr', 'unknown_field']]);
  // Without the fields, a missing field is simply null at run time.
  assert.equal(derive('nope + 1', {}), null);
});

// ------------------------------------------------------------------------------------------------------------
// rename

test('rename moves a field; a missing source does nothing; an existing target refuses the row', () => {
  const t = compileTransforms([{ rename: { from: 'a', to: 'b' } }]);
  assert.deepEqual(okRow(t, { a: 1, c: 2 }), { c: 2, b: 1 });
  assert.deepEqual(okRow(t, { a: null }), { b: null });
  assert.deepEqual(okRow(t, { c: 2 }), { c: 2 });
  assert.deepEqual(okRow(t, { a: undefined, b: 5 }), { a: undefined, b: 5 });
  assert.deepEqual(okRow(t, { a: 1, b: undefined }), { b: 1 });
  assert.deepEqual(t.apply({ a: 1, b: null }), {
    ok: false, reasons: [{ field: '/b', rule: 'rename', message: 'cannot rename "a" to "b": "b" already exists' }],
  });
});

test('rename handles unicode and pointer-escaped names', () => {
  const t = compileTransforms([{ rename: { from: 'prénom', to: '名前/~x' } }]);
  assert.deepEqual(okRow(t, { prénom: 'Zoë 😀' }), { '名前/~x': 'Zoë 😀' });
  const r = t.apply({ prénom: 'a', '名前/~x': 'b' });
  assert.ok(!r.ok);
  assert.equal(r.reasons[0]?.field, '/名前~1~0x');
});

// ------------------------------------------------------------------------------------------------------------
// cast

test('cast to number', () => {
  const good: [unknown, number | null][] = [
    ['12', 12], [' 12.5 ', 12.5], ['1e3', 1000], ['-0.5', -0.5], ['+7', 7], ['.5', 0.5], ['5.', 5], ['1E-2', 0.01], [12, 12],
    [1e308, 1e308], ['1e308', 1e308], [2 ** 53 + 1, 2 ** 53], ['9007199254740993', 9007199254740992], [10n, 10],
    ['', null], ['   ', null], [null, null],
  ];
  for (const [value, expected] of good) assert.equal(castOf('number', value), expected, String(value));
  for (const bad of ['NaN', 'Infinity', '-Infinity', 'abc', '0x10', '1,000', '1_000', '12abc', '1e309', 'e3', '.', '--1', NaN, Infinity, true, false, [], {}, [1], 2n ** 64n]) {
    assert.ok(castFails('number', bad), String(bad));
  }
  assert.equal(castOf('number', MISSING), MISSING);
  assert.deepEqual(castOf('number', 'abc'), { failed: [{ field: '/x', rule: 'cast', message: 'cannot cast "abc" to number' }] });
});

test('cast to integer refuses fractions and integers a double cannot hold exactly', () => {
  for (const [value, expected] of [['12', 12], ['12.0', 12], ['1e3', 1000], [-3, -3], ['-0', 0], ['', null], [null, null], [2 ** 53 - 1, 2 ** 53 - 1]] as [unknown, unknown][]) {
    assert.equal(castOf('integer', value), expected, String(value));
  }
  assert.ok(Object.is(castOf('integer', '-0'), 0));
  for (const bad of ['12.5', 12.5, '1e308', 1e308, 2 ** 53, '9007199254740993', 'abc', true]) assert.ok(castFails('integer', bad), String(bad));
  assert.deepEqual(castOf('integer', 12.5), { failed: [{ field: '/x', rule: 'cast', message: 'cannot cast 12.5 to integer' }] });
});

test('cast to string', () => {
  for (const [value, expected] of [['', ''], [' a ', ' a '], [12, '12'], [12.5, '12.5'], [1e21, '1e+21'], [true, 'true'], [10n, '10'], [null, null]] as [unknown, unknown][]) {
    assert.equal(castOf('string', value), expected, String(value));
  }
  assert.equal(castOf('string', new Date(Date.UTC(2024, 0, 2))), '2024-01-02T00:00:00.000Z');
  for (const bad of [{}, [1], NaN, Infinity]) assert.ok(castFails('string', bad), String(bad));
  assert.deepEqual(castOf('string', { a: 1 }), { failed: [{ field: '/x', rule: 'cast', message: 'cannot cast an object to string' }] });
});

test('cast to boolean', () => {
  const good: [unknown, boolean | null][] = [
    [true, true], [false, false], ['true', true], ['FALSE', false], [' True ', true], ['1', true], ['0', false], [1, true], [0, false],
    ['yes', true], ['No', false], ['', null], [null, null],
  ];
  for (const [value, expected] of good) assert.equal(castOf('boolean', value), expected, String(value));
  for (const bad of ['2', 2, -1, 'y', 'on', 'truth', 'constructor', 'toString', [], {}]) assert.ok(castFails('boolean', bad), String(bad));
});

test('cast to timestamp outputs ISO 8601 UTC', () => {
  const good: [unknown, string | null][] = [
    ['2024-03-01T12:30:00Z', '2024-03-01T12:30:00.000Z'],
    ['2024-03-01T12:30:00.123456+02:00', '2024-03-01T10:30:00.123Z'],
    ['2024-03-01 12:30:00', '2024-03-01T12:30:00.000Z'],
    [' 2024-03-01T00:00:00-05:00 ', '2024-03-01T05:00:00.000Z'],
    ['2024-02-29', '2024-02-29T00:00:00.000Z'],
    [0, '1970-01-01T00:00:00.000Z'], [1709296200000, '2024-03-01T12:30:00.000Z'], [1.9, '1970-01-01T00:00:00.001Z'],
    [-1, '1969-12-31T23:59:59.999Z'], [new Date(Date.UTC(2020, 5, 1)), '2020-06-01T00:00:00.000Z'], ['', null], [null, null],
  ];
  for (const [value, expected] of good) assert.equal(castOf('timestamp', value), expected, String(value));
  for (const bad of ['2024-02-30T00:00:00Z', '2023-02-29', '2024-13-01', '2024-03-01T24:00:00Z', '2024-03-01T12:30:60Z', 'yesterday', '03/01/2024',
    '1709296200000', '0050-01-01', 'Fri Mar 01 2024', 1e308, 8.64e15, NaN, true, new Date(NaN), {}]) {
    assert.ok(castFails('timestamp', bad), String(bad));
  }
});

test('cast to date outputs the UTC calendar date', () => {
  for (const [value, expected] of [['2024-03-01', '2024-03-01'], ['2024-03-01T23:30:00-05:00', '2024-03-02'], [1709296200000, '2024-03-01'], ['', null], [null, null]] as [unknown, unknown][]) {
    assert.equal(castOf('date', value), expected, String(value));
  }
  for (const bad of ['2024-02-30', '20240301', 'abc', 1e20]) assert.ok(castFails('date', bad), String(bad));
});

test('cast messages bound very long values and keep unicode intact', () => {
  const long = `${'é'.repeat(63)}😀${'x'.repeat(1_000_000)}`;
  const r = castOf('number', long) as { failed: { message: string }[] };
  const msg = r.failed[0]?.message ?? '';
  assert.ok(msg.length < 120, msg);
  assert.ok(msg.includes('…'));
  assert.ok(!/[\ud800-\udbff](?![\udc00-\udfff])/.test(msg), 'no lone surrogate');
  assert.equal(castOf('string', long), long);
});

// ------------------------------------------------------------------------------------------------------------
// derive

test('derive: arithmetic, comparisons, logic and functions', () => {
  const row = { debt: 50, income: 200, name: ' Zoë ', flag: true, n: -2.5, s: 'abc' };
  const cases: [string, unknown][] = [
    ['debt / income', 0.25], ['debt * 2 + 1', 101], ['-debt', -50], ['2 ^ 10', 1024], ['-7 mod 3', 2], ['income - debt', 150],
    ['debt < income', true], ['debt == 50', true], ['s != "abc"', false], ['"a" < "b"', true], ['1 < debt < 100', true],
    ['flag and debt > 10', true], ['not flag', false], ['if debt > 100 then "high" else "low"', 'low'], ['debt in (10, 50)', true],
    ['abs(n)', 2.5], ['min(debt, income, 7)', 7], ['max(debt, income)', 200], ['round(n)', -2], ['round(2 / 3, 2)', 0.67],
    ['floor(n)', -3], ['ceil(n)', -2], ['sqrt(16)', 4], ['log(1)', 0], ['exp(0)', 1], ['pow(2, 3)', 8], ['sign(n)', -1],
    ['lower(name)', ' zoë '], ['upper(s)', 'ABC'], ['trim(name)', 'Zoë'], ['len(name)', 5], ['len("😀")', 1],
    ['concat(s, "-", debt, flag)', 'abc-50true'], ['s + "d"', 'abcd'], ['contains(s, "b")', true], ['starts_with(s, "ab")', true],
    ['ends_with(s, "x")', false], ['coalesce(missing, debt)', 50], ['exists(debt)', true], ['empty("")', true],
    ['true', true], ['null', null], ['"quote \\" and \\\\"', 'quote " and \\'],
  ];
  for (const [expr, expected] of cases) assert.deepEqual(derive(expr, row), expected, expr);
});

test('derive: a null or missing field makes the result null, unless inside coalesce', () => {
  assert.equal(derive('debt / income', { debt: null, income: 2 }), null);
  assert.equal(derive('debt / income', { income: 2 }), null);
  assert.equal(derive('debt / income', { debt: 1, income: null }), null);
  assert.equal(derive('if flag then 1 else b', { flag: true, b: null }), null);
  assert.equal(derive('exists(a) and b', { a: null, b: true }), false);
  assert.equal(derive('coalesce(a, b, 3)', { a: null }), 3);
  assert.equal(derive('coalesce(a * 2, 0)', { a: null }), 0);
  assert.equal(derive('coalesce(a * 2, 0)', { a: 4 }), 8);
  assert.equal(derive('coalesce(upper(a), "none")', {}), 'none');
  assert.equal(derive('coalesce(a, b)', {}), null);
  assert.equal(derive('coalesce(a, 1) + b', { a: 5 }), null);
  assert.equal(derive('coalesce(x of obj, 9)', { obj: { y: 1 } }), 9);
  assert.equal(derive('coalesce(x of obj, 9)', { obj: { x: 1 } }), 1);
  // Documented limit: a null reaching and/or/not/if inside coalesce nulls the whole expression.
  assert.equal(derive('coalesce(a and b, false)', { a: true, b: null }), null);
  // The derived field is always written, so a null result overwrites.
  assert.deepEqual(okRow(compileTransforms([{ derive: { field: 'x', expr: 'y' } }]), { x: 1 }), { x: null });
});

test('derive: type confusions are row-level reasons, not coercions', () => {
  const refused = (expr: string, row: Record<string, unknown>): string => {
    const r = derive(expr, row) as { refused?: string; rule?: string };
    assert.equal(r.rule, 'derive', `${expr} should be refused, got ${JSON.stringify(r)}`);
    return r.refused ?? '';
  };
  assert.match(refused('x * 2', { x: '12' }), /expects a number, got text/);
  assert.match(refused('x + 1', { x: '12' }), /adds two numbers or joins two texts/);
  assert.match(refused('x + 1', { x: true }), /got boolean and number/);
  assert.match(refused('x < "5"', { x: 3 }), /compares two numbers or two texts/);
  assert.match(refused('x and true', { x: 1 }), /logical value/);
  assert.match(refused('abs(x)', { x: '-3' }), /abs\(\) expects a number/);
  assert.match(refused('max(x, 1)', { x: '5' }), /max\(\) expects a number/);
  assert.match(refused('lower(x)', { x: 5 }), /lower\(\) expects text/);
  assert.equal(derive('x == "12"', { x: 12 }), false);
});

test('derive: division by zero and non-finite results are reasons', () => {
  const t = compileTransforms([{ derive: { field: 'ratio', expr: 'debt / income' } }]);
  assert.deepEqual(t.apply({ debt: 1, income: 0 }), {
    ok: false, reasons: [{ field: '/ratio', rule: 'derive', message: 'cannot derive "ratio": division by zero' }],
  });
  for (const [expr, row] of [
    ['x mod 0', { x: 1 }], ['x * 10', { x: 1e308 }], ['x + x', { x: 1.7e308 }], ['10 ^ 400', {}], ['sqrt(-1)', {}], ['log(0)', {}],
    ['exp(1000)', {}], ['x', { x: Infinity }], ['x - 1', { x: NaN }], ['pow(x, 2)', { x: 1e200 }],
  ] as [string, Record<string, unknown>][]) {
    const r = derive(expr, row) as { rule?: string };
    assert.equal(r.rule, 'derive', expr);
  }
  assert.equal(derive('x + 1', { x: 2 ** 53 + 1 }), 2 ** 53 + 1);
  assert.equal(derive('x / 10', { x: 1e308 }), 1e307);
});

test('derive: results must be scalars', () => {
  assert.equal((derive('(1, 2)', {}) as { rule: string }).rule, 'derive');
  assert.equal((derive('obj', { obj: { a: 1 } }) as { rule: string }).rule, 'derive');
  assert.equal(derive('a of obj', { obj: { a: 1 } }), 1);
});

test('derive: unicode field names are single-quoted; unicode values pass through', () => {
  const t = compileTransforms([{ derive: { field: 'total €', expr: "'prix €' * 'qté' + len(\"日本語\")" } }]);
  assert.deepEqual(okRow(t, { 'prix €': 2.5, qté: 4 }), { 'prix €': 2.5, qté: 4, 'total €': 13 });
  assert.equal(derive("upper('nom') + \"✓\"", { nom: 'ß' }), 'SS✓');
  assert.equal(derive("'it\\'s'", { "it's": 1 }), 1);
  assert.equal(derive("'true'", { true: 'field' }), 'field');
  assert.equal(derive('a.b', { 'a.b': 3 }), 3);
});

test('derive: very long strings', () => {
  const big = 'x'.repeat(5_000_000);
  assert.equal(derive('len(s)', { s: big }), 5_000_000);
  assert.equal(derive('len(s + s)', { s: big }), 10_000_000);
});

test('derive: expressions cannot reach prototypes, globals or JS internals', () => {
  const row = { a: 1 };
  // Names are only ever own properties of the row: these are all missing fields, hence null.
  for (const expr of ['constructor', '__proto__', 'this', 'globalThis', 'process', 'require', 'Function', 'data', 'std', 'ops', 'call', 'prop',
    'toString', 'valueOf', 'hasOwnProperty', "'__proto__'", "'constructor'", 'constructor of a', '__proto__ of a', 'constructor of constructor',
    'prototype of toString', 'length of a']) {
    assert.equal(derive(expr, row), null, expr);
  }
  // Calling anything outside the function table fails to compile.
  for (const expr of ['constructor("return process")()', 'Function("return 1")', 'eval("1")', 'require("fs")', 'toString()', 'call(a)']) {
    assert.throws(() => compileTransforms([{ derive: { field: 'o', expr } }]), (e: { code?: string }) => e.code === 'DATASET_INVALID', expr);
  }
  // Code-like text in strings and quoted names stays data.
  assert.equal(derive('"); process.exit(1); ("', {}), '); process.exit(1); (');
  assert.equal(derive("'x\"]; globalThis.pwned = 1; //'", {}), null);
  assert.equal((globalThis as Record<string, unknown>).pwned, undefined);
  // A row that smuggles an own __proto__ (as JSON.parse makes it) is data, not a prototype.
  const evil = JSON.parse('{"__proto__": {"polluted": true}, "a": 2}') as Record<string, unknown>;
  assert.equal(derive('a * 2', evil), 4);
  assert.equal((derive("'__proto__'", evil) as { rule: string }).rule, 'derive');
  assert.equal(derive("polluted of '__proto__'", evil), true);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  const out = okRow(compileTransforms([{ derive: { field: 'b', expr: 'a' } }]), evil);
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
  // Row values that are functions are never called.
  let called = false;
  assert.equal((derive('f', { f: () => { called = true; return 1; } }) as { rule: string }).rule, 'derive');
  assert.equal(called, false);
});

test('the documented function list matches the implementation', () => {
  assert.deepEqual([...EXPRESSION_FUNCTION_NAMES].sort(), [
    'abs', 'ceil', 'coalesce', 'concat', 'contains', 'empty', 'ends_with', 'exists', 'exp', 'floor', 'len', 'log', 'log10', 'log2',
    'lower', 'max', 'min', 'pow', 'round', 'sign', 'sqrt', 'starts_with', 'trim', 'upper',
  ]);
});

// ------------------------------------------------------------------------------------------------------------
// drop, mask

test('drop removes fields, present or not', () => {
  const t = compileTransforms([{ drop: ['a', 'b', 'ü'] }]);
  assert.deepEqual(okRow(t, { a: 1, c: 3, ü: null }), { c: 3 });
  assert.deepEqual(okRow(t, {}), {});
});

test('mask hash is a deterministic HMAC-SHA256 of the UTF-8 text form', () => {
  const hmac = (key: string, text: string): string => createHmac('sha256', key).update(text, 'utf8').digest('hex');
  const t = compileTransforms([{ mask: { field: 'e', method: 'hash', salt: 'pepper' } }]);
  const a = okRow(t, { e: 'zoë@example.com' }).e;
  assert.equal(a, hmac('pepper', 'zoë@example.com'));
  assert.equal(okRow(compileTransforms([{ mask: { field: 'e', method: 'hash', salt: 'pepper' } }]), { e: 'zoë@example.com' }).e, a);
  assert.notEqual(okRow(t, { e: 'zoe@example.com' }).e, a);
  assert.equal(okRow(t, { e: 12 }).e, okRow(t, { e: '12' }).e);
  assert.equal(okRow(t, { e: true }).e, hmac('pepper', 'true'));
  assert.equal(okRow(t, { e: { k: [1] } }).e, hmac('pepper', '{"k":[1]}'));
  assert.equal(okRow(t, { e: null }).e, null);
  assert.deepEqual(okRow(t, {}), {});
  assert.equal(okRow(t, { e: 'x'.repeat(1_000_000) }).e, hmac('pepper', 'x'.repeat(1_000_000)));
});

test('mask hash: the step salt wins over the default secret; the secret alone also works', () => {
  const hmac = (key: string, text: string): string => createHmac('sha256', key).update(text, 'utf8').digest('hex');
  const salted = compileTransforms([{ mask: { field: 'e', method: 'hash', salt: 'step' } }], { secret: 'server' });
  assert.equal(okRow(salted, { e: 'v' }).e, hmac('step', 'v'));
  const unsalted = compileTransforms([{ mask: { field: 'e', method: 'hash' } }], { secret: 'server' });
  assert.equal(okRow(unsalted, { e: 'v' }).e, hmac('server', 'v'));
  assert.deepEqual(rulesOf([{ mask: { field: 'e', method: 'hash' } }], { secret: '' }), [['/transforms/0/mask/salt', 'required']]);
});

test('mask redact replaces with null and leaves missing fields missing', () => {
  const t = compileTransforms([{ mask: { field: 'ssn', method: 'redact' } }]);
  assert.deepEqual(okRow(t, { ssn: '123-45-6789', a: 1 }), { ssn: null, a: 1 });
  assert.deepEqual(okRow(t, { ssn: null }), { ssn: null });
  assert.deepEqual(okRow(t, { a: 1 }), { a: 1 });
});

test('a compiled pipeline is deterministic and quick over many rows', () => {
  const t = compileTransforms([
    { cast: { field: 'income', to: 'number' } }, { derive: { field: 'ratio', expr: 'round(coalesce(debt, 0) / income, 4)' } },
    { mask: { field: 'email', method: 'hash', salt: 's' } }, { drop: ['debt'] },
  ]);
  const rows = Array.from({ length: 20_000 }, (_, i) => ({ income: String(1000 + i), debt: i % 7 === 0 ? null : i, email: `u${i % 100}@x.io` }));
  const first = rows.map((r) => t.apply(r));
  const started = performance.now();
  const second = rows.map((r) => t.apply(r));
  const elapsed = performance.now() - started;
  assert.deepEqual(second, first);
  assert.ok(elapsed < 2000, `20k rows took ${elapsed} ms`);
});
