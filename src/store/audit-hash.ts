import { createHash } from 'node:crypto';
import type { AuditRecord } from './records.ts';

/** The `prevHash` of the first entry of the audit chain. */
export const AUDIT_GENESIS_HASH = '0'.repeat(64);

/** The fields of an audit entry that its hash covers: everything except the storage sequence and the hashes. */
export type AuditHashedFields = Pick<AuditRecord, 'id' | 'createdAt' | 'actor' | 'action' | 'target' | 'outcome' | 'details'>;

/**
 * JSON with object keys sorted recursively, so equal values always give equal text; otherwise follows
 * `JSON.stringify` (toJSON is honoured, undefined object members are dropped, non-finite numbers become null).
 * Throws on cycles and BigInt, as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value, new Set())) ?? 'null';
}

function sortKeys(value: unknown, seen: Set<object>): unknown {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON: () => unknown }).toJSON();
  }
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) throw new TypeError('canonicalJson: value has a cycle');
  seen.add(value);
  let out: unknown;
  if (Array.isArray(value)) {
    out = value.map((v) => sortKeys(v, seen));
  } else {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      sorted[key] = sortKeys((value as Record<string, unknown>)[key], seen);
    }
    out = sorted;
  }
  seen.delete(value);
  return out;
}

/** The hash of one audit entry chained to the previous one: `sha256hex(prevHash + '\n' + canonicalJson(fields))`. */
export function auditHash(prevHash: string, entry: AuditHashedFields): string {
  const { id, createdAt, actor, action, target, outcome, details } = entry;
  const body = canonicalJson({ id, createdAt, actor, action, target, outcome, details });
  return createHash('sha256').update(`${prevHash}\n${body}`).digest('hex');
}

/** The outcome of checking an audit chain: `brokenAt` is the `seq` of the first entry that does not verify. */
export interface AuditChainCheck {
  ok: boolean;
  brokenAt?: number;
}

/**
 * Checks that `records` (in seq order) form an unbroken chain: each links to the previous hash and its own hash
 * matches its content. A page that does not start at the first entry passes the preceding hash as `prevHash`.
 */
export function verifyAuditChain(records: readonly AuditRecord[], prevHash: string = AUDIT_GENESIS_HASH): AuditChainCheck {
  let expectedPrev = prevHash;
  for (const record of records) {
    if (record.prevHash !== expectedPrev || record.hash !== auditHash(record.prevHash, record)) {
      return { ok: false, brokenAt: record.seq };
    }
    expectedPrev = record.hash;
  }
  return { ok: true };
}
