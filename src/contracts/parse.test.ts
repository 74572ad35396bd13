import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { parseContract } from './index.ts';
import type { Contract } from './index.ts';
import { isTarmacError } from '../shared/errors.ts';
import type { FieldIssue } from '../shared/errors.ts';

const EXAMPLES = '/work/shared/specs/odcs-examples/';
const exampleText = (f: string) => readFileSync(new URL(f, `file://${EXAMPLES}`), 'utf8');

const HEAD = `apiVersion: v3.1.0
kind: DataContract
id: c-1
version: 2.0.0
status: active
name: loans
`;

function doc(properties: string, extra = ''): string {
  return `${HEAD}${extra}schema:\n  - name: loans\n    properties:\n${properties}`;
}

function issuesOf(text: string): FieldIssue[] {
  try {
    parseContract(text);
  } catch (err) {
    assert.ok(isTarmacError(err));
    assert.equal(err.code, 'CONTRACT_INVALID');
    assert.ok(err.issues.length > 0);
    return err.issues;
  }
  assert.fail('expected CONTRACT_INVALID');
}

test('every ODCS example parses', () => {
  const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.odcs.yaml'));
  assert.ok(files.length >= 8);
  for (const f of files) {
    const c = parseContract(exampleText(f));
    assert.equal(typeof c.id, 'string', f);
    assert.match(c.version, /^\d+\.\d+\.\d+$/, f);
    assert.equal(c.compatibility, 'backward', f);
  }
});

test('all-data-types maps logicalTypeOptions', () => {
  const c = parseContract(exampleText('all-data-types.odcs.yaml'));
  const by = new Map(c.fields.map((f) => [f.name, f]));
  assert.deepEqual(c.fields.map((f) => f.logicalType), [
    'string', 'date', 'timestamp', 'timestamp', 'time', 'number', 'integer', 'boolean', 'array', 'object',
  ]);
  const acc = by.get('account_id')!;
  assert.equal(acc.minLength, 11);
  assert.equal(acc.maxLength, 11);
  assert.equal(acc.pattern, 'ACC[0-9]{8}');
  assert.equal(by.get('txn_ref_date')!.exclusiveMinimum, '2020-01-01');
  assert.equal(by.get('txn_ref_date')!.maximum, '2021-01-01');
  assert.equal(by.get('age')!.minimum, 18);
  assert.equal(by.get('age')!.exclusiveMaximum, 100);
  assert.equal(by.get('amount')!.format, 'f32');
  assert.equal(acc.required, false);
  assert.equal(acc.nullable, true);
});

test('several schema objects: the first is used and a warning says so; schemaObject option picks another', () => {
  const text = exampleText('full-example.odcs.yaml');
  const c = parseContract(text);
  assert.equal(c.schemaObject, 'tbl');
  assert.match(c.warnings.join('\n'), /2 schema objects; using the first/);
  assert.deepEqual(c.primaryKey, ['rcvr_id']);
  const rcvr = c.fields.find((f) => f.name === 'rcvr_id')!;
  assert.equal(rcvr.classification, 'restricted');
  assert.equal(rcvr.pii, true);
  const date = c.fields.find((f) => f.name === 'transaction_reference_date')!;
  assert.equal(date.pii, false);
  assert.deepEqual(date.examples, ['2022-10-03', '2020-01-28']);
  const otherName = 'receivers';
  const other = parseContract(text, { schemaObject: otherName });
  assert.equal(other.schemaObject, otherName);
  assert.equal(other.warnings.length, 0);
  assert.deepEqual(other.primaryKey, ['id', 'country_code']);
  assert.throws(() => parseContract(text, { schemaObject: 'nope' }), (e: unknown) => isTarmacError(e) && e.issues[0]!.field === '/schema');
});

test('no schema object / no properties: zero fields and a warning', () => {
  const c = parseContract(exampleText('database-table-sla.odcs.yaml'));
  assert.deepEqual(c.fields, []);
  assert.match(c.warnings[0]!, /no schema object/);
  const d = parseContract(`${HEAD}schema:\n  - name: empty\n`);
  assert.deepEqual(d.fields, []);
  assert.equal(d.schemaObject, 'empty');
  assert.match(d.warnings[0]!, /no properties/);
});

test('quality rules: invalidValues → validValues, nullValues → null limits', () => {
  const v = parseContract(exampleText('column-validity.odcs.yaml')).fields[0]!;
  assert.deepEqual(v.validValues, ['', 'n/a']);
  const c = parseContract(exampleText('column-completeness.odcs.yaml')).fields[0]!;
  assert.equal(c.maxNullRows, 0);
  const text = doc(`      - name: a
        logicalType: number
        quality:
          - metric: nullValues
            mustBeLessThan: 5
            unit: percent
      - name: b
        logicalType: number
        quality:
          - metric: nullValues
            mustBeLessOrEqualTo: 10
            unit: rows
`);
  const [a, b] = parseContract(text).fields;
  assert.equal(a!.maxNullFraction, 0.05);
  assert.equal(a!.nullLimitExclusive, true);
  assert.equal(b!.maxNullRows, 10);
  assert.equal(b!.nullLimitExclusive, undefined);
});

test('Tarmac custom properties: compatibility, freshness, event time, pii, default', () => {
  const text = doc(`      - name: ts
        logicalType: timestamp
        required: true
        customProperties:
          - property: tarmac.eventTime
            value: true
          - property: tarmac.maxLatenessSeconds
            value: 3600
      - name: email
        logicalType: string
        customProperties:
          - property: tarmac.pii
            value: true
      - name: income
        logicalType: number
        classification: Confidential
        customProperties:
          - property: tarmac.default
            value: 50000
      - name: id
        logicalType: integer
        primaryKey: true
        primaryKeyPosition: 2
      - name: region
        logicalType: string
        primaryKey: true
        primaryKeyPosition: 1
`, `customProperties:\n  - property: tarmac.compatibility\n    value: full\n  - property: tarmac.freshnessSeconds\n    value: 900\n`);
  const c: Contract = parseContract(text);
  assert.equal(c.compatibility, 'full');
  assert.equal(c.freshnessSeconds, 900);
  assert.equal(c.eventTimeField, 'ts');
  assert.equal(c.maxLatenessSeconds, 3600);
  assert.deepEqual(c.primaryKey, ['region', 'id']);
  const by = new Map(c.fields.map((f) => [f.name, f]));
  assert.equal(by.get('email')!.pii, true);
  assert.equal(by.get('income')!.pii, true);
  assert.equal(by.get('income')!.defaultValue, 50000);
  assert.equal(by.get('ts')!.required, true);
  assert.equal(by.get('ts')!.nullable, false);
  assert.equal(c.name, 'loans');
  assert.equal(c.version, '2.0.0');
  assert.equal(c.status, 'active');
});

test('YAML syntax errors name line and column', () => {
  const issues = issuesOf(`${HEAD}schema:\n  - name: x\n    properties: [\n`);
  assert.equal(issues[0]!.rule, 'yaml');
  assert.match(issues[0]!.message, /line \d+, column \d+/);
  const dup = issuesOf(`${HEAD}name: again\n`);
  assert.match(dup[0]!.message, /line 7/);
});

test('ODCS schema violations become issues with JSON pointers', () => {
  const missing = issuesOf('kind: DataContract\napiVersion: v3.1.0\nid: x\nstatus: draft\n');
  assert.ok(missing.some((i) => i.field === '/version' && i.rule === 'odcs.required'));
  const badType = issuesOf(doc('      - name: a\n        logicalType: decimal\n'));
  assert.ok(badType.some((i) => i.field === '/schema/0/properties/0/logicalType'), JSON.stringify(badType));
  const extra = issuesOf(doc('      - name: a\n        logicalType: string\n        logicalTypeOptions:\n          minimum: 3\n'));
  assert.ok(extra.some((i) => i.field.startsWith('/schema/0/properties/0/logicalTypeOptions')), JSON.stringify(extra));
  assert.ok(issuesOf('- just\n- a list\n').length > 0);
  const noOperator = issuesOf(doc('      - name: a\n        logicalType: string\n        quality:\n          - metric: invalidValues\n            arguments: { validValues: [x] }\n'));
  assert.deepEqual(noOperator.map((i) => [i.field, i.rule]), [['/schema/0/properties/0/quality/0', 'odcs.oneOf']]);
  assert.match(noOperator[0]!.message, /mustBe, mustNotBe/);
});

test("Tarmac's own checks", () => {
  const cases: [string, string, string][] = [
    [doc('      - name: a\n        logicalType: string\n      - name: a\n        logicalType: number\n'), '/schema/0/properties/1/name', 'unique_name'],
    [doc('      - name: a\n        logicalType: string\n        logicalTypeOptions:\n          pattern: "([a-z"\n'), '/schema/0/properties/0/logicalTypeOptions/pattern', 'pattern'],
    [doc('      - name: a\n        logicalType: number\n        logicalTypeOptions:\n          minimum: 10\n          maximum: 1\n'), '/schema/0/properties/0/logicalTypeOptions', 'range'],
    [doc('      - name: a\n        logicalType: integer\n        logicalTypeOptions:\n          exclusiveMinimum: 5\n          maximum: 5\n'), '/schema/0/properties/0/logicalTypeOptions', 'range'],
    [doc('      - name: a\n        logicalType: date\n        logicalTypeOptions:\n          minimum: "2021-01-01"\n          maximum: "2020-01-01"\n'), '/schema/0/properties/0/logicalTypeOptions', 'range'],
    [doc('      - name: a\n        logicalType: date\n        logicalTypeOptions:\n          minimum: "2021-02-30"\n'), '/schema/0/properties/0/logicalTypeOptions/minimum', 'bound'],
    [doc('      - name: a\n        logicalType: string\n        logicalTypeOptions:\n          minLength: 5\n          maxLength: 2\n'), '/schema/0/properties/0/logicalTypeOptions', 'range'],
    [doc('      - name: a\n        logicalType: string\n        customProperties:\n          - property: tarmac.color\n            value: red\n'), '/schema/0/properties/0/customProperties/0/property', 'tarmac.unknown'],
    [doc('      - name: a\n        logicalType: string\n', 'customProperties:\n  - property: tarmac.compatibility\n    value: sideways\n'), '/customProperties/0/value', 'tarmac.compatibility'],
    [doc('      - name: a\n        logicalType: string\n', 'customProperties:\n  - property: tarmac.eventTime\n    value: true\n'), '/customProperties/0/property', 'tarmac.unknown'],
    [doc('      - name: a\n        logicalType: string\n', 'customProperties:\n  - property: tarmac.freshnessSeconds\n    value: -1\n'), '/customProperties/0/value', 'tarmac.freshnessSeconds'],
    [doc('      - name: a\n        logicalType: string\n        customProperties:\n          - property: tarmac.eventTime\n            value: true\n'), '/schema/0/properties/0/customProperties/0/value', 'tarmac.eventTime'],
    [doc('      - name: a\n        logicalType: date\n        customProperties:\n          - property: tarmac.eventTime\n            value: true\n      - name: b\n        logicalType: timestamp\n        customProperties:\n          - property: tarmac.eventTime\n            value: true\n'), '/schema/0/properties/1/customProperties/0/value', 'tarmac.eventTime'],
    [doc('      - name: a\n        logicalType: date\n        customProperties:\n          - property: tarmac.maxLatenessSeconds\n            value: 5\n'), '/schema/0/properties/0/customProperties/0/property', 'tarmac.maxLatenessSeconds'],
    [doc('      - name: a\n        logicalType: string\n        customProperties:\n          - property: tarmac.pii\n            value: "yes"\n'), '/schema/0/properties/0/customProperties/0/value', 'tarmac.pii'],
    [doc('      - name: a\n        logicalType: integer\n        logicalTypeOptions:\n          maximum: 10\n        customProperties:\n          - property: tarmac.default\n            value: 11\n'), '/schema/0/properties/0/customProperties/0/value', 'tarmac.default'],
    [doc('      - name: a\n        logicalType: integer\n        customProperties:\n          - property: tarmac.default\n            value: "7"\n'), '/schema/0/properties/0/customProperties/0/value', 'tarmac.default'],
    [doc('      - name: a\n        logicalType: number\n        quality:\n          - metric: nullValues\n            mustBeLessThan: 150\n            unit: percent\n'), '/schema/0/properties/0/quality/0', 'null_limit'],
  ];
  for (const [text, field, rule] of cases) {
    const issues = issuesOf(text);
    assert.ok(issues.some((i) => i.field === field && i.rule === rule), `${field} ${rule}: ${JSON.stringify(issues)}`);
  }
});

test('all issues are reported together', () => {
  const issues = issuesOf(doc('      - name: a\n        logicalType: string\n        logicalTypeOptions:\n          pattern: "("\n      - name: a\n        logicalType: string\n'));
  assert.equal(issues.length, 2);
});

test('a valid pattern, a default that passes, and an unenforced format warning', () => {
  const c = parseContract(doc(`      - name: code
        logicalType: string
        logicalTypeOptions:
          pattern: "^\\\\p{Lu}{2}$"
          format: password
        customProperties:
          - property: tarmac.default
            value: "GB"
`));
  assert.equal(c.fields[0]!.defaultValue, 'GB');
  assert.match(c.warnings.join(), /format "password" is not enforced/);
});
