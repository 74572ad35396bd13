import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AUDIT_GENESIS_HASH, auditHash, canonicalJson, verifyAuditChain } from './audit-hash.ts';
import type { AuditRecord } from './records.ts';

describe('canonicalJson', () => {
  test('sorts keys recursively and otherwise follows JSON.stringify', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } }), '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
    assert.equal(canonicalJson({ u: undefined, n: Number.NaN, d: new Date(0), arr: [undefined] }), '{"arr":[null],"d":"1970-01-01T00:00:00.000Z","n":null}');
    assert.equal(canonicalJson('x'), '"x"');
    assert.equal(canonicalJson(undefined), 'null');
  });

  test('throws on a cycle', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => canonicalJson(cyclic), TypeError);
  });
});

describe('auditHash and verifyAuditChain', () => {
  const fields = (i: number) => ({
    id: `e${i}`,
    createdAt: 1_700_000_000_000 + i,
    actor: 'alice',
    action: 'key.created',
    target: `key/k${i}`,
    outcome: 'ok' as const,
    details: { i },
  });

  function chain(n: number): AuditRecord[] {
    const out: AuditRecord[] = [];
    let prev = AUDIT_GENESIS_HASH;
    for (let i = 0; i < n; i++) {
      const hash = auditHash(prev, fields(i));
      out.push({ seq: i + 1, ...fields(i), prevHash: prev, hash });
      prev = hash;
    }
    return out;
  }

  test('hashes the previous hash, a newline and the canonical JSON of the entry', () => {
    const f = fields(0);
    const expected = createHash('sha256')
      .update(`${AUDIT_GENESIS_HASH}\n{"action":"key.created","actor":"alice","createdAt":1700000000000,"details":{"i":0},"id":"e0","outcome":"ok","target":"key/k0"}`)
      .digest('hex');
    assert.equal(auditHash(AUDIT_GENESIS_HASH, f), expected);
    assert.equal(auditHash(AUDIT_GENESIS_HASH, { ...f, details: { i: 0 } }), expected);
  });

  test('accepts an intact chain and the empty chain', () => {
    assert.deepEqual(verifyAuditChain(chain(5)), { ok: true });
    assert.deepEqual(verifyAuditChain([]), { ok: true });
  });

  test('reports the seq of the first broken entry', () => {
    const records = chain(5);
    records[2] = { ...records[2]!, target: 'key/other' };
    assert.deepEqual(verifyAuditChain(records), { ok: false, brokenAt: 3 });
    const reordered = chain(5);
    [reordered[1], reordered[2]] = [reordered[2]!, reordered[1]!];
    assert.deepEqual(verifyAuditChain(reordered), { ok: false, brokenAt: 3 });
  });
});
