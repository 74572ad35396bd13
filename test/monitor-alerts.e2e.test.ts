import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { installDemo } from '../src/cli/demo.ts';
import { referenceProfileOf } from '../src/cli/monitor.commands.ts';
import { readCsvRows } from '../src/contracts/index.ts';
import { verifySignature } from '../src/monitoring/alerts/index.ts';
import { FakeClock } from '../src/shared/clock.ts';
import { ROOT, startTestTarmac, type TestTarmac } from './support.ts';

// Acceptance, end to end: traffic whose features shift mid-way and whose labels degrade; drift, quality and
// performance alerts fire within two windows of the change and resolve after it reverts; a real webhook receiver
// gets signed payloads.

const WINDOW_MS = 60_000;
const SECRET = 'a-webhook-signing-secret-of-some-length';
const clock = new FakeClock(Date.UTC(2026, 6, 1, 9, 0, 0));
let t: TestTarmac;
let receiver: Server;
let receiverUrl = '';
const received: { status: string; alerts: { rule?: string; alertname?: string; status?: string; labels: Record<string, string> }[]; signed: boolean }[] = [];
let rows: Record<string, unknown>[] = [];
let cursor = 0;

before(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      const signed = verifySignature(body, String(req.headers['x-tarmac-signature'] ?? ''), SECRET, 10 ** 9);
      const payload = JSON.parse(body) as { status: string; alerts: { labels: Record<string, string> }[] };
      received.push({ status: payload.status, alerts: payload.alerts, signed });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hooks/tarmac`;

  t = await startTestTarmac({ TARMAC_MONITOR_WINDOW_SECONDS: '60', TARMAC_MONITOR_GRACE_SECONDS: '5', TARMAC_OUTBOUND_ALLOW: '127.0.0.1' }, { clock });
  await installDemo(t.tarmac);
  const csv = path.join(ROOT, 'demo/loans-demo.csv');
  const features = ['income', 'loan_amount', 'age', 'credit_history_years', 'debt_ratio'].map((name) => ({ name, type: 'float' }))
    .concat([{ name: 'employment_type', type: 'string' }]);
  const { profile } = await referenceProfileOf(csv, features);
  assert.equal((await t.call('PUT', '/v1/models/loan-default/versions/1/reference-profile', { profile })).statusCode, 200);
  for await (const row of readCsvRows(csv)) {
    const { default: _label, ...rest } = row;
    rows.push(rest);
  }
  rows = rows.slice(1000);
});

after(async () => {
  await t.close();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

/** One minute of traffic (500 records), labelled (correctly or not), then the window closes. */
async function minute(shifted: boolean): Promise<string[]> {
  const batch = rows.slice(cursor, cursor + 500).map((r, i) => (shifted
    ? { ...r, income: (r.income as number) * 3, employment_type: i % 3 === 0 ? 'gig_worker' : r.employment_type }
    : r));
  cursor += 500;
  const items: { prediction_id: string; label: number }[] = [];
  for (let i = 0; i < batch.length; i += 100) {
    const res = await t.call('POST', '/v1/models/loan-default/predict', { records: batch.slice(i, i + 100) });
    assert.equal(res.statusCode, 200, res.body);
    for (const p of (res.json() as { predictions: { id: string; prediction: number }[] }).predictions) {
      // Degraded labels: the truth is the opposite of most answers while the shift lasts.
      items.push({ prediction_id: p.id, label: shifted ? 1 - p.prediction : p.prediction });
    }
  }
  assert.equal((await t.call('POST', '/v1/models/loan-default/feedback', { items })).statusCode, 200);
  await t.tarmac.monitor.settle();
  clock.advance(WINDOW_MS);
  const closed = await t.tarmac.monitor.tick(clock.now() + 5_000);
  assert.ok(closed.length >= 1);
  const active = (await t.call('GET', '/api/v1/alerts')).json() as { data: { alerts: { labels: { alertname: string }; state: string }[] } };
  return active.data.alerts.filter((a) => a.state === 'firing').map((a) => a.labels.alertname).sort();
}

test('drift, quality and performance alerts fire within two windows of a shift and resolve after it reverts', { timeout: 120_000 }, async () => {
  const config = await t.call('PUT', '/v1/alerts/config', {
    channels: [{ name: 'ops', type: 'webhook', url: receiverUrl, secret: SECRET }],
    rules: [
      { name: 'income-drift', metric: 'tarmac_monitor_feature_drift', labels: { model: 'loan-default', feature: 'income' }, op: '>=', threshold: 1, forSeconds: 0, severity: 'warning', channels: ['ops'] },
      { name: 'unseen-employment', metric: 'tarmac_monitor_unseen_category_rate', labels: { model: 'loan-default', feature: 'employment_type' }, op: '>', threshold: 0.05, forSeconds: 0, severity: 'warning', channels: ['ops'] },
      { name: 'accuracy-low', metric: 'tarmac_monitor_performance', labels: { model: 'loan-default', metric: 'accuracy' }, op: '<', threshold: 0.8, forSeconds: 0, severity: 'critical', channels: ['ops'] },
    ],
  });
  assert.equal(config.statusCode, 200, config.body);
  assert.equal((config.json() as { channels: { secret: string }[] }).channels[0]!.secret, '***', 'secrets are never shown');

  assert.deepEqual(await minute(false), [], 'calm traffic fires nothing');
  assert.deepEqual(await minute(false), []);
  const afterShift = await minute(true);
  assert.deepEqual(afterShift, ['accuracy-low', 'income-drift', 'unseen-employment'], 'all three fire in the first window of the shift');
  assert.deepEqual(await minute(true), ['accuracy-low', 'income-drift', 'unseen-employment'], 'and keep firing while it lasts');
  assert.deepEqual(await minute(false), [], 'all resolve in the first window after the revert');

  const firing = received.filter((r) => r.status === 'firing');
  const resolved = received.filter((r) => r.status === 'resolved');
  assert.ok(firing.length >= 1 && resolved.length >= 1, JSON.stringify(received));
  assert.ok(received.every((r) => r.signed), 'every payload carries a valid X-Tarmac-Signature');
  const names = (list: typeof received) => new Set(list.flatMap((r) => r.alerts.map((a) => a.rule ?? a.alertname ?? a.labels.alertname)));
  assert.deepEqual([...names(firing)].sort(), ['accuracy-low', 'income-drift', 'unseen-employment']);
  assert.deepEqual([...names(resolved)].sort(), ['accuracy-low', 'income-drift', 'unseen-employment']);
  assert.equal(firing.length, 1, 'one notification for the three (same evaluation, same channel), no repeat while firing');

  const history = (await t.call('GET', '/v1/alerts/history')).json() as { events: { rule: string; to: string }[] };
  assert.ok(history.events.some((e) => e.rule === 'income-drift' && e.to === 'resolved'));
  const audit = (await t.call('GET', '/v1/audit?limit=500')).json() as { events: { action: string }[] };
  assert.ok(audit.events.filter((e) => e.action === 'alert.transition').length >= 6, 'every transition is audited');
});

test('a bad alerting configuration is refused whole, naming each problem', async () => {
  const res = await t.call('PUT', '/v1/alerts/config', {
    channels: [{ name: 'ops', type: 'webhook', url: 'ftp://x', secret: 'short' }, { name: 'ops', type: 'pager' }],
    rules: [{ name: 'r', metric: 'm', op: '>>', threshold: 'x', forSeconds: -1, severity: 'bad', channels: ['nowhere'] }],
  });
  assert.equal(res.statusCode, 400, res.body);
  const fields = (res.json() as { errors: { field: string }[] }).errors.map((e) => e.field);
  for (const f of ['/channels/0/url', '/channels/0/secret', '/channels/1/name', '/channels/1/type']) assert.ok(fields.includes(f), `${f} in ${fields.join(', ')}`);
  assert.ok(fields.some((f) => f.startsWith('/rules/0')), fields.join(', '));
  const still = (await t.call('GET', '/v1/alerts/config')).json() as { rules: { name: string }[] };
  assert.equal(still.rules.length, 3, 'the previous configuration stays');
  const viewer = await t.call('POST', '/v1/keys', { name: 'v', role: 'viewer' });
  const key = (viewer.json() as { key: string }).key;
  assert.equal((await t.call('PUT', '/v1/alerts/config', { channels: [], rules: [] }, key)).statusCode, 403);
});
