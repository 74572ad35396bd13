import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, type JetStreamManager, type NatsConnection } from 'nats';
import { createLogger } from '../shared/logger.ts';
import {
  durableName,
  NatsDatasetConsumer,
  parsePayload,
  subjectCovers,
  type IngestMessage,
  type MessageIngester,
} from './nats-ingest.ts';

const URL_ = process.env.TARMAC_TEST_NATS_URL;
const skip = URL_ ? false : 'TARMAC_TEST_NATS_URL not set';
const RUN = randomBytes(4).toString('hex');
const log = createLogger({ level: 'silent' });
const enc = new TextEncoder();

interface Call {
  dataset: string;
  messages: IngestMessage[];
  source: string;
}

/** Records committed batches; can fail the first N calls or hold a call until released. */
class RecordingIngester implements MessageIngester {
  readonly calls: Call[] = [];
  readonly failed: Call[] = [];
  started = 0;
  failNext = 0;
  private gate: Promise<void> | undefined;
  private openGate: (() => void) | undefined;

  hold(): void {
    this.gate = new Promise((resolve) => (this.openGate = resolve));
  }

  release(): void {
    this.openGate?.();
    this.gate = undefined;
  }

  async ingestMessages(dataset: string, messages: IngestMessage[], source: string) {
    this.started++;
    if (this.gate) await this.gate;
    if (this.failNext > 0) {
      this.failNext--;
      this.failed.push({ dataset, messages, source });
      throw new Error('store is down');
    }
    this.calls.push({ dataset, messages, source });
    const read = messages.reduce((n, m) => n + m.items.length, 0);
    return {
      batchId: `b${this.calls.length}`,
      counts: { read, accepted: read, quarantined: 0, duplicates: 0, late: 0, tooLate: 0 },
    };
  }

  messages(dataset?: string): IngestMessage[] {
    return this.calls.filter((c) => dataset === undefined || c.dataset === dataset).flatMap((c) => c.messages);
  }
}

async function waitFor(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function seqOf(ref: string): number {
  return Number(ref.split(':')[2]);
}

describe('parsePayload', () => {
  test('a JSON object is one row', () => {
    assert.deepEqual(parsePayload(enc.encode('{"a":1}')), [{ kind: 'row', value: { a: 1 } }]);
  });

  test('a JSON array is one row per element', () => {
    assert.deepEqual(parsePayload(enc.encode('[{"a":1},{"a":2}]')), [
      { kind: 'row', value: { a: 1 } },
      { kind: 'row', value: { a: 2 } },
    ]);
  });

  test('JSON Lines keeps good lines and marks bad ones unreadable with their line number', () => {
    const items = parsePayload(enc.encode('{"a":1}\r\n\n{oops\n{"a":3}\n'));
    assert.equal(items.length, 3);
    assert.deepEqual(items[0], { kind: 'row', value: { a: 1 } });
    assert.equal(items[1]!.kind, 'unreadable');
    assert.equal((items[1] as { raw: string }).raw, '{oops');
    assert.match((items[1] as { reason: string }).reason, /^line 3 /);
    assert.deepEqual(items[2], { kind: 'row', value: { a: 3 } });
  });

  test('text that is not JSON at all is one unreadable item with the whole text', () => {
    const items = parsePayload(enc.encode('id,name\n1,ann'));
    assert.equal(items.length, 1);
    assert.equal(items[0]!.kind, 'unreadable');
    assert.equal((items[0] as { raw: string }).raw, 'id,name\n1,ann');
  });

  test('empty and non-UTF-8 payloads are unreadable', () => {
    assert.equal(parsePayload(new Uint8Array())[0]!.kind, 'unreadable');
    assert.match((parsePayload(new Uint8Array([0xff, 0xfe, 0x41]))[0] as { reason: string }).reason, /UTF-8/);
  });
});

describe('subjects and names', () => {
  test('subjectCovers follows NATS wildcard rules', () => {
    assert.equal(subjectCovers('a.>', 'a.b.c'), true);
    assert.equal(subjectCovers('a.>', 'a'), false);
    assert.equal(subjectCovers('a.*', 'a.b'), true);
    assert.equal(subjectCovers('a.*', 'a.*'), true);
    assert.equal(subjectCovers('a.*', 'a.>'), false);
    assert.equal(subjectCovers('a.b', 'a.*'), false);
    assert.equal(subjectCovers('a.b', 'a.b'), true);
    assert.equal(subjectCovers('a.b', 'a.b.c'), false);
  });

  test('durable names are NATS-safe and distinct', () => {
    assert.equal(durableName('orders'), 'tarmac-ingest-orders');
    assert.match(durableName('orders.eu'), /^tarmac-ingest-orders_eu-[0-9a-f]{8}$/);
    assert.notEqual(durableName('orders.eu'), durableName('orders_eu'));
  });
});

describe('NatsDatasetConsumer against JetStream', () => {
  let admin: NatsConnection | undefined;
  let jsm: JetStreamManager;
  const streams = new Set<string>();
  let n = 0;

  /** A fresh stream name and subject prefix for one test; the stream is deleted after the run. */
  function names(): { stream: string; prefix: string } {
    n++;
    const stream = `TARMAC_TEST_${RUN}_${n}`;
    streams.add(stream);
    return { stream, prefix: `tarmactest.${RUN}.${n}` };
  }

  async function publish(subject: string, payload: string, msgID?: string): Promise<number> {
    const ack = await admin!.jetstream().publish(subject, enc.encode(payload), msgID ? { msgID } : undefined);
    return ack.seq;
  }

  function consumerFor(stream: string, ingester: MessageIngester, extra: Record<string, number> = {}) {
    return new NatsDatasetConsumer({ url: URL_!, ingester, log, streamName: stream, batchSize: 50, maxWaitMs: 1_000, ...extra });
  }

  before(async () => {
    if (!URL_) return;
    admin = await connect({ servers: URL_, name: 'tarmac-nats-ingest-test' });
    jsm = await admin.jetstreamManager();
  });

  after(async () => {
    if (!admin) return;
    for (const s of streams) await jsm.streams.delete(s).catch(() => undefined);
    await admin.close();
  });

  test('creates the stream and a durable consumer, and parses object, array, JSON Lines and garbage', { skip, timeout: 30_000 }, async () => {
    const { stream, prefix } = names();
    const ingester = new RecordingIngester();
    const consumer = consumerFor(stream, ingester);
    try {
      await consumer.start([{ name: 'orders', natsSubject: `${prefix}.orders` }, { name: 'ignored', natsSubject: null }]);
      const info = await jsm.streams.info(stream);
      assert.deepEqual(info.config.subjects, [`${prefix}.orders`]);
      const ci = await jsm.consumers.info(stream, 'tarmac-ingest-orders');
      assert.equal(ci.config.ack_policy, 'explicit');
      assert.equal(ci.config.filter_subject, `${prefix}.orders`);
      assert.equal(ci.config.max_deliver, 100);

      const s1 = await publish(`${prefix}.orders`, '{"id":1}');
      const s2 = await publish(`${prefix}.orders`, '[{"id":2},{"id":3}]');
      const s3 = await publish(`${prefix}.orders`, '{"id":4}\n{"id":5}\nnope');
      const s4 = await publish(`${prefix}.orders`, 'complete garbage');
      await waitFor('4 messages', () => ingester.messages().length === 4);

      const byRef = new Map(ingester.messages().map((m) => [m.sourceRef, m.items]));
      assert.deepEqual(byRef.get(`nats:${stream}:${s1}`), [{ kind: 'row', value: { id: 1 } }]);
      assert.deepEqual(byRef.get(`nats:${stream}:${s2}`), [{ kind: 'row', value: { id: 2 } }, { kind: 'row', value: { id: 3 } }]);
      const jsonl = byRef.get(`nats:${stream}:${s3}`)!;
      assert.deepEqual(jsonl.slice(0, 2), [{ kind: 'row', value: { id: 4 } }, { kind: 'row', value: { id: 5 } }]);
      assert.equal(jsonl[2]!.kind, 'unreadable');
      const garbage = byRef.get(`nats:${stream}:${s4}`)!;
      assert.equal(garbage.length, 1);
      assert.deepEqual({ ...garbage[0], reason: undefined }, { kind: 'unreadable', raw: 'complete garbage', reason: undefined });
      assert.ok(ingester.calls.every((c) => c.dataset === 'orders' && c.source === `nats:${prefix}.orders`));
      await waitFor('all acked', async () => (await jsm.consumers.info(stream, 'tarmac-ingest-orders')).num_ack_pending === 0);
    } finally {
      await consumer.close();
    }
  });

  test('JetStream drops a re-published message with the same Nats-Msg-Id', { skip, timeout: 30_000 }, async () => {
    const { stream, prefix } = names();
    const ingester = new RecordingIngester();
    const consumer = consumerFor(stream, ingester);
    try {
      await consumer.start([{ name: 'd', natsSubject: `${prefix}.d` }]);
      await publish(`${prefix}.d`, '{"id":1}', 'msg-1');
      await publish(`${prefix}.d`, '{"id":1}', 'msg-1');
      await publish(`${prefix}.d`, '{"id":2}', 'msg-2');
      await waitFor('2 messages', () => ingester.messages().length === 2);
      await new Promise((r) => setTimeout(r, 1_200));
      assert.equal(ingester.messages().length, 2);
    } finally {
      await consumer.close();
    }
  });

  test('uses an existing stream that already captures the subject', { skip, timeout: 30_000 }, async () => {
    const ours = names();
    const other = names();
    await jsm.streams.add({ name: other.stream, subjects: [`${other.prefix}.>`] });
    const ingester = new RecordingIngester();
    const consumer = consumerFor(ours.stream, ingester);
    try {
      await consumer.start([{ name: 'clicks', natsSubject: `${other.prefix}.clicks` }]);
      await assert.rejects(jsm.streams.info(ours.stream), 'our stream is not created');
      await jsm.consumers.info(other.stream, 'tarmac-ingest-clicks');
      const seq = await publish(`${other.prefix}.clicks`, '{"x":1}');
      await waitFor('1 message', () => ingester.messages().length === 1);
      assert.equal(ingester.messages()[0]!.sourceRef, `nats:${other.stream}:${seq}`);
    } finally {
      await consumer.close();
    }
  });

  test('acks only after the commit; a failed batch is redelivered and nothing is lost', { skip, timeout: 30_000 }, async () => {
    const { stream, prefix } = names();
    const ingester = new RecordingIngester();
    ingester.failNext = 1;
    ingester.hold();
    const consumer = consumerFor(stream, ingester);
    try {
      await consumer.start([{ name: 'pay', natsSubject: `${prefix}.pay` }]);
      const seqs: number[] = [];
      for (let i = 0; i < 5; i++) seqs.push(await publish(`${prefix}.pay`, JSON.stringify({ i })));
      await waitFor('a call in flight', () => ingester.started >= 1);
      // Wait for the whole batch to be in flight (the first fetch may return before all five were published).
      const pending = async () => (await jsm.consumers.info(stream, 'tarmac-ingest-pay')).num_ack_pending;
      const inFlight = await pending();
      assert.ok(inFlight >= 1, 'the held batch is not acknowledged');
      ingester.release();

      await waitFor('every message ingested', () => new Set(ingester.messages().map((m) => m.sourceRef)).size === 5, 15_000);
      assert.equal(ingester.failed.length, 1);
      const committed = new Set(ingester.messages().map((m) => seqOf(m.sourceRef)));
      for (const m of ingester.failed[0]!.messages) assert.ok(committed.has(seqOf(m.sourceRef)), `seq ${m.sourceRef} redelivered`);
      assert.deepEqual([...committed].sort((a, b) => a - b), seqs);
      await waitFor('all acked', async () => (await pending()) === 0);
      const ci = await jsm.consumers.info(stream, 'tarmac-ingest-pay');
      assert.equal(ci.num_pending, 0);
      assert.equal(ci.ack_floor.stream_seq, seqs[4]);
    } finally {
      ingester.release();
      await consumer.close();
    }
  });

  test('resumes where it left off after close() and a new start (durable)', { skip, timeout: 30_000 }, async () => {
    const { stream, prefix } = names();
    const first = new RecordingIngester();
    const a = consumerFor(stream, first);
    await a.start([{ name: 'ev', natsSubject: `${prefix}.ev` }]);
    for (let i = 0; i < 3; i++) await publish(`${prefix}.ev`, JSON.stringify({ i }));
    await waitFor('3 messages', () => first.messages().length === 3);
    await a.close();

    const later = [await publish(`${prefix}.ev`, '{"i":3}'), await publish(`${prefix}.ev`, '{"i":4}')];
    const second = new RecordingIngester();
    const b = consumerFor(stream, second);
    try {
      await b.start([{ name: 'ev', natsSubject: `${prefix}.ev` }]);
      await waitFor('2 new messages', () => second.messages().length === 2);
      await new Promise((r) => setTimeout(r, 1_200));
      assert.deepEqual(second.messages().map((m) => seqOf(m.sourceRef)), later);
    } finally {
      await b.close();
    }
  });

  test('addDataset at run time extends the stream; removeDataset stops consuming', { skip, timeout: 30_000 }, async () => {
    const { stream, prefix } = names();
    const ingester = new RecordingIngester();
    const consumer = consumerFor(stream, ingester);
    try {
      await consumer.start([{ name: 'a', natsSubject: `${prefix}.a` }]);
      await consumer.addDataset({ name: 'b', natsSubject: `${prefix}.b` });
      assert.deepEqual((await jsm.streams.info(stream)).config.subjects?.sort(), [`${prefix}.a`, `${prefix}.b`]);
      await publish(`${prefix}.b`, '{"b":1}');
      await publish(`${prefix}.a`, '{"a":1}');
      await waitFor('one message each', () => ingester.messages('a').length === 1 && ingester.messages('b').length === 1);
      assert.deepEqual(ingester.messages('b')[0]!.items, [{ kind: 'row', value: { b: 1 } }]);

      await consumer.removeDataset('b');
      await publish(`${prefix}.b`, '{"b":2}');
      await publish(`${prefix}.a`, '{"a":2}');
      await waitFor('a keeps consuming', () => ingester.messages('a').length === 2);
      await new Promise((r) => setTimeout(r, 1_200));
      assert.equal(ingester.messages('b').length, 1);
    } finally {
      await consumer.close();
    }
  });

  test('close() is idempotent and waits for the in-flight batch to commit and ack', { skip, timeout: 30_000 }, async () => {
    const { stream, prefix } = names();
    const ingester = new RecordingIngester();
    ingester.hold();
    const consumer = consumerFor(stream, ingester);
    await consumer.start([{ name: 'c', natsSubject: `${prefix}.c` }]);
    const seq = await publish(`${prefix}.c`, '{"c":1}');
    await waitFor('a call in flight', () => ingester.started === 1);

    let closed = false;
    const first = consumer.close().then(() => (closed = true));
    const second = consumer.close();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(closed, false, 'close() waits for the in-flight batch');
    ingester.release();
    await Promise.race([
      Promise.all([first, second]),
      new Promise((_, reject) => setTimeout(() => reject(new Error('close() did not finish')), 10_000)),
    ]);
    await consumer.close();
    assert.equal(ingester.calls.length, 1);
    const ci = await jsm.consumers.info(stream, 'tarmac-ingest-c');
    assert.equal(ci.num_ack_pending, 0);
    assert.equal(ci.ack_floor.stream_seq, seq);
  });

  test('a message past max deliver is parked and still ingested from the stream', { skip, timeout: 30_000 }, async () => {
    const { stream, prefix } = names();
    const ingester = new RecordingIngester();
    ingester.failNext = 2;
    const consumer = consumerFor(stream, ingester, { maxDeliver: 2 });
    try {
      await consumer.start([{ name: 'p', natsSubject: `${prefix}.p` }]);
      const seq = await publish(`${prefix}.p`, '{"p":1}');
      await waitFor('ingested after parking', () => ingester.messages().length === 1, 20_000);
      assert.equal(ingester.failed.length, 2);
      assert.equal(ingester.messages()[0]!.sourceRef, `nats:${stream}:${seq}`);
    } finally {
      await consumer.close();
    }
  });
});
