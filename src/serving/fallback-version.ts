import type { Signature } from '../runtime/types.ts';
import { isTarmacError, TarmacError, type FieldIssue } from '../shared/errors.ts';
import type { EdgeOutcome } from './edge-validation.ts';
import type { FallbackTarget } from './route-table.ts';

/** The names a version reads from a record: its feature names, or its input names for a model without them. */
export function featureNames(signature: Signature): string[] {
  return signature.features.length > 0 ? signature.features.map((f) => f.name) : signature.inputs.map((i) => i.name);
}

/** Violations that leave a value the fallback version cannot read at all (as opposed to a value out of bounds). */
const UNREADABLE = new Set(['required', 'type']);

/**
 * Turns the records the main contract sent to the fallback version into records it can take: each keeps only the
 * fallback's features. A record is refused (SERVING_INPUT_INVALID, naming record, field and rule) when it is not an
 * object, when a field the fallback reads is missing or of the wrong type, or when it breaks the fallback version's
 * own contract; a value merely out of the main contract's bounds is what the fallback is there to answer.
 */
export function fallbackRecords(target: FallbackTarget, contract: string, records: unknown[], indices: number[], reasons: EdgeOutcome['reasons']): unknown[] {
  const issues: FieldIssue[] = [];
  const wanted = new Set(target.features);
  const version = target.loaded.version.version;
  const out = indices.map((i) => {
    for (const v of reasons[i] ?? []) {
      if (v.rule === 'not_object' || (wanted.has(v.name) && UNREADABLE.has(v.rule))) {
        issues.push({ field: v.field, rule: v.rule, message: `${v.message} (contract ${contract}; the fallback version ${version} needs it too)` });
      }
    }
    const record = records[i];
    if (typeof record !== 'object' || record === null || Array.isArray(record)) return record;
    const projected: Record<string, unknown> = {};
    for (const name of target.features) if (Object.hasOwn(record, name)) projected[name] = (record as Record<string, unknown>)[name];
    if (target.edge) {
      for (const v of target.edge.validator.validate(projected, `/records/${i}`)) {
        issues.push({ field: v.field, rule: v.rule, message: `${v.message} (contract ${target.edge.contract} of the fallback version ${version})` });
      }
    }
    return projected;
  });
  if (issues.length > 0) {
    throw new TarmacError('SERVING_INPUT_INVALID', `${issues.length} value(s) break the data contract ${contract} and cannot be answered by the fallback version ${version}: ${issues.slice(0, 3).map((x) => `${x.field} (${x.rule})`).join(', ')}${issues.length > 3 ? ', …' : ''}`, {
      issues: issues.slice(0, 100),
      details: { contract, policy: 'fallback', fallback_version: version },
    });
  }
  return out;
}

/** Re-points a codec error raised on a subset of the records (`/records/k/...`) at the request's own indices. */
export function reindexIssues(err: unknown, indices: number[]): unknown {
  if (!isTarmacError(err) || err.issues.length === 0) return err;
  const issues = err.issues.map((issue) => {
    const match = /^\/records\/(\d+)(.*)$/.exec(issue.field);
    const original = match ? indices[Number(match[1])] : undefined;
    return original === undefined ? issue : { ...issue, field: `/records/${original}${match![2]}` };
  });
  return new TarmacError(err.code, err.message, { issues, details: err.details, cause: err.cause, retryable: err.retryable });
}
