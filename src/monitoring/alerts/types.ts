/** How a rule compares the observed value with its threshold. */
export type AlertOp = '>' | '>=' | '<' | '<=';

/** The comparison operators a rule may use. */
export const ALERT_OPS: readonly AlertOp[] = ['>', '>=', '<', '<='];

/** How loud an alert is; carried to every channel and to the Prometheus `severity` label. */
export type AlertSeverity = 'info' | 'warning' | 'critical';

/** The severities a rule may declare. */
export const ALERT_SEVERITIES: readonly AlertSeverity[] = ['info', 'warning', 'critical'];

/** A threshold rule over one metric; every label set it matches becomes its own alert instance. */
export interface AlertRule {
  /** Unique among the rules; also the `alertname` label silences match on. */
  name: string;
  metric: string;
  /** Exact-match selector: a sample matches when it carries every one of these labels with this value. */
  labels?: Record<string, string>;
  op: AlertOp;
  threshold: number;
  /** How long the condition must hold before the instance fires; 0 fires at the first evaluation that sees it. */
  forSeconds: number;
  severity: AlertSeverity;
  /** How often to repeat a notification while the instance keeps firing; 4 hours when absent. */
  renotifySeconds?: number;
  /** Names of the notifiers to tell. */
  channels: string[];
  description?: string;
}

/** One observation of a metric for one label set, as the monitor or a scrape produced it. */
export interface AlertSample {
  metric: string;
  labels: Record<string, string>;
  value: number;
  /** When the value was observed, epoch milliseconds. */
  at: number;
}

/** The lifecycle of an alert instance, as Prometheus and Alertmanager name it. */
export type AlertState = 'inactive' | 'pending' | 'firing' | 'resolved';

/** Why a transition happened. */
export type AlertTransitionReason = 'condition' | 'stale' | 'rule_changed';

/** One transition of one alert instance; returned by every evaluation and handed to `onTransition`. */
export interface AlertEvent {
  rule: string;
  /** The instance's labels: the labels of the series it watches. */
  labels: Record<string, string>;
  from: AlertState;
  to: AlertState;
  /** The last observed value (the one that caused the transition, or the last one seen before it went stale). */
  value: number;
  /** Evaluation time of the transition, epoch milliseconds. */
  at: number;
  /** Stable id of the instance: a hash of the rule name and its sorted labels. */
  fingerprint: string;
  severity: AlertSeverity;
  reason: AlertTransitionReason;
  /** Ids of the silences that muted the notification this transition would have sent (empty when none). */
  silencedBy: string[];
}

/** A window during which notifications of matching instances are suppressed. */
export interface Silence {
  id: string;
  /** Exact-match label matchers over an instance's labels plus `alertname` (the rule name) and `severity`. */
  matchers: Record<string, string>;
  startsAt: number;
  endsAt: number;
  createdBy: string;
  comment: string;
}

/** What a caller passes to create a silence; the id is generated and `startsAt` defaults to now when absent. */
export interface SilenceInput {
  id?: string;
  matchers: Record<string, string>;
  startsAt?: number;
  endsAt: number;
  createdBy: string;
  comment: string;
}

/** A silence with its state at the time it was listed. */
export interface SilenceView extends Silence {
  state: 'pending' | 'active' | 'expired';
}

/** One alert as a channel presents it: the instance, its rule's metadata and whether this is a repeat. */
export interface NotifiedAlert {
  rule: string;
  status: 'firing' | 'resolved';
  severity: AlertSeverity;
  description?: string;
  labels: Record<string, string>;
  value: number;
  threshold: number;
  op: AlertOp;
  metric: string;
  /** When the instance started firing, epoch milliseconds. */
  startsAt: number;
  /** When it resolved; absent while firing. */
  endsAt?: number;
  fingerprint: string;
  /** True for a re-notification of an instance that was already announced and is still firing. */
  repeat: boolean;
}

/** What one notifier is asked to deliver: the alerts of one evaluation routed to one channel. */
export interface Notification {
  channel: string;
  /** `firing` when any alert in it fires, else `resolved` (Alertmanager's group status). */
  status: 'firing' | 'resolved';
  alerts: NotifiedAlert[];
  /** Evaluation time, epoch milliseconds. */
  at: number;
}

/** A delivery channel; `send` rejects when the notification could not be delivered after its own retries. */
export interface Notifier {
  send(notification: Notification): Promise<void>;
  /** Releases connections; called on shutdown. */
  close?(): Promise<void>;
}
