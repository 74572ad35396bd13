/**
 * Pure PII protection: which fields of a contract are personal information, how each is stored (a keyed hash that
 * still joins, or a fixed mask), and the functions that replace raw values in records, rows as read and validation
 * reasons. No I/O; the key is passed in.
 */
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import type { Contract, PiiTreatment } from '../contracts/index.ts';

/** One PII field and how it is stored. */
export interface PiiRule {
  field: string;
  treatment: PiiTreatment;
}

/** What a masked value is replaced with. */
export const MASKED_VALUE = '[masked]';

/** The PII fields of a contract with their treatment (hash unless the contract says mask). */
export function piiRulesOf(contract: Pick<Contract, 'fields'>): PiiRule[] {
  return contract.fields.filter((f) => f.pii).map((f) => ({ field: f.name, treatment: f.piiTreatment ?? 'hash' }));
}

/** The fields a contract marks as naming the data subject (`tarmac.subject: true`). */
export function subjectFieldsOf(contract: Pick<Contract, 'fields'>): string[] {
  return contract.fields.filter((f) => f.subject === true).map((f) => f.name);
}

/** The UTF-8 text a hashed value stands for; the same rule as ingestion's `mask: hash`, so the two join. */
export function hashInput(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value) ?? '';
}

/** Keyed hashing of values (HMAC-SHA256, hex) with the server's PII key. */
export class PiiHasher {
  private readonly key: KeyObject;

  constructor(secret: string) {
    this.key = createSecretKey(Buffer.from(secret, 'utf8'));
  }

  /** The keyed hash of a value, as 64 hex characters (equal to what ingestion's `mask: hash` stores). */
  hash(value: unknown): string {
    return createHmac('sha256', this.key).update(hashInput(value), 'utf8').digest('hex');
  }

  /** The stored form of `value` under `treatment`; null and undefined stay as they are (absence is not personal). */
  protect(value: unknown, treatment: PiiTreatment): unknown {
    if (value === null || value === undefined) return value;
    return treatment === 'mask' ? MASKED_VALUE : this.hash(value);
  }

  /**
   * A copy of `record` with every PII field replaced by its stored form; anything that is not a plain object is
   * returned as is (there are no named fields to protect). Never mutates the input.
   */
  protectRecord(record: unknown, rules: readonly PiiRule[]): unknown {
    if (rules.length === 0 || typeof record !== 'object' || record === null || Array.isArray(record)) return record;
    const out: Record<string, unknown> = { ...(record as Record<string, unknown>) };
    for (const rule of rules) {
      if (Object.hasOwn(out, rule.field)) out[rule.field] = this.protect(out[rule.field], rule.treatment);
    }
    return out;
  }

  /**
   * A row as read from a source (before transformations), protected: PII fields under their contract names and
   * under the source names that rename steps map onto them. A row that is not an object (an unreadable line) may
   * hold anything, so when any field is PII it is withheld entirely, leaving its keyed hash and length.
   */
  protectRaw(raw: unknown, rules: readonly PiiRule[]): unknown {
    if (rules.length === 0 || raw === null || raw === undefined) return raw;
    if (typeof raw === 'object' && !Array.isArray(raw)) return this.protectRecord(raw, rules);
    const text = typeof raw === 'string' ? raw : JSON.stringify(raw) ?? '';
    return { withheld: 'may hold personal information', hmac_sha256: this.hash(text), length: text.length };
  }
}

/** A quarantine or validation reason whose message may quote the value. */
export interface ReasonLike {
  field: string;
  rule: string;
  message: string;
}

/**
 * Reasons with the quoted value removed from those about a PII field (validator messages quote the value they
 * refuse); `field` is a JSON pointer like `/email`.
 */
export function protectReasons<R extends ReasonLike>(reasons: readonly R[], piiFields: ReadonlySet<string>): R[] {
  if (piiFields.size === 0) return [...reasons];
  return reasons.map((r) => {
    const name = r.field.split('/').pop()?.replace(/~1/g, '/').replace(/~0/g, '~') ?? '';
    return piiFields.has(name) ? { ...r, message: `the value of personal field "${name}" breaks the rule ${r.rule} (value withheld)` } : r;
  });
}

/**
 * Extends rules over the names a row has before a dataset's transformations: a field renamed onto a PII field is
 * PII too, and a field a `mask` step hides is treated as PII (hash) in the row as read.
 */
export function sourceRules(rules: readonly PiiRule[], steps: readonly unknown[]): PiiRule[] {
  const out = new Map(rules.map((r) => [r.field, r]));
  // Walk backwards so a chain of renames (a → b → email) reaches its first name.
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i] as { rename?: { from?: unknown; to?: unknown }; mask?: { field?: unknown } };
    if (step.rename && typeof step.rename.from === 'string' && typeof step.rename.to === 'string') {
      const target = out.get(step.rename.to);
      if (target && !out.has(step.rename.from)) out.set(step.rename.from, { field: step.rename.from, treatment: target.treatment });
    }
    if (step.mask && typeof step.mask.field === 'string' && !out.has(step.mask.field)) {
      out.set(step.mask.field, { field: step.mask.field, treatment: 'hash' });
    }
  }
  return [...out.values()];
}
