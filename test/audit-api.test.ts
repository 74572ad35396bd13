import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { installDemo } from '../src/cli/demo.ts';
import { CHECKPOINT_FILE, fromExportLine, verifyAuditEntries } from '../src/security/index.ts';
import { runCli } from './cli-support.ts';
import { PG_URL, startTestTarmac, type TestTarmac, tempPgDatabase } from './support.ts';

/**
 * The audit log through the running app: where-from recorded per request, the change and its entry committed
 * together, GET /v1/audit/verify and /v1/audit/export, `tarmac audit verify|export`, and the checkpoint at shutdown.
 */

interface AuditEvent {
  seq: number;
  actor: string;
  actor_role: string | null;
  action: string;
  outcome: string;
  ip: string | null;
  request_id: string | null;
  user_agent: string | null;
  details: Record<string, unknown>;
}

async function events(t: TestTarmac): Promise<AuditEvent[]> {
  const res = await t.call('GET', '/v1/audit?limit=1000');
  assert.equal(res.statusCode, 200, res.body);
  return (res.json() as { events: AuditEvent[] }).events;
}

async function refuseAuditInserts(t: TestTarmac): Promise<() => Promise<void>> {
  const db = t.tarmac.database.db;
  if (t.tarmac.database.dialect === 'sqlite') {
    await sql`create trigger audit_refuse before insert on audit_events begin select raise(abort, 'audit refused'); end`.execute(db);
    return async () => { await sql`drop trigger audit_refuse`.execute(db); };
  }
  await sql`create function audit_refuse() returns trigger language plpgsql as $$ begin raise exception 'audit refused'; end $$`.execute(db);
  await sql`create trigger audit_refuse before insert on audit_events for each row execute function audit_refuse()`.execute(db);
  return async () => { await sql`drop trigger audit_refuse on audit_events`.execute(db); };
}

function suite(name: string, env: () => Record<string, string>, skip: string | false): void {
  describe(`audit API on ${name}`, { skip }, () => {
    let t: TestTarmac;
    before(async () => {
      t = await startTestTarmac(env());
      await installDemo(t.tarmac);
    });
    after(async () => {
      await t?.close();
    });

    test('each entry records who, and from where: ip, request id and user agent', async () => {
      const created = await t.app.inject({
        method: 'POST', url: '/v1/keys', payload: { role: 'viewer', name: 'ci' },
        headers: { authorization: `Bearer ${t.adminKey}`, 'x-request-id': 'req-audit-1', 'user-agent': 'audit-test/1.0' },
      });
      assert.equal(created.statusCode, 201, created.body);
      const entry = (await events(t)).find((e) => e.action === 'key.create' && e.request_id === 'req-audit-1');
      assert.ok(entry, 'the key creation is audited with its request id');
      assert.equal(entry.actor_role, 'admin');
      assert.equal(entry.ip, '127.0.0.1');
      assert.equal(entry.user_agent, 'audit-test/1.0');
      assert.equal((entry.details.after as { name: string }).name, 'ci');

      const refused = await t.app.inject({ method: 'GET', url: '/v1/keys', headers: { 'x-request-id': 'req-audit-2', 'user-agent': 'curl/8' } });
      assert.equal(refused.statusCode, 401);
      const denied = (await events(t)).find((e) => e.request_id === 'req-audit-2');
      assert.deepEqual([denied?.outcome, denied?.actor, denied?.user_agent, denied?.ip], ['denied', 'anonymous', 'curl/8', '127.0.0.1']);
    });

    test('a key, an alias and a deployment are not changed when their audit entry cannot be written', async () => {
      const keysBefore = ((await t.call('GET', '/v1/keys')).json() as { keys: unknown[] }).keys.length;
      const modelBefore = (await t.call('GET', '/v1/models/loan-default')).json() as unknown;
      const restore = await refuseAuditInserts(t);
      try {
        assert.equal((await t.call('POST', '/v1/keys', { role: 'viewer' })).statusCode, 500);
        assert.equal((await t.call('PUT', '/v1/models/loan-default/aliases/audited', { version: 1 })).statusCode, 500);
        assert.equal((await t.call('PUT', '/v1/models/loan-default/deployment', { variants: [{ name: 'stable', version: 1, weight: 100 }] })).statusCode, 500);
      } finally {
        await restore();
      }
      assert.equal(((await t.call('GET', '/v1/keys')).json() as { keys: unknown[] }).keys.length, keysBefore, 'no key without its entry');
      assert.deepEqual((await t.call('GET', '/v1/models/loan-default')).json(), modelBefore, 'no alias or deployment change without its entry');
      const moved = await t.call('PUT', '/v1/models/loan-default/aliases/audited', { version: 1 });
      assert.equal(moved.statusCode, 200, moved.body);
      const entry = (await events(t)).at(-1)!;
      assert.deepEqual([entry.action, entry.details.before, entry.details.after], ['alias.set', null, 1]);
    });

    test('GET /v1/audit/verify and /v1/audit/export: the export round-trips and verifies; tampering is reported', async () => {
      await t.tarmac.auditCheckpoints.checkpoint();
      const verified = await t.call('GET', '/v1/audit/verify');
      assert.equal(verified.statusCode, 200, verified.body);
      const report = verified.json() as { ok: boolean; entries: number; checkpoints: { checked: number }; problems: unknown[] };
      assert.deepEqual(report.problems, []);
      assert.equal(report.ok, true);
      assert.ok(report.checkpoints.checked >= 1);

      const exported = await t.call('GET', '/v1/audit/export?since=0');
      assert.equal(exported.statusCode, 200);
      assert.match(String(exported.headers['content-type']), /^application\/x-ndjson/);
      const records = exported.body.trim().split('\n').map(fromExportLine);
      assert.equal(records.length, report.entries);
      assert.deepEqual(records.map((r) => r.seq), records.map((_, i) => i + 1));
      assert.equal(verifyAuditEntries(records).ok, true, 'an outsider can verify the export alone');
      const listed = await t.call('GET', `/v1/audit?limit=1000`);
      assert.deepEqual((listed.json() as { events: { hash: string }[] }).events.map((e) => e.hash), records.map((r) => r.hash));

      const tail = (await t.call('GET', `/v1/audit/export?since=${records.length - 2}`)).body.trim().split('\n').map(fromExportLine);
      assert.deepEqual(tail.map((r) => r.seq), [records.length - 1, records.length]);
      const byTime = (await t.call('GET', `/v1/audit/export?since=${new Date(records.at(-1)!.createdAt).toISOString()}`)).body.trim().split('\n');
      assert.ok(byTime.length >= 1 && byTime.length <= records.length);
      const bad = await t.call('GET', '/v1/audit/export?since=yesterday');
      assert.equal(bad.statusCode, 400);
      assert.equal((bad.json() as { errors: { field: string }[] }).errors[0]!.field, '/querystring/since');

      const reader = await t.call('POST', '/v1/keys', { role: 'viewer' });
      const viewerKey = (reader.json() as { key: string }).key;
      assert.equal((await t.call('GET', '/v1/audit/verify', undefined, viewerKey)).statusCode, 403, 'audit:read is needed');
    });

    test('tarmac audit verify checks the chain against the local checkpoints (exit 8 on tampering); tarmac audit export writes JSON Lines', async () => {
      const url = await t.tarmac.listen();
      const cliEnv = { TARMAC_URL: url, TARMAC_API_KEY: t.adminKey };
      // Over a real socket, the body arrives after the first hooks ran: the handler must still see the request context.
      const posted = await fetch(`${url}/v1/keys`, {
        method: 'POST', body: JSON.stringify({ role: 'viewer', name: 'over-http' }),
        headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/json', 'user-agent': 'real-http/1', 'x-request-id': 'req-http-1' },
      });
      assert.equal(posted.status, 201);
      const overHttp = (await events(t)).find((e) => e.request_id === 'req-http-1');
      assert.deepEqual([overHttp?.action, overHttp?.user_agent, overHttp?.ip?.endsWith('127.0.0.1')], ['key.create', 'real-http/1', true]);
      const checkpoints = t.tarmac.config.audit.checkpointDir;
      const publicKey = path.join(t.dataDir, 'audit-signing.pub');
      await t.tarmac.auditCheckpoints.checkpoint();
      const clean = await runCli(['--json', 'audit', 'verify', '--checkpoints', checkpoints, '--public-key', publicKey], cliEnv);
      assert.equal(clean.code, 0, clean.stderr + clean.stdout);
      assert.equal((JSON.parse(clean.stdout) as { ok: boolean }).ok, true);

      const out = path.join(t.dataDir, 'export.jsonl');
      const exported = await runCli(['audit', 'export', '--since', '0', '--out', out], cliEnv);
      assert.equal(exported.code, 0, exported.stderr);
      const lines = (await readFile(out, 'utf8')).trim().split('\n');
      assert.match(exported.stdout, new RegExp(`wrote ${lines.length} audit entries`));
      assert.equal(verifyAuditEntries(lines.map(fromExportLine)).ok, true);
      const toStdout = await runCli(['audit', 'export', '--since', String(lines.length - 1)], cliEnv);
      assert.equal(toStdout.code, 0, toStdout.stderr);
      assert.deepEqual(toStdout.stdout.trim().split('\n').map((l) => fromExportLine(l).seq), [lines.length]);

      await t.tarmac.database.db.updateTable('audit_events').set({ actor: 'mallory' }).where('seq', '=', 2).execute();
      const tampered = await runCli(['audit', 'verify', '--checkpoints', checkpoints, '--public-key', publicKey], cliEnv);
      assert.equal(tampered.code, 8, tampered.stderr + tampered.stdout);
      assert.match(tampered.stdout, /hash_mismatch at seq 2/);
      const viaApi = (await t.call('GET', '/v1/audit/verify')).json() as { problems: { kind: string; seq: number }[] };
      assert.deepEqual(viaApi.problems.map((p) => `${p.kind}@${p.seq}`), ['hash_mismatch@2']);
      assert.equal((await runCli(['audit', 'export', '--since', 'soon'], cliEnv)).code, 2);
    });

    test('shutdown writes a final checkpoint of the head', async () => {
      await t.call('PUT', '/v1/models/loan-default/aliases/challenger', { version: 1 });
      const head = (await events(t)).at(-1)!;
      await t.tarmac.close();
      const lines = (await readFile(path.join(t.tarmac.config.audit.checkpointDir, CHECKPOINT_FILE), 'utf8')).trim().split('\n');
      assert.equal((JSON.parse(lines.at(-1)!) as { seq: number }).seq, head.seq);
    });
  });
}

suite('SQLite', () => ({}), false);

let pgdb: Awaited<ReturnType<typeof tempPgDatabase>>;
let pgEnv: Record<string, string> = {};


before(async () => {
  pgdb = await tempPgDatabase('tarmac_audit_api');
  if (pgdb) pgEnv = { TARMAC_DATABASE_URL: pgdb.url };
});

after(async () => {
  await pgdb?.drop();
});

suite('PostgreSQL', () => pgEnv, PG_URL ? false : 'TARMAC_TEST_PG_URL not set');
