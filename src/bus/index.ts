export type { EventBus, EventHandler, EventMap, EventName } from './event-bus.ts';
export { InProcessEventBus } from './in-process-bus.ts';
