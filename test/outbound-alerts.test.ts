import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { GuardedNotifier, WebhookNotifier, type Notification } from '../src/monitoring/alerts/index.ts';
import { checkOutboundUrl } from '../src/security/index.ts';
import { startTestTarmac, type TestTarmac } from './support.ts';

/** Alert channels may only reach public destinations unless TARMAC_OUTBOUND_ALLOW lists them. */
let t: TestTarmac;
let allowed: TestTarmac;
before(async () => {
  t = await startTestTarmac({ TARMAC_MONITOR: 'off' });
  allowed = await startTestTarmac({ TARMAC_MONITOR: 'off', TARMAC_OUTBOUND_ALLOW: '127.0.0.1,10.0.0.0/8' });
});
after(async () => {
  await t.close();
  await allowed.close();
});

const config = (channels: unknown[]) => ({ channels, rules: [] });
const secret = 'a-signing-secret-of-some-length';

test('internal webhook, Slack and SMTP destinations are refused at configuration time, naming each field', async () => {
  const res = await t.call('PUT', '/v1/alerts/config', config([
    { name: 'loop', type: 'webhook', url: 'http://127.0.0.1:9/hook', secret },
    { name: 'meta', type: 'slack', url: 'http://169.254.169.254/latest/meta-data/iam' },
    { name: 'ok', type: 'webhook', url: 'https://93.184.216.34/hook', secret },
    { name: 'mail', type: 'email', host: '10.0.0.5', port: 25, from: 'a@b.c', to: ['d@e.f'] },
    { name: 'six', type: 'webhook', url: 'http://[::ffff:192.168.0.1]/', secret },
  ]));
  assert.equal(res.statusCode, 400, res.body);
  const body = res.json() as { code: string; errors: { field: string; rule: string }[] };
  assert.equal(body.code, 'OUTBOUND_REFUSED');
  assert.deepEqual(body.errors.map((e) => e.field), ['/channels/0/url', '/channels/1/url', '/channels/3/host', '/channels/4/url']);
  assert.ok(body.errors.every((e) => e.rule === 'address'));
  assert.ok(!res.body.includes('meta-data/iam'), 'the refusal does not echo the URL path');
  assert.deepEqual((await t.call('GET', '/v1/alerts/config')).json(), { channels: [], rules: [] }, 'nothing was applied');
});

test('TARMAC_OUTBOUND_ALLOW admits the listed hosts and ranges', async () => {
  const res = await allowed.call('PUT', '/v1/alerts/config', config([
    { name: 'loop', type: 'webhook', url: 'http://127.0.0.1:9/hook', secret },
    { name: 'mail', type: 'email', host: '10.0.0.5', port: 25, from: 'a@b.c', to: ['d@e.f'] },
  ]));
  assert.equal(res.statusCode, 200, res.body);
  const refused = await allowed.call('PUT', '/v1/alerts/config', config([{ name: 'x', type: 'webhook', url: 'http://192.168.1.1/', secret }]));
  assert.equal(refused.statusCode, 400);
});

test('a guarded notifier re-checks before every send and does not send when the destination turned internal', async () => {
  let address = '93.184.216.34';
  let sent = 0;
  const guarded = new GuardedNotifier({ send: async () => { sent++; } }, () =>
    checkOutboundUrl('https://hooks.example.com/x', { allow: [] }, { lookup: async () => [{ address, family: 4 }] }));
  const notification = { status: 'firing', channel: 'c', alerts: [] } as unknown as Notification;
  await guarded.send(notification);
  address = '127.0.0.1';
  await assert.rejects(guarded.send(notification), (e: { code?: string }) => e.code === 'OUTBOUND_REFUSED');
  assert.equal(sent, 1);
});

test('HTTP deliveries connect to the addresses the check approved, re-checked before every attempt', async () => {
  const seen: { host: string | undefined }[] = [];
  const receiver = createServer((req, res) => {
    seen.push({ host: req.headers.host });
    req.resume();
    req.on('end', () => { res.statusCode = 503; res.end(); });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const port = (receiver.address() as { port: number }).port;
  try {
    let checks = 0;
    // The host name does not exist in DNS: only a pinned connection can reach the receiver.
    const notifier = new WebhookNotifier({
      url: `http://hooks.tarmac-test.invalid:${port}/x`, secret: 'a-signing-secret-of-some-length', retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
      connectTo: async () => {
        checks++;
        if (checks === 1) return [{ address: '127.0.0.1', family: 4 }];
        // The second check finds the name rebound to an internal address: refused without connecting.
        return (await checkOutboundUrl(`http://hooks.tarmac-test.invalid:${port}/x`, { allow: [] }, { lookup: async () => [{ address: '169.254.169.254', family: 4 }] })).addresses;
      },
    });
    const notification = { status: 'firing', channel: 'c', alerts: [] } as unknown as Notification;
    await assert.rejects(notifier.send(notification), (e: { code?: string }) => e.code === 'OUTBOUND_REFUSED');
    assert.deepEqual(seen, [{ host: `hooks.tarmac-test.invalid:${port}` }], 'one pinned attempt reached the receiver; the rebound one never connected');
    assert.equal(checks, 2);
  } finally {
    receiver.close();
  }
});
