import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TarmacError } from '../../shared/errors.ts';
import { parseRetryAfter, redactUrl } from './http-delivery.ts';
import { signatureHeader, verifySignature } from './signature.ts';
import { startTestHttpServer } from './test-http-server.ts';
import type { Notification } from './types.ts';
import { WebhookNotifier, type WebhookPayload } from './webhook.notifier.ts';

const SECRET = 'whsec_test_0123456789abcdef';
const FAST = { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 2000 };

const notification: Notification = {
  channel: 'ops-webhook',
  status: 'firing',
  at: Date.UTC(2026, 0, 1, 12),
  alerts: [{
    rule: 'high_error_rate', status: 'firing', severity: 'critical', description: 'errors above 5%',
    labels: { model: 'credit', variant: 'canary' }, value: 0.12, threshold: 0.05, op: '>', metric: 'tarmac_error_rate',
    startsAt: Date.UTC(2026, 0, 1, 11, 58), fingerprint: '0123456789abcdef', repeat: false,
  }],
};

async function rejection(p: Promise<unknown>): Promise<TarmacError> {
  try {
    await p;
  } catch (err) {
    return err as TarmacError;
  }
  assert.fail('expected a rejection');
}

describe('WebhookNotifier against a real HTTP server', { timeout: 20_000 }, () => {
  test('retries 500 twice, then succeeds; every attempt is signed and carries one delivery id', async (t) => {
    const server = await startTestHttpServer((req, i, res) => {
      // The receiver does what the docs tell receivers to do: verify before trusting anything.
      const valid = verifySignature(req.body, req.headers['x-tarmac-signature'] as string, SECRET, 300);
      res.statusCode = !valid ? 401 : i < 2 ? 500 : 200;
      res.end(valid ? 'ok' : 'bad signature');
    });
    t.after(() => server.close());
    const notifier = new WebhookNotifier({ url: `${server.url}/hooks/tarmac?token=abc`, secret: SECRET, timeoutMs: 2000, retry: FAST });
    await notifier.send(notification);
    assert.equal(server.requests.length, 3);
    const ids = new Set(server.requests.map((r) => r.headers['x-tarmac-delivery']));
    assert.equal(ids.size, 1);
    assert.match([...ids][0] as string, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const req = server.requests[2]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/hooks/tarmac?token=abc');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.match(req.headers['x-tarmac-signature'] as string, /^t=\d+,v1=[0-9a-f]{64}$/);
    const payload = JSON.parse(req.body) as WebhookPayload;
    assert.equal(payload.version, 1);
    assert.equal(payload.status, 'firing');
    assert.equal(payload.channel, 'ops-webhook');
    assert.match(payload.sent_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(payload.alerts, [{
      status: 'firing', rule: 'high_error_rate', severity: 'critical', description: 'errors above 5%',
      labels: { model: 'credit', variant: 'canary' }, metric: 'tarmac_error_rate', op: '>', threshold: 0.05, value: 0.12,
      starts_at: '2026-01-01T11:58:00.000Z', ends_at: null, fingerprint: '0123456789abcdef', repeat: false,
    }]);
  });

  test('a 400 is not retried and the error names the URL only redacted', async (t) => {
    const server = await startTestHttpServer((_req, _i, res) => {
      res.statusCode = 400;
      res.end('unknown channel');
    });
    t.after(() => server.close());
    const notifier = new WebhookNotifier({ url: `${server.url}/services/T000/B000/SECRETTOKEN`, secret: SECRET, timeoutMs: 2000, retry: FAST });
    const err = await rejection(notifier.send(notification));
    assert.equal(server.requests.length, 1);
    assert.equal(err.code, 'INTERNAL');
    assert.equal(err.retryable, false);
    assert.equal(err.details.status, 400);
    assert.match(err.message, /HTTP 400: unknown channel/);
    assert.doesNotMatch(err.message + JSON.stringify(err.details), /SECRETTOKEN/);
    assert.equal(err.details.url, `${server.url}/[redacted]`);
  });

  test('a slow receiver times out each attempt, within the attempt bound', async (t) => {
    const server = await startTestHttpServer(() => { /* never answers */ });
    t.after(() => server.close());
    const notifier = new WebhookNotifier({ url: server.url, secret: SECRET, timeoutMs: 150, retry: { ...FAST, maxAttempts: 2 } });
    const started = Date.now();
    const err = await rejection(notifier.send(notification));
    const elapsed = Date.now() - started;
    assert.match(err.message, /timed out after 150 ms \(after 2 attempts\)/);
    assert.equal(err.retryable, true);
    assert.equal(server.requests.length, 2);
    assert.ok(elapsed >= 300 && elapsed < 3000, `took ${elapsed} ms`);
  });

  test('429 with Retry-After is honoured; a Retry-After beyond the limit ends the delivery at once', async (t) => {
    let retryAfter = '1';
    const server = await startTestHttpServer((_req, i, res) => {
      if (i % 2 === 0) {
        res.writeHead(429, { 'retry-after': retryAfter });
        res.end();
      } else res.end('ok');
    });
    t.after(() => server.close());
    const notifier = new WebhookNotifier({ url: server.url, secret: SECRET, timeoutMs: 2000, retry: FAST });
    await notifier.send(notification);
    assert.equal(server.requests.length, 2);
    const waited = server.requests[1]!.at - server.requests[0]!.at;
    assert.ok(waited >= 950, `waited ${waited} ms`);
    retryAfter = '120';
    const err = await rejection(notifier.send(notification));
    assert.equal(server.requests.length, 3);
    assert.match(err.message, /retry after 120 s/);
  });

  test('network errors are retried and reported', async () => {
    const server = await startTestHttpServer(() => {});
    await server.close();
    const notifier = new WebhookNotifier({ url: server.url, secret: SECRET, timeoutMs: 1000, retry: FAST });
    const err = await rejection(notifier.send(notification));
    assert.match(err.message, /ECONNREFUSED \(after 3 attempts\)/);
    assert.equal(err.details.attempts, 3);
  });

  test('construction refuses a missing secret or a non-HTTP URL without echoing it', () => {
    assert.throws(() => new WebhookNotifier({ url: 'http://x', secret: '' }), { code: 'VALIDATION_FAILED' });
    assert.throws(() => new WebhookNotifier({ url: 'ftp://user:pw@x/secret', secret: 's' }), (err: TarmacError) => !err.message.includes('secret') && err.issues[0]!.field === '/url');
  });
});

describe('signatures', () => {
  const body = '{"version":1}';
  const now = Date.UTC(2026, 0, 1);

  test('verifies its own signature; refuses a changed body, another secret, an old timestamp and garbage', () => {
    const header = signatureHeader(body, SECRET, now);
    assert.equal(verifySignature(body, header, SECRET, 300, now), true);
    assert.equal(verifySignature(Buffer.from(body), header, SECRET, 300, now + 299_000), true);
    assert.equal(verifySignature(`${body} `, header, SECRET, 300, now), false);
    assert.equal(verifySignature(body, header, 'other', 300, now), false);
    assert.equal(verifySignature(body, header, SECRET, 300, now + 301_000), false, 'replayed too late');
    assert.equal(verifySignature(body, header, SECRET, 300, now - 301_000), false, 'from the future');
    for (const bad of [undefined, '', 't=abc,v1=00', `v1=${'0'.repeat(64)}`, 't=1', `t=${now / 1000},v1=xyz`]) {
      assert.equal(verifySignature(body, bad, SECRET, 300, now), false, String(bad));
    }
  });

  test('matches the documented construction (HMAC-SHA256 over "<t>.<body>"), and accepts any of several v1 entries', async () => {
    const { createHmac } = await import('node:crypto');
    const t = now / 1000;
    const expected = createHmac('sha256', SECRET).update(`${t}.${body}`).digest('hex');
    assert.equal(signatureHeader(body, SECRET, now), `t=${t},v1=${expected}`);
    assert.equal(verifySignature(body, `t=${t},v1=${'a'.repeat(64)},v1=${expected}`, SECRET, 300, now), true);
  });
});

describe('helpers', () => {
  test('redactUrl keeps scheme, host and port only', () => {
    assert.equal(redactUrl('https://hooks.slack.com/services/T0/B0/XXXX'), 'https://hooks.slack.com/[redacted]');
    assert.equal(redactUrl('https://user:pw@example.com:8443/?token=1'), 'https://example.com:8443/[redacted]');
    assert.equal(redactUrl('https://example.com'), 'https://example.com/');
    assert.equal(redactUrl('not a url'), '[invalid url]');
  });

  test('Retry-After reads seconds and HTTP dates', () => {
    const now = Date.UTC(2026, 0, 1);
    assert.equal(parseRetryAfter('7', now), 7000);
    assert.equal(parseRetryAfter(new Date(now + 30_000).toUTCString(), now), 30_000);
    assert.equal(parseRetryAfter(null, now), undefined);
    assert.equal(parseRetryAfter('soon', now), undefined);
  });
});
