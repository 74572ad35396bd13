import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AUDIT_GENESIS_HASH, auditHash, canonicalJson } from './audit-hash.ts';
import type { AuditHashedFields } from './audit-hash.ts';

describe('canonicalJson (RFC 8785)', () => {
  test('RFC 8785 section 3.2.2 example: whitespace removed, numbers and strings serialised the JCS way', () => {
    const input = JSON.parse('{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}');
    assert.equal(
      canonicalJson(input),
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  test('RFC 8785 section 3.2.3 example: members sorted by UTF-16 code units, not by code points or locale', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    // The order RFC 8785 prints: U+000D, "1", U+0080, U+00F6, U+20AC, U+1F600 (surrogates D83D DE00), U+FB33.
    assert.equal(
      canonicalJson(input),
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  test('RFC 8785 appendix B number examples', () => {
    const cases: [number, string][] = [
      [0, '0'], [-0, '0'], [5e-324, '5e-324'], [1.7976931348623157e308, '1.7976931348623157e+308'],
      [9007199254740992, '9007199254740992'], [-9007199254740992, '-9007199254740992'], [295147905179352830000, '295147905179352830000'],
      [9.999999999999997e22, '9.999999999999997e+22'], [1e23, '1e+23'], [1.0000000000000001e23, '1.0000000000000001e+23'],
      [999999999999999700000, '999999999999999700000'], [999999999999999900000, '999999999999999900000'], [1e21, '1e+21'],
      [9.999999999999997e-7, '9.999999999999997e-7'], [0.000001, '0.000001'], [333333333.3333332, '333333333.3333332'],
      [333333333.33333325, '333333333.33333325'], [333333333.3333333, '333333333.3333333'], [333333333.3333334, '333333333.3333334'],
      // eslint-disable-next-line no-loss-of-precision -- the literals are RFC 8785's own, read as JavaScript reads them
      [333333333.33333343, '333333333.33333343'], [-0.0000033333333333333333, '-0.0000033333333333333333'], [1424953923781206.2, '1424953923781206.2'],
    ];
    for (const [value, text] of cases) assert.equal(canonicalJson(value), text, `number ${text}`);
  });

  test('refuses values JSON cannot represent', () => {
    assert.throws(() => canonicalJson(Number.NaN));
    assert.throws(() => canonicalJson(Number.POSITIVE_INFINITY));
  });
});

describe('auditHash', () => {
  const entry: AuditHashedFields = {
    format: 2, seq: 1, id: 'e0', createdAt: 1_700_000_000_000, actor: 'key:abc', actorRole: 'admin', action: 'key.create', target: 'key:k0',
    outcome: 'ok', ip: '127.0.0.1', requestId: 'r1', userAgent: null, details: { b: 1, a: [true] },
  };

  test('format 2 hashes the previous hash, a newline and the JCS of every field with v and seq', () => {
    const body = '{"action":"key.create","actor":"key:abc","actorRole":"admin","createdAt":1700000000000,"details":{"a":[true],"b":1},"id":"e0","ip":"127.0.0.1","outcome":"ok","requestId":"r1","seq":1,"target":"key:k0","userAgent":null,"v":2}';
    assert.equal(auditHash(AUDIT_GENESIS_HASH, entry), createHash('sha256').update(`${AUDIT_GENESIS_HASH}\n${body}`).digest('hex'));
    assert.notEqual(auditHash(AUDIT_GENESIS_HASH, { ...entry, seq: 2 }), auditHash(AUDIT_GENESIS_HASH, entry), 'seq is covered');
    assert.notEqual(auditHash(AUDIT_GENESIS_HASH, { ...entry, ip: '10.0.0.9' }), auditHash(AUDIT_GENESIS_HASH, entry), 'where from is covered');
  });

  test('format 1 (entries before migration 0009) hashes the original seven fields, as before', () => {
    const legacy = { ...entry, format: 1 };
    const body = '{"action":"key.create","actor":"key:abc","createdAt":1700000000000,"details":{"a":[true],"b":1},"id":"e0","outcome":"ok","target":"key:k0"}';
    assert.equal(auditHash(AUDIT_GENESIS_HASH, legacy), createHash('sha256').update(`${AUDIT_GENESIS_HASH}\n${body}`).digest('hex'));
  });
});
