import { parentPort, workerData } from 'node:worker_threads';
import { KyselyPredictionStore, openDatabase } from '../store/index.ts';
import { decodePredictionRows, type EncodedPredictionRows } from './prediction-rows-codec.ts';
import type { WriterDatabase } from './prediction-sink.ts';

// The prediction log's writer thread: one connection of its own, batches (packed by encodePredictionRows) written in
// arrival order, one reply per batch.
type Message = { type: 'write'; id: number; rows: EncodedPredictionRows } | { type: 'close' };

const { data } = workerData as { data: WriterDatabase };
const database = await openDatabase({ url: data.url, dataDir: data.dataDir });
const store = new KyselyPredictionStore(database);
type Write = Extract<Message, { type: 'write' }>;

let pending: Message[] = [];
let scheduled = false;
let closed = false;

/** Answers a write; its texts' buffer goes back to the sender for its next batch (the rows were decoded already). */
const reply = (write: Write, err?: unknown) => {
  const spare = write.rows.texts.bytes.byteLength > 0 ? write.rows.texts.bytes.buffer as ArrayBuffer : undefined;
  const answer = err === undefined ? { id: write.id, ok: true } : { id: write.id, ok: false, message: (err as Error).message };
  if (spare) parentPort!.postMessage({ ...answer, spare }, [spare]);
  else parentPort!.postMessage(answer);
};

/**
 * Writes every batch that arrived since the last run in one transaction: under load the event loop's small flushes
 * (for its tail latency) still make large transactions here (for the store's throughput). If the combined write
 * fails, each batch is tried alone, so one bad batch never fails the others.
 */
async function drain(): Promise<void> {
  const messages = pending;
  pending = [];
  const writes = messages.filter((m): m is Write => m.type === 'write');
  if (writes.length > 0 && !closed) {
    const decoded = writes.map((m) => decodePredictionRows(m.rows));
    try {
      await store.insertMany(decoded.length === 1 ? decoded[0]! : decoded.flat());
      for (const m of writes) reply(m);
    } catch {
      for (const [i, m] of writes.entries()) {
        try {
          await store.insertMany(decoded[i]!);
          reply(m);
        } catch (err) {
          reply(m, err);
        }
      }
    }
  }
  if (messages.some((m) => m.type === 'close') && !closed) {
    closed = true;
    await database.close();
    parentPort!.close();
    return;
  }
  if (pending.length > 0) setImmediate(() => void drain());
  else scheduled = false;
}

parentPort!.on('message', (message: Message) => {
  pending.push(message);
  if (!scheduled) {
    scheduled = true;
    // After the messages already queued on the port are delivered, so they join this run.
    setImmediate(() => void drain());
  }
});
