import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header carrying the webhook signature. */
export const SIGNATURE_HEADER = 'X-Tarmac-Signature';

/** The header carrying the delivery id (the same on every retry of one delivery, so receivers can de-duplicate). */
export const DELIVERY_HEADER = 'X-Tarmac-Delivery';

/** The default freshness window of `verifySignature`, as Stripe's: five minutes either way. */
export const DEFAULT_SIGNATURE_TOLERANCE_SECONDS = 300;

function hmacHex(secret: string, timestamp: number, body: string | Buffer): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/** The `X-Tarmac-Signature` value for `body` sent at `nowMs`: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export function signatureHeader(body: string | Buffer, secret: string, nowMs: number): string {
  const t = Math.floor(nowMs / 1000);
  return `t=${t},v1=${hmacHex(secret, t, body)}`;
}

/**
 * True when `header` holds a `v1` signature of the raw `body` under `secret` whose timestamp is within
 * `toleranceSeconds` of `nowMs`; never throws (a malformed header is just not valid). Several `v1` entries are
 * accepted so a sender can sign with an old and a new secret while rotating.
 */
export function verifySignature(
  body: string | Buffer,
  header: string | null | undefined,
  secret: string,
  toleranceSeconds: number = DEFAULT_SIGNATURE_TOLERANCE_SECONDS,
  nowMs: number = Date.now(),
): boolean {
  if (typeof header !== 'string' || secret === '') return false;
  let t: number | undefined;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't' && /^\d{1,12}$/.test(value)) t = Number(value);
    else if (key === 'v1' && /^[0-9a-f]{64}$/.test(value)) candidates.push(value);
  }
  if (t === undefined || candidates.length === 0) return false;
  // The timestamp is signed, so an attacker who replays a captured delivery cannot refresh it.
  if (Math.abs(nowMs / 1000 - t) > toleranceSeconds) return false;
  const expected = Buffer.from(hmacHex(secret, t, body), 'hex');
  return candidates.some((c) => timingSafeEqual(Buffer.from(c, 'hex'), expected));
}
