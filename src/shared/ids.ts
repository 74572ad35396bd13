import { randomBytes, randomUUID } from 'node:crypto';

/** A new random UUID (v4), used for prediction ids, request ids and audit ids. */
export function newId(): string {
  return randomUUID();
}

/** `n` random bytes as lowercase base32-ish text without ambiguous characters (for key ids and secrets). */
export function randomToken(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `length` random letters and digits (no '-' or '_', so ids never look like command-line options). */
export function randomAlphanumeric(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // 248 = 4 × 62: rejecting higher bytes keeps every character equally likely.
      if (byte < 248 && out.length < length) out += ALPHANUMERIC[byte % 62];
    }
  }
  return out;
}

/**
 * A new time-ordered UUID (v7, RFC 9562): ids of rows written in time order (predictions) land at the end of the
 * primary-key index instead of at random places, which keeps the prediction log's inserts cheap as the table grows.
 * Built from `randomUUID()` (whose entropy Node draws in large cached batches; the `uuid` package's per-call
 * `randomFillSync` cost 13% of the hot path): the first 48 bits become the millisecond timestamp and the version
 * nibble becomes 7; the variant bits and 74 random bits stay.
 */
export function newTimeOrderedId(): string {
  const random = randomUUID();
  const ms = Date.now();
  if (ms !== prefixMs) {
    // Formatting the timestamp (a radix conversion) cost more than the rest; ids made in the same millisecond share it.
    const hex = ms.toString(16).padStart(12, '0');
    prefix = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7`;
    prefixMs = ms;
  }
  return prefix + random.slice(15);
}

/** The timestamp part of the last id (`xxxxxxxx-xxxx-7`) and its millisecond. */
let prefix = '';
let prefixMs = -1;
