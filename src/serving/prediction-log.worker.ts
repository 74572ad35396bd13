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

const reply = (id: number, err?: unknown) =>
  parentPort!.postMessage(err === undefined ? { id, ok: true } : { id, ok: false, message: (err as Error).message });

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
    try {
      await store.insertMany(writes.length === 1 ? decodePredictionRows(writes[0]!.rows) : writes.flatMap((m) => decodePredictionRows(m.rows)));
      for (const m of writes) reply(m.id);
    } catch {
      for (const m of writes) {
        try {
          await store.insertMany(decodePredictionRows(m.rows));
          reply(m.id);
        } catch (err) {
          reply(m.id, err);
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
