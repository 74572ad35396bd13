import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseContract } from '../contracts/index.ts';
import type { PredictionRecord, VersionRecord } from '../store/index.ts';
import { MASKED_VALUE } from './pii.ts';
import { PiiPolicy } from './pii-policy.ts';

const CONTRACT = parseContract(`apiVersion: v3.1.0
kind: DataContract
id: people
name: people
version: 1.0.0
status: active
schema:
  - name: person
    properties:
      - name: email
        logicalType: string
        customProperties:
          - property: tarmac.pii
            value: true
          - property: tarmac.piiTreatment
            value: mask
      - name: score
        logicalType: number
`);

test('protectPredictions applies each row its own version\'s rules, however the versions interleave', async () => {
  // Version 1 of "m" is bound to the contract (email is PII); version 2 of "m" and version 1 of "other" are not.
  const versions = {
    getVersion: async (model: string, version: number) =>
      ({ contract: model === 'm' && version === 1 ? { name: 'people', version: 1 } : null }) as unknown as VersionRecord,
  };
  const policy = new PiiPolicy({ versions, contracts: { get: async () => ({ contract: CONTRACT }) }, secret: 'k' });
  const text = '{"email":"a@b.c","score":1}';
  const row = (i: number, model: string, version: number): PredictionRecord => ({
    id: `p${i}`, model, version, variant: 'stable', requestId: 'r', createdAt: 0, latencyMs: 1,
    inputs: { email: 'a@b.c', score: 1 }, inputsJson: text, outputs: { prediction: 1 },
  });
  const rows = [row(0, 'm', 1), row(1, 'm', 1), row(2, 'm', 2), row(3, 'm', 1), row(4, 'other', 1), row(5, 'm', 1)];
  const out = await policy.protectPredictions(rows);
  const protectedRows = [0, 1, 3, 5];
  for (let i = 0; i < rows.length; i++) {
    const inputs = out[i]!.inputs as { email: string };
    if (protectedRows.includes(i)) {
      assert.equal(inputs.email, MASKED_VALUE, `row ${i}`);
      assert.equal(out[i]!.inputsJson, undefined, `row ${i}: the client's text is never stored`);
    } else {
      assert.equal(out[i], rows[i], `row ${i} is kept as it is`);
    }
  }
});
