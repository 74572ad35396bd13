import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { connect, type JetStreamManager, type NatsConnection } from 'nats';
import { ROOT, startTestTarmac, type TestTarmac } from './support.ts';

// Streaming ingestion end to end: a Tarmac configured with TARMAC_NATS_URL consumes a dataset's subject from the
// real NATS JetStream server; a re-published message (same Nats-Msg-Id) and a redelivered one add nothing.

const NATS_URL = process.env.TARMAC_TEST_NATS_URL;
const skip = NATS_URL ? false : 'TARMAC_TEST_NATS_URL not set: NATS ingestion end-to-end test skipped';
const suffix = randomBytes(4).toString('hex');
const STREAM = `TARMAC_TEST_${suffix}`;
const SUBJECT = `tarmac.test.${suffix}.payments`;

let t: TestTarmac | undefined;
let nc: NatsConnection | undefined;
let jsm: JetStreamManager | undefined;

interface Counts { accepted: number; quarantined: number; duplicates: number }

before(async () => {
  if (!NATS_URL) return;
  t = await startTestTarmac({ TARMAC_NATS_URL: NATS_URL, TARMAC_NATS_STREAM: STREAM, TARMAC_CLUSTER: `test-${suffix}` });
  nc = await connect({ servers: NATS_URL, name: 'tarmac-ingest-nats-test' });
  jsm = await nc.jetstreamManager();
});

after(async () => {
  await t?.close();
  await jsm?.streams.delete(STREAM).catch(() => undefined);
  await nc?.drain();
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('records published on a dataset\'s subject are validated, de-duplicated and stored; bad ones quarantined', { skip, timeout: 60_000 }, async () => {
  const contract = readFileSync(path.join(ROOT, 'test/fixtures/payments.odcs.yaml'), 'utf8');
  const registered = await t!.app.inject({
    method: 'POST', url: '/v1/contracts', payload: contract,
    headers: { authorization: `Bearer ${t!.adminKey}`, 'content-type': 'application/yaml' },
  });
  assert.equal(registered.statusCode, 201, registered.body);
  const created = await t!.call('POST', '/v1/datasets', { name: 'pay-stream', contract: 'payments', nats_subject: SUBJECT });
  assert.equal(created.statusCode, 201, created.body);

  // The consumer binds in the background once the dataset is announced: wait for the stream to capture the subject.
  await until('the stream to capture the subject', async () => {
    const info = await jsm!.streams.info(STREAM).catch(() => undefined);
    return info?.config.subjects?.includes(SUBJECT) ? true : undefined;
  });
  const js = nc!.jetstream();
  const enc = new TextEncoder();
  const row = (id: number, extra: Record<string, unknown> = {}) => ({ id, email: `u${id}@example.com`, amount: 1, category: 'food', event_time: '2026-01-01T00:00:00Z', ...extra });
  await js.publish(SUBJECT, enc.encode(JSON.stringify(row(1))), { msgID: 'm1' });
  await js.publish(SUBJECT, enc.encode(JSON.stringify([row(2), row(3, { amount: 'x' })])), { msgID: 'm2' });
  await js.publish(SUBJECT, enc.encode('not json at all'), { msgID: 'm3' });
  await js.publish(SUBJECT, enc.encode(JSON.stringify(row(1))), { msgID: 'm1' }); // a producer retry: JetStream drops it
  await js.publish(SUBJECT, enc.encode(JSON.stringify(row(2))), { msgID: 'm4' }); // same key, new message: a duplicate row

  const shown = await until('the rows to be stored', async () => {
    const res = await t!.call('GET', '/v1/datasets/pay-stream');
    const body = res.json() as { rows: number; quarantine_open: number };
    return body.rows === 2 && body.quarantine_open === 2 ? body : undefined;
  });
  assert.equal(shown.rows, 2);

  const batches = (await t!.call('GET', '/v1/datasets/pay-stream/batches')).json() as { batches: { source: string; counts: Counts }[] };
  assert.ok(batches.batches.every((b) => b.source === `nats:${SUBJECT}`));
  const total = batches.batches.reduce((acc, b) => ({
    accepted: acc.accepted + b.counts.accepted, quarantined: acc.quarantined + b.counts.quarantined, duplicates: acc.duplicates + b.counts.duplicates,
  }), { accepted: 0, quarantined: 0, duplicates: 0 });
  assert.deepEqual(total, { accepted: 2, quarantined: 2, duplicates: 1 });
  const held = (await t!.call('GET', '/v1/datasets/pay-stream/quarantine')).json() as { rows: { source_ref: string; reasons: { rule: string }[] }[] };
  assert.deepEqual(held.rows.map((r) => r.reasons[0]!.rule).sort(), ['parse', 'type']);
  assert.ok(held.rows.every((r) => r.source_ref.startsWith(`nats:${STREAM}:`)));
});
