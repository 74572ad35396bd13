import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { compileValidator, parseContract } from './index.ts';

const root = new URL('../../', import.meta.url);
const contract = parseContract(readFileSync(new URL('src/contracts/fixtures/loans-demo.odcs.yaml', root), 'utf8'));
const demoModel = JSON.parse(readFileSync(new URL('demo/loans-demo.json', root), 'utf8')) as { features: string[] };
const sample = JSON.parse(readFileSync(new URL('demo/sample-records.json', root), 'utf8')) as { records: unknown[] };

test('the demo contract declares exactly the demo model features', () => {
  assert.deepEqual(contract.fields.map((f) => f.name), demoModel.features);
  assert.deepEqual(contract.warnings, []);
  assert.equal(contract.fields.find((f) => f.name === 'income')!.pii, true);
  assert.deepEqual(contract.fields.find((f) => f.name === 'employment_type')!.validValues,
    ['salaried', 'self_employed', 'contractor', 'unemployed']);
});

test('the demo sample records validate with 0 violations', () => {
  const v = compileValidator(contract);
  assert.ok(sample.records.length > 0);
  sample.records.forEach((r, i) => assert.deepEqual(v.validate(r, `/records/${i}`), []));
});

test('every row of the demo training CSV conforms (label column aside)', () => {
  const v = compileValidator(contract, { allowUnknown: true });
  const [header, ...lines] = readFileSync(new URL('demo/loans-demo.csv', root), 'utf8').trim().split('\n');
  const cols = header!.split(',');
  for (const [i, line] of lines.entries()) {
    const cells = line.split(',');
    const rec: Record<string, unknown> = {};
    cols.forEach((c, j) => { rec[c] = c === 'employment_type' ? cells[j] : Number(cells[j]); });
    assert.deepEqual(v.validate(rec, `/rows/${i}`), [], line);
  }
});

test('bad demo records are caught with row, field and rule', () => {
  const v = compileValidator(contract);
  const good = sample.records[0] as Record<string, unknown>;
  const cases: [Record<string, unknown>, string, string][] = [
    [{ ...good, income: '72000' }, '/records/0/income', 'type'],
    [{ ...good, income: -1 }, '/records/0/income', 'minimum'],
    [{ ...good, loan_amount: 0 }, '/records/0/loan_amount', 'exclusive_minimum'],
    [{ ...good, age: 41.5 }, '/records/0/age', 'type'],
    [{ ...good, age: 17 }, '/records/0/age', 'minimum'],
    [{ ...good, credit_history_years: null }, '/records/0/credit_history_years', 'required'],
    [{ ...good, debt_ratio: NaN }, '/records/0/debt_ratio', 'type'],
    [{ ...good, employment_type: 'retired' }, '/records/0/employment_type', 'enum'],
    [{ ...good, employment_type: 'Salaried' }, '/records/0/employment_type', 'enum'],
    [{ ...good, zip: '90210' }, '/records/0/zip', 'unknown_field'],
  ];
  for (const [rec, field, rule] of cases) {
    assert.deepEqual(v.validate(rec, '/records/0').map((x) => [x.field, x.rule]), [[field, rule]]);
  }
  const { age: _age, ...noAge } = good;
  assert.deepEqual(v.validate(noAge, '/records/2').map((x) => [x.field, x.rule]), [['/records/2/age', 'required']]);
});
