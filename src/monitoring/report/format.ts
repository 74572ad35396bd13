/**
 * Text for the HTML report: escaping of everything that comes from data, and the rounding people read (the JSON keeps
 * full precision). Nothing here depends on the locale or the time zone, so the same report renders to the same bytes
 * on every machine.
 */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Escapes text for HTML element content and double- or single-quoted attribute values; control characters (which HTML
 * forbids) become U+FFFD. Feature names, categories, model names and sources are user data: every one goes through here.
 */
export function escapeHtml(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '\ufffd');
}

/** A number for people: 4 significant digits, exponent form for the very large or small, an em dash for none. */
export function formatNumber(x: number | null | undefined): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '—';
  if (x === Infinity) return '+∞';
  if (x === -Infinity) return '−∞';
  if (x === 0) return '0';
  const abs = Math.abs(x);
  if (abs >= 1e6 || abs < 1e-3) return x.toExponential(2).replace('e+', 'e');
  return String(Number(x.toPrecision(4)));
}

/** A whole count with thin separators: 1 234 567. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '—';
  const s = String(Math.round(Math.abs(n)));
  const grouped = s.replace(/\B(?=(\d{3})+(?!\d))/g, '\u202f');
  return n < 0 ? `−${grouped}` : grouped;
}

/** A share as a percentage with one decimal; tiny non-zero shares say so rather than reading 0.0 %. */
export function formatPercent(x: number | null | undefined): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '—';
  if (x === 0) return '0%';
  if (Math.abs(x) < 0.001) return '<0.1%';
  return `${(x * 100).toFixed(1)}%`;
}

/** An ISO instant as `YYYY-MM-DD HH:mm UTC`. */
export function formatTime(iso: string): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  return `${new Date(t).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** A short axis label for an instant in epoch ms: `MM-DD HH:mm` (UTC). */
export function formatTick(ms: number): string {
  return new Date(ms).toISOString().slice(5, 16).replace('T', ' ');
}

/** A value of a numeric column for people, read as a date or time when the column is temporal. */
export function formatValue(x: number, temporal?: 'date' | 'timestamp' | 'time'): string {
  if (!Number.isFinite(x)) return formatNumber(x);
  if (temporal === 'date' || temporal === 'timestamp') {
    const d = new Date(x);
    if (Number.isNaN(d.getTime())) return formatNumber(x);
    return temporal === 'date' ? d.toISOString().slice(0, 10) : d.toISOString().slice(0, 16).replace('T', ' ');
  }
  if (temporal === 'time') {
    const s = Math.max(0, Math.round(x));
    const pad = (n: number) => String(n).padStart(2, '0');
    return `${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
  }
  return formatNumber(x);
}

/** Cuts text to `max` characters (code points, so no surrogate pair is split), marking the cut with an ellipsis. */
export function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}
