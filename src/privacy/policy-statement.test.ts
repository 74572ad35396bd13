import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDecisionRegister, personalInformationKinds, type DecisionRegisterView } from './decision-register.ts';
import { buildPolicyStatement } from './policy-statement.ts';

function entry(model: string, body: Record<string, unknown>, piiFields: string[] = []): DecisionRegisterView {
  const parsed = parseDecisionRegister(body);
  return {
    model, ...parsed, pii_fields: piiFields, personal_information_kinds: personalInformationKinds(parsed.personal_information, piiFields),
    updated_by: 'key:x', updated_at: '2026-12-10T00:00:00.000Z',
  };
}

const LOANS = entry('loan-default', {
  decision: 'whether a personal loan application is approved', automation: 'solely_automated', effect: 'similarly_significant',
  effect_description: 'access to credit', personal_information: ['financial information', 'employment details'],
  purpose: 'assessing credit risk', contact: 'privacy@example.com.au',
}, ['income', 'credit_history_years']);
const FRAUD = entry('fraud', {
  decision: 'whether a claim is referred for investigation', automation: 'substantially_assisted', human_review: 'a claims officer reviews every referral',
  effect: 'legal', personal_information: ['claims history'], purpose: 'detecting fraud', contact: 'Privacy Officer',
});
const CHURN = entry('churn', { decision: 'which customers get a retention offer', automation: 'solely_automated', effect: 'not_significant', purpose: 'marketing', contact: 'crm team' });

test('the register entry is validated, naming each bad field', () => {
  assert.throws(() => parseDecisionRegister({ decision: '', automation: 'maybe', effect: 'legal', purpose: 'p', contact: 'c', extra: 1 }), (err: unknown) => {
    const issues = (err as { issues: { field: string; rule: string }[] }).issues.map((i) => `${i.field} ${i.rule}`);
    assert.deepEqual(issues.sort(), ['/automation enum', '/decision length', '/extra unknown_field']);
    return true;
  });
});

test('kinds of personal information: declared kinds plus the contract\'s PII fields in words, without duplicates', () => {
  assert.deepEqual(personalInformationKinds(['Income', 'contact details'], ['income', 'credit_history_years']), ['Income', 'contact details', 'credit history years']);
});

test('the APP 1.8 statement lists the kinds of personal information and of decisions, solely automated and assisted', () => {
  const statement = buildPolicyStatement([LOANS, FRAUD, CHURN], 'Acme Lending Pty Ltd');
  assert.deepEqual(statement.models, ['loan-default', 'fraud']);
  assert.deepEqual(statement.not_covered, ['churn'], 'no significant effect: outside APP 1.7');
  assert.deepEqual(statement.personal_information, ['financial information', 'employment details', 'income', 'credit history years', 'claims history']);
  assert.equal(statement.text, `## Automated decisions

Acme Lending Pty Ltd uses computer programs that use personal information to make decisions, or to do things substantially and directly related to making decisions, that could reasonably be expected to significantly affect the rights or interests of individuals.

### Kinds of personal information used by these computer programs

- Financial information
- Employment details
- Income
- Credit history years
- Claims history

### Kinds of decisions made solely by the operation of computer programs

- Whether a personal loan application is approved (purpose: assessing credit risk; this can significantly affect rights or interests: access to credit; contact: privacy@example.com.au)

### Kinds of decisions for which computer programs do things substantially and directly related to making the decision

- Whether a claim is referred for investigation (purpose: detecting fraud; this can affect legal rights or obligations; human involvement: a claims officer reviews every referral; contact: Privacy Officer)
`);
});

test('without covered decisions the statement says so, in the organisation\'s voice', () => {
  assert.match(buildPolicyStatement([CHURN]).text, /We do not use computer programs to make, or to do things substantially and directly related to making, decisions/);
  const onlyAssisted = buildPolicyStatement([FRAUD]).text;
  assert.match(onlyAssisted, /### Kinds of decisions made solely by the operation of computer programs\n\n- None: no decision of this kind is made by a computer program alone\./);
});
