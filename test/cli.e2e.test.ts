import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CLI_FIXTURES_DIR, REPO_ROOT, runCli, startServer, type CliResult, type ServerProcess } from './cli-support.ts';

// End-to-end: a real `tarmac up --demo` process, driven by the real CLI in child processes.

const IRIS_ONNX = path.join(CLI_FIXTURES_DIR, 'models', 'iris_tree.onnx');
const IRIS_FEATURES = ['sepal_length_cm', 'sepal_width_cm', 'petal_length_cm', 'petal_width_cm'];
const EXIT = { ok: 0, usage: 2, auth: 3, notFound: 4, conflict: 5, unreachable: 6 } as const;
const SLOW = { timeout: 120_000 };

let tmp = '';
let server: ServerProcess | undefined;
let url = '';
let records = '';
let predictionIds: string[] = [];

/** The CLI as the admin: it finds `<tmp>/admin.key` through TARMAC_DATA_DIR. */
const admin = (...args: string[]) => runCli(args, { TARMAC_URL: url, TARMAC_DATA_DIR: tmp });
/** The CLI with an explicit key (and no data dir, so admin.key is not picked up). */
const withKey = (key: string, ...args: string[]) => runCli(args, { TARMAC_URL: url, TARMAC_API_KEY: key, TARMAC_DATA_DIR: path.join(tmp, 'nowhere') });

function expectExit(result: CliResult, code: number, what: string): void {
  assert.equal(result.code, code, `${what}: expected exit ${code}, got ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
}

/** Every file under `dir`, relative and sorted ([] when it does not exist). */
function listTree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[]).sort();
}

/** A localhost port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tarmac-cli-e2e-'));
  server = await startServer(['up', '--demo', '--port', '0', '--data-dir', tmp], { TARMAC_LOG_LEVEL: 'warn' }, /\n\s+-d '\{"records"/);
  url = server.url;
  records = path.join(tmp, 'records.json');
  await writeFile(records, JSON.stringify({
    records: [
      { sepal_length_cm: 5.1, sepal_width_cm: 3.5, petal_length_cm: 1.4, petal_width_cm: 0.2 },
      { sepal_length_cm: 6.7, sepal_width_cm: 3.0, petal_length_cm: 5.2, petal_width_cm: 2.3 },
    ],
  }));
});

after(async () => {
  try {
    if (server) {
      const code = await server.stop();
      assert.equal(code, 0, `tarmac up should exit 0 on SIGTERM\nstderr: ${server.stderr()}`);
    }
  } finally {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }
});

test('tarmac up prints its URL, the admin key once and a curl example; admin.key is mode 0600', () => {
  const banner = server!.banner;
  assert.match(url, /^http:\/\/localhost:\d+$/);
  assert.notEqual(url, 'http://localhost:0');
  const keys = banner.match(/tmk_[A-Za-z0-9._-]+/g) ?? [];
  assert.equal(keys.length, 1, `the admin key should be printed exactly once:\n${banner}`);
  assert.match(banner, new RegExp(`curl -s ${url}/v1/models/loan-default/predict`));
  assert.match(banner, /Authorization: Bearer \$\(cat .*admin\.key\)/);
  const keyFile = path.join(tmp, 'admin.key');
  assert.ok(existsSync(keyFile), 'admin.key is written to the data dir');
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  assert.equal(readFileSync(keyFile, 'utf8').trim(), keys[0]);
});

test('models list shows the demo model, as a table and as JSON', SLOW, async () => {
  const listed = await admin('models', 'list');
  expectExit(listed, EXIT.ok, 'models list');
  assert.match(listed.stdout, /^NAME\s+OWNER\s+DEPLOYED_VERSIONS/m);
  assert.match(listed.stdout, /^loan-default\s/m);

  const json = await admin('--json', 'models', 'list');
  expectExit(json, EXIT.ok, '--json models list');
  const parsed = JSON.parse(json.stdout) as { models: { name: string }[] };
  assert.ok(parsed.models.some((m) => m.name === 'loan-default'));
});

test('models register uploads and registers version 1 with metadata and lineage', SLOW, async () => {
  const registered = await admin('models', 'register', 'iris', IRIS_ONNX,
    '--features', IRIS_FEATURES.join(','), '--metric', 'accuracy=0.9', '--tag', 'team=botany', '--owner', 'alice',
    '--description', 'iris tree', '--training-data', 'data/iris.csv', '--code-ref', 'abc123');
  expectExit(registered, EXIT.ok, 'models register');
  assert.match(registered.stdout, /registered iris version 1 /);
  assert.match(registered.stdout, /features sepal_length_cm,sepal_width_cm,petal_length_cm,petal_width_cm/);
});

test('registering the same artifact again is a conflict (exit 5) naming the existing version', SLOW, async () => {
  const again = await admin('models', 'register', 'iris', IRIS_ONNX);
  expectExit(again, EXIT.conflict, 'duplicate register');
  assert.match(again.stderr, /iris version 1/);
  assert.equal(again.stdout, '');
});

test('registering a non-ONNX file or a missing file is refused with exit 2', SLOW, async () => {
  const notOnnx = await admin('models', 'register', 'junk', 'package.json');
  expectExit(notOnnx, EXIT.usage, 'register package.json');
  assert.match(notOnnx.stderr, /not an ONNX model/i);

  const missing = await admin('models', 'register', 'junk', path.join(tmp, 'no-such-file.onnx'));
  expectExit(missing, EXIT.usage, 'register a missing file');
  assert.match(missing.stderr, /cannot read .*no-such-file\.onnx/);
});

test('models show prints the model as a table and as JSON with metrics and lineage', SLOW, async () => {
  const shown = await admin('models', 'show', 'iris');
  expectExit(shown, EXIT.ok, 'models show');
  assert.match(shown.stdout, /^model iris \(owner alice\): iris tree$/m);
  assert.match(shown.stdout, /^deployed: no$/m);
  assert.match(shown.stdout, /^VERSION\s+ALIASES\s+SHA256/m);
  assert.match(shown.stdout, /^1\s+.*accuracy=0\.9/m);

  const json = await admin('--json', 'models', 'show', 'iris');
  expectExit(json, EXIT.ok, '--json models show');
  const model = JSON.parse(json.stdout) as {
    name: string; owner: string; tags: Record<string, string>;
    versions: { version: number; metrics: Record<string, number>; lineage: Record<string, string>; signature: { features: { name: string }[] } }[];
  };
  assert.equal(model.name, 'iris');
  assert.equal(model.owner, 'alice');
  assert.deepEqual(model.tags, { team: 'botany' });
  assert.equal(model.versions.length, 1);
  assert.equal(model.versions[0]!.version, 1);
  assert.equal(model.versions[0]!.metrics.accuracy, 0.9);
  assert.equal(model.versions[0]!.lineage.code_ref, 'abc123');
  assert.equal(model.versions[0]!.lineage.training_data, 'data/iris.csv');
  assert.deepEqual(model.versions[0]!.signature.features.map((f) => f.name), IRIS_FEATURES);
});

test('alias set, deploy by alias, predict (table and JSON) and feedback', SLOW, async () => {
  const aliased = await admin('alias', 'set', 'iris', 'champion', '1');
  expectExit(aliased, EXIT.ok, 'alias set');
  assert.match(aliased.stdout, /iris@champion → version 1/);

  const deployed = await admin('deploy', 'iris', 'champion');
  expectExit(deployed, EXIT.ok, 'deploy');
  assert.match(deployed.stdout, /iris now serves version 1 /);

  const predicted = await admin('predict', 'iris', '--file', records);
  expectExit(predicted, EXIT.ok, 'predict');
  const lines = predicted.stdout.trim().split('\n');
  assert.match(lines[0]!, /^ROW\s+PREDICTION\s+PROBABILITIES\s+VERSION\s+ID$/);
  assert.equal(lines.length, 3, predicted.stdout);
  assert.match(lines[1]!, /^0\s+0\s+0=1 1=0 2=0\s+1\s+[0-9a-f-]{36}$/); // setosa
  assert.match(lines[2]!, /^1\s+2\s+0=0 1=0 2=1\s+1\s+[0-9a-f-]{36}$/); // virginica

  const json = await admin('--json', 'predict', 'iris', '--file', records);
  expectExit(json, EXIT.ok, '--json predict');
  const result = JSON.parse(json.stdout) as { model: string; version: number; predictions: { id: string; prediction: unknown }[] };
  assert.equal(result.model, 'iris');
  assert.equal(result.version, 1);
  assert.deepEqual(result.predictions.map((p) => p.prediction), [0, 2]);
  predictionIds = result.predictions.map((p) => p.id);
  assert.ok(predictionIds.every((id) => typeof id === 'string' && id.length > 0));

  const madeUp = randomUUID();
  const feedbackFile = path.join(tmp, 'feedback.json');
  await writeFile(feedbackFile, JSON.stringify({ items: [{ prediction_id: predictionIds[0], label: 0 }, { prediction_id: madeUp, label: 1 }] }));
  const feedback = await admin('feedback', 'iris', '--file', feedbackFile);
  expectExit(feedback, EXIT.ok, 'feedback');
  assert.match(feedback.stdout, /accepted 1; unknown prediction ids: /);
  assert.ok(feedback.stdout.includes(madeUp), feedback.stdout);
  assert.ok(!feedback.stdout.includes(predictionIds[0]!), 'the known id is not reported as unknown');
});

test('keys: create prints the secret once, list never does, roles are enforced, revoked keys stop working', SLOW, async () => {
  const created = await admin('keys', 'create', '--role', 'predictor', '--name', 'cli-e2e');
  expectExit(created, EXIT.ok, 'keys create');
  const match = /^created predictor key (\S+)\n(tmk_\S+)\n/.exec(created.stdout);
  assert.ok(match, `unexpected keys create output:\n${created.stdout}`);
  const [, id, key] = match as unknown as [string, string, string];
  assert.match(created.stdout, /not shown again/);

  const listed = await admin('keys', 'list');
  expectExit(listed, EXIT.ok, 'keys list');
  assert.match(listed.stdout, new RegExp(`^${id}\\s+cli-e2e\\s+predictor`, 'm'));
  assert.ok(!listed.stdout.includes(key), 'keys list must not print the secret');
  assert.ok(!listed.stdout.includes('tmk_'), 'keys list must not print any secret');
  const listedJson = await admin('--json', 'keys', 'list');
  expectExit(listedJson, EXIT.ok, '--json keys list');
  assert.ok(!listedJson.stdout.includes(key) && !listedJson.stdout.includes('tmk_'), 'keys list --json must not print secrets');
  const adminSecret = readFileSync(path.join(tmp, 'admin.key'), 'utf8').trim();
  assert.ok(!listedJson.stdout.includes(adminSecret));

  const read = await withKey(key, 'models', 'list');
  expectExit(read, EXIT.ok, 'models list as predictor');
  assert.match(read.stdout, /^iris\s/m);

  const forbidden = await withKey(key, 'deploy', 'iris', '1');
  expectExit(forbidden, EXIT.auth, 'deploy as predictor');
  assert.match(forbidden.stderr, /^error: /);

  // `--` because key ids are base64url and one in 64 starts with '-', which commander would take for an option.
  const revoked = await admin('keys', 'revoke', '--', id);
  expectExit(revoked, EXIT.ok, 'keys revoke');
  assert.match(revoked.stdout, new RegExp(`revoked ${id}`));

  const afterRevoke = await withKey(key, 'models', 'list');
  expectExit(afterRevoke, EXIT.auth, 'models list with a revoked key');
  assert.match(afterRevoke.stderr, /^error: /);

  const noKey = await runCli(['models', 'list'], { TARMAC_URL: url, TARMAC_DATA_DIR: path.join(tmp, 'nowhere') });
  expectExit(noKey, EXIT.auth, 'models list without a key');
  assert.match(noKey.stderr, /hint: set TARMAC_API_KEY/);
});

test('an unknown model exits 4, an unreadable records file exits 2, an unreachable server exits 6', SLOW, async () => {
  const unknown = await admin('predict', 'no-such-model', '--file', records);
  expectExit(unknown, EXIT.notFound, 'predict an unknown model');
  assert.match(unknown.stderr, /^error: /);

  const notJson = path.join(tmp, 'not-json.json');
  await writeFile(notJson, 'sepal_length_cm,sepal_width_cm\n5.1,3.5\n');
  const invalid = await admin('predict', 'iris', '--file', notJson);
  expectExit(invalid, EXIT.usage, 'predict from a non-JSON file');
  assert.match(invalid.stderr, /is not valid JSON/);

  for (const down of ['http://127.0.0.1:9', `http://127.0.0.1:${await closedPort()}`]) {
    const unreachable = await runCli(['models', 'list'], { TARMAC_URL: down, TARMAC_DATA_DIR: tmp });
    expectExit(unreachable, EXIT.unreachable, `models list against ${down}`);
    assert.match(unreachable.stderr, /cannot reach Tarmac at /);
    assert.match(unreachable.stderr, /start it with `tarmac up`/);
  }

  // --url overrides TARMAC_URL.
  const viaFlag = await runCli(['--url', url, 'models', 'list'], { TARMAC_URL: 'http://127.0.0.1:9', TARMAC_DATA_DIR: tmp });
  expectExit(viaFlag, EXIT.ok, 'models list --url');
  assert.match(viaFlag.stdout, /^iris\s/m);
});

test('bad usage exits 2 with help', SLOW, async () => {
  const noRole = await admin('keys', 'create');
  expectExit(noRole, EXIT.usage, 'keys create without --role');
  assert.match(noRole.stderr, /required option '--role <role>' not specified/);

  const unknownCommand = await admin('bogus');
  expectExit(unknownCommand, EXIT.usage, 'unknown command');
  assert.match(unknownCommand.stderr, /unknown command 'bogus'/);

  const blobsBefore = listTree(path.join(tmp, 'blobs'));
  const badMetric = await admin('models', 'register', 'wine', path.join(CLI_FIXTURES_DIR, 'models', 'wine_logreg_zipmap.onnx'), '--metric', 'accuracy=high');
  expectExit(badMetric, EXIT.usage, 'a non-numeric --metric');
  assert.match(badMetric.stderr, /--metric accuracy must be a number/);
  assert.deepEqual(listTree(path.join(tmp, 'blobs')), blobsBefore, 'a usage error uploads nothing');

  const help = await admin('--help');
  expectExit(help, EXIT.ok, '--help');
  assert.match(help.stdout, /Usage: tarmac/);
});

test('contracts: register (idempotent), list, show, diff, and a mismatching binding is refused', SLOW, async () => {
  const demoContract = path.join(REPO_ROOT, 'src/contracts/fixtures/loans-demo.odcs.yaml');
  const first = await admin('contracts', 'register', demoContract);
  expectExit(first, EXIT.ok, 'contracts register');
  assert.match(first.stdout, /registered contract loans-demo version 1 /);
  const again = await admin('contracts', 'register', demoContract);
  expectExit(again, EXIT.ok, 'contracts register again');
  assert.match(again.stdout, /unchanged: identical to contract loans-demo version 1/);

  const v2 = path.join(tmp, 'loans-v2.odcs.yaml');
  await writeFile(v2, readFileSync(demoContract, 'utf8').replace('version: 1.0.0', 'version: 1.1.0').replace('          maximum: 120', '          maximum: 130'));
  expectExit(await admin('contracts', 'register', v2), EXIT.ok, 'contracts register v2');

  const list = await admin('contracts', 'list');
  expectExit(list, EXIT.ok, 'contracts list');
  assert.match(list.stdout, /^loans-demo\s+2\s+1\.1\.0\s+backward/m);

  const show = await admin('--json', 'contracts', 'show', 'loans-demo@1');
  expectExit(show, EXIT.ok, 'contracts show --json');
  const shown = JSON.parse(show.stdout) as { version: number; fields: { name: string }[] };
  assert.equal(shown.version, 1);
  assert.equal(shown.fields.length, 6);
  const table = await admin('contracts', 'show', 'loans-demo');
  assert.match(table.stdout, /^contract loans-demo version 2 /);
  assert.match(table.stdout, /^employment_type\s+string/m);

  const diff = await admin('contracts', 'diff', 'loans-demo', '1', '2');
  expectExit(diff, EXIT.ok, 'contracts diff');
  assert.match(diff.stdout, /compatible under backward/);
  assert.match(diff.stdout, /^age\s+range_widened/m);

  expectExit(await admin('contracts', 'show', 'nope'), EXIT.notFound, 'contracts show unknown');

  const diabetes = path.join(CLI_FIXTURES_DIR, 'models', 'diabetes_linear_f64');
  const features = (JSON.parse(readFileSync(`${diabetes}.json`, 'utf8')) as { feature_names: string[] }).feature_names;
  const refused = await admin('models', 'register', 'diabetes', `${diabetes}.onnx`, '--features', features.join(','), '--contract', 'loans-demo@1');
  expectExit(refused, EXIT.usage, 'models register --contract mismatching');
  assert.match(refused.stderr, /CONTRACT_FEATURES_MISMATCH/);
  assert.match(refused.stderr, /\/features\/income: .*\(missing\)/);
});
