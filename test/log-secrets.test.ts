import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createTarmac, type Tarmac } from '../src/app.ts';
import { installDemo } from '../src/cli/demo.ts';
import { loadConfig } from '../src/config.ts';
import type { WindowSummary } from '../src/monitoring/index.ts';
import { ensureAdminKey } from '../src/security/index.ts';
import { createLogger } from '../src/shared/logger.ts';

/**
 * Captures EVERY log line of a real Tarmac (level trace) while it serves authenticated requests, refuses bad keys,
 * creates keys, and delivers alerts to webhook, Slack and SMTP channels with secrets in their URLs and settings; no
 * key, token or secret value may appear in any line.
 */
const lines: string[] = [];
let tarmac: Tarmac;
let dataDir: string;
let adminKey: string;
let receiver: Server;
let port: number;
const secrets: string[] = [];

before(async () => {
  receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.statusCode = 400;
      res.end('no thanks');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  port = (receiver.address() as { port: number }).port;
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'tarmac-logs-'));
  const config = loadConfig({ TARMAC_DATA_DIR: dataDir, TARMAC_LOG_LEVEL: 'trace', TARMAC_PORT: '0', TARMAC_OUTBOUND_ALLOW: '127.0.0.1', TARMAC_MONITOR: 'off' });
  const log = createLogger({ level: 'trace', destination: { write: (line: string) => { lines.push(line); } } });
  tarmac = await createTarmac(config, { log });
  adminKey = (await ensureAdminKey(tarmac.keys, dataDir))!.key;
  secrets.push(adminKey, adminKey.split('.')[1]!);
  await installDemo(tarmac);
});
after(async () => {
  await tarmac.close();
  receiver.close();
  await rm(dataDir, { recursive: true, force: true });
});

const call = (method: string, url: string, headers: Record<string, string | string[]>, body?: unknown) =>
  tarmac.api.inject({ method: method as 'GET', url, headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers }, payload: body === undefined ? undefined : JSON.stringify(body) });

test('no key, token or secret reaches any log line', { timeout: 60_000 }, async () => {
  const auth = { authorization: `Bearer ${adminKey}` };
  assert.equal((await call('GET', '/v1/models', auth)).statusCode, 200);
  const created = (await call('POST', '/v1/keys', auth, { role: 'predictor', name: 'client' })).json() as { key: string };
  secrets.push(created.key, created.key.split('.')[1]!);
  const predicted = await call('POST', '/v1/models/loan-default/predict', { authorization: `Bearer ${created.key}` }, {
    records: [{ income: 52000, loan_amount: 18000, age: 34, credit_history_years: 6, debt_ratio: 0.42, employment_type: 'salaried' }],
  });
  assert.equal(predicted.statusCode, 200, predicted.body);

  const wrongKey = 'tmk_ZZZZZZZZZZZZ.wrongsecretwrongsecretwrongsecretwrongsecret1';
  const notAKey = 'not-a-tarmac-key-but-secret-9f8e7d';
  secrets.push(wrongKey, 'wrongsecretwrongsecret', notAKey);
  assert.equal((await call('GET', '/v1/models', { authorization: `Bearer ${wrongKey}` })).statusCode, 401);
  assert.equal((await call('GET', '/v1/models', { authorization: `Bearer ${notAKey}` })).statusCode, 401);
  assert.equal((await call('GET', '/v1/models', { authorization: `Basic ${Buffer.from('admin:pa55w0rd-secret').toString('base64')}` })).statusCode, 401);
  secrets.push(Buffer.from('admin:pa55w0rd-secret').toString('base64'), 'pa55w0rd-secret');
  assert.equal((await call('GET', '/v1/models', { cookie: 'session=cookie-secret-123', 'x-api-key': 'x-api-key-secret-456' })).statusCode, 401);
  secrets.push('cookie-secret-123', 'x-api-key-secret-456');
  const doubled = await call('GET', '/v1/models', { authorization: [`Bearer ${adminKey}`, `Bearer ${wrongKey}`] });
  assert.ok(doubled.statusCode < 500);

  const hookSecret = 'webhook-hmac-secret-0a1b2c3d';
  const hookUrl = `http://hookuser:hookpass-secret@127.0.0.1:${port}/hooks/path-secret-77?token=query-secret-88`;
  const slackUrl = `http://127.0.0.1:${port}/services/T000/B000/slack-path-secret-99`;
  const smtpPass = 'smtp-password-secret-55';
  secrets.push(hookSecret, 'hookpass-secret', 'path-secret-77', 'query-secret-88', 'slack-path-secret-99', smtpPass);
  const configured = await call('PUT', '/v1/alerts/config', auth, {
    channels: [
      { name: 'hook', type: 'webhook', url: hookUrl, secret: hookSecret },
      { name: 'slack', type: 'slack', url: slackUrl },
      { name: 'mail', type: 'email', host: '127.0.0.1', port: 1, secure: true, user: 'ops', pass: smtpPass, from: 'tarmac@example.com', to: ['ops@example.com'] },
    ],
    rules: [{ name: 'rows', metric: 'tarmac_monitor_window_rows', op: '>', threshold: 0, forSeconds: 0, severity: 'warning', channels: ['hook', 'slack', 'mail'] }],
  });
  assert.equal(configured.statusCode, 200, configured.body);
  const shown = JSON.stringify(configured.json());
  for (const s of [hookSecret, 'hookpass-secret', smtpPass]) assert.ok(!shown.includes(s), `the API shows ${s}`);

  const summary = {
    model: 'loan-default', version: 1, variant: 'stable', window_start: new Date().toISOString(), window_seconds: 60, rows: 10, closed: true,
    drift: null, performance: null, prediction_drift: null, estimated_performance: null, business: {},
    quality: { volume_ratio: null, features: {}, contract: { fallback_rate: 0, imputed_rate: 0 } },
    system: { latency_ms: { p99: null } },
  } as unknown as WindowSummary;
  await tarmac.alerting.onWindow(summary);
  // Wait (without asserting on time) until all three deliveries have failed and been logged.
  for (let i = 0; i < 300 && lines.filter((l) => l.includes('alert notification failed')).length < 3; i++) await delay(100);
  assert.equal(lines.filter((l) => l.includes('alert notification failed')).length, 3, 'every failed delivery was logged');

  // Directly log the kinds of objects that carry secrets, as a careless caller might (credentials and secret query
  // parameters are recognised in any URL; a secret path only for known webhook hosts, so this URL carries none).
  const carelessUrl = `http://hookuser:hookpass-secret@127.0.0.1:${port}/hooks?token=query-secret-88`;
  tarmac.log.info({ req: { headers: { authorization: `Bearer ${adminKey}` } }, channel: { url: carelessUrl, secret: hookSecret, pass: smtpPass } }, `careless ${adminKey}`);
  tarmac.log.error({ err: new Error(`failed to reach ${carelessUrl} with ${adminKey}`) }, 'careless error');
  tarmac.log.warn({ url: 'https://hooks.slack.com/services/T000/B000/slack-path-secret-99' }, 'careless slack');

  assert.ok(lines.length > 5, `captured ${lines.length} lines`);
  for (const line of lines) {
    JSON.parse(line);
    for (const secret of secrets) assert.ok(!line.includes(secret), `a log line carries a secret (${secret.slice(0, 6)}…): ${line}`);
  }
});
