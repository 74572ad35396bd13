import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCli, startServer, type CliResult, type ServerProcess } from './cli-support.ts';

// End-to-end: a real `tarmac up` process, driven by the real `tarmac keys …` commands in child processes.

const EXIT = { ok: 0, usage: 2, auth: 3, notFound: 4, conflict: 5 } as const;
const SLOW = { timeout: 120_000 };

let tmp = '';
let server: ServerProcess | undefined;
let url = '';

const admin = (...args: string[]) => runCli(args, { TARMAC_URL: url, TARMAC_DATA_DIR: tmp });
const withKey = (key: string, ...args: string[]) => runCli(args, { TARMAC_URL: url, TARMAC_API_KEY: key, TARMAC_DATA_DIR: path.join(tmp, 'nowhere') });

function expectExit(result: CliResult, code: number, what: string): void {
  assert.equal(result.code, code, `${what}: expected exit ${code}, got ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
}

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tarmac-keys-cli-'));
  server = await startServer(['up', '--port', '0', '--data-dir', tmp], { TARMAC_LOG_LEVEL: 'warn' }, /\(mode 0600\):\n\s+tmk_\S+\n/);
  url = server.url;
});

after(async () => {
  try {
    if (server) assert.equal(await server.stop(), 0, `tarmac up should exit 0 on SIGTERM\nstderr: ${server.stderr()}`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test('keys create with a scope and an expiry, list shows them, rotate keeps the old secret for the grace only', SLOW, async () => {
  const created = await admin('keys', 'create', '--role', 'scientist', '--name', 'ml', '--models', 'credit-*,fraud', '--expires-in', '30d');
  expectExit(created, EXIT.ok, 'keys create');
  const match = /^created scientist key (\S+)\n(tmk_\S+)\nscope: models credit-\*,fraud; expires: (\S+)\n/.exec(created.stdout);
  assert.ok(match, created.stdout);
  const [, id, key, expires] = match as unknown as [string, string, string, string];
  const days = (Date.parse(expires) - Date.now()) / 86_400_000;
  assert.ok(days > 29.9 && days <= 30, `expires in ${days} days`);

  expectExit(await withKey(key, 'models', 'list'), EXIT.ok, 'a scoped key lists (filtered) models');
  expectExit(await withKey(key, 'models', 'show', 'other'), EXIT.auth, 'out of scope');

  const listed = await admin('keys', 'list');
  expectExit(listed, EXIT.ok, 'keys list');
  assert.match(listed.stdout, /^ID\s+NAME\s+ROLE\s+SCOPE\s+EXPIRES_AT\s+LAST_USED_AT\s+REVOKED_AT/m);
  assert.match(listed.stdout, new RegExp(`^${id}\\s+ml\\s+scientist\\s+models=credit-\\*,fraud\\s+${expires.replace(/\./g, '\\.')}`, 'm'));
  assert.ok(!listed.stdout.includes('tmk_'), 'keys list must not print secrets');

  const rotated = await admin('keys', 'rotate', id, '--grace', '1h');
  expectExit(rotated, EXIT.ok, 'keys rotate');
  const fresh = /^rotated scientist key \S+\n(tmk_\S+)\nthe old secret works until (\S+)\n/.exec(rotated.stdout);
  assert.ok(fresh, rotated.stdout);
  expectExit(await withKey(fresh[1]!, 'models', 'list'), EXIT.ok, 'the new secret works');
  expectExit(await withKey(key, 'models', 'list'), EXIT.ok, 'the old secret works during the grace period');

  const again = await admin('--json', 'keys', 'rotate', id, '--grace', '0');
  expectExit(again, EXIT.ok, 'keys rotate --grace 0');
  const newest = (JSON.parse(again.stdout) as { key: string }).key;
  expectExit(await withKey(fresh[1]!, 'models', 'list'), EXIT.auth, 'a secret rotated out with no grace stops at once');
  expectExit(await withKey(key, 'models', 'list'), EXIT.auth, 'the first secret is long gone');
  expectExit(await withKey(newest, 'models', 'list'), EXIT.ok, 'the newest secret works');
});

test('keys commands refuse bad input with the documented exit codes', SLOW, async () => {
  expectExit(await admin('keys', 'create', '--role', 'superuser'), EXIT.usage, 'unknown role');
  expectExit(await admin('keys', 'create', '--role', 'viewer', '--expires-in', 'soon'), EXIT.usage, 'bad duration');
  expectExit(await admin('keys', 'create', '--role', 'viewer', '--models', 'a b'), EXIT.usage, 'bad glob');
  expectExit(await admin('keys', 'rotate', 'nope'), EXIT.notFound, 'unknown key');
  const predictor = /\n(tmk_\S+)\n/.exec((await admin('keys', 'create', '--role', 'predictor')).stdout)![1]!;
  expectExit(await withKey(predictor, 'keys', 'list'), EXIT.auth, 'predictor may not manage keys');
});

test('keys bootstrap: refused while an admin key exists, creates one in a new store', SLOW, async () => {
  const refused = await runCli(['keys', 'bootstrap', '--data-dir', tmp], {});
  expectExit(refused, EXIT.conflict, 'keys bootstrap with an admin');
  assert.match(refused.stderr, /active admin key exists/);

  const fresh = await mkdtemp(path.join(os.tmpdir(), 'tarmac-keys-bootstrap-'));
  try {
    const made = await runCli(['keys', 'bootstrap', '--data-dir', fresh], { TARMAC_LOG_LEVEL: 'warn' });
    expectExit(made, EXIT.ok, 'keys bootstrap on a new store');
    const file = path.join(fresh, 'admin.key');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.ok(made.stdout.includes(readFileSync(file, 'utf8').trim()));
  } finally {
    await rm(fresh, { recursive: true, force: true });
  }
});
