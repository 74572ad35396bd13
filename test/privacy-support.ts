import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { registerViaApi, ROOT, tempPgDatabase, type TestTarmac } from './support.ts';

/** The PII key the privacy tests run with, so expected hashes can be computed here. */
export const PII_KEY = 'test-pii-key-0123456789';

/** HMAC-SHA256 of a value's text under the test key: what Tarmac stores for a hashed PII field. */
export function keyed(value: string | number): string {
  return createHmac('sha256', PII_KEY).update(String(value), 'utf8').digest('hex');
}

/**
 * The demo loans contract plus two personal fields: `customer_id` (PII, hashed, the data subject) and `email` (PII,
 * masked). `income` is already PII there (classification confidential).
 */
export function privateContractYaml(): string {
  const base = readFileSync(path.join(ROOT, 'src/contracts/fixtures/loans-demo.odcs.yaml'), 'utf8')
    .replace(/^id: loans-demo$/m, 'id: loans-private').replace(/^name: loans-demo$/m, 'name: loans-private');
  return `${base.trimEnd()}
      - name: customer_id
        logicalType: string
        required: true
        classification: pii
        customProperties:
          - property: tarmac.subject
            value: true
      - name: email
        logicalType: string
        classification: pii
        customProperties:
          - property: tarmac.piiTreatment
            value: mask
`;
}

/** A valid record of the private contract for customer `id`. */
export function record(id: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    income: 52000, loan_amount: 18000, age: 34, credit_history_years: 6, debt_ratio: 0.42, employment_type: 'salaried',
    customer_id: id, email: `${id.toLowerCase()}@example.com`, ...overrides,
  };
}

/** The model's features (the demo loans contract's fields) of a record. */
export function features(r: Record<string, unknown>): Record<string, unknown> {
  const { customer_id: _id, email: _email, ...rest } = r;
  return rest;
}

/**
 * Registers the demo loans contract and a model `loans-private` bound to it (its `income` is PII) and deployed, and
 * the private contract with a dataset `applications` keyed by customer.
 */
export async function installPrivateModel(t: TestTarmac): Promise<void> {
  for (const payload of [readFileSync(path.join(ROOT, 'src/contracts/fixtures/loans-demo.odcs.yaml'), 'utf8'), privateContractYaml()]) {
    const registered = await t.app.inject({
      method: 'POST', url: '/v1/contracts', payload, headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/yaml' },
    });
    assert.equal(registered.statusCode, 201, registered.body);
  }
  const version = await registerViaApi(t, 'loans-private', new Uint8Array(readFileSync(path.join(ROOT, 'demo/loans-demo.onnx'))), { contract: 'loans-demo@1' });
  assert.equal(version.statusCode, 201, version.body);
  const deployed = await t.call('PUT', '/v1/models/loans-private/deployment', { version: 1 });
  assert.equal(deployed.statusCode, 200, deployed.body);
  const dataset = await t.call('POST', '/v1/datasets', { name: 'applications', contract: 'loans-private', key: ['customer_id'] });
  assert.equal(dataset.statusCode, 201, dataset.body);
}

/** A PostgreSQL database of its own for one test file (see tempPgDatabase). */
export const privatePgDatabase = tempPgDatabase;
