import { randomBytes, randomUUID } from 'node:crypto';

/** A new random UUID (v4), used for prediction ids, request ids and audit ids. */
export function newId(): string {
  return randomUUID();
}

/** `n` random bytes as lowercase base32-ish text without ambiguous characters (for key ids and secrets). */
export function randomToken(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}
