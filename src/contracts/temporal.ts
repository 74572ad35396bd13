/** ISO-8601 / RFC 3339 parsing for contract values and bounds: pure, strict, no Date-string guessing. */

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIMESTAMP_RE = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})?$/;
const TIME_RE = /^(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function validYmd(y: number, m: number, d: number): boolean {
  return m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m);
}

/** `YYYY-MM-DD`, a real calendar date → epoch milliseconds (UTC midnight), else NaN. */
export function parseDate(s: string): number {
  const m = DATE_RE.exec(s);
  if (m === null) return NaN;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (!validYmd(y, mo, d)) return NaN;
  return utc(y, mo - 1, d, 0, 0, 0);
}

/**
 * RFC 3339 date-time (`T`, `t` or a space as separator) → epoch milliseconds, else NaN. With `requireTimezone` a
 * missing offset is an error; otherwise it means UTC.
 */
export function parseTimestamp(s: string, requireTimezone: boolean): number {
  const m = TIMESTAMP_RE.exec(s);
  if (m === null) return NaN;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  const h = Number(m[4]);
  const mi = Number(m[5]);
  const sec = Number(m[6]);
  if (!validYmd(y, mo, d) || h > 23 || mi > 59 || sec > 59) return NaN;
  const tz = m[8];
  let offsetMin = 0;
  if (tz === undefined) {
    if (requireTimezone) return NaN;
  } else if (tz !== 'Z' && tz !== 'z') {
    const oh = Number(tz.slice(1, 3));
    const om = Number(tz.slice(4, 6));
    if (oh > 23 || om > 59) return NaN;
    offsetMin = (tz[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const frac = m[7] === undefined ? 0 : Number(m[7]) * 1000;
  return utc(y, mo - 1, d, h, mi, sec) + frac - offsetMin * 60_000;
}

/** `HH:mm:ss[.fff]` wall-clock time → seconds since midnight, else NaN. */
export function parseTime(s: string): number {
  const m = TIME_RE.exec(s);
  if (m === null) return NaN;
  const h = Number(m[1]);
  const mi = Number(m[2]);
  const sec = Number(m[3]);
  if (h > 23 || mi > 59 || sec > 59) return NaN;
  return h * 3600 + mi * 60 + sec + (m[4] === undefined ? 0 : Number(m[4]));
}

/**
 * A bound written in a contract for a date/timestamp/time field → a comparable number, else NaN. Bounds are more
 * lenient than values: a timestamp bound may omit its timezone (UTC) or be a plain date (midnight UTC).
 */
export function parseTemporalBound(logicalType: 'date' | 'timestamp' | 'time', s: string): number {
  if (logicalType === 'date') return parseDate(s);
  if (logicalType === 'time') return parseTime(s);
  const t = parseTimestamp(s, false);
  return Number.isNaN(t) ? parseDate(s) : t;
}

/** Date.UTC without its two-digit-year rule (which reads years 0–99 as 1900–1999). */
function utc(y: number, mo: number, d: number, h: number, mi: number, sec: number): number {
  const t = Date.UTC(y, mo, d, h, mi, sec);
  if (y >= 100) return t;
  const date = new Date(t);
  date.setUTCFullYear(y);
  return date.getTime();
}
