import type { Logger } from '../../shared/logger.ts';
import { invalid } from '../../shared/errors.ts';
import { alertCondition, alertTimes, notificationHeadline } from './format.ts';
import { checkHttpUrl, DEFAULT_RETRY, deliverHttp, type RetryPolicy } from './http-delivery.ts';
import type { PinnedAddress } from './pinned-post.ts';
import type { Notification, NotifiedAlert, Notifier } from './types.ts';

/** Settings of a Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat). */
export interface SlackNotifierOptions {
  /** The incoming-webhook URL; its path is a secret and is never logged. */
  url: string;
  /** Per attempt; 10 s when absent. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Checks the destination before each attempt and pins the connection to the approved addresses (see HttpDelivery). */
  connectTo?: () => Promise<PinnedAddress[]>;
  log?: Logger;
}

/** A Slack `section` block with mrkdwn text. */
export interface SlackSection {
  type: 'section';
  text: { type: 'mrkdwn'; text: string };
}

/** The incoming-webhook body: `text` (what notifications and non-Slack servers show) plus simple section blocks. */
export interface SlackPayload {
  text: string;
  blocks: SlackSection[];
}

// Slack caps a message at 50 blocks and a section's text at 3000 characters.
const MAX_ALERT_BLOCKS = 20;
const MAX_SECTION_TEXT = 3000;

/** Escapes the three characters Slack's mrkdwn treats as control characters. */
export function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function section(text: string): SlackSection {
  const clipped = text.length > MAX_SECTION_TEXT ? `${text.slice(0, MAX_SECTION_TEXT - 1)}…` : text;
  return { type: 'section', text: { type: 'mrkdwn', text: clipped } };
}

function alertSection(a: NotifiedAlert): SlackSection {
  const mark = a.status === 'resolved' ? ':large_green_circle: RESOLVED' : a.severity === 'critical' ? ':red_circle: FIRING' : ':large_orange_circle: FIRING';
  const lines = [
    `*${mark}${a.repeat ? ' (still)' : ''}* · *${slackEscape(a.rule)}* · ${a.severity}`,
    ...(a.description ? [slackEscape(a.description)] : []),
    `\`${slackEscape(alertCondition(a))}\``,
    slackEscape(alertTimes(a)),
  ];
  return section(lines.join('\n'));
}

/** The Slack-compatible payload for one notification. */
export function slackPayload(n: Notification): SlackPayload {
  const text = `Tarmac ${notificationHeadline(n)}`;
  const blocks = [section(`*${slackEscape(text)}*`), ...n.alerts.slice(0, MAX_ALERT_BLOCKS).map(alertSection)];
  if (n.alerts.length > MAX_ALERT_BLOCKS) blocks.push(section(`…and ${n.alerts.length - MAX_ALERT_BLOCKS} more`));
  return { text: slackEscape(text), blocks };
}

/** Posts alerts to a Slack-compatible incoming webhook with the webhook's retry policy; `send` rejects when it gives up. */
export class SlackNotifier implements Notifier {
  private readonly url: string;
  private readonly timeoutMs: number;
  private readonly retry: RetryPolicy;
  private readonly log: Logger | undefined;
  private readonly connectTo: (() => Promise<PinnedAddress[]>) | undefined;

  /** Throws VALIDATION_FAILED when the URL or timeout is not usable (the message never echoes the URL). */
  constructor(options: SlackNotifierOptions) {
    this.url = checkHttpUrl(options.url, '/url');
    this.timeoutMs = options.timeoutMs ?? 10_000;
    if (!(this.timeoutMs > 0)) throw invalid('The notifier is not valid', [{ field: '/timeoutMs', rule: 'range', message: 'must be more than 0' }]);
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.log = options.log;
    this.connectTo = options.connectTo;
  }

  /** Delivers one notification; rejects with an INTERNAL TarmacError naming the URL only redacted. */
  async send(notification: Notification): Promise<void> {
    await deliverHttp({
      kind: 'slack',
      ...(this.connectTo ? { connectTo: this.connectTo } : {}),
      url: this.url,
      body: JSON.stringify(slackPayload(notification)),
      timeoutMs: this.timeoutMs,
      retry: this.retry,
      log: this.log,
      headers: () => ({ 'content-type': 'application/json', 'user-agent': 'tarmac-alerts/1' }),
    });
  }
}
