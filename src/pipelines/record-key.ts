/**
 * De-duplication keys. A dataset with key fields identifies a row by their values; one without, by its whole content.
 * Keys are canonical text so that the same values always give the same key whatever the source format or field
 * order: `12` and `12.0` (both the number 12) agree, `"12"` (a string) does not.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../store/index.ts';

/** Builds a row's key: the JSON array of the key fields' values, or the sha256 of the canonical record. */
export function compileRecordKey(keyFields: readonly string[]): (row: Record<string, unknown>) => string {
  if (keyFields.length === 0) {
    return (row) => 'h:' + createHash('sha256').update(canonicalJson(row)).digest('base64url');
  }
  if (keyFields.length === 1) {
    const field = keyFields[0]!;
    return (row) => JSON.stringify([row[field] ?? null]);
  }
  return (row) => JSON.stringify(keyFields.map((f) => row[f] ?? null));
}
