import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { loadConfig } from './config.ts';

test('defaults: embedded store in .tarmac, port 8080, loopback, batching on', () => {
  const config = loadConfig({});
  assert.equal(config.port, 8080);
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.dataDir, path.resolve('.tarmac'));
  assert.equal(config.databaseUrl, undefined);
  assert.equal(config.batching.enabled, true);
  assert.ok(config.intraOpThreads >= 1);
  assert.ok(Object.isFrozen(config));
});

test('variables and flags are read, flags win', () => {
  const config = loadConfig(
    { TARMAC_PORT: '9000', TARMAC_DATABASE_URL: 'postgres://u@h/db', TARMAC_BATCHING: 'off', TARMAC_INFERENCE_THREADS: '0', TARMAC_MAX_ARTIFACT_MB: '2' },
    { port: 9100 },
  );
  assert.equal(config.port, 9100);
  assert.equal(config.databaseUrl, 'postgres://u@h/db');
  assert.equal(config.batching.enabled, false);
  assert.equal(config.inferenceThreads, 0);
  assert.equal(config.maxArtifactBytes, 2 * 1024 * 1024);
});

test('a malformed variable stops the start with CONFIG_INVALID naming it', () => {
  for (const [name, value] of [['TARMAC_PORT', 'eighty'], ['TARMAC_PORT', '70000'], ['TARMAC_BATCHING', 'maybe'], ['TARMAC_LOG_LEVEL', 'loud'], ['TARMAC_DATABASE_URL', 'mysql://x']] as const) {
    assert.throws(() => loadConfig({ [name]: value }), (err: { code?: string; details?: { variable?: string } }) =>
      err.code === 'CONFIG_INVALID' && err.details?.variable === name, `${name}=${value}`);
  }
});

test('audit checkpoints: every 300 s into <data dir>/audit-checkpoints by default; both can be set; a bad interval is refused', () => {
  const defaults = loadConfig({ TARMAC_DATA_DIR: '/srv/tarmac' });
  assert.deepEqual(defaults.audit, { checkpointSeconds: 300, checkpointDir: path.resolve('/srv/tarmac/audit-checkpoints') });
  assert.equal(loadConfig({}, { dataDir: '/other' }).audit.checkpointDir, path.resolve('/other/audit-checkpoints'));
  const set = loadConfig({ TARMAC_AUDIT_CHECKPOINT_SECONDS: '60', TARMAC_AUDIT_CHECKPOINT_DIR: '/mnt/worm/audit' });
  assert.deepEqual(set.audit, { checkpointSeconds: 60, checkpointDir: '/mnt/worm/audit' });
  for (const value of ['0', 'often', '1.5']) {
    assert.throws(() => loadConfig({ TARMAC_AUDIT_CHECKPOINT_SECONDS: value }), (err: { code?: string; details?: { variable?: string } }) =>
      err.code === 'CONFIG_INVALID' && err.details?.variable === 'TARMAC_AUDIT_CHECKPOINT_SECONDS');
  }
});

test('protection settings: rates, quotas, TLS pairs, outbound allow-list and the signing policy', () => {
  const config = loadConfig({
    TARMAC_RATE_LIMIT_PER_MINUTE: '120', TARMAC_QUOTA_RECORDS_PER_DAY: '1000', TARMAC_MAX_JSON_DEPTH: '32', TARMAC_MAX_HEADER_KB: '8',
    TARMAC_OUTBOUND_ALLOW: 'hooks.internal, 10.0.0.0/8', TARMAC_REQUIRE_SIGNED_VERSIONS: 'credit-risk,iris', TARMAC_TRUSTED_SIGNING_KEYS: 'keys/',
  });
  assert.deepEqual(config.protection, { rateLimitPerMinute: 120, quotaRecordsPerDay: 1000, maxJsonDepth: 32, maxHeaderBytes: 8192 });
  assert.deepEqual(config.outboundAllow, ['hooks.internal', '10.0.0.0/8']);
  assert.deepEqual(config.signing.requireSigned, ['credit-risk', 'iris']);
  assert.deepEqual(config.signing.trustedKeyPaths, [path.resolve('keys')]);
  assert.equal(config.tls, undefined);
  assert.equal(loadConfig({ TARMAC_REQUIRE_SIGNED_VERSIONS: 'true' }).signing.requireSigned, 'all');
  assert.equal(loadConfig({}).signing.requireSigned, 'none');
  assert.equal(loadConfig({}).protection.quotaRecordsPerDay, 0, 'quotas are off by default');
  for (const [name, value] of [['TARMAC_TLS_CERT', 'cert.pem'], ['TARMAC_OUTBOUND_ALLOW', 'no such host!'], ['TARMAC_REQUIRE_SIGNED_VERSIONS', 'Bad Name'], ['TARMAC_RATE_LIMIT_PER_MINUTE', '-1']] as const) {
    assert.throws(() => loadConfig({ [name]: value }), (err: { code?: string; details?: { variable?: string } }) =>
      err.code === 'CONFIG_INVALID' && (err.details?.variable === name || (name === 'TARMAC_TLS_CERT' && err.details?.variable === 'TARMAC_TLS_KEY')), `${name}=${value}`);
  }
});
