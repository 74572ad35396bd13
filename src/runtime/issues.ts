import { TarmacError } from '../shared/errors.ts';
import type { ErrorCode, FieldIssue } from '../shared/errors.ts';

/** Most issues one error carries; the message still reports the full count. */
export const MAX_ISSUES = 100;

/** Collects field issues up to a cap while counting all of them, so one error can report every problem at once. */
export class IssueList {
  readonly items: FieldIssue[] = [];
  count = 0;

  /** Records one issue; beyond MAX_ISSUES it is only counted. */
  add(field: string, rule: string, message: string): void {
    this.count++;
    if (this.items.length < MAX_ISSUES) this.items.push({ field, rule, message });
  }

  /** Throws one TarmacError with every collected issue when there is at least one; `subject` names what was checked. */
  throwIfAny(code: ErrorCode, subject: string): void {
    if (this.count === 0) return;
    const first = this.items[0]!;
    const listed = this.count > this.items.length ? ` (the first ${this.items.length} are listed)` : '';
    const noun = this.count === 1 ? 'problem' : 'problems';
    throw new TarmacError(code, `${subject}: ${this.count} ${noun}${listed}; first: ${first.field || '/'} ${first.message}`, {
      issues: this.items,
    });
  }
}

/** Escapes one JSON Pointer reference token (RFC 6901). */
export function pointerToken(key: string): string {
  return key.includes('~') || key.includes('/') ? key.replaceAll('~', '~0').replaceAll('/', '~1') : key;
}

/** True for a non-null, non-array object whose prototype is Object.prototype or null (what JSON.parse builds). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
