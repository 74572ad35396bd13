import nodemailer from 'nodemailer';
import { TarmacError, invalid, type FieldIssue } from '../../shared/errors.ts';
import { alertCondition, alertTimes, notificationHeadline } from './format.ts';
import type { Notification, NotifiedAlert, Notifier } from './types.ts';

/** SMTP settings of an e-mail channel. */
export interface EmailNotifierOptions {
  host: string;
  port: number;
  /** True for implicit TLS (usually port 465); false lets the client upgrade with STARTTLS when the server offers it. */
  secure: boolean;
  user?: string;
  pass?: string;
  from: string;
  to: string[];
  /** Connection, greeting and idle-socket timeout; 30 s when absent. */
  timeoutMs?: number;
  /** Refuse to send without STARTTLS on a non-`secure` connection (recommended whenever a password is set). */
  requireTLS?: boolean;
}

/** The rendered message of one notification. */
export interface EmailMessage {
  subject: string;
  text: string;
  html: string;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function textBlock(a: NotifiedAlert): string {
  return [
    `${a.status.toUpperCase()}${a.repeat ? ' (still firing)' : ''}: ${a.rule} [${a.severity}]`,
    ...(a.description ? [`  ${a.description}`] : []),
    `  ${alertCondition(a)}`,
    `  ${alertTimes(a)}`,
    `  fingerprint ${a.fingerprint}`,
  ].join('\n');
}

function htmlBlock(a: NotifiedAlert): string {
  const colour = a.status === 'resolved' ? '#2e7d32' : a.severity === 'critical' ? '#c62828' : '#ef6c00';
  return [
    `<h3 style="color:${colour};margin:16px 0 4px">${escapeHtml(`${a.status.toUpperCase()}${a.repeat ? ' (still firing)' : ''}: ${a.rule}`)}`,
    ` <small>[${escapeHtml(a.severity)}]</small></h3>`,
    a.description ? `<p style="margin:4px 0">${escapeHtml(a.description)}</p>` : '',
    `<p style="margin:4px 0"><code>${escapeHtml(alertCondition(a))}</code></p>`,
    `<p style="margin:4px 0;color:#555">${escapeHtml(alertTimes(a))} · fingerprint ${escapeHtml(a.fingerprint)}</p>`,
  ].join('');
}

/** Renders a notification as an e-mail: a subject with the counts and rule names, a plain-text and a simple HTML body. */
export function renderEmail(n: Notification): EmailMessage {
  const headline = notificationHeadline(n);
  // Header lines must stay on one line; a rule name cannot hold a newline, but be sure and bound the length.
  const subject = `[Tarmac] ${headline}`.replace(/[\r\n]+/g, ' ').slice(0, 200);
  const text = [`Tarmac alerts: ${headline}`, '', ...n.alerts.map(textBlock), ''].join('\n');
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif">',
    `<h2 style="margin:0 0 8px">Tarmac alerts: ${escapeHtml(headline)}</h2>`,
    ...n.alerts.map(htmlBlock),
    '</body></html>',
  ].join('\n');
  return { subject, text, html };
}

/** Sends alerts by SMTP through nodemailer; `send` rejects with an INTERNAL TarmacError when the server refuses or is unreachable. */
export class EmailNotifier implements Notifier {
  private readonly transport: ReturnType<typeof nodemailer.createTransport>;
  private readonly from: string;
  private readonly to: string[];
  private readonly where: string;

  /** Throws VALIDATION_FAILED naming each unusable setting (never echoing the password). */
  constructor(options: EmailNotifierOptions) {
    const issues: FieldIssue[] = [];
    if (typeof options.host !== 'string' || options.host === '') issues.push({ field: '/host', rule: 'required', message: 'an SMTP host is required' });
    if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
      issues.push({ field: '/port', rule: 'range', message: 'must be a port number 1-65535' });
    }
    if (typeof options.from !== 'string' || !options.from.includes('@')) issues.push({ field: '/from', rule: 'pattern', message: 'must be an e-mail address' });
    if (!Array.isArray(options.to) || options.to.length === 0) issues.push({ field: '/to', rule: 'min_items', message: 'needs at least one recipient' });
    else options.to.forEach((t, i) => {
      if (typeof t !== 'string' || !t.includes('@')) issues.push({ field: `/to/${i}`, rule: 'pattern', message: 'must be an e-mail address' });
    });
    if ((options.user === undefined) !== (options.pass === undefined)) {
      issues.push({ field: options.user === undefined ? '/user' : '/pass', rule: 'required', message: 'user and pass go together' });
    }
    if (issues.length > 0) throw invalid('The notifier is not valid', issues);
    const timeout = options.timeoutMs ?? 30_000;
    this.transport = nodemailer.createTransport({
      host: options.host,
      port: options.port,
      secure: options.secure,
      requireTLS: options.requireTLS ?? false,
      auth: options.user === undefined ? undefined : { user: options.user, pass: options.pass },
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
      // nodemailer logs nothing unless asked; keep it that way so credentials never reach a log.
      logger: false,
    });
    this.from = options.from;
    this.to = [...options.to];
    this.where = `smtp${options.secure ? 's' : ''}://${options.host}:${options.port}`;
  }

  /** Sends one message to every recipient; rejects with an INTERNAL TarmacError (`retryable` unless the refusal was permanent). */
  async send(notification: Notification): Promise<void> {
    const message = renderEmail(notification);
    try {
      await this.transport.sendMail({ from: this.from, to: this.to, ...message });
    } catch (err) {
      const e = err as { message?: string; code?: string; responseCode?: number; permanent?: boolean };
      throw new TarmacError('INTERNAL', `e-mail delivery via ${this.where} failed: ${e.message ?? String(err)}`, {
        details: { server: this.where, ...(e.code ? { code: e.code } : {}), ...(e.responseCode ? { responseCode: e.responseCode } : {}) },
        cause: err,
        retryable: e.permanent !== true,
      });
    }
  }

  /** Closes the transport's connections. */
  async close(): Promise<void> {
    this.transport.close();
  }
}
