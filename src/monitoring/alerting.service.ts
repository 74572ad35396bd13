import type { AuditLog, OutboundPolicy, Principal, ResolvedAddress } from '../security/index.ts';
import { checkOutboundHost, checkOutboundUrl, SYSTEM_PRINCIPAL } from '../security/index.ts';
import type { Clock } from '../shared/clock.ts';
import { TarmacError } from '../shared/errors.ts';
import type { FieldIssue } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import type { AlertConfigStore } from '../store/index.ts';
import {
  AlertService, EmailNotifier, GuardedNotifier, parseRules, redactUrl, SlackNotifier, WebhookNotifier,
} from './alerts/index.ts';
import type { AlertEvent, AlertInstanceView, AlertRule, AlertSample, Notifier, Silence, SilenceView } from './alerts/index.ts';
import type { WindowSummary } from './monitor.service.ts';

/** A notification channel as configured. Secrets (webhook secret, SMTP password, Slack URL) never leave the server. */
export interface ChannelConfig {
  name: string;
  type: 'webhook' | 'slack' | 'email';
  url?: string;
  secret?: string;
  host?: string;
  port?: number;
  secure?: boolean;
  user?: string;
  pass?: string;
  from?: string;
  to?: string[];
}

/** The alerting configuration: channels and rules, replaced as a whole. */
export interface AlertConfig {
  channels: ChannelConfig[];
  rules: AlertRule[];
}

const CHANNEL_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/**
 * Alerting for the monitor: the configuration (channels and rules, stored and audited), the alert engine fed with
 * every closed window's signals under the same names as the Prometheus gauges, silences, and the view of active
 * alerts. Every transition is audited.
 */
export class AlertingService {
  private readonly notifiers = new Map<string, Notifier>();
  private readonly alerts: AlertService;
  private current: AlertConfig = { channels: [], rules: [] };
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: {
      store: AlertConfigStore;
      audit: AuditLog;
      clock: Clock;
      log: Logger;
      /** How often windows close (the engine resolves an alert whose signal is missing for three intervals). */
      evaluationIntervalSeconds: number;
      /** Refuses channels whose endpoints are outside the allowed data residency (throws RESIDENCY_VIOLATION). */
      checkChannels?: (channels: readonly ChannelConfig[]) => void;
      /** Which internal destinations channels may reach (TARMAC_OUTBOUND_ALLOW); absent: public destinations only. */
      outbound?: OutboundPolicy;
    },
  ) {
    this.alerts = new AlertService({
      clock: deps.clock,
      log: deps.log,
      notifiers: this.notifiers,
      onTransition: (event) => this.audited(event),
      options: { evaluationIntervalSeconds: deps.evaluationIntervalSeconds },
    });
  }

  /** Loads the stored configuration (an unusable one is logged and left out, never fatal to the start). */
  async start(): Promise<void> {
    const stored = await this.deps.store.getAlertConfig();
    if (!stored) return;
    try {
      await this.apply(JSON.parse(stored.document) as AlertConfig);
    } catch (err) {
      this.deps.log.error({ err }, 'the stored alerting configuration could not be applied; alerts are off until it is replaced');
    }
  }

  /**
   * Replaces channels and rules after validating all of them (a bad configuration changes nothing). Throws
   * VALIDATION_FAILED naming each bad field, or OUTBOUND_REFUSED naming each channel whose URL or SMTP host is not a
   * public destination (nor allowed by TARMAC_OUTBOUND_ALLOW).
   */
  async configure(input: unknown, by: Principal): Promise<AlertConfig> {
    const config = parseConfig(input);
    this.deps.checkChannels?.(config.channels);
    await this.checkDestinations(config);
    await this.apply(config);
    // The stored configuration and its audit entry commit together, or neither does.
    await this.deps.audit.atomically(async () => {
      await this.deps.store.putAlertConfig(JSON.stringify(config), by.id, this.deps.clock.now());
      await this.deps.audit.record(by, 'alerts.configure', 'alerts:config', {
        channels: config.channels.map((c) => `${c.name}:${c.type}`), rules: config.rules.map((r) => r.name),
      });
    });
    return this.config();
  }

  /** The configuration with secrets redacted. */
  config(): AlertConfig {
    return {
      channels: this.current.channels.map((c) => ({
        ...c,
        ...(c.url ? { url: redactUrl(c.url) } : {}),
        ...(c.secret ? { secret: '***' } : {}),
        ...(c.pass ? { pass: '***' } : {}),
      })),
      rules: this.current.rules,
    };
  }

  /** Feeds a closed (or re-scored) window's signals to the rules. */
  async onWindow(summary: WindowSummary): Promise<void> {
    if (this.current.rules.length === 0) return;
    await this.alerts.evaluate(samplesOf(summary));
  }

  /** Lets time pass for `for` durations and staleness. */
  async tick(): Promise<void> {
    if (this.current.rules.length === 0) return;
    await this.alerts.tick();
  }

  /** Pending and firing alerts. */
  active(): AlertInstanceView[] {
    return this.alerts.active();
  }

  /** Recent transitions, newest first. */
  history(limit: number): AlertEvent[] {
    return this.alerts.history(limit);
  }

  /** Adds a silence (audited). Throws VALIDATION_FAILED. */
  async addSilence(input: unknown, by: Principal): Promise<Silence> {
    const withAuthor = typeof input === 'object' && input !== null ? { createdBy: by.id, ...(input as object) } : input;
    const silence = this.alerts.addSilence(withAuthor);
    await this.deps.audit.record(by, 'alerts.silence.add', `silence:${silence.id}`, { matchers: silence.matchers, endsAt: silence.endsAt });
    return silence;
  }

  /** Ends a silence now (audited). Throws VALIDATION_FAILED for an unknown id. */
  async expireSilence(id: string, by: Principal): Promise<Silence> {
    const silence = this.alerts.expireSilence(id);
    await this.deps.audit.record(by, 'alerts.silence.expire', `silence:${id}`, {});
    return silence;
  }

  /** Every silence with its state. */
  silences(): SilenceView[] {
    return this.alerts.listSilences();
  }

  /** Ticks the engine every `intervalMs` (pending alerts reach `for`, silent signals go stale). */
  startTimer(intervalMs: number): void {
    this.timer ??= setInterval(() => void this.tick().catch((err: unknown) => this.deps.log.error({ err }, 'alert tick failed')), intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and deliveries. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.alerts.close();
  }

  /** Every channel's destination must be public or allowed; throws OUTBOUND_REFUSED with one issue per refusal. */
  private async checkDestinations(config: AlertConfig): Promise<void> {
    const issues: FieldIssue[] = [];
    await Promise.all(config.channels.map(async (c, i) => {
      try {
        await this.checkDestination(c, i);
      } catch (err) {
        if ((err as { code?: string }).code !== 'OUTBOUND_REFUSED') throw err;
        issues.push(...(err as TarmacError).issues);
      }
    }));
    if (issues.length > 0) {
      issues.sort((a, b) => a.field.localeCompare(b.field));
      throw new TarmacError('OUTBOUND_REFUSED', `alert channels may only reach public destinations: ${issues.map((i) => i.message).join('; ')}`, { issues });
    }
  }

  private checkDestination(c: ChannelConfig, index: number): Promise<unknown> {
    const policy = this.deps.outbound ?? { allow: [] };
    return c.type === 'email'
      ? checkOutboundHost(c.host!, policy, { field: `/channels/${index}/host` })
      : checkOutboundUrl(c.url!, policy, { field: `/channels/${index}/url` });
  }

  private async apply(config: AlertConfig): Promise<void> {
    const built = new Map<string, Notifier>();
    // The destination is checked again before every attempt: a name that resolved to a public address when it was
    // configured may resolve to an internal one later (DNS rebinding). HTTP channels connect to the addresses that
    // check approved; SMTP re-checks just before nodemailer connects.
    config.channels.forEach((c, i) => {
      const connectTo = async () => (await checkOutboundUrl(c.url!, this.deps.outbound ?? { allow: [] }, { field: `/channels/${i}/url` })).addresses;
      built.set(c.name, c.type === 'email'
        ? new GuardedNotifier(notifierOf(c, this.deps.log), () => this.checkDestination(c, i))
        : notifierOf(c, this.deps.log, connectTo));
    });
    const previous = new Map(this.notifiers);
    this.notifiers.clear();
    for (const [k, v] of built) this.notifiers.set(k, v);
    try {
      await this.alerts.setRules(config.rules);
    } catch (err) {
      this.notifiers.clear();
      for (const [k, v] of previous) this.notifiers.set(k, v);
      throw err;
    }
    this.current = config;
  }

  private async audited(event: AlertEvent): Promise<void> {
    await this.deps.audit.record(SYSTEM_PRINCIPAL, 'alert.transition', `alert:${event.rule}`, {
      labels: event.labels, from: event.from, to: event.to, value: event.value, fingerprint: event.fingerprint,
    });
  }
}

/** The signals of one window as alert samples, named like the monitor's Prometheus gauges. */
export function samplesOf(s: WindowSummary): AlertSample[] {
  const at = Date.parse(s.window_start) + s.window_seconds * 1000;
  const base = { model: s.model, version: String(s.version), variant: s.variant };
  const out: AlertSample[] = [{ metric: 'tarmac_monitor_window_rows', labels: base, value: s.rows, at }];
  if (s.quality.volume_ratio !== null) out.push({ metric: 'tarmac_monitor_volume_ratio', labels: base, value: s.quality.volume_ratio, at });
  for (const [feature, q] of Object.entries(s.quality.features)) {
    const labels = { ...base, feature };
    out.push({ metric: 'tarmac_monitor_null_rate', labels, value: q.null_rate, at });
    if (q.unseen_category_rate !== undefined) out.push({ metric: 'tarmac_monitor_unseen_category_rate', labels, value: q.unseen_category_rate, at });
    if (q.out_of_range_rate !== undefined) out.push({ metric: 'tarmac_monitor_out_of_range_rate', labels, value: q.out_of_range_rate, at });
  }
  if (s.drift) {
    out.push({ metric: 'tarmac_monitor_drift_share', labels: base, value: s.drift.drift_share, at });
    out.push({ metric: 'tarmac_monitor_dataset_drift', labels: base, value: s.drift.dataset_drift ? 1 : 0, at });
    for (const c of s.drift.columns) {
      if (Number.isNaN(c.statistic)) continue;
      out.push({ metric: 'tarmac_monitor_feature_drift', labels: { ...base, feature: c.column }, value: c.drift ? 1 : 0, at });
      out.push({ metric: 'tarmac_monitor_drift_score', labels: { ...base, feature: c.column, method: c.method }, value: c.statistic, at });
    }
  }
  for (const c of s.prediction_drift?.columns ?? []) {
    if (Number.isNaN(c.statistic)) continue;
    out.push({ metric: 'tarmac_monitor_prediction_drift', labels: { ...base, output: c.column }, value: c.drift ? 1 : 0, at });
    out.push({ metric: 'tarmac_monitor_prediction_drift_score', labels: { ...base, output: c.column, method: c.method }, value: c.statistic, at });
  }
  for (const [metric, value] of Object.entries(s.estimated_performance ?? {})) {
    if (value !== null) out.push({ metric: 'tarmac_monitor_estimated_performance', labels: { ...base, metric }, value, at });
  }
  for (const [metric, value] of Object.entries(s.business ?? {})) {
    if (value !== null) out.push({ metric: 'tarmac_monitor_business_metric', labels: { ...base, metric }, value, at });
  }
  if (s.system.errors) out.push({ metric: 'tarmac_monitor_errors', labels: base, value: s.system.errors.total, at });
  if (s.system.latency_ms.p99 !== null) out.push({ metric: 'tarmac_monitor_latency_ms', labels: { ...base, quantile: '0.99' }, value: s.system.latency_ms.p99, at });
  out.push({ metric: 'tarmac_monitor_contract_fallback_rate', labels: base, value: s.quality.contract.fallback_rate, at });
  out.push({ metric: 'tarmac_monitor_contract_imputed_rate', labels: base, value: s.quality.contract.imputed_rate, at });
  if (s.performance) {
    for (const [metric, value] of Object.entries(s.performance.metrics)) {
      if (value !== null) out.push({ metric: 'tarmac_monitor_performance', labels: { ...base, metric }, value, at });
    }
    for (const metric of Object.keys(s.performance.metrics)) {
      out.push({ metric: 'tarmac_monitor_performance_degraded', labels: { ...base, metric }, value: s.performance.degraded.includes(metric) ? 1 : 0, at });
    }
    out.push({ metric: 'tarmac_monitor_concept_drift', labels: base, value: s.performance.concept_drift ? 1 : 0, at });
  }
  return out;
}

function notifierOf(c: ChannelConfig, log: Logger, connectTo?: () => Promise<ResolvedAddress[]>): Notifier {
  switch (c.type) {
    case 'webhook': return new WebhookNotifier({ url: c.url!, secret: c.secret!, log, ...(connectTo ? { connectTo } : {}) });
    case 'slack': return new SlackNotifier({ url: c.url!, log, ...(connectTo ? { connectTo } : {}) });
    case 'email': return new EmailNotifier({ host: c.host!, port: c.port!, secure: c.secure ?? false, user: c.user, pass: c.pass, from: c.from!, to: c.to!, requireTLS: c.pass !== undefined && !c.secure });
  }
}

/** Validates a configuration document; throws VALIDATION_FAILED with one issue per problem. */
export function parseConfig(input: unknown): AlertConfig {
  const issues: FieldIssue[] = [];
  const doc = input as { channels?: unknown; rules?: unknown } | null;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new TarmacError('VALIDATION_FAILED', 'the alerting configuration must be an object {channels, rules}', {
      issues: [{ field: '', rule: 'type', message: 'must be an object with channels and rules' }],
    });
  }
  const rawChannels = doc.channels ?? [];
  if (!Array.isArray(rawChannels)) issues.push({ field: '/channels', rule: 'type', message: 'must be an array' });
  const channels: ChannelConfig[] = [];
  const names = new Set<string>();
  (Array.isArray(rawChannels) ? rawChannels : []).forEach((raw: unknown, i) => {
    const at = `/channels/${i}`;
    const c = raw as Partial<ChannelConfig> | null;
    if (typeof c !== 'object' || c === null) {
      issues.push({ field: at, rule: 'type', message: 'must be an object' });
      return;
    }
    if (typeof c.name !== 'string' || !CHANNEL_NAME.test(c.name)) issues.push({ field: `${at}/name`, rule: 'pattern', message: 'must be 1–63 lowercase letters, digits, ".", "_" or "-"' });
    else if (names.has(c.name)) issues.push({ field: `${at}/name`, rule: 'unique', message: `channel ${c.name} is named twice` });
    else names.add(c.name);
    if (c.type !== 'webhook' && c.type !== 'slack' && c.type !== 'email') {
      issues.push({ field: `${at}/type`, rule: 'enum', message: 'must be webhook, slack or email' });
      return;
    }
    if (c.type !== 'email' && (typeof c.url !== 'string' || !/^https?:\/\/[^\s]+$/.test(c.url))) issues.push({ field: `${at}/url`, rule: 'format', message: 'must be an http(s) URL' });
    if (c.type === 'webhook' && (typeof c.secret !== 'string' || c.secret.length < 16)) issues.push({ field: `${at}/secret`, rule: 'min_length', message: 'a signing secret of at least 16 characters is required' });
    if (c.type === 'email') {
      if (typeof c.host !== 'string' || c.host === '') issues.push({ field: `${at}/host`, rule: 'required', message: 'the SMTP host is required' });
      if (!Number.isInteger(c.port) || c.port! < 1 || c.port! > 65535) issues.push({ field: `${at}/port`, rule: 'range', message: 'must be a port number' });
      if (typeof c.from !== 'string' || !c.from.includes('@')) issues.push({ field: `${at}/from`, rule: 'format', message: 'must be an e-mail address' });
      if (!Array.isArray(c.to) || c.to.length === 0 || !c.to.every((a) => typeof a === 'string' && a.includes('@'))) issues.push({ field: `${at}/to`, rule: 'format', message: 'must be a non-empty list of e-mail addresses' });
    }
    const allowed = new Set(['name', 'type', 'url', 'secret', 'host', 'port', 'secure', 'user', 'pass', 'from', 'to']);
    for (const key of Object.keys(c)) if (!allowed.has(key)) issues.push({ field: `${at}/${key}`, rule: 'unknown_field', message: 'is not a channel setting' });
    channels.push(c as ChannelConfig);
  });
  let rules: AlertRule[] = [];
  try {
    rules = parseRules(doc.rules ?? []);
  } catch (err) {
    if ((err as { code?: string }).code !== 'VALIDATION_FAILED') throw err;
    issues.push(...(err as TarmacError).issues.map((i) => ({ ...i, field: `/rules${i.field}` })));
  }
  rules.forEach((r, i) => r.channels.forEach((ch, j) => {
    if (!names.has(ch)) issues.push({ field: `/rules/${i}/channels/${j}`, rule: 'unknown_channel', message: `no channel named ${ch}` });
  }));
  if (issues.length > 0) {
    throw new TarmacError('VALIDATION_FAILED', `the alerting configuration is not valid: ${issues.map((i) => `${i.field} ${i.message}`).join('; ')}`, { issues });
  }
  return { channels, rules };
}
