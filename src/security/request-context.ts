import { AsyncLocalStorage } from 'node:async_hooks';

/** Where the current action came from: filled per HTTP request, read by the audit log. */
export interface RequestContext {
  ip: string | null;
  requestId: string | null;
  userAgent: string | null;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** Runs `fn` (and everything it starts) with `context` as the current request context. */
export function runWithRequestContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** The current request's context, or undefined outside a request (background work, the CLI). */
export function currentRequestContext(): RequestContext | undefined {
  return storage.getStore();
}
