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
