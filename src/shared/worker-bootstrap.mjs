// Entry of every Tarmac worker thread: Node 20 does not hand the parent's TypeScript loader to workers, so this
// plain-JS file registers tsx and then imports the real (TypeScript) entry named in workerData.entry.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
