import { createHash } from 'node:crypto';
import canonicalizeModule from 'canonicalize';
import type { AuditRecord } from './records.ts';

// canonicalize is CommonJS whose typings declare a default export; at run time the import is the function itself.
const canonicalize = ((canonicalizeModule as unknown as { default?: unknown }).default ?? canonicalizeModule) as (input: unknown) => string | undefined;

/** The `prevHash` of the first entry of the audit chain. */
export const AUDIT_GENESIS_HASH = '0'.repeat(64);

/** The entry format new appends use (see docs/audit.md); 1 is the format of entries written before migration 0009. */
export const AUDIT_FORMAT = 2;

/** The fields of an audit entry that its hash covers: everything except the hashes (format 1 also leaves out seq). */
export type AuditHashedFields = Pick<
  AuditRecord,
  'format' | 'seq' | 'id' | 'createdAt' | 'actor' | 'actorRole' | 'action' | 'target' | 'outcome' | 'ip' | 'requestId' | 'userAgent' | 'details'
>;

/**
 * RFC 8785 (JSON Canonicalization Scheme) text of a JSON value: object members sorted by their names' UTF-16 code
 * units, no whitespace, numbers in ECMAScript shortest form. Throws on NaN, Infinity, cycles and BigInt.
 */
export function canonicalJson(value: unknown): string {
  return canonicalize(value) ?? 'null';
}

/** The exact object whose canonical JSON an entry's hash covers, by format (see docs/audit.md). */
export function auditHashBody(entry: AuditHashedFields): Record<string, unknown> {
  const { id, createdAt, actor, action, target, outcome, details } = entry;
  if (entry.format === 1) return { id, createdAt, actor, action, target, outcome, details };
  return {
    v: entry.format,
    seq: entry.seq,
    id,
    createdAt,
    actor,
    actorRole: entry.actorRole,
    action,
    target,
    outcome,
    ip: entry.ip,
    requestId: entry.requestId,
    userAgent: entry.userAgent,
    details,
  };
}

/** The hash of one audit entry chained to the previous one: `sha256hex(prevHash + "\n" + JCS(body))`. */
export function auditHash(prevHash: string, entry: AuditHashedFields): string {
  return createHash('sha256').update(`${prevHash}\n${canonicalJson(auditHashBody(entry))}`).digest('hex');
}
