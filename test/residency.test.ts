import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createTarmac } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { checkResidency, enforceResidency, parseEndpointRegions, type ResidencyConfig } from '../src/privacy/index.ts';
import { isTarmacError } from '../src/shared/errors.ts';
import { createLogger } from '../src/shared/logger.ts';
import { startTestTarmac } from './support.ts';

// Data residency: every endpoint that holds or receives data has a declared region inside TARMAC_DATA_RESIDENCY, or
// Tarmac refuses to start (and refuses alert channels) naming the endpoint and its region.

const residency = (over: Partial<ResidencyConfig> = {}): ResidencyConfig => ({
  allowed: ['AU'], localRegion: 'AU', databaseRegion: undefined, natsRegion: undefined, hosts: {}, ...over,
});

test('endpoints resolve by host first, then by kind; loopback is this node', () => {
  const checked = checkResidency([
    { name: 'data directory', kind: 'local' },
    { name: 'database', kind: 'database', host: 'db.internal' },
    { name: 'NATS', kind: 'nats', host: '127.0.0.1' },
    { name: 'alert channel "ops" (webhook)', kind: 'notification', host: 'hooks.example.com' },
  ], residency({ databaseRegion: 'AU', hosts: { 'hooks.example.com': 'US' } }));
  assert.deepEqual(checked.map((c) => [c.region ?? null, c.allowed]), [['AU', true], ['AU', true], ['AU', true], ['US', false]]);
  assert.deepEqual(checkResidency([{ name: 'x', kind: 'notification', host: 'anywhere' }], residency({ allowed: [] }))[0]!.allowed, true, 'no residency: nothing is checked');
});

test('a violation names each endpoint, its region or how to declare it', () => {
  assert.throws(() => enforceResidency([
    { name: 'database (TARMAC_DATABASE_URL)', kind: 'database', host: 'db.example.com' },
    { name: 'NATS (TARMAC_NATS_URL)', kind: 'nats', host: 'nats.example.com' },
  ], residency({ natsRegion: 'US' })), (err: unknown) => {
    assert.ok(isTarmacError(err) && err.code === 'RESIDENCY_VIOLATION');
    assert.match(err.message, /database \(TARMAC_DATABASE_URL\) \(db\.example\.com\) has no declared region \(set TARMAC_DATABASE_REGION or TARMAC_ENDPOINT_REGIONS=db\.example\.com=<REGION>\)/);
    assert.match(err.message, /NATS \(TARMAC_NATS_URL\) \(nats\.example\.com\) is in US/);
    return true;
  });
});

test('the variables are validated, naming the variable', () => {
  assert.deepEqual(parseEndpointRegions('DB.example.com=au, smtp.example.com=NZ'), { 'db.example.com': 'AU', 'smtp.example.com': 'NZ' });
  assert.throws(() => parseEndpointRegions('db.example.com'), /TARMAC_ENDPOINT_REGIONS/);
  assert.throws(() => loadConfig({ TARMAC_DATA_RESIDENCY: 'AU,n z' }), /TARMAC_DATA_RESIDENCY/);
  assert.throws(() => loadConfig({ TARMAC_REGION: 'AU,NZ' }), /TARMAC_REGION must name one region/);
  assert.deepEqual(loadConfig({ TARMAC_DATA_RESIDENCY: 'au, nz' }).residency.allowed, ['AU', 'NZ']);
});

test('Tarmac refuses to start with an endpoint outside the residency, before connecting to it', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'tarmac-residency-'));
  const start = (env: Record<string, string>) => createTarmac(loadConfig({ TARMAC_DATA_DIR: dataDir, TARMAC_LOG_LEVEL: 'silent', ...env }), { log: createLogger({ level: 'silent' }) });
  try {
    await assert.rejects(start({ TARMAC_DATA_RESIDENCY: 'AU', TARMAC_REGION: 'US' }), /data directory .* is in US/);
    await assert.rejects(start({ TARMAC_DATA_RESIDENCY: 'AU' }), /data directory .* has no declared region \(set TARMAC_REGION\)/);
    // Nothing listens there: the refusal comes before any connection is tried.
    await assert.rejects(start({
      TARMAC_DATA_RESIDENCY: 'AU', TARMAC_REGION: 'AU', TARMAC_DATABASE_URL: 'postgres://tarmac@db.eu.example.com:5432/tarmac', TARMAC_DATABASE_REGION: 'EU',
    }), (err: unknown) => isTarmacError(err) && err.code === 'RESIDENCY_VIOLATION' && /database \(TARMAC_DATABASE_URL\) \(db\.eu\.example\.com\) is in EU/.test(err.message));
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('alert channels outside the residency are refused; declared ones are accepted', async () => {
  // The hosts do not resolve offline: the outbound allow-list admits them by name, so residency is what decides.
  const t = await startTestTarmac({
    TARMAC_DATA_RESIDENCY: 'AU', TARMAC_REGION: 'AU', TARMAC_ENDPOINT_REGIONS: 'hooks.au.example.com=AU,hooks.us.example.com=US',
    TARMAC_OUTBOUND_ALLOW: 'hooks.au.example.com,hooks.us.example.com,smtp.example.com',
  });
  try {
    const rule = { name: 'r', metric: 'tarmac_monitor_drift_share', op: '>', threshold: 0.5, forSeconds: 0, severity: 'warning', channels: ['ops'] };
    const refused = await t.call('PUT', '/v1/alerts/config', { channels: [{ name: 'ops', type: 'webhook', url: 'https://hooks.us.example.com/x', secret: 'a-signing-secret-123456' }], rules: [rule] });
    assert.equal(refused.statusCode, 422, refused.body);
    assert.equal(refused.json().code, 'RESIDENCY_VIOLATION');
    assert.match(refused.json().detail as string, /alert channel "ops" \(webhook\) \(hooks\.us\.example\.com\) is in US/);
    const undeclared = await t.call('PUT', '/v1/alerts/config', { channels: [{ name: 'ops', type: 'email', host: 'smtp.example.com', port: 587, from: 'a@example.com', to: ['b@example.com'] }], rules: [rule] });
    assert.equal(undeclared.statusCode, 422, undeclared.body);
    const accepted = await t.call('PUT', '/v1/alerts/config', { channels: [{ name: 'ops', type: 'webhook', url: 'https://hooks.au.example.com/x', secret: 'a-signing-secret-123456' }], rules: [rule] });
    assert.equal(accepted.statusCode, 200, accepted.body);
  } finally {
    await t.close();
  }
});
