import type { Logger } from '../shared/logger.ts';
import type { EventBus, EventHandler, EventMap, EventName } from './event-bus.ts';

/** The embedded bus: handlers run in this process, after the publisher's turn, isolated from its errors. */
export class InProcessEventBus implements EventBus {
  private readonly handlers = new Map<EventName, Set<EventHandler<EventName>>>();
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly deps: { log: Logger }) {}

  async publish<E extends EventName>(event: E, payload: EventMap[E]): Promise<void> {
    const set = this.handlers.get(event);
    if (!set) return;
    for (const handler of set) {
      const run = Promise.resolve()
        .then(() => (handler as EventHandler<E>)(payload))
        .catch((err: unknown) => this.deps.log.error({ err, event }, 'event handler failed'))
        .finally(() => this.pending.delete(run));
      this.pending.add(run);
    }
  }

  subscribe<E extends EventName>(event: E, handler: EventHandler<E>): () => void {
    let set = this.handlers.get(event);
    if (!set) {
      set = new Set();
      this.handlers.set(event, set);
    }
    set.add(handler as EventHandler<EventName>);
    return () => set.delete(handler as EventHandler<EventName>);
  }

  /** Resolves once every handler started so far has finished; for tests and orderly shutdown. */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  async close(): Promise<void> {
    await this.drain();
    this.handlers.clear();
  }
}
