export type { EventBus, EventHandler, EventMap, EventName } from './event-bus.ts';
export { InProcessEventBus } from './in-process-bus.ts';
export { EVENT_SUBJECT_PREFIX, NatsEventBus } from './nats-bus.ts';
