import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import type { TarmacError } from '../../shared/errors.ts';
import { EmailNotifier, renderEmail } from './email.notifier.ts';
import type { Notification } from './types.ts';

interface Received {
  from: string;
  to: string[];
  raw: string;
  user?: string;
}

/** A real SMTP server on a free local port (plain, AUTH allowed without TLS since it is loopback-only). */
async function startSmtp(extra: Partial<SMTPServerOptions> = {}) {
  const messages: Received[] = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authOptional: true,
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === 'tarmac' && auth.password === 'pa55word') cb(null, { user: auth.username });
      else cb(new Error('Invalid username or password'));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          user: session.user as string | undefined,
        });
        cb();
      });
    },
    ...extra,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.server.address() as AddressInfo;
  return { port, messages, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const notification: Notification = {
  channel: 'email',
  status: 'firing',
  at: Date.UTC(2026, 0, 1, 12),
  alerts: [{
    rule: 'high_error_rate', status: 'firing', severity: 'critical', description: 'Errors <above> 5% for credit',
    labels: { model: 'credit' }, value: 0.12, threshold: 0.05, op: '>', metric: 'tarmac_error_rate',
    startsAt: Date.UTC(2026, 0, 1, 11, 58), fingerprint: '0123456789abcdef', repeat: false,
  }],
};

describe('EmailNotifier against a real SMTP server', { timeout: 20_000 }, () => {
  test('delivers a plain-text and HTML message to every recipient, authenticating', async (t) => {
    const smtp = await startSmtp();
    const notifier = new EmailNotifier({
      host: '127.0.0.1', port: smtp.port, secure: false, user: 'tarmac', pass: 'pa55word',
      from: 'alerts@tarmac.test', to: ['oncall@example.com', 'ml@example.com'], timeoutMs: 5000,
    });
    t.after(async () => {
      await notifier.close();
      await smtp.close();
    });
    await notifier.send(notification);
    assert.equal(smtp.messages.length, 1);
    const m = smtp.messages[0]!;
    assert.equal(m.user, 'tarmac');
    assert.equal(m.from, 'alerts@tarmac.test');
    assert.deepEqual(m.to, ['oncall@example.com', 'ml@example.com']);
    const unfolded = m.raw.replace(/\r\n[ \t]+/g, ' ');
    assert.match(unfolded, /^Subject: \[Tarmac\] \[FIRING:1\] high_error_rate\r$/m);
    assert.match(unfolded, /^From: alerts@tarmac\.test\r$/m);
    assert.match(unfolded, /^To: oncall@example\.com, ml@example\.com\r$/m);
    assert.match(m.raw, /Content-Type: multipart\/alternative/);
    assert.match(m.raw, /Content-Type: text\/plain/);
    assert.match(m.raw, /Content-Type: text\/html/);
    // Quoted-printable soft line breaks and `=` escapes would hide the text; undo them before looking.
    const decoded = m.raw.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    assert.match(decoded, /FIRING: high_error_rate \[critical\]/);
    assert.match(decoded, /tarmac_error_rate\{model="credit"\} = 0\.12 \(threshold > 0\.05\)/);
    assert.match(decoded, /Errors &lt;above&gt; 5% for credit/, 'HTML is escaped');
  });

  test('a refused recipient rejects as a permanent failure; a wrong password rejects without echoing it', async (t) => {
    const smtp = await startSmtp({
      onRcptTo(address, _session, cb) {
        if (address.address.endsWith('@nowhere.test')) cb(Object.assign(new Error('No such user'), { responseCode: 550 }));
        else cb();
      },
    });
    t.after(() => smtp.close());
    const refused = new EmailNotifier({ host: '127.0.0.1', port: smtp.port, secure: false, from: 'alerts@tarmac.test', to: ['x@nowhere.test'], timeoutMs: 5000 });
    let err = await refused.send(notification).then(() => undefined, (e: TarmacError) => e);
    assert.ok(err);
    assert.equal(err.code, 'INTERNAL');
    assert.equal(err.retryable, false);
    assert.match(err.message, /^e-mail delivery via smtp:\/\/127\.0\.0\.1:\d+ failed: /);
    const wrong = new EmailNotifier({ host: '127.0.0.1', port: smtp.port, secure: false, user: 'tarmac', pass: 'hunter2-secret', from: 'alerts@tarmac.test', to: ['a@example.com'], timeoutMs: 5000 });
    err = await wrong.send(notification).then(() => undefined, (e: TarmacError) => e);
    assert.ok(err);
    assert.equal(err.details.code, 'EAUTH');
    assert.doesNotMatch(JSON.stringify({ m: err.message, d: err.details }), /hunter2/);
    assert.equal(smtp.messages.length, 0);
    await refused.close();
    await wrong.close();
  });

  test('validates its settings, naming each field', () => {
    assert.throws(
      () => new EmailNotifier({ host: '', port: 0, secure: false, user: 'u', from: 'nobody', to: [] }),
      (err: TarmacError) => JSON.stringify(err.issues.map((i) => i.field).sort()) === JSON.stringify(['/from', '/host', '/pass', '/port', '/to']),
    );
  });

  test('renders a resolved notification', () => {
    const msg = renderEmail({ ...notification, status: 'resolved', alerts: [{ ...notification.alerts[0]!, status: 'resolved', endsAt: Date.UTC(2026, 0, 1, 12) }] });
    assert.equal(msg.subject, '[Tarmac] [RESOLVED:1] high_error_rate');
    assert.match(msg.text, /fired 2026-01-01T11:58:00.000Z – resolved 2026-01-01T12:00:00.000Z/);
  });
});
