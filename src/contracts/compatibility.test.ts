import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHANGE_CODES, checkCompatibility, diffContracts } from './compatibility.ts';
import { parseContract } from './parse.ts';
import type { Compatibility, Contract, FieldRule } from './contract.ts';

type F = Partial<FieldRule> & Pick<FieldRule, 'name' | 'logicalType'>;

function field(f: F): FieldRule {
  return { required: false, nullable: !(f.required ?? false), unique: false, primaryKey: false, pii: false, ...f };
}

function contractOf(fields: F[], extra: Partial<Contract> = {}): Contract {
  return {
    id: 't', name: 't', version: '1.0.0', status: 'active', compatibility: 'backward', primaryKey: [], warnings: [],
    fields: fields.map(field), ...extra,
  };
}

const base: F = { name: 'x', logicalType: 'number', required: true };

/**
 * [title, previous field(s), next field(s), expected change code, ok under backward, ok under forward].
 * FULL must be ok iff both are; NONE is always ok.
 */
type Row = [string, F[], F[], string, boolean, boolean];
const other: F = { name: 'id', logicalType: 'string', required: true };
const rows: Row[] = [
  // fields added / removed
  ['add optional field', [other], [other, { name: 'x', logicalType: 'string' }], 'field_added_optional', true, true],
  ['add required field, no default', [other], [other, { name: 'x', logicalType: 'string', required: true }], 'field_added_required', false, true],
  ['add required field with default', [other], [other, { name: 'x', logicalType: 'string', required: true, defaultValue: 'a' }], 'field_added_required_with_default', true, true],
  ['remove required field', [other, base], [other], 'field_removed', true, false],
  ['remove optional field', [other, { ...base, required: false }], [other], 'field_removed', true, true],
  ['remove required field with default', [other, { ...base, defaultValue: 1 }], [other], 'field_removed', true, true],
  // types
  ['integer → number', [{ ...base, logicalType: 'integer' }], [base], 'type_widened', true, false],
  ['number → integer', [base], [{ ...base, logicalType: 'integer' }], 'type_narrowed', false, true],
  ['date → string', [{ ...base, logicalType: 'date' }], [{ ...base, logicalType: 'string' }], 'type_widened', true, false],
  ['string → timestamp', [{ ...base, logicalType: 'string' }], [{ ...base, logicalType: 'timestamp' }], 'type_narrowed', false, true],
  ['string → number', [{ ...base, logicalType: 'string' }], [base], 'type_changed', false, false],
  ['boolean → integer', [{ ...base, logicalType: 'boolean' }], [{ ...base, logicalType: 'integer' }], 'type_changed', false, false],
  // required
  ['optional → required', [{ ...base, required: false }], [base], 'became_required', false, true],
  ['required → optional', [base], [{ ...base, required: false }], 'became_optional', true, false],
  // ranges
  ['minimum raised', [{ ...base, minimum: 0 }], [{ ...base, minimum: 1 }], 'range_narrowed', false, true],
  ['maximum lowered', [{ ...base, maximum: 10 }], [{ ...base, maximum: 9 }], 'range_narrowed', false, true],
  ['minimum added', [base], [{ ...base, minimum: 0 }], 'range_narrowed', false, true],
  ['inclusive → exclusive minimum', [{ ...base, minimum: 0 }], [{ ...base, exclusiveMinimum: 0 }], 'range_narrowed', false, true],
  ['minimum lowered', [{ ...base, minimum: 1 }], [{ ...base, minimum: 0 }], 'range_widened', true, false],
  ['maximum removed', [{ ...base, maximum: 10 }], [base], 'range_widened', true, false],
  ['exclusive → inclusive maximum', [{ ...base, exclusiveMaximum: 10 }], [{ ...base, maximum: 10 }], 'range_widened', true, false],
  ['date maximum lowered', [{ ...base, logicalType: 'date', maximum: '2030-01-01' }], [{ ...base, logicalType: 'date', maximum: '2029-12-31' }], 'range_narrowed', false, true],
  ['timestamp minimum lowered', [{ ...base, logicalType: 'timestamp', minimum: '2020-01-01T00:00:00Z' }], [{ ...base, logicalType: 'timestamp', minimum: '2020-01-01T01:00:00+02:00' }], 'range_widened', true, false],
  // enums
  ['enum value removed', [{ ...base, logicalType: 'string', validValues: ['a', 'b'] }], [{ ...base, logicalType: 'string', validValues: ['a'] }], 'enum_value_removed', false, true],
  ['enum value added', [{ ...base, logicalType: 'string', validValues: ['a'] }], [{ ...base, logicalType: 'string', validValues: ['a', 'b'] }], 'enum_value_added', true, false],
  ['enum introduced', [{ ...base, logicalType: 'string' }], [{ ...base, logicalType: 'string', validValues: ['a'] }], 'enum_added', false, true],
  ['enum dropped', [{ ...base, logicalType: 'string', validValues: ['a'] }], [{ ...base, logicalType: 'string' }], 'enum_removed', true, false],
  // lengths, patterns, formats
  ['maxLength decreased', [{ ...base, logicalType: 'string', maxLength: 10 }], [{ ...base, logicalType: 'string', maxLength: 5 }], 'max_length_decreased', false, true],
  ['maxLength added', [{ ...base, logicalType: 'string' }], [{ ...base, logicalType: 'string', maxLength: 5 }], 'max_length_decreased', false, true],
  ['maxLength increased', [{ ...base, logicalType: 'string', maxLength: 5 }], [{ ...base, logicalType: 'string', maxLength: 10 }], 'max_length_increased', true, false],
  ['minLength increased', [{ ...base, logicalType: 'string' }], [{ ...base, logicalType: 'string', minLength: 1 }], 'min_length_increased', false, true],
  ['minLength decreased', [{ ...base, logicalType: 'string', minLength: 2 }], [{ ...base, logicalType: 'string', minLength: 1 }], 'min_length_decreased', true, false],
  ['pattern added', [{ ...base, logicalType: 'string' }], [{ ...base, logicalType: 'string', pattern: '^a' }], 'pattern_added', false, true],
  ['pattern removed', [{ ...base, logicalType: 'string', pattern: '^a' }], [{ ...base, logicalType: 'string' }], 'pattern_removed', true, false],
  ['pattern changed', [{ ...base, logicalType: 'string', pattern: '^a' }], [{ ...base, logicalType: 'string', pattern: '^b' }], 'pattern_changed', false, false],
  ['format added', [{ ...base, logicalType: 'string' }], [{ ...base, logicalType: 'string', format: 'email' }], 'format_added', false, true],
  ['format removed', [{ ...base, logicalType: 'string', format: 'uuid' }], [{ ...base, logicalType: 'string' }], 'format_removed', true, false],
  ['format changed', [{ ...base, logicalType: 'string', format: 'uuid' }], [{ ...base, logicalType: 'string', format: 'email' }], 'format_changed', false, false],
  // dataset-level rules
  ['became unique', [base], [{ ...base, unique: true }], 'became_unique', false, true],
  ['no longer unique', [{ ...base, unique: true }], [base], 'became_not_unique', true, false],
  ['null limit tightened', [{ ...base, required: false, maxNullFraction: 0.1 }], [{ ...base, required: false, maxNullFraction: 0.05 }], 'null_limit_tightened', false, true],
  ['null limit added', [{ ...base, required: false }], [{ ...base, required: false, maxNullRows: 3 }], 'null_limit_tightened', false, true],
  ['null limit relaxed', [{ ...base, required: false, maxNullFraction: 0.05 }], [{ ...base, required: false, maxNullFraction: 0.1 }], 'null_limit_relaxed', true, false],
  // informational
  ['default changed', [{ ...base, defaultValue: 1 }], [{ ...base, defaultValue: 2 }], 'default_changed', true, true],
  ['classification changed', [base], [{ ...base, classification: 'pii', pii: true }], 'classification_changed', true, true],
];

const MODES: Compatibility[] = ['backward', 'forward', 'full', 'none'];

test('every change kind, under every mode', () => {
  const seen = new Set<string>();
  for (const [title, prevFields, nextFields, code, okBackward, okForward] of rows) {
    const prev = contractOf(prevFields);
    const next = contractOf(nextFields);
    const diff = diffContracts(prev, next);
    assert.deepEqual(diff.map((d) => d.change), [code], `${title}: ${JSON.stringify(diff)}`);
    seen.add(code);
    const expected: Record<Compatibility, boolean> = {
      backward: okBackward, forward: okForward, full: okBackward && okForward, none: true,
    };
    for (const mode of MODES) {
      const r = checkCompatibility(prev, next, mode);
      assert.equal(r.mode, mode);
      assert.equal(r.compatible, expected[mode], `${title} under ${mode}`);
      assert.deepEqual(r.changes, diff);
      assert.equal(r.breaking.length, expected[mode] ? 0 : 1, `${title} under ${mode}: breaking`);
      if (!expected[mode]) {
        assert.equal(r.breaking[0]!.change, code);
        assert.equal(r.breaking[0]!.field, 'x');
        assert.ok(r.breaking[0]!.message.length > 0);
      }
    }
  }
  const contractLevel = ['primary_key_changed', 'event_time_changed', 'compatibility_changed'];
  const missing = CHANGE_CODES.filter((c) => !seen.has(c) && !contractLevel.includes(c));
  assert.deepEqual(missing, [], 'every field-level change code has a row');
});

test('contract-level changes', () => {
  const f: F[] = [other, { name: 't', logicalType: 'timestamp', required: true }];
  const a = contractOf(f, { primaryKey: ['id'] });
  const cases: [Partial<Contract>, string, boolean, boolean][] = [
    [{ primaryKey: ['id', 't'] }, 'primary_key_changed', false, false],
    [{ primaryKey: ['id'], eventTimeField: 't' }, 'event_time_changed', true, true],
    [{ primaryKey: ['id'], compatibility: 'full' }, 'compatibility_changed', true, true],
  ];
  for (const [extra, code, okB, okF] of cases) {
    const b = contractOf(f, extra);
    assert.deepEqual(diffContracts(a, b).map((d) => d.change), [code]);
    assert.deepEqual(diffContracts(a, b)[0]!.field, '');
    assert.equal(checkCompatibility(a, b, 'backward').compatible, okB, code);
    assert.equal(checkCompatibility(a, b, 'forward').compatible, okF, code);
  }
});

test('identical contracts have no differences; mode defaults to the next contract\'s', () => {
  const a = contractOf([base, { name: 's', logicalType: 'string', validValues: ['a'], maxLength: 3 }]);
  assert.deepEqual(diffContracts(a, a), []);
  const r = checkCompatibility(a, { ...a, fields: [{ ...field(base), required: false }], compatibility: 'forward' });
  assert.equal(r.mode, 'forward');
  assert.equal(r.compatible, false);
  assert.deepEqual(r.breaking.map((d) => d.change).sort(), ['became_optional']);
});

test('equivalent bounds are not differences; integer exclusive bounds are normalised', () => {
  const a = contractOf([{ ...base, logicalType: 'integer', exclusiveMinimum: 0, maximum: 10 }]);
  const b = contractOf([{ ...base, logicalType: 'integer', minimum: 1, exclusiveMaximum: 11 }]);
  assert.deepEqual(diffContracts(a, b), []);
  // minimum and exclusiveMinimum together: the strictest counts
  const c = contractOf([{ ...base, minimum: 0, exclusiveMinimum: 5 }]);
  const d = contractOf([{ ...base, exclusiveMinimum: 5 }]);
  assert.deepEqual(diffContracts(c, d), []);
  // integer → number with the same range: only the type widening
  const e = contractOf([{ ...base, logicalType: 'integer', minimum: 0 }]);
  const g = contractOf([{ ...base, minimum: 0 }]);
  assert.deepEqual(diffContracts(e, g).map((x) => x.change), ['type_widened']);
  // an incompatible type change does not also report range or enum changes
  const h = contractOf([{ ...base, logicalType: 'string', validValues: ['a'] }]);
  assert.deepEqual(diffContracts(e, h).map((x) => x.change), ['type_changed']);
});

test('several differences at once, on parsed ODCS documents', () => {
  const doc = (props: string, mode = 'backward') => `apiVersion: v3.1.0
kind: DataContract
id: loans
version: 1.0.0
status: active
customProperties:
  - property: tarmac.compatibility
    value: ${mode}
schema:
  - name: loans
    properties:
${props}`;
  const v1 = parseContract(doc(`      - name: income
        logicalType: number
        required: true
        logicalTypeOptions: { minimum: 0 }
      - name: region
        logicalType: string
        required: true
        quality:
          - metric: invalidValues
            mustBe: 0
            arguments: { validValues: [nsw, vic, qld] }
      - name: note
        logicalType: string`));
  const v2 = parseContract(doc(`      - name: income
        logicalType: number
        required: true
        logicalTypeOptions: { minimum: 100 }
      - name: region
        logicalType: string
        required: true
        quality:
          - metric: invalidValues
            mustBe: 0
            arguments: { validValues: [nsw, vic, wa] }
      - name: age
        logicalType: integer
        required: true`, 'full'));
  const r = checkCompatibility(v1, v2);
  assert.equal(r.mode, 'full');
  assert.equal(r.compatible, false);
  assert.deepEqual(r.changes.map((d) => `${d.field}:${d.change}`), [
    'income:range_narrowed', 'region:enum_value_removed', 'region:enum_value_added', 'age:field_added_required',
    'note:field_removed', ':compatibility_changed',
  ]);
  assert.deepEqual(r.breaking.map((d) => `${d.field}:${d.change}`), [
    'income:range_narrowed', 'region:enum_value_removed', 'region:enum_value_added', 'age:field_added_required',
  ]);
  assert.match(r.breaking[1]!.message, /"qld"/);
  assert.deepEqual(checkCompatibility(v1, v2, 'backward').breaking.map((d) => d.change),
    ['range_narrowed', 'enum_value_removed', 'field_added_required']);
  assert.deepEqual(checkCompatibility(v1, v2, 'forward').breaking.map((d) => d.change), ['enum_value_added']);
  assert.equal(checkCompatibility(v1, v2, 'none').compatible, true);
});
