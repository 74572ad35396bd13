/** The typed map of every event Tarmac announces; names are dotted, past tense. */
export interface EventMap {
  'version.registered': { model: string; version: number; sha256: string; by: string };
  'alias.moved': { model: string; alias: string; version: number | null; previous: number | null; by: string };
  'deployment.changed': { model: string; revision: number; by: string };
  'key.created': { id: string; role: string; by: string };
  'key.revoked': { id: string; by: string };
  'key.rotated': { id: string; by: string };
  'key.limits': { id: string; by: string };
  'feedback.received': { model: string; count: number };
  'experiment.changed': { model: string; status: 'running' | 'stopped'; by: string };
  'contract.registered': { name: string; version: number; sha256: string; by: string };
  'dataset.created': { name: string; natsSubject: string | null; by: string };
  'batch.completed': {
    dataset: string; batchId: string; status: 'completed' | 'failed';
    counts: { read: number; accepted: number; quarantined: number; duplicates: number; late: number; tooLate: number };
  };
}

/** An event name. */
export type EventName = keyof EventMap;

/** A handler of one event type; errors it throws are logged by the bus, never propagated to the publisher. */
export type EventHandler<E extends EventName> = (payload: EventMap[E]) => void | Promise<void>;

/** Publish/subscribe between modules and replicas (in-process by default; NATS JetStream at scale). */
export interface EventBus {
  /** Announces an event; resolves when the bus has accepted it (not when handlers finish). */
  publish<E extends EventName>(event: E, payload: EventMap[E]): Promise<void>;
  /** Registers a handler; returns a function that removes it. */
  subscribe<E extends EventName>(event: E, handler: EventHandler<E>): () => void;
  close(): Promise<void>;
}
