/** Renders rows as an aligned text table for people; `--json` callers get JSON instead. */
export function table(rows: Record<string, unknown>[], columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const cells = rows.map((row) => columns.map((c) => format(row[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n');
}

function format(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (Array.isArray(value)) return value.map(format).join(',');
  if (typeof value === 'object') return Object.entries(value).map(([k, v]) => `${k}=${format(v)}`).join(' ');
  return String(value);
}

/** Parses repeated `k=v` options into an object; throws naming the bad item. */
export function keyValues(items: string[], numeric: boolean, option: string): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const item of items) {
    const at = item.indexOf('=');
    if (at <= 0) throw new UsageError(`${option} takes key=value, got "${item}"`);
    const key = item.slice(0, at);
    const raw = item.slice(at + 1);
    if (numeric) {
      const value = Number(raw);
      if (raw === '' || !Number.isFinite(value)) throw new UsageError(`${option} ${key} must be a number, got "${raw}"`);
      out[key] = value;
    } else out[key] = raw;
  }
  return out;
}

/** A mistake in how the command was called (exit code 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
