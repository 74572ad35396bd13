import { createHash } from 'node:crypto';
import { invalid } from '../../shared/errors.ts';
import type {
  AlertEvent,
  AlertRule,
  AlertSample,
  AlertSeverity,
  AlertState,
  AlertTransitionReason,
  NotifiedAlert,
  Silence,
  SilenceInput,
  SilenceView,
} from './types.ts';
import { parseRules, parseSilence } from './validation.ts';

/** Alertmanager's default `repeat_interval`. */
export const DEFAULT_RENOTIFY_SECONDS = 4 * 60 * 60;
/** The evaluation interval assumed when none is configured (Prometheus' default is 1m). */
export const DEFAULT_EVALUATION_INTERVAL_SECONDS = 60;
/** How long an expired silence stays listable before it is forgotten (Alertmanager keeps them 5 days). */
export const DEFAULT_SILENCE_RETENTION_SECONDS = 5 * 24 * 60 * 60;

/** Tunables of the engine; all optional. */
export interface AlertEngineOptions {
  /** How often `evaluate`/`tick` is called; staleness defaults to three of these. */
  evaluationIntervalSeconds?: number;
  /** How long a series may go unreported before its alert instances resolve (or drop back from pending). */
  stalenessSeconds?: number;
  silenceRetentionSeconds?: number;
}

/** A live (pending or firing) alert instance as `active()` shows it. */
export interface AlertInstanceView {
  rule: string;
  labels: Record<string, string>;
  fingerprint: string;
  severity: AlertSeverity;
  state: 'pending' | 'firing';
  /** When the instance entered its current state, epoch milliseconds. */
  since: number;
  /** When the condition started to hold (the start of `pending`, Prometheus' `activeAt`). */
  activeAt: number;
  value: number;
  /** The observation time of the last sample seen. */
  lastSeenAt: number;
  /** When a notification about this instance last went out; absent when none has (yet, or because it is silenced). */
  lastNotifiedAt?: number;
  /** Ids of the silences muting this instance now. */
  silencedBy: string[];
}

/** A notification the engine wants sent (or, when `silencedBy` is not empty, records as suppressed). */
export interface AlertNotice {
  alert: NotifiedAlert;
  channels: string[];
  silencedBy: string[];
}

/** What one evaluation produced: the transitions and the notifications they (and re-notifications) call for. */
export interface AlertEvaluation {
  at: number;
  events: AlertEvent[];
  notices: AlertNotice[];
}

interface Instance {
  rule: AlertRule;
  fingerprint: string;
  labels: Record<string, string>;
  state: 'inactive' | 'pending' | 'firing';
  since: number;
  activeAt: number;
  firingSince: number;
  value: number;
  lastSeenAt: number;
  lastNotifiedAt: number | undefined;
  lastSuppressedAt: number | undefined;
  silencedBy: string[];
}

/** A stable id for one (rule, label set): the first 16 hex digits of SHA-256 over the rule name and the sorted labels. */
export function alertFingerprint(rule: string, labels: Record<string, string>): string {
  const sorted = Object.keys(labels).sort().map((k) => [k, labels[k]]);
  return createHash('sha256').update(JSON.stringify([rule, sorted])).digest('hex').slice(0, 16);
}

/** True when `labels` carries every matcher's label with exactly its value. */
export function labelsMatch(matchers: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  if (!matchers) return true;
  for (const [k, v] of Object.entries(matchers)) if (labels[k] !== v) return false;
  return true;
}

function holds(rule: AlertRule, value: number): boolean {
  // Every comparison with NaN is false, as in PromQL, so a NaN sample never fires.
  switch (rule.op) {
    case '>': return value > rule.threshold;
    case '>=': return value >= rule.threshold;
    case '<': return value < rule.threshold;
    case '<=': return value <= rule.threshold;
  }
}

/**
 * The alert state machine (Prometheus' alerting rules plus Alertmanager's de-duplication and silences), pure and driven
 * by the `now` its callers pass: it keeps the rules, the live instances and the silences, and every call returns the
 * transitions and notifications it decided on, leaving I/O to the caller.
 */
export class AlertEngine {
  private rules = new Map<string, AlertRule>();
  private byMetric = new Map<string, AlertRule[]>();
  private readonly instances = new Map<string, Instance>();
  private readonly silences = new Map<string, Silence>();
  private readonly stalenessMs: number;
  private readonly silenceRetentionMs: number;

  constructor(options: AlertEngineOptions = {}) {
    const interval = options.evaluationIntervalSeconds ?? DEFAULT_EVALUATION_INTERVAL_SECONDS;
    const staleness = options.stalenessSeconds ?? 3 * interval;
    if (!(interval > 0) || !(staleness > 0)) {
      throw invalid('The alert engine options are not valid', [
        { field: '/stalenessSeconds', rule: 'range', message: 'the evaluation interval and the staleness must be more than 0' },
      ]);
    }
    this.stalenessMs = staleness * 1000;
    this.silenceRetentionMs = (options.silenceRetentionSeconds ?? DEFAULT_SILENCE_RETENTION_SECONDS) * 1000;
  }

  /** The rules in force. */
  listRules(): AlertRule[] {
    return [...this.rules.values()];
  }

  /**
   * Replaces the rule set (throws VALIDATION_FAILED before changing anything); instances of a rule that keeps its name,
   * metric and a selector they still match carry on, the others end now: firing ones resolve, pending ones go inactive.
   */
  setRules(input: unknown, now: number, knownChannels?: ReadonlySet<string>): AlertEvaluation {
    const rules = parseRules(input, knownChannels);
    this.rules = new Map(rules.map((r) => [r.name, r]));
    this.byMetric = new Map();
    for (const r of rules) {
      const list = this.byMetric.get(r.metric) ?? [];
      list.push(r);
      this.byMetric.set(r.metric, list);
    }
    const result: AlertEvaluation = { at: now, events: [], notices: [] };
    for (const inst of [...this.instances.values()]) {
      const next = this.rules.get(inst.rule.name);
      if (next && next.metric === inst.rule.metric && labelsMatch(next.labels, inst.labels)) {
        inst.rule = next;
        continue;
      }
      inst.silencedBy = this.silencesFor(inst, now);
      this.end(inst, now, 'rule_changed', result);
    }
    return result;
  }

  /** Feeds one evaluation's observations and advances every instance to `now`; never throws on sample content. */
  evaluate(samples: readonly AlertSample[], now: number): AlertEvaluation {
    const result: AlertEvaluation = { at: now, events: [], notices: [] };
    this.forgetOldSilences(now);
    this.observe(samples, now);
    for (const inst of [...this.instances.values()]) this.step(inst, now, result);
    return result;
  }

  /** Advances every instance to `now` without new observations (pending ones may fire, silent series go stale). */
  tick(now: number): AlertEvaluation {
    return this.evaluate([], now);
  }

  /** The pending and firing instances. */
  active(): AlertInstanceView[] {
    const out: AlertInstanceView[] = [];
    for (const inst of this.instances.values()) {
      if (inst.state === 'inactive') continue;
      const view: AlertInstanceView = {
        rule: inst.rule.name, labels: { ...inst.labels }, fingerprint: inst.fingerprint, severity: inst.rule.severity,
        state: inst.state, since: inst.since, activeAt: inst.activeAt, value: inst.value, lastSeenAt: inst.lastSeenAt,
        silencedBy: [...inst.silencedBy],
      };
      if (inst.lastNotifiedAt !== undefined) view.lastNotifiedAt = inst.lastNotifiedAt;
      out.push(view);
    }
    return out;
  }

  /** Adds a silence, or replaces the one with the same id (an edit); throws VALIDATION_FAILED naming bad fields. */
  addSilence(input: SilenceInput | unknown, now: number): Silence {
    const silence = parseSilence(input, now);
    this.silences.set(silence.id, silence);
    for (const inst of this.instances.values()) inst.silencedBy = this.silencesFor(inst, now);
    return { ...silence, matchers: { ...silence.matchers } };
  }

  /** Ends a silence now; throws VALIDATION_FAILED (rule `exists`) when no silence has this id. */
  expireSilence(id: string, now: number): Silence {
    const silence = this.silences.get(id);
    if (!silence) throw invalid(`No silence with id ${id}`, [{ field: '/id', rule: 'exists', message: `no silence with id "${id}"` }]);
    if (silence.endsAt > now) {
      silence.endsAt = now;
      if (silence.startsAt > now) silence.startsAt = now;
    }
    for (const inst of this.instances.values()) inst.silencedBy = this.silencesFor(inst, now);
    return { ...silence, matchers: { ...silence.matchers } };
  }

  /** Every silence still remembered, with its state at `now`. */
  listSilences(now: number): SilenceView[] {
    return [...this.silences.values()].map((s) => ({
      ...s,
      matchers: { ...s.matchers },
      state: now < s.startsAt ? 'pending' : now < s.endsAt ? 'active' : 'expired',
    }));
  }

  private observe(samples: readonly AlertSample[], now: number): void {
    // Only the newest observation of each instance in a batch counts; older ones than already seen are late and ignored.
    const latest = new Map<string, { rule: AlertRule; sample: AlertSample }>();
    for (const sample of samples) {
      const rules = this.byMetric.get(sample.metric);
      if (!rules || typeof sample.value !== 'number' || !Number.isFinite(sample.at) || typeof sample.labels !== 'object' || sample.labels === null) continue;
      for (const rule of rules) {
        if (!labelsMatch(rule.labels, sample.labels)) continue;
        const fp = alertFingerprint(rule.name, sample.labels);
        const prev = latest.get(fp);
        if (!prev || sample.at >= prev.sample.at) latest.set(fp, { rule, sample });
      }
    }
    for (const [fp, { rule, sample }] of latest) {
      const inst = this.instances.get(fp);
      if (inst) {
        if (sample.at < inst.lastSeenAt) continue;
        inst.value = sample.value;
        inst.lastSeenAt = sample.at;
        continue;
      }
      // An inactive instance needs no memory: it is created only once its condition holds on a fresh sample.
      if (!holds(rule, sample.value) || now - sample.at > this.stalenessMs) continue;
      this.instances.set(fp, {
        rule, fingerprint: fp, labels: { ...sample.labels }, state: 'inactive', since: now, activeAt: now, firingSince: now,
        value: sample.value, lastSeenAt: sample.at, lastNotifiedAt: undefined, lastSuppressedAt: undefined, silencedBy: [],
      });
    }
  }

  private step(inst: Instance, now: number, result: AlertEvaluation): void {
    inst.silencedBy = this.silencesFor(inst, now);
    const stale = now - inst.lastSeenAt > this.stalenessMs;
    if (stale || !holds(inst.rule, inst.value)) {
      this.end(inst, now, stale ? 'stale' : 'condition', result);
      return;
    }
    const forMs = inst.rule.forSeconds * 1000;
    if (inst.state === 'inactive') {
      inst.activeAt = now;
      if (forMs > 0) {
        this.transition(inst, 'pending', now, 'condition', result);
        return;
      }
    }
    if (inst.state !== 'firing') {
      if (now - inst.activeAt < forMs) return;
      inst.firingSince = now;
      this.transition(inst, 'firing', now, 'condition', result);
    }
    this.maybeNotifyFiring(inst, now, result);
  }

  /** Takes an instance out: firing resolves (notified when its firing was), pending or new goes back to inactive. */
  private end(inst: Instance, now: number, reason: AlertTransitionReason, result: AlertEvaluation): void {
    this.instances.delete(inst.fingerprint);
    if (inst.state === 'inactive') return;
    if (inst.state === 'pending') {
      this.transition(inst, 'inactive', now, reason, result);
      return;
    }
    this.transition(inst, 'resolved', now, reason, result);
    // Only an announced alert needs taking back; one silenced all along resolves quietly.
    if (inst.lastNotifiedAt === undefined) return;
    result.notices.push({ alert: this.notified(inst, 'resolved', now, false), channels: [...inst.rule.channels], silencedBy: [...inst.silencedBy] });
  }

  private maybeNotifyFiring(inst: Instance, now: number, result: AlertEvaluation): void {
    const renotifyMs = (inst.rule.renotifySeconds ?? DEFAULT_RENOTIFY_SECONDS) * 1000;
    const announced = inst.lastNotifiedAt !== undefined;
    if (inst.silencedBy.length > 0) {
      // Record a suppressed notice when one would have gone out, not at every evaluation of the silence.
      const last = Math.max(inst.lastNotifiedAt ?? -Infinity, inst.lastSuppressedAt ?? -Infinity);
      if (last !== -Infinity && now - last < renotifyMs) return;
      inst.lastSuppressedAt = now;
      result.notices.push({ alert: this.notified(inst, 'firing', now, announced), channels: [...inst.rule.channels], silencedBy: [...inst.silencedBy] });
      return;
    }
    if (announced && now - inst.lastNotifiedAt! < renotifyMs) return;
    inst.lastNotifiedAt = now;
    result.notices.push({ alert: this.notified(inst, 'firing', now, announced), channels: [...inst.rule.channels], silencedBy: [] });
  }

  private transition(inst: Instance, to: AlertState, now: number, reason: AlertTransitionReason, result: AlertEvaluation): AlertEvent {
    const event: AlertEvent = {
      rule: inst.rule.name, labels: { ...inst.labels }, from: inst.state, to, value: inst.value, at: now,
      fingerprint: inst.fingerprint, severity: inst.rule.severity, reason,
      // Pending and inactive transitions notify nobody, so nothing of theirs is suppressed.
      silencedBy: to === 'firing' || to === 'resolved' ? [...inst.silencedBy] : [],
    };
    if (to === 'pending' || to === 'firing') {
      inst.state = to;
      inst.since = now;
    }
    result.events.push(event);
    return event;
  }

  private notified(inst: Instance, status: 'firing' | 'resolved', now: number, repeat: boolean): NotifiedAlert {
    const r = inst.rule;
    const alert: NotifiedAlert = {
      rule: r.name, status, severity: r.severity, labels: { ...inst.labels }, value: inst.value, threshold: r.threshold,
      op: r.op, metric: r.metric, startsAt: inst.firingSince, fingerprint: inst.fingerprint, repeat,
    };
    if (r.description !== undefined) alert.description = r.description;
    if (status === 'resolved') alert.endsAt = now;
    return alert;
  }

  private silencesFor(inst: Instance, now: number): string[] {
    if (this.silences.size === 0) return [];
    const labels = { ...inst.labels, alertname: inst.rule.name, severity: inst.rule.severity };
    const ids: string[] = [];
    for (const s of this.silences.values()) {
      if (s.startsAt <= now && now < s.endsAt && labelsMatch(s.matchers, labels)) ids.push(s.id);
    }
    return ids;
  }

  private forgetOldSilences(now: number): void {
    for (const [id, s] of this.silences) if (now - s.endsAt > this.silenceRetentionMs) this.silences.delete(id);
  }
}
