import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock } from '../../shared/clock.ts';
import { createLogger } from '../../shared/logger.ts';
import { AlertService } from './alert.service.ts';
import { verifySignature } from './signature.ts';
import { startTestHttpServer } from './test-http-server.ts';
import type { AlertEvent, AlertRule, Notification, Notifier } from './types.ts';
import { WebhookNotifier, type WebhookPayload } from './webhook.notifier.ts';

const SECRET = 'service-test-secret';
const log = createLogger({ level: 'silent' });

/** A channel that keeps what it is sent, in memory (a real sink, not a stand-in for the webhook). */
class MemoryNotifier implements Notifier {
  readonly sent: Notification[] = [];
  async send(n: Notification): Promise<void> {
    this.sent.push(n);
  }
}

function rule(over: Partial<AlertRule> = {}): AlertRule {
  return { name: 'high_error_rate', metric: 'tarmac_error_rate', op: '>', threshold: 0.05, forSeconds: 0, severity: 'critical', channels: ['memory'], ...over };
}

describe('AlertService', { timeout: 20_000 }, () => {
  test('one failing channel does not stop the others; failures are counted, never thrown', async (t) => {
    const server = await startTestHttpServer((req, _i, res) => {
      res.statusCode = verifySignature(req.body, req.headers['x-tarmac-signature'] as string, SECRET) ? 204 : 401;
      res.end();
    });
    t.after(() => server.close());
    const dead = await startTestHttpServer(() => {});
    await dead.close();
    const memory = new MemoryNotifier();
    const clock = new FakeClock(Date.now());
    const service = new AlertService({
      clock, log,
      notifiers: new Map<string, Notifier>([
        ['memory', memory],
        ['hook', new WebhookNotifier({ url: `${server.url}/hook`, secret: SECRET, timeoutMs: 1000 })],
        ['broken', new WebhookNotifier({ url: dead.url, secret: SECRET, timeoutMs: 1000, retry: { maxAttempts: 1 } })],
      ]),
    });
    await service.setRules([rule({ channels: ['broken', 'hook', 'memory'] }), rule({ name: 'latency', metric: 'tarmac_latency', threshold: 1, channels: ['hook'] })]);
    const report = await service.evaluate([
      { metric: 'tarmac_error_rate', labels: { model: 'credit' }, value: 0.2, at: clock.now() },
      { metric: 'tarmac_latency', labels: { model: 'credit' }, value: 3, at: clock.now() },
    ]);
    assert.equal(report.events.length, 2);
    const byChannel = Object.fromEntries(report.deliveries.map((d) => [d.channel, d]));
    assert.equal(byChannel.broken!.ok, false);
    assert.match(byChannel.broken!.error!, /ECONNREFUSED/);
    assert.equal(byChannel.hook!.ok, true);
    assert.equal(byChannel.hook!.alerts, 2, 'grouped: one webhook call carries both alerts of the evaluation');
    assert.equal(byChannel.memory!.ok, true);
    assert.equal(server.requests.length, 1);
    const payload = JSON.parse(server.requests[0]!.body) as WebhookPayload;
    assert.deepEqual(payload.alerts.map((a) => a.rule).sort(), ['high_error_rate', 'latency']);
    assert.equal(memory.sent.length, 1);
    assert.deepEqual(service.stats().channels, {
      broken: { sent: 0, failed: 1, suppressed: 0 },
      hook: { sent: 1, failed: 0, suppressed: 0 },
      memory: { sent: 1, failed: 0, suppressed: 0 },
    });
  });

  test('rules naming an unconfigured channel are refused', async () => {
    const service = new AlertService({ clock: new FakeClock(), log, notifiers: new Map([['memory', new MemoryNotifier()]]) });
    await assert.rejects(service.setRules([rule({ channels: ['memory', 'pager'] })]), (err: { code: string; issues: { field: string; rule: string }[] }) => {
      assert.equal(err.code, 'VALIDATION_FAILED');
      assert.deepEqual(err.issues, [{ field: '/0/channels/1', rule: 'unknown_channel', message: 'no channel named "pager" is configured' }]);
      return true;
    });
    assert.deepEqual(service.rules(), []);
  });

  test('transitions go to onTransition in order and into a bounded history; a failing callback is counted', async () => {
    const seen: AlertEvent[] = [];
    const clock = new FakeClock();
    const service = new AlertService({
      clock, log, notifiers: new Map([['memory', new MemoryNotifier()]]),
      onTransition: (e) => {
        seen.push(e);
        if (seen.length === 2) throw new Error('audit store down');
      },
      options: { historySize: 3, evaluationIntervalSeconds: 60 },
    });
    await service.setRules([rule({ forSeconds: 60 })]);
    const values = [0.1, 0.1, 0.0, 0.1, 0.1, 0.0];
    for (const value of values) {
      await service.evaluate([{ metric: 'tarmac_error_rate', labels: { model: 'credit' }, value, at: clock.now() }]);
      clock.advance(60_000);
    }
    const path = seen.map((e) => `${e.from}->${e.to}`);
    assert.deepEqual(path, ['inactive->pending', 'pending->firing', 'firing->resolved', 'inactive->pending', 'pending->firing', 'firing->resolved']);
    assert.equal(service.stats().transitionCallbackFailures, 1);
    const history = service.history(10);
    assert.equal(history.length, 3, 'bounded by historySize');
    assert.deepEqual(history.map((e) => e.to), ['resolved', 'firing', 'pending'], 'newest first');
    assert.deepEqual(service.history(1).map((e) => e.to), ['resolved']);
    assert.equal(history[0]!.fingerprint, seen[5]!.fingerprint);
  });

  test('silences suppress delivery but the state and the suppression are recorded', async () => {
    const memory = new MemoryNotifier();
    const clock = new FakeClock();
    const service = new AlertService({ clock, log, notifiers: new Map([['memory', memory]]) });
    await service.setRules([rule()]);
    const silence = service.addSilence({ matchers: { alertname: 'high_error_rate' }, endsAt: clock.now() + 3600_000, createdBy: 'ana', comment: 'known incident' });
    const report = await service.evaluate([{ metric: 'tarmac_error_rate', labels: { model: 'credit' }, value: 0.2, at: clock.now() }]);
    assert.deepEqual(report.events.map((e) => [e.to, e.silencedBy]), [['firing', [silence.id]]]);
    assert.equal(report.suppressed, 1);
    assert.deepEqual(report.deliveries, []);
    assert.equal(memory.sent.length, 0);
    assert.equal(service.active()[0]!.state, 'firing');
    assert.equal(service.stats().channels.memory!.suppressed, 1);
    assert.equal(service.listSilences()[0]!.state, 'active');
    service.expireSilence(silence.id);
    clock.advance(60_000);
    const after = await service.evaluate([{ metric: 'tarmac_error_rate', labels: { model: 'credit' }, value: 0.2, at: clock.now() }]);
    assert.equal(after.deliveries.length, 1);
    assert.equal(memory.sent.length, 1);
    assert.equal(service.active()[0]!.lastNotifiedAt, clock.now());
  });

  test('deliveries to one channel stay in order even when evaluations overlap', async () => {
    const order: string[] = [];
    let first = true;
    const slow: Notifier = {
      async send(n) {
        if (first) {
          first = false;
          await new Promise((r) => setTimeout(r, 50));
        }
        order.push(n.status);
      },
    };
    const clock = new FakeClock();
    const service = new AlertService({ clock, log, notifiers: new Map([['memory', slow]]) });
    await service.setRules([rule()]);
    const a = service.evaluate([{ metric: 'tarmac_error_rate', labels: {}, value: 0.2, at: clock.now() }]);
    clock.advance(1000);
    const b = service.evaluate([{ metric: 'tarmac_error_rate', labels: {}, value: 0.0, at: clock.now() }]);
    await Promise.all([a, b]);
    assert.deepEqual(order, ['firing', 'resolved']);
  });
});
