import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TarmacError } from '../../shared/errors.ts';
import { SlackNotifier, slackPayload, type SlackPayload } from './slack.notifier.ts';
import { startTestHttpServer } from './test-http-server.ts';
import type { Notification, NotifiedAlert } from './types.ts';

const firing: NotifiedAlert = {
  rule: 'p99_latency', status: 'firing', severity: 'warning', description: 'p99 <above> 250 ms & rising',
  labels: { model: 'credit' }, value: 0.4123456, threshold: 0.25, op: '>', metric: 'tarmac_latency_p99_seconds',
  startsAt: Date.UTC(2026, 0, 1, 10), fingerprint: 'aaaaaaaaaaaaaaaa', repeat: false,
};
const resolved: NotifiedAlert = { ...firing, rule: 'high_error_rate', status: 'resolved', severity: 'critical', endsAt: Date.UTC(2026, 0, 1, 11), fingerprint: 'bbbbbbbbbbbbbbbb' };
const notification: Notification = { channel: 'slack', status: 'firing', at: Date.UTC(2026, 0, 1, 11), alerts: [firing, resolved] };

describe('SlackNotifier against a real HTTP server', { timeout: 20_000 }, () => {
  test('posts a Slack-compatible payload: text plus mrkdwn sections, escaped; retries a 503', async (t) => {
    const server = await startTestHttpServer((_req, i, res) => {
      res.statusCode = i === 0 ? 503 : 200;
      res.end(i === 0 ? 'busy' : 'ok');
    });
    t.after(() => server.close());
    const notifier = new SlackNotifier({ url: `${server.url}/services/T000/B000/XXXXSECRET`, timeoutMs: 2000, retry: { baseDelayMs: 10 } });
    await notifier.send(notification);
    assert.equal(server.requests.length, 2);
    const req = server.requests[1]!;
    assert.equal(req.url, '/services/T000/B000/XXXXSECRET');
    assert.equal(req.headers['content-type'], 'application/json');
    const body = JSON.parse(req.body) as SlackPayload;
    assert.deepEqual(Object.keys(body).sort(), ['blocks', 'text']);
    assert.equal(body.text, 'Tarmac [FIRING:1, RESOLVED:1] p99_latency, high_error_rate');
    assert.equal(body.blocks.length, 3);
    for (const block of body.blocks) {
      assert.equal(block.type, 'section');
      assert.equal(block.text.type, 'mrkdwn');
    }
    const first = body.blocks[1]!.text.text;
    assert.match(first, /FIRING\* · \*p99_latency\* · warning/);
    assert.match(first, /p99 &lt;above&gt; 250 ms &amp; rising/);
    assert.match(first, /tarmac_latency_p99_seconds\{model="credit"\} = 0\.4123 \(threshold &gt; 0\.25\)/);
    assert.match(body.blocks[2]!.text.text, /RESOLVED\* · \*high_error_rate\*/);
  });

  test('a refused webhook (404) is not retried and the secret path stays out of the error', async (t) => {
    const server = await startTestHttpServer((_req, _i, res) => {
      res.statusCode = 404;
      res.end('no_service');
    });
    t.after(() => server.close());
    const notifier = new SlackNotifier({ url: `${server.url}/services/T000/B000/XXXXSECRET`, timeoutMs: 2000, retry: { baseDelayMs: 10 } });
    let err: TarmacError | undefined;
    await notifier.send(notification).catch((e: TarmacError) => { err = e; });
    assert.ok(err);
    assert.equal(server.requests.length, 1);
    assert.match(err.message, /^slack delivery to http:\/\/127\.0\.0\.1:\d+\/\[redacted\] failed: HTTP 404: no_service$/);
    assert.doesNotMatch(JSON.stringify({ m: err.message, d: err.details }), /XXXXSECRET/);
  });

  test('many alerts are capped at 20 sections plus a count of the rest', () => {
    const alerts = Array.from({ length: 45 }, (_, i) => ({ ...firing, fingerprint: String(i).padStart(16, '0') }));
    const payload = slackPayload({ ...notification, alerts });
    assert.equal(payload.blocks.length, 22);
    assert.equal(payload.blocks[21]!.text.text, '…and 25 more');
    assert.equal(payload.text, 'Tarmac [FIRING:45] p99_latency');
  });
});
