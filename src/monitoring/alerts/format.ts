import { isoOf } from '../../shared/clock.ts';
import type { Notification, NotifiedAlert } from './types.ts';

/** A value as people read it: up to 4 significant digits, no exponent for everyday magnitudes. */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e-3 && abs < 1e9) return String(Number(value.toPrecision(4)));
  return value.toExponential(3);
}

/** `{model="credit", variant="canary"}`, sorted, or '' for no labels. */
export function formatLabels(labels: Record<string, string>): string {
  const keys = Object.keys(labels).sort();
  return keys.length === 0 ? '' : `{${keys.map((k) => `${k}="${labels[k]}"`).join(', ')}}`;
}

/** The one-line summary of a notification, e.g. `[FIRING:2] high_error_rate, latency_p99`. */
export function notificationHeadline(n: Notification): string {
  const firing = n.alerts.filter((a) => a.status === 'firing').length;
  const resolved = n.alerts.length - firing;
  const names = [...new Set(n.alerts.map((a) => a.rule))].join(', ');
  const counts = firing > 0
    ? `[FIRING:${firing}${resolved > 0 ? `, RESOLVED:${resolved}` : ''}]`
    : `[RESOLVED:${resolved}]`;
  return `${counts} ${names}`;
}

/** The condition of one alert in words: `tarmac_x{model="a"} = 0.12 (> 0.05)`. */
export function alertCondition(a: NotifiedAlert): string {
  return `${a.metric}${formatLabels(a.labels)} = ${formatValue(a.value)} (threshold ${a.op} ${formatValue(a.threshold)})`;
}

/** When an alert started and, once resolved, ended. */
export function alertTimes(a: NotifiedAlert): string {
  return a.endsAt === undefined ? `firing since ${isoOf(a.startsAt)}` : `fired ${isoOf(a.startsAt)} – resolved ${isoOf(a.endsAt)}`;
}
