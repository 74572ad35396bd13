import { systemClock, isoOf, type Clock } from '../../shared/clock.ts';
import { invalid } from '../../shared/errors.ts';
import { newId } from '../../shared/ids.ts';
import type { Logger } from '../../shared/logger.ts';
import { checkHttpUrl, DEFAULT_RETRY, deliverHttp, type RetryPolicy } from './http-delivery.ts';
import { DELIVERY_HEADER, SIGNATURE_HEADER, signatureHeader } from './signature.ts';
import type { PinnedAddress } from './pinned-post.ts';
import type { Notification, NotifiedAlert, Notifier } from './types.ts';

/** Settings of a generic signed webhook. */
export interface WebhookNotifierOptions {
  url: string;
  /** The HMAC key; receivers hold the same one to verify `X-Tarmac-Signature`. */
  secret: string;
  /** Per attempt; 10 s when absent. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Checks the destination before each attempt and pins the connection to the approved addresses (see HttpDelivery). */
  connectTo?: () => Promise<PinnedAddress[]>;
  clock?: Clock;
  log?: Logger;
}

/** One alert in the webhook payload. */
export interface WebhookAlert {
  status: 'firing' | 'resolved';
  rule: string;
  severity: string;
  description: string | null;
  labels: Record<string, string>;
  metric: string;
  op: string;
  threshold: number;
  /** Null when the observed value is NaN or infinite, which JSON cannot carry. */
  value: number | null;
  starts_at: string;
  ends_at: string | null;
  fingerprint: string;
  repeat: boolean;
}

/** The JSON body a webhook receives (version 1). */
export interface WebhookPayload {
  version: 1;
  status: 'firing' | 'resolved';
  channel: string;
  alerts: WebhookAlert[];
  sent_at: string;
}

/** The payload form of one alert (snake_case, ISO-8601 instants). */
export function webhookAlert(a: NotifiedAlert): WebhookAlert {
  return {
    status: a.status, rule: a.rule, severity: a.severity, description: a.description ?? null, labels: a.labels,
    metric: a.metric, op: a.op, threshold: a.threshold,
    value: Number.isFinite(a.value) ? a.value : null,
    starts_at: isoOf(a.startsAt), ends_at: a.endsAt === undefined ? null : isoOf(a.endsAt), fingerprint: a.fingerprint,
    repeat: a.repeat,
  };
}

/**
 * Posts alerts as signed JSON (Stripe-style `X-Tarmac-Signature`, a per-delivery `X-Tarmac-Delivery` uuid kept across
 * retries); `send` rejects after the retry policy gives up or on a 4xx other than 429.
 */
export class WebhookNotifier implements Notifier {
  private readonly url: string;
  private readonly secret: string;
  private readonly timeoutMs: number;
  private readonly retry: RetryPolicy;
  private readonly clock: Clock;
  private readonly log: Logger | undefined;
  private readonly connectTo: (() => Promise<PinnedAddress[]>) | undefined;

  /** Throws VALIDATION_FAILED when the URL, secret or timeout is not usable. */
  constructor(options: WebhookNotifierOptions) {
    this.url = checkHttpUrl(options.url, '/url');
    if (typeof options.secret !== 'string' || options.secret.length === 0) {
      throw invalid('The notifier is not valid', [{ field: '/secret', rule: 'required', message: 'a signing secret is required' }]);
    }
    this.secret = options.secret;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    if (!(this.timeoutMs > 0)) throw invalid('The notifier is not valid', [{ field: '/timeoutMs', rule: 'range', message: 'must be more than 0' }]);
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.clock = options.clock ?? systemClock;
    this.log = options.log;
    this.connectTo = options.connectTo;
  }

  /** Delivers one notification; rejects with an INTERNAL TarmacError naming the URL only redacted. */
  async send(notification: Notification): Promise<void> {
    const payload: WebhookPayload = {
      version: 1,
      status: notification.status,
      channel: notification.channel,
      alerts: notification.alerts.map(webhookAlert),
      sent_at: isoOf(this.clock.now()),
    };
    const body = JSON.stringify(payload);
    const delivery = newId();
    await deliverHttp({
      kind: 'webhook',
      ...(this.connectTo ? { connectTo: this.connectTo } : {}),
      url: this.url,
      body,
      timeoutMs: this.timeoutMs,
      retry: this.retry,
      log: this.log,
      now: () => this.clock.now(),
      headers: () => ({
        'content-type': 'application/json',
        'user-agent': 'tarmac-alerts/1',
        [SIGNATURE_HEADER]: signatureHeader(body, this.secret, this.clock.now()),
        [DELIVERY_HEADER]: delivery,
      }),
    });
  }
}
