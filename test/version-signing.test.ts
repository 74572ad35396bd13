import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { generateSigningKeyPair, signManifest } from '../src/security/index.ts';
import { runCli } from './cli-support.ts';
import { FIXTURES_DIR, loadFixture, PG_URL, registerViaApi, startTestTarmac, type TestTarmac, tempPgDatabase } from './support.ts';

/**
 * Signed version manifests end to end: the CLI makes a key pair and signs; the policy refuses unsigned versions and
 * versions whose signature, manifest or artifact changed by one byte, at deploy and again at load.
 */
const dir = mkdtempSync(path.join(os.tmpdir(), 'tarmac-signing-'));
let t: TestTarmac;
let url: string;
const untrusted = generateSigningKeyPair();

before(async () => {
  const made = await runCli(['--json', 'keys', 'generate-signing', '--out', dir, '--name', 'release'], {});
  assert.equal(made.code, 0, made.stderr);
  t = await startTestTarmac({ TARMAC_TRUSTED_SIGNING_KEYS: path.join(dir, 'release.pub.pem'), TARMAC_REQUIRE_SIGNED_VERSIONS: 'iris,wine', TARMAC_MONITOR: 'off' });
  url = await t.tarmac.listen();
  for (const [model, fixture] of [['iris', 'iris_tree'], ['wine', 'wine_logreg_zipmap'], ['free', 'diabetes_linear_f64']] as const) {
    const { bytes, sidecar } = loadFixture(fixture);
    const res = await registerViaApi(t, model, bytes, { features: sidecar.feature_names });
    assert.equal(res.statusCode, 201, res.body);
  }
});
after(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

const cli = (...args: string[]) => runCli(args, { TARMAC_URL: url, TARMAC_API_KEY: t.adminKey });
const deploy = (model: string) => t.call('PUT', `/v1/models/${model}/deployment`, { version: 1 });

test('keys generate-signing writes an Ed25519 pair, the private key readable only by its owner', () => {
  const mode = statSync(path.join(dir, 'release.pem')).mode & 0o777;
  assert.equal(mode, 0o600);
  assert.match(readFileSync(path.join(dir, 'release.pub.pem'), 'utf8'), /BEGIN PUBLIC KEY/);
});

test('an unsigned version of a model under the policy is refused at deploy; other models deploy unsigned', async () => {
  const res = await deploy('iris');
  assert.equal(res.statusCode, 409, res.body);
  assert.equal(res.json().code, 'SIGNATURE_REQUIRED');
  assert.equal((await deploy('free')).statusCode, 200);
  assert.equal((await t.call('GET', '/v1/models/iris/versions/1/signature')).json().code, 'SIGNATURE_NOT_FOUND');
});

test('a signature by an untrusted key, or with one byte flipped, is refused', async () => {
  const { canonical } = (await t.call('GET', '/v1/models/iris/versions/1/manifest')).json() as { canonical: string };
  const wrongKey = await t.call('POST', '/v1/models/iris/versions/1/signature', { signature: signManifest(canonical, untrusted.privatePem) });
  assert.equal(wrongKey.statusCode, 422, wrongKey.body);
  assert.equal(wrongKey.json().code, 'SIGNATURE_INVALID');
  const good = signManifest(canonical, readFileSync(path.join(dir, 'release.pem')));
  const bytes = Buffer.from(good, 'base64');
  bytes[10] = bytes[10]! ^ 0x01;
  const flipped = await t.call('POST', '/v1/models/iris/versions/1/signature', { signature: bytes.toString('base64') });
  assert.equal(flipped.json().code, 'SIGNATURE_INVALID');
  const garbage = await t.call('POST', '/v1/models/iris/versions/1/signature', { signature: 'not base64 at all' });
  assert.equal(garbage.statusCode, 422);
  const viewer = ((await t.call('POST', '/v1/keys', { role: 'viewer' })).json() as { key: string }).key;
  assert.equal((await t.call('POST', '/v1/models/iris/versions/1/signature', { signature: good }, viewer)).statusCode, 403, 'signing needs models:write');
});

test('tarmac models sign signs locally, uploads, and the version deploys, serves and verifies', async () => {
  const signed = await cli('--json', 'models', 'sign', 'iris', '1', '--key', path.join(dir, 'release.pem'), '--artifact', path.join(FIXTURES_DIR, 'models', 'iris_tree.onnx'));
  assert.equal(signed.code, 0, signed.stderr);
  assert.match(JSON.parse(signed.stdout).key_id, /^[0-9a-f]{32}$/);
  const view = (await t.call('GET', '/v1/models/iris/versions/1/signature')).json() as { verified: boolean; manifest: { artifact_sha256: string } };
  assert.equal(view.verified, true);
  assert.equal((await deploy('iris')).statusCode, 200);
  const infer = await t.call('POST', '/v2/models/iris/infer', { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }] });
  assert.equal(infer.statusCode, 200, infer.body);
  const wrongArtifact = path.join(dir, 'other.onnx');
  writeFileSync(wrongArtifact, 'not the artifact');
  const refused = await cli('models', 'sign', 'iris', '1', '--key', path.join(dir, 'release.pem'), '--artifact', wrongArtifact);
  assert.equal(refused.code, 2, 'a mismatching local artifact is a usage error');
  assert.match(refused.stderr, /refusing to sign/);
  const audit = (await t.call('GET', '/v1/audit?limit=200')).json() as { events: { action: string }[] };
  assert.ok(audit.events.some((e) => e.action === 'version.sign'));
});

test('one byte flipped in the stored signature or the manifest fields: refused at deploy and at load', async () => {
  const db = t.tarmac.database.db;
  const stored = await db.selectFrom('version_signatures').selectAll().where('model_name', '=', 'iris').executeTakeFirstOrThrow();
  const bytes = Buffer.from(stored.signature, 'base64');
  bytes[0] = bytes[0]! ^ 0x80;
  await db.updateTable('version_signatures').set({ signature: bytes.toString('base64') }).where('model_name', '=', 'iris').execute();
  const version = await t.tarmac.registry.resolveVersion('iris', 1);
  await assert.rejects(t.tarmac.registry.readArtifact(version), (e: { code?: string }) => e.code === 'SIGNATURE_INVALID', 'refused at load');
  const redeploy = await deploy('iris');
  assert.equal(redeploy.statusCode, 422, redeploy.body);
  assert.equal(redeploy.json().code, 'SIGNATURE_INVALID');
  assert.equal((await t.call('GET', '/v1/models/iris/versions/1/signature')).json().verified, false);
  await db.updateTable('version_signatures').set({ signature: stored.signature }).where('model_name', '=', 'iris').execute();
  assert.equal((await deploy('iris')).statusCode, 200, 'the original signature verifies again');

  // The manifest is rebuilt from the version record: a changed record (here its size) no longer matches the signature.
  await sql`update model_versions set artifact_size = artifact_size + 1 where version = 1 and model_id = (select id from models where name = 'iris')`.execute(db);
  const changed = await t.tarmac.registry.resolveVersion('iris', 1);
  await assert.rejects(t.tarmac.registry.readArtifact(changed), (e: { code?: string }) => e.code === 'SIGNATURE_INVALID');
  assert.equal((await deploy('iris')).json().code, 'SIGNATURE_INVALID');
  await sql`update model_versions set artifact_size = artifact_size - 1 where version = 1 and model_id = (select id from models where name = 'iris')`.execute(db);
});

test('a signed version whose artifact has one byte flipped on disk is never loaded', async () => {
  const signed = await cli('models', 'sign', 'wine', '1', '--key', path.join(dir, 'release.pem'));
  assert.equal(signed.code, 0, signed.stderr);
  const version = await t.tarmac.registry.resolveVersion('wine', 1);
  const file = path.join(t.dataDir, 'blobs', 'sha256', version.artifactSha256.slice(0, 2), version.artifactSha256);
  const original = readFileSync(file);
  const tampered = Buffer.from(original);
  tampered[Math.floor(tampered.length / 2)] = tampered[Math.floor(tampered.length / 2)]! ^ 0x01;
  writeFileSync(file, tampered);
  try {
    await assert.rejects(t.tarmac.registry.readArtifact(version), (e: { code?: string }) => e.code === 'REGISTRY_INTEGRITY_FAILED');
    const res = await deploy('wine');
    assert.equal(res.json().code, 'REGISTRY_INTEGRITY_FAILED', res.body);
    // A version-pinned request loads on demand: it too must refuse the tampered artifact.
    const pinned = await t.call('POST', '/v2/models/wine/versions/1/infer', { inputs: [{ name: 'input', shape: [1, 13], datatype: 'FP32', data: Array(13).fill(1) }] });
    assert.notEqual(pinned.statusCode, 200, pinned.body);
  } finally {
    writeFileSync(file, original);
  }
  assert.equal((await deploy('wine')).statusCode, 200);
});

test('signatures are stored on PostgreSQL too', { skip: PG_URL ? false : 'TARMAC_TEST_PG_URL not set' }, async () => {
  const pgdb = (await tempPgDatabase('tarmac_signing'))!;
  const p = await startTestTarmac({ TARMAC_DATABASE_URL: pgdb.url, TARMAC_TRUSTED_SIGNING_KEYS: path.join(dir, 'release.pub.pem'), TARMAC_REQUIRE_SIGNED_VERSIONS: 'true', TARMAC_MONITOR: 'off' });
  try {
    const { bytes, sidecar } = loadFixture('iris_tree');
    assert.equal((await registerViaApi(p, 'iris', bytes, { features: sidecar.feature_names })).statusCode, 201);
    assert.equal((await p.call('PUT', '/v1/models/iris/deployment', { version: 1 })).json().code, 'SIGNATURE_REQUIRED');
    const { canonical } = (await p.call('GET', '/v1/models/iris/versions/1/manifest')).json() as { canonical: string };
    const key = readFileSync(path.join(dir, 'release.pem'));
    for (let i = 0; i < 2; i++) {
      const res = await p.call('POST', '/v1/models/iris/versions/1/signature', { signature: signManifest(canonical, key) });
      assert.equal(res.statusCode, 201, res.body);
    }
    assert.equal((await p.call('GET', '/v1/models/iris/versions/1/signature')).json().verified, true);
    assert.equal((await p.call('PUT', '/v1/models/iris/deployment', { version: 1 })).statusCode, 200);
  } finally {
    await p.close();
    await pgdb.drop();
  }
});
