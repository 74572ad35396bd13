import { setTimeout as delay } from 'node:timers/promises';
import { TarmacError, invalid } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import { pinnedPost, type PinnedAddress } from './pinned-post.ts';

/** How an HTTP notifier retries: bounded attempts with capped exponential backoff (plus jitter). */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** The wait before the second attempt; doubles each time. */
  baseDelayMs: number;
  /** The longest wait between attempts; a `Retry-After` asking for more ends the delivery instead of stalling the evaluator. */
  maxDelayMs: number;
}

/** The default policy: 4 attempts, waits of about 0.5 s, 1 s, 2 s, each at most 30 s. */
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 4, baseDelayMs: 500, maxDelayMs: 30_000 };

/**
 * The URL without its secrets, for logs and errors: scheme, host and port stay, credentials, path and query go
 * (Slack, Teams and Discord put the token in the path).
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    const hidden = u.pathname !== '/' || u.search !== '' || u.hash !== '';
    return `${u.protocol}//${u.host}${hidden ? '/[redacted]' : '/'}`;
  } catch {
    return '[invalid url]';
  }
}

/** `text` with every URL in it reduced to redactUrl's form (runtime errors quote the URL they failed on). */
function redactUrls(text: string): string {
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, (url) => redactUrl(url));
}

/** Checks an HTTP(S) endpoint URL at construction; throws VALIDATION_FAILED on `field` without echoing the URL. */
export function checkHttpUrl(url: unknown, field: string): string {
  if (typeof url !== 'string' || url === '') throw invalid('The notifier is not valid', [{ field, rule: 'required', message: 'a URL is required' }]);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid('The notifier is not valid', [{ field, rule: 'pattern', message: 'is not a URL' }]);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw invalid('The notifier is not valid', [{ field, rule: 'pattern', message: 'must be an http or https URL' }]);
  }
  return url;
}

/** Reads `Retry-After` (delta seconds or an HTTP date) as milliseconds from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | null, now: number): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/** One POST delivery with its retry policy. */
export interface HttpDelivery {
  /** Names the channel kind in logs and errors (`webhook`, `slack`). */
  kind: string;
  url: string;
  body: string;
  /** Headers per attempt (the webhook signs each attempt with a fresh timestamp). */
  headers: (attempt: number) => Record<string, string>;
  timeoutMs: number;
  retry: RetryPolicy;
  log?: Logger;
  now?: () => number;
  /**
   * Checks the destination before each attempt and returns the addresses the connection may use (the outbound
   * policy's check); the connection is then pinned to them. Rejecting ends the delivery. Absent: plain fetch.
   */
  connectTo?: () => Promise<PinnedAddress[]>;
}

/** The outcome of a successful delivery. */
export interface HttpDeliveryResult {
  status: number;
  attempts: number;
}

function backoff(policy: RetryPolicy, attempt: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  // Equal jitter: keeps at least half the wait while spreading retries of many instances apart.
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/**
 * POSTs `body`, retrying network errors, timeouts, 5xx and 429 (honouring `Retry-After`) up to the policy's attempts,
 * and never other 4xx or redirects; rejects with an INTERNAL TarmacError whose message and details name the URL
 * only redacted.
 */
export async function deliverHttp(d: HttpDelivery): Promise<HttpDeliveryResult> {
  const where = redactUrl(d.url);
  const now = d.now ?? Date.now;
  // fetch refuses URLs with credentials: send them as Basic authentication instead.
  const target = new URL(d.url);
  const basic = target.username !== '' || target.password !== ''
    ? `Basic ${Buffer.from(`${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`).toString('base64')}`
    : undefined;
  target.username = '';
  target.password = '';
  for (let attempt = 1; ; attempt++) {
    let status: number | undefined;
    let problem: string;
    let cause: unknown;
    let retryAfterMs: number | undefined;
    let retryable: boolean;
    // The destination is checked before every attempt; a refusal is final, not retried.
    const addresses = d.connectTo ? await d.connectTo() : undefined;
    try {
      const headers = basic === undefined ? d.headers(attempt) : { ...d.headers(attempt), authorization: basic };
      let retryAfter: string | null;
      let text: string;
      if (addresses) {
        const answer = await pinnedPost(target, { headers, body: d.body, timeoutMs: d.timeoutMs }, addresses);
        status = answer.status;
        text = answer.text;
        retryAfter = answer.header('retry-after');
      } else {
        const res = await fetch(target, {
          method: 'POST',
          headers,
          body: d.body,
          // A redirect would carry the signed body to a host nobody configured.
          redirect: 'manual',
          signal: AbortSignal.timeout(d.timeoutMs),
        });
        status = res.status;
        text = await res.text().catch(() => '');
        retryAfter = res.headers.get('retry-after');
      }
      if (status >= 200 && status < 300) return { status, attempts: attempt };
      retryable = status >= 500 || status === 429;
      retryAfterMs = retryable ? parseRetryAfter(retryAfter, now()) : undefined;
      problem = `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`;
    } catch (err) {
      retryable = true;
      cause = err;
      const name = (err as { name?: string }).name;
      const code = ((err as { cause?: { code?: string } }).cause)?.code;
      problem = name === 'TimeoutError' || name === 'AbortError'
        ? `timed out after ${d.timeoutMs} ms`
        : code ?? redactUrls((err as Error).message ?? 'network error');
    }
    const fail = (message: string) => new TarmacError('INTERNAL', `${d.kind} delivery to ${where} failed: ${message}`, {
      details: { url: where, attempts: attempt, ...(status === undefined ? {} : { status }) },
      cause,
      retryable,
    });
    if (!retryable) throw fail(problem);
    if (attempt >= d.retry.maxAttempts) throw fail(`${problem} (after ${attempt} attempts)`);
    if (retryAfterMs !== undefined && retryAfterMs > d.retry.maxDelayMs) {
      throw fail(`${problem}; the receiver asked to retry after ${Math.ceil(retryAfterMs / 1000)} s, beyond the ${d.retry.maxDelayMs} ms limit`);
    }
    const wait = retryAfterMs ?? backoff(d.retry, attempt);
    d.log?.warn({ url: where, attempt, status, problem: problem.slice(0, 120), waitMs: Math.round(wait) }, `${d.kind} delivery failed; retrying`);
    await delay(wait);
  }
}
