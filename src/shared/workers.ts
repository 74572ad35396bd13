import { Worker } from 'node:worker_threads';

// When this module runs compiled (dist/*.js), worker entries are compiled too and need no loader.
const COMPILED = import.meta.url.endsWith('.js');

/**
 * Starts a worker thread running the module at `entry` (a `.ts` URL beside the caller), with `data` as its
 * `workerData.data`. From source the thread first registers tsx (Node 20 does not pass the parent's loader to
 * workers); from a build (`npm run build`) it runs the compiled `.js` directly.
 */
export function startWorker(entry: URL, data: unknown, name: string): Worker {
  if (COMPILED) {
    return new Worker(new URL(entry.href.replace(/\.ts$/, '.js')), { workerData: { data }, name });
  }
  return new Worker(new URL('./worker-bootstrap.mjs', import.meta.url), {
    workerData: { entry: entry.href, data },
    name,
  });
}
