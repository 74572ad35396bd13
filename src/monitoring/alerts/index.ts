/** Alerts: threshold rules with Prometheus' state machine, silences, and the webhook, Slack and e-mail channels. */
export { AlertService } from './alert.service.ts';
export type { AlertEvaluationReport, AlertServiceDeps, AlertServiceOptions, AlertStats, ChannelStats, DeliveryOutcome } from './alert.service.ts';
export {
  AlertEngine,
  alertFingerprint,
  DEFAULT_EVALUATION_INTERVAL_SECONDS,
  DEFAULT_RENOTIFY_SECONDS,
  DEFAULT_SILENCE_RETENTION_SECONDS,
  labelsMatch,
} from './engine.ts';
export type { AlertEngineOptions, AlertEvaluation, AlertInstanceView, AlertNotice } from './engine.ts';
export { parseRule, parseRules, parseSilence } from './validation.ts';
export { ALERT_OPS, ALERT_SEVERITIES } from './types.ts';
export type {
  AlertEvent,
  AlertOp,
  AlertRule,
  AlertSample,
  AlertSeverity,
  AlertState,
  AlertTransitionReason,
  Notification,
  NotifiedAlert,
  Notifier,
  Silence,
  SilenceInput,
  SilenceView,
} from './types.ts';
export { DEFAULT_RETRY, redactUrl } from './http-delivery.ts';
export type { RetryPolicy } from './http-delivery.ts';
export { DELIVERY_HEADER, DEFAULT_SIGNATURE_TOLERANCE_SECONDS, SIGNATURE_HEADER, signatureHeader, verifySignature } from './signature.ts';
export { WebhookNotifier, webhookAlert } from './webhook.notifier.ts';
export type { WebhookAlert, WebhookNotifierOptions, WebhookPayload } from './webhook.notifier.ts';
export { SlackNotifier, slackPayload } from './slack.notifier.ts';
export type { SlackNotifierOptions, SlackPayload, SlackSection } from './slack.notifier.ts';
export { EmailNotifier, renderEmail } from './email.notifier.ts';
export type { EmailMessage, EmailNotifierOptions } from './email.notifier.ts';
export { GuardedNotifier } from './guarded.notifier.ts';
export { pinnedPost, type PinnedAddress, type PostAnswer } from './pinned-post.ts';
