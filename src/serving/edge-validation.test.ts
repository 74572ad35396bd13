import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseContract } from '../contracts/index.ts';
import { applyEdgeValidation, compileEdgeValidation } from './edge-validation.ts';

const contract = parseContract(readFileSync(new URL('../contracts/fixtures/loans-demo.odcs.yaml', import.meta.url), 'utf8'));
const good = { income: 52000, loan_amount: 18000, age: 34, credit_history_years: 6, debt_ratio: 0.42, employment_type: 'salaried' };

test('reject: any violation refuses the request, naming record, field and rule', () => {
  const edge = compileEdgeValidation(contract, 'reject');
  assert.deepEqual(applyEdgeValidation(edge, [good, good]).imputed.filter(Boolean), []);
  assert.throws(() => applyEdgeValidation(edge, [good, { ...good, employment_type: 'pirate', age: '34' }]), (err: { code: string; issues: { field: string; rule: string }[] }) => {
    assert.equal(err.code, 'SERVING_INPUT_INVALID');
    assert.deepEqual(err.issues.map((i) => `${i.field} ${i.rule}`).sort(), ['/records/1/age type', '/records/1/employment_type enum']);
    return true;
  });
});

test('impute: a violating field with a declared default takes it and is flagged; the caller\'s records are untouched', () => {
  const edge = compileEdgeValidation(contract, 'impute');
  const records = [good, { ...good, employment_type: 'pirate' }];
  const outcome = applyEdgeValidation(edge, records);
  assert.deepEqual(outcome.imputed, [undefined, ['employment_type']]);
  assert.equal((outcome.records[1] as { employment_type: string }).employment_type, 'salaried');
  assert.equal((records[1] as { employment_type: string }).employment_type, 'pirate', 'the request as received is kept for the log');
  assert.deepEqual(outcome.violations, [{ name: 'employment_type', rule: 'enum' }]);
});

test('impute: a violating field without a default still refuses the request', () => {
  const edge = compileEdgeValidation(contract, 'impute');
  assert.throws(() => applyEdgeValidation(edge, [{ ...good, debt_ratio: 42 }]), (err: { issues: { field: string; rule: string }[] }) =>
    err.issues.some((i) => i.field === '/records/0/debt_ratio' && i.rule === 'maximum'));
});

test('fallback: violating records are marked for the rule instead of refusing the request', () => {
  const edge = compileEdgeValidation(contract, 'fallback', { prediction: 0 });
  const outcome = applyEdgeValidation(edge, [good, { ...good, debt_ratio: 42 }, good]);
  assert.deepEqual(outcome.fallback, [false, true, false]);
  assert.deepEqual(outcome.violations, [{ name: 'debt_ratio', rule: 'maximum' }]);
});

test('impute: the declared default first, then a reference median or mode that satisfies the field; its source is flagged', () => {
  const edge = compileEdgeValidation(contract, 'impute', {
    reference: { rows: 10, medians: { debt_ratio: 0.3, age: 40.5 }, modes: { employment_type: 'contractor' }, source: 'train.csv' },
  });
  assert.equal(edge.references.has('age'), false, 'a median that breaks the integer type is never imputed');
  const outcome = applyEdgeValidation(edge, [{ ...good, debt_ratio: 42, employment_type: 'pirate' }]);
  assert.deepEqual(outcome.imputedFrom, [{ debt_ratio: 'median', employment_type: 'default' }]);
  assert.equal((outcome.records[0] as { debt_ratio: number }).debt_ratio, 0.3);
  assert.throws(() => applyEdgeValidation(edge, [{ ...good, age: 7 }]), (err: { issues: { field: string }[] }) => err.issues[0]!.field === '/records/0/age');
});

test('fallback with a version: violating records are marked with the violations that sent them', () => {
  const edge = compileEdgeValidation(contract, 'fallback', { fallbackVersion: 2 });
  const outcome = applyEdgeValidation(edge, [good, { ...good, employment_type: 'pirate' }]);
  assert.deepEqual(outcome.fallback, [false, true]);
  assert.deepEqual(outcome.reasons[1]!.map((r) => `${r.name} ${r.rule}`), ['employment_type enum']);
});
