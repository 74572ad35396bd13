import { Worker } from 'node:worker_threads';

/** Starts a worker thread running the TypeScript module at `entry`, with `data` as its `workerData.data`. */
export function startWorker(entry: URL, data: unknown, name: string): Worker {
  return new Worker(new URL('./worker-bootstrap.mjs', import.meta.url), {
    workerData: { entry: entry.href, data },
    name,
  });
}
