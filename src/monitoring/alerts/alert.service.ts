import type { Clock } from '../../shared/clock.ts';
import { isTarmacError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import { AlertEngine, type AlertEngineOptions, type AlertEvaluation, type AlertInstanceView } from './engine.ts';
import type { AlertEvent, AlertRule, AlertSample, Notification, NotifiedAlert, Notifier, Silence, SilenceInput, SilenceView } from './types.ts';

/** Tunables of the service: the engine's plus the size of the transition history. */
export interface AlertServiceOptions extends AlertEngineOptions {
  /** How many transitions `history()` remembers; 1000 when absent. */
  historySize?: number;
}

/** What the alert service needs. */
export interface AlertServiceDeps {
  clock: Clock;
  log: Logger;
  /** The channels by name; rules may only name these. */
  notifiers: Map<string, Notifier>;
  /** Called once per transition, in order (the app audits and publishes them); failures are logged, never thrown. */
  onTransition?: (event: AlertEvent) => Promise<void> | void;
  options?: AlertServiceOptions;
}

/** How one channel's notification of one evaluation went. */
export interface DeliveryOutcome {
  channel: string;
  status: 'firing' | 'resolved';
  alerts: number;
  ok: boolean;
  /** The failure's message (URLs already redacted) when not ok. */
  error?: string;
}

/** What an evaluation did: its transitions, the deliveries it made and how many alert notices silences held back. */
export interface AlertEvaluationReport {
  at: number;
  events: AlertEvent[];
  deliveries: DeliveryOutcome[];
  /** Alert notices muted by silences in this evaluation (one per alert and channel). */
  suppressed: number;
}

/** Delivery counters per channel since start. */
export interface ChannelStats {
  sent: number;
  failed: number;
  suppressed: number;
}

/** Counters of the service since start, for metrics and the status page. */
export interface AlertStats {
  channels: Record<string, ChannelStats>;
  transitionCallbackFailures: number;
}

/**
 * Evaluates alert rules over observations, remembers recent transitions and delivers notifications to the named
 * channels; notification and callback failures are logged and counted, so evaluation never throws for them.
 */
export class AlertService {
  private readonly engine: AlertEngine;
  private readonly historySize: number;
  private readonly ring: AlertEvent[] = [];
  private ringStart = 0;
  private readonly channelStats = new Map<string, ChannelStats>();
  private callbackFailures = 0;
  // Deliveries to one channel go out in order, so a receiver never sees a resolve before its firing.
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly deps: AlertServiceDeps) {
    this.engine = new AlertEngine(deps.options);
    this.historySize = Math.max(1, deps.options?.historySize ?? 1000);
  }

  /**
   * Replaces the rules; throws VALIDATION_FAILED (fields `/<index>/<field>`, rule `unknown_channel` for a channel that is
   * not configured) before changing anything; instances of removed or re-targeted rules end, and their resolutions are
   * delivered.
   */
  async setRules(rules: readonly AlertRule[] | unknown): Promise<AlertEvaluationReport> {
    const evaluation = this.engine.setRules(rules, this.deps.clock.now(), new Set(this.deps.notifiers.keys()));
    return this.process(evaluation);
  }

  /** The rules in force. */
  rules(): AlertRule[] {
    return this.engine.listRules();
  }

  /** Feeds one evaluation's observations; resolves once transitions are handed on and notifications delivered or given up. */
  async evaluate(samples: readonly AlertSample[]): Promise<AlertEvaluationReport> {
    return this.process(this.engine.evaluate(samples, this.deps.clock.now()));
  }

  /** An evaluation without new observations: pending instances may fire, unreported series go stale, re-notifications fall due. */
  async tick(): Promise<AlertEvaluationReport> {
    return this.process(this.engine.tick(this.deps.clock.now()));
  }

  /** Adds (or, with an existing id, replaces) a silence; throws VALIDATION_FAILED naming bad fields. */
  addSilence(input: SilenceInput | unknown): Silence {
    const silence = this.engine.addSilence(input, this.deps.clock.now());
    this.deps.log.info({ silence: silence.id, matchers: silence.matchers, endsAt: silence.endsAt, createdBy: silence.createdBy }, 'silence added');
    return silence;
  }

  /** Ends a silence now; throws VALIDATION_FAILED (rule `exists`) for an unknown id. */
  expireSilence(id: string): Silence {
    const silence = this.engine.expireSilence(id, this.deps.clock.now());
    this.deps.log.info({ silence: id }, 'silence expired');
    return silence;
  }

  /** The silences (pending, active and recently expired), with their state now. */
  listSilences(): SilenceView[] {
    return this.engine.listSilences(this.deps.clock.now());
  }

  /** The pending and firing instances. */
  active(): AlertInstanceView[] {
    return this.engine.active();
  }

  /** The most recent transitions, newest first, at most `limit` (and at most the history size). */
  history(limit = 100): AlertEvent[] {
    const n = Math.min(Math.max(0, Math.floor(limit)), this.ring.length);
    const out: AlertEvent[] = [];
    for (let i = 0; i < n; i++) {
      const idx = (this.ringStart + this.ring.length - 1 - i) % this.ring.length;
      out.push(this.ring[idx]!);
    }
    return out;
  }

  /** Delivery and callback counters since start. */
  stats(): AlertStats {
    const channels: Record<string, ChannelStats> = {};
    for (const [name, s] of this.channelStats) channels[name] = { ...s };
    return { channels, transitionCallbackFailures: this.callbackFailures };
  }

  /** Closes every notifier that holds connections; called on shutdown. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.queues.values()]);
    await Promise.allSettled([...this.deps.notifiers.values()].map((n) => n.close?.()));
  }

  private async process(evaluation: AlertEvaluation): Promise<AlertEvaluationReport> {
    for (const event of evaluation.events) this.remember(event);
    for (const event of evaluation.events) {
      this.deps.log.info(
        { rule: event.rule, labels: event.labels, from: event.from, to: event.to, value: event.value, reason: event.reason, silenced: event.silencedBy.length > 0 },
        'alert transition',
      );
      if (!this.deps.onTransition) continue;
      try {
        await this.deps.onTransition(event);
      } catch (err) {
        this.callbackFailures++;
        this.deps.log.error({ err, rule: event.rule, fingerprint: event.fingerprint }, 'alert transition callback failed');
      }
    }
    const byChannel = new Map<string, NotifiedAlert[]>();
    let suppressed = 0;
    for (const notice of evaluation.notices) {
      for (const channel of notice.channels) {
        if (notice.silencedBy.length > 0) {
          suppressed++;
          this.statsOf(channel).suppressed++;
          continue;
        }
        const list = byChannel.get(channel) ?? [];
        list.push(notice.alert);
        byChannel.set(channel, list);
      }
    }
    const deliveries = await Promise.all(
      [...byChannel].map(([channel, alerts]) => this.deliver({
        channel,
        status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
        alerts,
        at: evaluation.at,
      })),
    );
    return { at: evaluation.at, events: evaluation.events, deliveries, suppressed };
  }

  private deliver(notification: Notification): Promise<DeliveryOutcome> {
    const { channel } = notification;
    const outcome: DeliveryOutcome = { channel, status: notification.status, alerts: notification.alerts.length, ok: false };
    const notifier = this.deps.notifiers.get(channel);
    const run = async (): Promise<DeliveryOutcome> => {
      try {
        if (!notifier) throw new Error(`no notifier named "${channel}" is configured`);
        await notifier.send(notification);
        outcome.ok = true;
        this.statsOf(channel).sent++;
      } catch (err) {
        this.statsOf(channel).failed++;
        outcome.error = err instanceof Error ? err.message : String(err);
        // The error's own fields only: a cause chain may carry transport internals we have not vetted for secrets.
        this.deps.log.error(
          { channel, alerts: notification.alerts.length, status: notification.status, error: outcome.error, code: isTarmacError(err) ? err.code : undefined, details: isTarmacError(err) ? err.details : undefined },
          'alert notification failed',
        );
      }
      return outcome;
    };
    const previous = this.queues.get(channel) ?? Promise.resolve();
    const next = previous.then(run, run);
    this.queues.set(channel, next);
    void next.finally(() => {
      if (this.queues.get(channel) === next) this.queues.delete(channel);
    });
    return next;
  }

  private remember(event: AlertEvent): void {
    if (this.ring.length < this.historySize) {
      this.ring.push(event);
      return;
    }
    this.ring[this.ringStart] = event;
    this.ringStart = (this.ringStart + 1) % this.historySize;
  }

  private statsOf(channel: string): ChannelStats {
    let s = this.channelStats.get(channel);
    if (!s) {
      s = { sent: 0, failed: 0, suppressed: 0 };
      this.channelStats.set(channel, s);
    }
    return s;
  }
}
