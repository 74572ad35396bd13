import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { parseContract } from '../contracts/index.ts';
import { compileTransforms } from '../pipelines/index.ts';
import { MASKED_VALUE, PiiHasher, piiRulesOf, protectReasons, sourceRules, subjectFieldsOf } from './pii.ts';

const KEY = 'unit-test-key';
const hmac = (text: string) => createHmac('sha256', KEY).update(text, 'utf8').digest('hex');

const CONTRACT = `apiVersion: v3.1.0
kind: DataContract
id: people
name: people
version: 1.0.0
status: active
schema:
  - name: person
    properties:
      - name: customer_id
        logicalType: string
        classification: pii
        customProperties:
          - property: tarmac.subject
            value: true
      - name: email
        logicalType: string
        customProperties:
          - property: tarmac.pii
            value: true
          - property: tarmac.piiTreatment
            value: mask
      - name: score
        logicalType: number
`;

test('a contract names PII fields, their treatment (hash by default) and its subject field', () => {
  const contract = parseContract(CONTRACT);
  assert.deepEqual(piiRulesOf(contract), [{ field: 'customer_id', treatment: 'hash' }, { field: 'email', treatment: 'mask' }]);
  assert.deepEqual(subjectFieldsOf(contract), ['customer_id']);
  assert.throws(() => parseContract(CONTRACT.replace('value: mask', 'value: shred')), /tarmac\.piiTreatment|not valid/);
});

test('records are protected by copy: keyed hash, mask, null kept, other fields untouched', () => {
  const hasher = new PiiHasher(KEY);
  const rules = piiRulesOf(parseContract(CONTRACT));
  const input = { customer_id: 'C-1', email: 'a@b.c', score: 0.5 };
  assert.deepEqual(hasher.protectRecord(input, rules), { customer_id: hmac('C-1'), email: MASKED_VALUE, score: 0.5 });
  assert.deepEqual(input, { customer_id: 'C-1', email: 'a@b.c', score: 0.5 }, 'the input is not mutated');
  assert.deepEqual(hasher.protectRecord({ customer_id: null }, rules), { customer_id: null });
  assert.equal(hasher.hash(12), hasher.hash('12'), '12 and "12" hash alike, like ingestion masks');
});

test('the keyed hash equals what ingestion\'s mask: hash stores, so the two join', () => {
  const transforms = compileTransforms([{ mask: { field: 'customer_id', method: 'hash' } }], { secret: KEY });
  const masked = transforms.apply({ customer_id: 'C-77' });
  assert.ok(masked.ok);
  assert.equal(masked.row.customer_id, new PiiHasher(KEY).hash('C-77'));
});

test('rows as read: renamed and masked source fields are PII too; unreadable rows are withheld', () => {
  const rules = sourceRules([{ field: 'customer_id', treatment: 'hash' }], [{ rename: { from: 'cid', to: 'customer_id' } }, { mask: { field: 'phone', method: 'redact' } }]);
  assert.deepEqual(rules.map((r) => r.field).sort(), ['cid', 'customer_id', 'phone']);
  const hasher = new PiiHasher(KEY);
  assert.deepEqual(hasher.protectRaw({ cid: 'C-1', phone: '0400', x: 1 }, rules), { cid: hmac('C-1'), phone: hmac('0400'), x: 1 });
  const withheld = hasher.protectRaw('C-1,0400,"broken', rules) as { withheld: string; hmac_sha256: string; length: number };
  assert.equal(withheld.hmac_sha256, hmac('C-1,0400,"broken'));
  assert.equal(withheld.length, 16);
});

test('reasons about a PII field lose the quoted value; others keep their message', () => {
  const out = protectReasons([
    { field: '/email', rule: 'format', message: '"bob@x" is not a valid email' },
    { field: '/score', rule: 'minimum', message: '-1 must be ≥ 0' },
  ], new Set(['email']));
  assert.ok(!out[0]!.message.includes('bob@x'));
  assert.equal(out[1]!.message, '-1 must be ≥ 0');
});
