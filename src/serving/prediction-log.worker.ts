import { parentPort, workerData } from 'node:worker_threads';
import { KyselyPredictionStore, openDatabase } from '../store/index.ts';
import { decodePredictionRows, type EncodedPredictionRows } from './prediction-rows-codec.ts';
import type { WriterDatabase } from './prediction-sink.ts';

// The prediction log's writer thread: one connection of its own, batches (packed by encodePredictionRows) in arrival
// order, one reply per batch.
type Message = { type: 'write'; id: number; rows: EncodedPredictionRows } | { type: 'close' };

const { data } = workerData as { data: WriterDatabase };
const database = await openDatabase({ url: data.url, dataDir: data.dataDir });
const store = new KyselyPredictionStore(database);
let queue = Promise.resolve();

parentPort!.on('message', (message: Message) => {
  queue = queue.then(async () => {
    if (message.type === 'close') {
      await database.close();
      parentPort!.close();
      return;
    }
    try {
      await store.insertMany(decodePredictionRows(message.rows));
      parentPort!.postMessage({ id: message.id, ok: true });
    } catch (err) {
      parentPort!.postMessage({ id: message.id, ok: false, message: (err as Error).message });
    }
  });
});
