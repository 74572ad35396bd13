/**
 * Event time, windows and lateness, as stream processors (Flink, Beam) define them: the watermark is the highest
 * event time accepted so far; a record falls in the tumbling window [start, start + size); a window stays open until
 * the watermark passes its end plus the allowed lateness. A record behind the watermark whose window is still open
 * is *late* (accepted and counted); one whose window has closed is *too late* (kept in quarantine, never stored).
 */
import { parseDate, parseTimestamp } from '../contracts/index.ts';

/** How a record's event time relates to the watermark. */
export type Timeliness = 'on_time' | 'late' | 'too_late';

/** Window and lateness settings of a dataset, in milliseconds. */
export interface EventTimePolicy {
  windowMs: number;
  allowedLatenessMs: number;
}

/**
 * An event-time value as epoch milliseconds: a finite number is taken as epoch ms; a string as an ISO 8601
 * date-time (a missing zone means UTC) or a date (midnight UTC). Anything else is NaN.
 */
export function eventTimeOf(value: unknown): number {
  if (typeof value === 'number') return Number.isFinite(value) ? value : NaN;
  if (typeof value === 'string') {
    const t = parseTimestamp(value, false);
    return Number.isNaN(t) ? parseDate(value) : t;
  }
  return NaN;
}

/** The start of the tumbling window holding `eventTime`. */
export function windowStart(eventTime: number, windowMs: number): number {
  return Math.floor(eventTime / windowMs) * windowMs;
}

/** Classifies a record's event time against the watermark (null before any record). */
export function timeliness(eventTime: number, watermark: number | null, policy: EventTimePolicy): Timeliness {
  if (watermark === null || eventTime >= watermark) return 'on_time';
  const windowEnd = windowStart(eventTime, policy.windowMs) + policy.windowMs;
  return watermark >= windowEnd + policy.allowedLatenessMs ? 'too_late' : 'late';
}
