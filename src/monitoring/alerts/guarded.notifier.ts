import type { Notification, Notifier } from './types.ts';

/**
 * A notifier that checks its destination right before every send (`guard` rejects, typically with OUTBOUND_REFUSED,
 * when the host now resolves to an internal address: DNS rebinding), then delegates.
 */
export class GuardedNotifier implements Notifier {
  constructor(private readonly inner: Notifier, private readonly guard: () => Promise<unknown>) {}

  /** Rejects with the guard's error without sending, or as the inner notifier does. */
  async send(notification: Notification): Promise<void> {
    await this.guard();
    await this.inner.send(notification);
  }

  /** Closes the inner notifier. */
  async close(): Promise<void> {
    await this.inner.close?.();
  }
}
