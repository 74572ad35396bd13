/**
 * Streaming ingestion from NATS JetStream: one durable pull consumer per dataset, fetched in batches, each batch
 * handed to the ingestion service and acknowledged only after it committed. Delivery is at-least-once; the ingestion
 * service makes it effectively-once by de-duplicating on the message's `sourceRef` and on the rows' keys.
 */
import { createHash } from 'node:crypto';
import {
  AckPolicy,
  connect,
  DeliverPolicy,
  nanos,
  ReplayPolicy,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
  type Consumer,
  type Subscription,
} from 'nats';
import { TarmacError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';

/** One item read from a stream message: a parsed record, or text that could not be parsed (kept with its reason). */
export type IngestItem = { kind: 'row'; value: unknown } | { kind: 'unreadable'; raw: string; reason: string };

/** One stream message's items; sourceRef identifies the message so re-delivery is idempotent. */
export interface IngestMessage {
  sourceRef: string;
  items: IngestItem[];
}

/** The ingestion service as the consumer sees it. */
export interface MessageIngester {
  /** Ingests the messages as one batch (validation, quarantine, dedup, lateness) and resolves once committed. Throws only when the batch could not be processed (e.g. the store is down); the messages must then be redelivered. */
  ingestMessages(
    dataset: string,
    messages: IngestMessage[],
    source: string,
  ): Promise<{
    batchId: string;
    counts: { read: number; accepted: number; quarantined: number; duplicates: number; late: number; tooLate: number };
  }>;
}

/** A dataset the consumer should feed; datasets without a subject are skipped. */
export interface NatsDataset {
  name: string;
  natsSubject: string | null;
}

/** What NatsDatasetConsumer needs. */
export interface NatsDatasetConsumerDeps {
  url: string;
  ingester: MessageIngester;
  log: Logger;
  /** The stream created (or extended) for subjects no stream captures yet; default `TARMAC_INGEST`. */
  streamName?: string;
  /** Most messages per fetch, hence per ingestion batch; default 500. */
  batchSize?: number;
  /** Longest a fetch waits to fill a batch (≥ 1000 ms); also bounds how long close() waits; default 1000. */
  maxWaitMs?: number;
  /** The connection name shown by the server; default `tarmac-nats-ingest`. */
  name?: string;
  /** Deliveries of a message before JetStream stops redelivering it (it is then parked, see docs); default 100. */
  maxDeliver?: number;
  /** How long a delivered, unacknowledged message waits before redelivery; default 120 000 ms. */
  ackWaitMs?: number;
}

/** Delays before a batch that failed to commit is redelivered, by delivery count; the last one repeats. */
export const RETRY_BACKOFF_MS: readonly number[] = [1_000, 2_000, 5_000, 10_000, 30_000, 60_000];

const DEFAULT_STREAM = 'TARMAC_INGEST';
const DEFAULT_BATCH = 500;
const DEFAULT_MAX_WAIT_MS = 1_000;
const DEFAULT_MAX_DELIVER = 100;
const DEFAULT_ACK_WAIT_MS = 120_000;
// JetStream API error codes we branch on.
const ERR_STREAM_NOT_FOUND = 10059;
const ERR_STREAM_NAME_IN_USE = 10058;
const ERR_SUBJECTS_OVERLAP = 10065;
const ERR_CONSUMER_NOT_FOUND = 10014;

interface Worker {
  dataset: string;
  subject: string;
  durable: string;
  stream: string | undefined;
  consumer: Consumer | undefined;
  advisory: Subscription | undefined;
  /** Stream sequences JetStream gave up redelivering (max deliver reached); retried here from the stream. */
  parked: Set<number>;
  stop: AbortController;
  loop: Promise<void>;
}

/** Consumes each dataset's NATS subject through JetStream and feeds the messages to the ingestion service in batches. */
export class NatsDatasetConsumer {
  private readonly log: Logger;
  private readonly streamName: string;
  private readonly batchSize: number;
  private readonly maxWaitMs: number;
  private readonly maxDeliver: number;
  private readonly ackWaitMs: number;
  private readonly workers = new Map<string, Worker>();
  /** Datasets added before start(), bound when it connects. */
  private readonly pending = new Map<string, string>();
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private jsm: JetStreamManager | undefined;
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  /** Serializes stream read-modify-write so concurrent datasets do not drop each other's subjects. */
  private streamLock: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: NatsDatasetConsumerDeps) {
    this.log = deps.log.child({ component: 'nats-ingest' });
    this.streamName = deps.streamName ?? DEFAULT_STREAM;
    this.batchSize = Math.max(1, deps.batchSize ?? DEFAULT_BATCH);
    // The server refuses pull requests that expire in under a second.
    this.maxWaitMs = Math.max(1_000, deps.maxWaitMs ?? DEFAULT_MAX_WAIT_MS);
    this.maxDeliver = Math.max(1, deps.maxDeliver ?? DEFAULT_MAX_DELIVER);
    this.ackWaitMs = Math.max(1_000, deps.ackWaitMs ?? DEFAULT_ACK_WAIT_MS);
  }

  /** Connects and starts consuming every dataset with a subject; throws when NATS or JetStream is unreachable, or after close(). */
  async start(datasets: NatsDataset[]): Promise<void> {
    if (this.closing) throw new TarmacError('INTERNAL', 'The NATS consumer is closed');
    if (!this.starting) {
      this.starting = (async () => {
        const nc = await connect({
          servers: this.deps.url,
          name: this.deps.name ?? 'tarmac-nats-ingest',
          // A long-running consumer must outlive server restarts rather than give up after 10 tries.
          maxReconnectAttempts: -1,
        });
        this.nc = nc;
        void nc.closed().then((err) => {
          if (err) this.log.error({ err }, 'NATS connection closed with an error');
        });
        this.jsm = await nc.jetstreamManager();
        this.js = nc.jetstream();
        this.log.info({ url: this.deps.url, stream: this.streamName }, 'connected to NATS JetStream');
      })();
      try {
        await this.starting;
      } catch (err) {
        this.starting = undefined;
        throw err;
      }
    } else {
      await this.starting;
    }
    const all = new Map(this.pending);
    this.pending.clear();
    for (const d of datasets) if (d.natsSubject) all.set(d.name, d.natsSubject);
    await Promise.all([...all].map(([name, natsSubject]) => this.addDataset({ name, natsSubject })));
  }

  /**
   * Starts consuming a dataset's subject (or re-binds it when the subject changed); resolves once its consumer is
   * bound, or once the first attempt failed (logged; retried in the background with backoff).
   */
  async addDataset(d: NatsDataset): Promise<void> {
    if (this.closing) {
      this.log.warn({ dataset: d.name }, 'dataset added after close; ignored');
      return;
    }
    if (!d.natsSubject) return this.removeDataset(d.name);
    if (!this.nc) {
      this.pending.set(d.name, d.natsSubject);
      return;
    }
    const existing = this.workers.get(d.name);
    if (existing?.subject === d.natsSubject) return;
    if (existing) await this.removeDataset(d.name);

    const stop = new AbortController();
    const worker: Worker = {
      dataset: d.name,
      subject: d.natsSubject,
      durable: durableName(d.name),
      stream: undefined,
      consumer: undefined,
      advisory: undefined,
      parked: new Set(),
      stop,
      loop: Promise.resolve(),
    };
    this.workers.set(d.name, worker);
    let firstAttempt!: () => void;
    const bound = new Promise<void>((resolve) => (firstAttempt = resolve));
    worker.loop = this.run(worker, firstAttempt);
    await bound;
  }

  /**
   * Stops consuming a dataset after its in-flight batch is acknowledged; the durable consumer (its position) stays
   * on the server unless `deleteConsumer` is set, as when the dataset itself was deleted.
   */
  async removeDataset(name: string, options: { deleteConsumer?: boolean } = {}): Promise<void> {
    this.pending.delete(name);
    const worker = this.workers.get(name);
    if (!worker) return;
    this.workers.delete(name);
    await this.stopWorker(worker);
    if (options.deleteConsumer && worker.stream && this.jsm) {
      try {
        await this.jsm.consumers.delete(worker.stream, worker.durable);
      } catch (err) {
        if (apiErrorCode(err) !== ERR_CONSUMER_NOT_FOUND) this.log.warn({ err, dataset: name }, 'could not delete the consumer');
      }
    }
    this.log.info({ dataset: name }, 'stopped consuming dataset');
  }

  /** Stops every loop, waits for in-flight batches to be committed and acknowledged, then drains the connection; idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.starting?.catch(() => undefined);
      const workers = [...this.workers.values()];
      this.workers.clear();
      await Promise.all(workers.map((w) => this.stopWorker(w)));
      // drain() flushes the acks we just sent before the socket closes.
      if (this.nc && !this.nc.isClosed()) await this.nc.drain();
      this.log.info('NATS consumer closed');
    })();
    return this.closing;
  }

  private async stopWorker(worker: Worker): Promise<void> {
    worker.stop.abort();
    await worker.loop;
    worker.advisory?.unsubscribe();
  }

  /** The per-dataset loop: bind (with retries), then fetch → ingest → ack until stopped. */
  private async run(w: Worker, firstAttempt: () => void): Promise<void> {
    const log = this.log.child({ dataset: w.dataset, subject: w.subject });
    let failures = 0;
    while (!w.stop.signal.aborted) {
      try {
        if (!w.consumer) {
          try {
            await this.bind(w);
            log.info({ stream: w.stream, consumer: w.durable }, 'consuming dataset subject');
          } finally {
            firstAttempt();
          }
        }
        const ok = w.parked.size > 0 ? await this.ingestParked(w, log) : await this.fetchAndIngest(w, log);
        if (ok) {
          failures = 0;
        } else {
          // Pausing keeps a down store from being hammered while the naked messages wait out their delay.
          await sleep(backoff(++failures), w.stop.signal);
        }
      } catch (err) {
        failures++;
        // Re-binding is idempotent and recovers a consumer or stream deleted under us.
        w.consumer = undefined;
        log.error({ err, attempt: failures }, 'NATS consumer loop failed; retrying');
        await sleep(backoff(failures), w.stop.signal);
      }
    }
  }

  /** One fetch and its batch; false when the ingester could not commit (the messages were naked). */
  private async fetchAndIngest(w: Worker, log: Logger): Promise<boolean> {
    const iter: ConsumerMessages = await w.consumer!.fetch({ max_messages: this.batchSize, expires: this.maxWaitMs });
    const msgs: JsMsg[] = [];
    // Not stopped on close: cutting a pull short would strand messages already sent until their ack wait ends.
    for await (const m of iter) msgs.push(m);
    if (msgs.length === 0) return true;

    const messages = msgs.map((m) => ({ sourceRef: sourceRef(w.stream!, m.info.streamSequence), items: parsePayload(m.data) }));
    // A slow commit must not let the ack wait run out and JetStream redeliver what is still being processed.
    const keepAlive = setInterval(() => msgs.forEach((m) => m.working()), Math.floor(this.ackWaitMs / 3));
    try {
      const result = await this.deps.ingester.ingestMessages(w.dataset, messages, `nats:${w.subject}`);
      for (const m of msgs) m.ack();
      log.info({ batchId: result.batchId, messages: msgs.length, counts: result.counts }, 'ingested stream batch');
      return true;
    } catch (err) {
      for (const m of msgs) m.nak(backoff(m.info.deliveryCount));
      log.warn(
        { err, messages: msgs.length, firstSeq: msgs[0]!.info.streamSequence, deliveryCount: msgs[0]!.info.deliveryCount },
        'ingestion failed; messages will be redelivered',
      );
      return false;
    } finally {
      clearInterval(keepAlive);
    }
  }

  /** Retries, straight from the stream, messages JetStream stopped redelivering after max deliver. */
  private async ingestParked(w: Worker, log: Logger): Promise<boolean> {
    const seqs = [...w.parked].sort((a, b) => a - b).slice(0, this.batchSize);
    const messages: IngestMessage[] = [];
    for (const seq of seqs) {
      try {
        const stored = await this.jsm!.streams.getMessage(w.stream!, { seq });
        messages.push({ sourceRef: sourceRef(w.stream!, seq), items: parsePayload(stored.data) });
      } catch (err) {
        // Gone from the stream (retention or a manual delete): nothing left to retry.
        log.error({ err, stream: w.stream, seq }, 'parked message is no longer in the stream');
        w.parked.delete(seq);
      }
    }
    if (messages.length === 0) return true;
    try {
      const result = await this.deps.ingester.ingestMessages(w.dataset, messages, `nats:${w.subject}`);
      for (const seq of seqs) w.parked.delete(seq);
      log.info({ batchId: result.batchId, messages: messages.length, counts: result.counts }, 'ingested parked messages');
      return true;
    } catch (err) {
      log.warn({ err, parked: w.parked.size }, 'ingestion of parked messages failed; will retry');
      return false;
    }
  }

  /** Finds or extends the stream capturing the subject, then creates or updates the durable consumer. */
  private async bind(w: Worker): Promise<void> {
    validateSubject(w.dataset, w.subject);
    const stream = await this.withStreamLock(() => this.resolveStream(w.subject));
    await this.ensureConsumer(stream, w);
    if (w.stream !== stream || !w.advisory) {
      w.advisory?.unsubscribe();
      w.advisory = this.nc!.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.${w.durable}`, {
        callback: (err, msg) => {
          if (err) return;
          try {
            const advisory = JSON.parse(new TextDecoder().decode(msg.data)) as { stream_seq?: number; deliveries?: number };
            if (typeof advisory.stream_seq !== 'number') return;
            w.parked.add(advisory.stream_seq);
            this.log.error(
              { dataset: w.dataset, stream, seq: advisory.stream_seq, deliveries: advisory.deliveries },
              'message reached max deliveries; parked and retried from the stream',
            );
          } catch (parseErr) {
            this.log.warn({ err: parseErr }, 'unreadable max-deliveries advisory');
          }
        },
      });
    }
    w.stream = stream;
    w.consumer = await this.js!.consumers.get(stream, w.durable);
  }

  private withStreamLock<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.streamLock.then(fn, fn);
    this.streamLock = next.catch(() => undefined);
    return next;
  }

  /** The stream that captures the subject: an existing one that covers it, or ours, created or extended. */
  private async resolveStream(subject: string): Promise<string> {
    const jsm = this.jsm!;
    // Another replica may create or extend a stream between our read and our write; the next round sees it.
    for (let round = 0; round < 3; round++) {
      const overlapping: { name: string; subjects: string[] }[] = [];
      for await (const info of jsm.streams.list(subject)) {
        overlapping.push({ name: info.config.name, subjects: info.config.subjects ?? [] });
      }
      const covering = overlapping.filter((s) => s.subjects.some((p) => subjectCovers(p, subject)));
      if (covering.length > 0) return (covering.find((s) => s.name === this.streamName) ?? covering[0]!).name;
      if (overlapping.length > 0) {
        // Adding the subject would be refused ("subjects overlap") and consuming the other stream would miss messages.
        throw new TarmacError(
          'DATASET_INVALID',
          `NATS subject ${subject} partly overlaps stream ${overlapping.map((s) => s.name).join(', ')}, which does not capture all of it`,
          { details: { subject, streams: overlapping } },
        );
      }
      try {
        let info;
        try {
          info = await jsm.streams.info(this.streamName);
        } catch (err) {
          if (apiErrorCode(err) !== ERR_STREAM_NOT_FOUND) throw err;
        }
        if (info) {
          const subjects = [...(info.config.subjects ?? []), subject];
          await jsm.streams.update(this.streamName, { ...info.config, subjects });
          this.log.info({ stream: this.streamName, subject }, 'added subject to stream');
        } else {
          await jsm.streams.add({
            name: this.streamName,
            subjects: [subject],
            storage: StorageType.File,
            // Limits retention keeps messages after they are acked, so a parked or replayed message is still there.
            retention: RetentionPolicy.Limits,
            description: 'Tarmac dataset ingestion',
          });
          this.log.info({ stream: this.streamName, subject }, 'created stream');
        }
        return this.streamName;
      } catch (err) {
        const code = apiErrorCode(err);
        if (code !== ERR_SUBJECTS_OVERLAP && code !== ERR_STREAM_NAME_IN_USE) throw err;
        this.log.info({ err, subject, round }, 'stream changed concurrently; resolving again');
      }
    }
    throw new TarmacError('INTERNAL', `Could not find or create a stream for NATS subject ${subject}`, {
      details: { subject },
      retryable: true,
    });
  }

  private async ensureConsumer(stream: string, w: Worker): Promise<void> {
    const jsm = this.jsm!;
    const config: Partial<ConsumerConfig> = {
      durable_name: w.durable,
      description: `Tarmac ingestion of dataset ${w.dataset}`,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      replay_policy: ReplayPolicy.Instant,
      filter_subject: w.subject,
      ack_wait: nanos(this.ackWaitMs),
      max_deliver: this.maxDeliver,
      // Naked messages still count as pending; leave room for several batches of them.
      max_ack_pending: Math.max(1_000, this.batchSize * 4),
    };
    let existing;
    try {
      existing = await jsm.consumers.info(stream, w.durable);
    } catch (err) {
      if (apiErrorCode(err) !== ERR_CONSUMER_NOT_FOUND) throw err;
    }
    if (!existing) {
      try {
        await jsm.consumers.add(stream, config);
        return;
      } catch (err) {
        // Another replica created it first; fall through to compare settings.
        existing = await jsm.consumers.info(stream, w.durable).catch(() => {
          throw err;
        });
      }
    }
    const c = existing.config;
    if (c.filter_subject !== w.subject) {
      try {
        await jsm.consumers.update(stream, w.durable, config);
      } catch (err) {
        // Older servers cannot change a filter; the old position means nothing for the new subject anyway.
        this.log.warn({ err, dataset: w.dataset, from: c.filter_subject, to: w.subject }, 'recreating consumer for new subject');
        await jsm.consumers.delete(stream, w.durable);
        await jsm.consumers.add(stream, config);
      }
    } else if (c.ack_wait !== config.ack_wait || c.max_deliver !== config.max_deliver || c.max_ack_pending !== config.max_ack_pending) {
      await jsm.consumers.update(stream, w.durable, {
        ack_wait: config.ack_wait,
        max_deliver: config.max_deliver,
        max_ack_pending: config.max_ack_pending,
        description: config.description,
      });
    }
  }
}

/** Splits a message payload into items: a JSON object is one row, a JSON array one row per element, otherwise JSON Lines; text that does not parse is kept as `unreadable`. */
export function parsePayload(data: Uint8Array): IngestItem[] {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    return [{ kind: 'unreadable', raw: new TextDecoder().decode(data), reason: 'the message is not UTF-8 text' }];
  }
  if (text.trim() === '') return [{ kind: 'unreadable', raw: text, reason: 'the message is empty' }];
  let whole: unknown;
  let wholeError: string;
  try {
    whole = JSON.parse(text);
    return Array.isArray(whole) ? whole.map((value) => ({ kind: 'row', value })) : [{ kind: 'row', value: whole }];
  } catch (err) {
    wholeError = (err as Error).message;
  }
  const items: IngestItem[] = [];
  let rows = 0;
  let lineNo = 0;
  for (const line of text.split(/\r?\n/)) {
    lineNo++;
    if (line.trim() === '') continue;
    try {
      items.push({ kind: 'row', value: JSON.parse(line) });
      rows++;
    } catch (err) {
      items.push({ kind: 'unreadable', raw: line, reason: `line ${lineNo} is not valid JSON (${(err as Error).message})` });
    }
  }
  // Text with no JSON line at all (CSV, XML, a typo) is one bad message, not one quarantined row per line.
  if (rows === 0) return [{ kind: 'unreadable', raw: text, reason: `not JSON or JSON Lines (${wholeError})` }];
  return items;
}

/** The durable consumer name of a dataset; names with characters NATS forbids get a hash so they stay distinct. */
export function durableName(dataset: string): string {
  const safe = dataset.replace(/[^A-Za-z0-9_-]/g, '_');
  if (safe === dataset) return `tarmac-ingest-${dataset}`;
  return `tarmac-ingest-${safe}-${createHash('sha256').update(dataset).digest('hex').slice(0, 8)}`;
}

/** True when every subject matched by `subject` is also matched by `pattern` (both may hold `*` and `>`). */
export function subjectCovers(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    const pt = p[i]!;
    if (pt === '>') return i < s.length;
    const st = s[i];
    if (st === undefined || st === '>') return false;
    if (pt !== '*' && pt !== st) return false;
  }
  return p.length === s.length;
}

function validateSubject(dataset: string, subject: string): void {
  const tokens = subject.split('.');
  const ok =
    !/\s/.test(subject) &&
    tokens.every((t, i) => t.length > 0 && (t === '>' ? i === tokens.length - 1 : !t.includes('>')) && (t === '*' || !t.includes('*')));
  if (!ok) {
    throw new TarmacError('DATASET_INVALID', `Dataset ${dataset} has an invalid NATS subject: ${subject}`, {
      issues: [{ field: '/natsSubject', rule: 'subject', message: 'dot-separated tokens; * and > only as whole tokens, > last' }],
    });
  }
}

function sourceRef(stream: string, seq: number): string {
  return `nats:${stream}:${seq}`;
}

function backoff(attempt: number): number {
  return RETRY_BACKOFF_MS[Math.min(Math.max(attempt, 1), RETRY_BACKOFF_MS.length) - 1]!;
}

function apiErrorCode(err: unknown): number | undefined {
  const api = (err as { api_error?: { err_code?: number } } | null)?.api_error;
  return api?.err_code;
}

/** Waits, but returns early when the signal aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
