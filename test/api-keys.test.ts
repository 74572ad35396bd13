import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { installDemo } from '../src/cli/demo.ts';
import { bootstrapAdminKey } from '../src/security/index.ts';
import { FakeClock } from '../src/shared/clock.ts';
import { isTarmacError } from '../src/shared/errors.ts';
import { PG_URL, startTestTarmac, type TestTarmac, tempPgDatabase } from './support.ts';

const HOUR = 3_600_000;
const RECORD = { income: 52000, loan_amount: 18000, age: 34, credit_history_years: 6, debt_ratio: 0.42, employment_type: 'salaried' };

interface KeyBody {
  id: string;
  key: string;
  scope: { models?: string[]; datasets?: string[] } | null;
  expires_at: string | null;
  last_used_at: string | null;
  previous_secret_expires_at: string | null;
}


/** The same HTTP-level key tests on SQLite and on PostgreSQL (a database of its own, dropped afterwards). */
function apiKeySuite(dialect: 'sqlite' | 'postgres'): void {
  const skip = dialect === 'postgres' && !PG_URL ? 'TARMAC_TEST_PG_URL not set' : undefined;
  describe(`API keys on ${dialect}: scope, expiry, rotation, last use`, skip === undefined ? {} : { skip }, () => {
    let t: TestTarmac;
    const clock = new FakeClock(Date.UTC(2026, 5, 1));
    let pgdb: Awaited<ReturnType<typeof tempPgDatabase>>;

    before(async () => {
      const env: Record<string, string> = {};
      if (dialect === 'postgres') {
        pgdb = await tempPgDatabase('tarmac_keys');
        env.TARMAC_DATABASE_URL = pgdb!.url;
      }
      t = await startTestTarmac(env, { clock });
      assert.equal(t.tarmac.database.dialect, dialect);
      await installDemo(t.tarmac);
    });
    after(async () => {
      await t?.close();
      await pgdb?.drop();
    });

    const create = async (body: Record<string, unknown>) => {
      const response = await t.call('POST', '/v1/keys', body);
      assert.equal(response.statusCode, 201, response.body);
      return response.json() as KeyBody;
    };
    const predict = (key: string, model = 'loan-default') => t.call('POST', `/v1/models/${model}/predict`, { records: [RECORD] }, key);
    const problem = (response: { json(): unknown }) => response.json() as { code: string; errors?: { field: string; rule: string }[]; reason?: string };

    test('a scoped key is shown its scope, serves the models it covers and is refused the others', async () => {
      const key = await create({ role: 'predictor', scope: { models: ['loan-*'] } });
      assert.deepEqual(key.scope, { models: ['loan-*'] });
      assert.equal((await predict(key.key)).statusCode, 200);
      const refused = await predict(key.key, 'credit-risk');
      assert.equal(refused.statusCode, 403);
      assert.equal(problem(refused).code, 'AUTH_OUT_OF_SCOPE');

      const viewer = await create({ role: 'viewer', scope: { models: ['loan-default'] } });
      const other = await create({ role: 'viewer', scope: { models: ['credit-*'] } });
      const names = async (k: string) => ((await t.call('GET', '/v1/models', undefined, k)).json() as { models: { name: string }[] }).models.map((m) => m.name);
      assert.deepEqual(await names(viewer.key), ['loan-default']);
      assert.deepEqual(await names(other.key), [], 'listings leave out what the scope does not cover');
      const deployments = (await t.call('GET', '/v1/deployments', undefined, other.key)).json() as { deployments: unknown[] };
      assert.deepEqual(deployments.deployments, []);
      assert.equal((await t.call('GET', '/metrics', undefined, viewer.key)).statusCode, 403, 'cross-model routes are closed to scoped keys');
    });

    test('bad scopes and expiries are refused naming the field', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ role: 'viewer', scope: { models: [] } }, '/scope/models'],
        [{ role: 'viewer', scope: { models: ['a b'] } }, '/scope/models/0'],
        [{ role: 'viewer', scope: { teams: ['x'] } }, '/scope/teams'],
        [{ role: 'viewer', expires_at: '2020-01-01T00:00:00Z' }, '/expires_at'],
        [{ role: 'viewer', expires_at: 'tomorrow' }, '/expires_at'],
        [{ role: 'viewer', expires_in_seconds: 0 }, '/expires_in_seconds'],
        [{ role: 'viewer', expires_in_seconds: 60, expires_at: '2027-01-01T00:00:00Z' }, '/expires_in_seconds'],
        [{ role: 'superuser' }, '/role'],
      ];
      for (const [body, field] of cases) {
        const response = await t.call('POST', '/v1/keys', body);
        assert.equal(response.statusCode, 400, `${JSON.stringify(body)}: ${response.body}`);
        assert.ok(problem(response).errors?.some((e) => e.field.startsWith(field)), `${JSON.stringify(body)} names ${field}: ${response.body}`);
      }
    });

    test('a key stops working when it expires', async () => {
      const key = await create({ role: 'predictor', expires_in_seconds: 3600 });
      assert.equal(key.expires_at, new Date(clock.now() + HOUR).toISOString());
      assert.equal((await predict(key.key)).statusCode, 200);
      clock.advance(HOUR);
      const expired = await predict(key.key);
      assert.equal(expired.statusCode, 401);
      assert.equal(problem(expired).reason, 'expired');
    });

    test('rotation issues a new secret; the old one works for the grace period, then stops', async () => {
      const key = await create({ role: 'predictor', name: 'rotating' });
      // Used before the rotation: its secret is verified once and then compared without hashing; a secret of the same
      // length that differs in one character is still refused.
      assert.equal((await predict(key.key)).statusCode, 200);
      assert.equal((await predict(key.key)).statusCode, 200);
      const flipped = key.key.slice(0, -1) + (key.key.endsWith('A') ? 'B' : 'A');
      assert.equal((await predict(flipped)).statusCode, 401);
      const rotated = await t.call('POST', `/v1/keys/${key.id}/rotate`, { grace_seconds: 600 });
      assert.equal(rotated.statusCode, 200, rotated.body);
      const fresh = rotated.json() as KeyBody;
      assert.equal(fresh.id, key.id);
      assert.notEqual(fresh.key, key.key);
      assert.equal(fresh.previous_secret_expires_at, new Date(clock.now() + 600_000).toISOString());
      assert.equal((await predict(fresh.key)).statusCode, 200);
      assert.equal((await predict(key.key)).statusCode, 200, 'the old secret works during the grace period');
      clock.advance(600_000);
      assert.equal((await predict(key.key)).statusCode, 401, 'the old secret stops after the grace period');
      assert.equal((await predict(fresh.key)).statusCode, 200);

      const list = await t.call('GET', '/v1/keys');
      assert.ok(!list.body.includes(fresh.key.split('.')[1]!) && !list.body.includes(key.key.split('.')[1]!), 'no secret in the list');

      // No body: the configured default grace (24 h).
      const again = await t.app.inject({ method: 'POST', url: `/v1/keys/${key.id}/rotate`, headers: { authorization: `Bearer ${t.adminKey}` } });
      assert.equal(again.statusCode, 200, again.body);
      assert.equal((again.json() as KeyBody).previous_secret_expires_at, new Date(clock.now() + 24 * HOUR).toISOString());
      assert.equal((await predict(fresh.key)).statusCode, 200, 'the secret before this rotation keeps its grace');
      assert.equal((await predict(key.key)).statusCode, 401, 'only the last secret before a rotation is kept');

      assert.equal((await t.call('POST', '/v1/keys/nope/rotate', {})).statusCode, 404);
      assert.equal((await t.call('DELETE', `/v1/keys/${key.id}`)).statusCode, 200);
      const revoked = await t.call('POST', `/v1/keys/${key.id}/rotate`, {});
      assert.equal(revoked.statusCode, 409);
      assert.equal(problem(revoked).code, 'KEY_REVOKED');
      assert.equal((await t.call('POST', `/v1/keys/${key.id}/rotate`, { grace_seconds: -1 })).statusCode, 400);

      const audit = (await t.call('GET', '/v1/audit?limit=10000')).json() as { events: { action: string; target: string }[] };
      assert.equal(audit.events.filter((e) => e.action === 'key.rotate' && e.target === `key:${key.id}`).length, 2);
    });

    test('last use is gathered in memory and written in batches, never per request', async () => {
      const key = await create({ role: 'predictor', name: 'busy' });
      for (let i = 0; i < 5; i++) assert.equal((await predict(key.key)).statusCode, 200);
      const stored = await t.tarmac.database.db.selectFrom('api_keys').select('last_used_at').where('id', '=', key.id).executeTakeFirstOrThrow();
      assert.equal(stored.last_used_at, null, 'no write on the request path');
      const listed = ((await t.call('GET', '/v1/keys')).json() as { keys: KeyBody[] }).keys.find((k) => k.id === key.id)!;
      assert.equal(listed.last_used_at, new Date(clock.now()).toISOString(), 'the list shows this replica\'s unflushed use');
      await t.tarmac.keys.flushUsage();
      const flushed = await t.tarmac.database.db.selectFrom('api_keys').select('last_used_at').where('id', '=', key.id).executeTakeFirstOrThrow();
      assert.equal(flushed.last_used_at, clock.now());
    });

    test('keys bootstrap refuses while an admin key exists and recovers a store whose admin keys are all revoked', async () => {
      await assert.rejects(bootstrapAdminKey(t.tarmac.keys, t.dataDir), (err: unknown) => isTarmacError(err) && err.code === 'KEY_ADMIN_EXISTS');
      const scopedAdmin = await create({ role: 'admin', scope: { models: ['x'] } });
      const keys = ((await t.call('GET', '/v1/keys')).json() as { keys: { id: string; role: string; revoked_at: string | null }[] }).keys;
      const admins = keys.filter((k) => k.role === 'admin' && k.revoked_at === null && k.id !== scopedAdmin.id);
      const adminId = t.adminKey.slice(4, 16);
      for (const k of admins.filter((a) => a.id !== adminId)) await t.call('DELETE', `/v1/keys/${k.id}`);
      await t.call('DELETE', `/v1/keys/${adminId}`);
      assert.equal((await t.call('GET', '/v1/keys')).statusCode, 401, 'no admin left');

      const created = await bootstrapAdminKey(t.tarmac.keys, t.dataDir);
      assert.equal(created.file, path.join(t.dataDir, 'admin.key'));
      assert.equal((await stat(created.file)).mode & 0o777, 0o600);
      assert.equal((await t.call('GET', '/v1/keys', undefined, created.key)).statusCode, 200);
    });
  });
}

apiKeySuite('sqlite');
apiKeySuite('postgres');

describe('failed authentication is rate-limited per client address', () => {
  let t: TestTarmac;
  const clock = new FakeClock(Date.UTC(2026, 5, 1));

  before(async () => {
    t = await startTestTarmac({}, { clock });
  });
  after(async () => t?.close());

  test('after 20 failures in a minute the address gets 429 with Retry-After, valid key or not, audited once', async () => {
    const bad = 'tmk_AAAAAAAAAAAA.' + 'A'.repeat(43);
    for (let i = 0; i < 20; i++) {
      const response = await t.call('GET', '/v1/models', undefined, bad);
      assert.equal(response.statusCode, 401, `attempt ${i + 1}`);
      assert.equal(response.headers['www-authenticate'], 'Bearer realm="tarmac"');
    }
    for (const key of [bad, t.adminKey, 'not-even-a-key']) {
      const blocked = await t.call('GET', '/v1/models', undefined, key);
      assert.equal(blocked.statusCode, 429);
      assert.equal(blocked.headers['retry-after'], '60');
      assert.equal((blocked.json() as { code: string }).code, 'AUTH_RATE_LIMITED');
      assert.match(String(blocked.headers['content-type']), /^application\/problem\+json/);
    }
    assert.equal((await t.call('GET', '/v2/health/live', undefined, null)).statusCode, 200, 'public routes stay open');
    clock.advance(30_000);
    assert.equal((await t.call('GET', '/v1/models', undefined, bad)).headers['retry-after'], '30');

    clock.advance(30_000);
    assert.equal((await t.call('GET', '/v1/models')).statusCode, 200, 'the block ends');
    const audit = (await t.call('GET', '/v1/audit?limit=10000')).json() as { events: { action: string; outcome: string; details: { reason?: string } }[] };
    assert.equal(audit.events.filter((e) => e.action === 'auth.blocked').length, 1, 'one audit entry per block');
    assert.equal(audit.events.filter((e) => e.outcome === 'denied' && e.details.reason === 'invalid key: unknown').length, 20, 'each failure before the block is audited; none during it');
  });

  test('a missing header is refused but does not count towards a block', async () => {
    for (let i = 0; i < 25; i++) assert.equal((await t.call('GET', '/v1/models', undefined, null)).statusCode, 401);
    assert.equal((await t.call('GET', '/v1/models')).statusCode, 200);
  });
});
