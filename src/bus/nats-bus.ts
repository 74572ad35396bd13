import { connect, JSONCodec, type NatsConnection, type Subscription } from 'nats';
import type { Logger } from '../shared/logger.ts';
import type { EventBus, EventHandler, EventMap, EventName } from './event-bus.ts';
import { InProcessEventBus } from './in-process-bus.ts';

/** The subject prefix of Tarmac's events: `tarmac.events.<cluster>.<event>` (e.g. `tarmac.events.prod.deployment.changed`). */
export const EVENT_SUBJECT_PREFIX = 'tarmac.events.';

/**
 * The bus across replicas: every event is published on NATS (`tarmac.events.<cluster>.<event>`, core NATS: fire-and-forget,
 * milliseconds) and every replica — the publisher too — hands the events it receives to its local handlers, so a
 * deployment change on one replica swaps the routes of all of them. Control-plane state itself lives in the store;
 * an event only tells replicas to re-read it, so a missed event costs staleness until the next change, never wrong
 * data. Handler errors are logged, as with the in-process bus.
 */
export class NatsEventBus implements EventBus {
  private readonly local: InProcessEventBus;
  private readonly codec = JSONCodec();
  private subscription: Subscription | undefined;
  private pump: Promise<void> | undefined;

  private readonly prefix: string;

  private constructor(private readonly nc: NatsConnection, private readonly log: Logger, cluster: string) {
    this.local = new InProcessEventBus({ log });
    this.prefix = `${EVENT_SUBJECT_PREFIX}${cluster}.`;
  }

  /** Connects and starts receiving; throws when the server cannot be reached. */
  static async connect(options: { url: string; log: Logger; cluster: string; name?: string }): Promise<NatsEventBus> {
    const nc = await connect({ servers: options.url, name: options.name ?? 'tarmac-bus', maxReconnectAttempts: -1 });
    const bus = new NatsEventBus(nc, options.log, options.cluster);
    bus.start();
    return bus;
  }

  private start(): void {
    const subscription = this.nc.subscribe(`${this.prefix}>`);
    this.subscription = subscription;
    this.pump = (async () => {
      for await (const message of subscription) {
        const event = message.subject.slice(this.prefix.length) as EventName;
        try {
          await this.local.publish(event, this.codec.decode(message.data) as EventMap[typeof event]);
        } catch (err) {
          this.log.error({ err, event }, 'could not dispatch a bus event');
        }
      }
    })();
  }

  /** Publishes the event to every replica (this one included, through the subscription). */
  async publish<E extends EventName>(event: E, payload: EventMap[E]): Promise<void> {
    this.nc.publish(`${this.prefix}${event}`, this.codec.encode(payload));
  }

  subscribe<E extends EventName>(event: E, handler: EventHandler<E>): () => void {
    return this.local.subscribe(event, handler);
  }

  /** Resolves once the server has every event published so far and local handlers started on them have finished. */
  async drain(): Promise<void> {
    await this.nc.flush();
    await this.local.drain();
  }

  async close(): Promise<void> {
    await this.nc.flush().catch(() => undefined);
    this.subscription?.unsubscribe();
    await this.pump?.catch(() => undefined);
    await this.local.close();
    await this.nc.close();
  }
}
