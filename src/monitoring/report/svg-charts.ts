/**
 * Small inline SVG charts for the HTML report: paired horizontal bars (reference vs current histogram), step lines over
 * time (drift statistics, rates, metrics) and bars over time (rows per window). Each chart is a `role="img"` SVG with
 * a `<title>` and `<desc>`, and every bar and marker has its own `<title>`, so a screen reader or a hover tells the
 * value. Coordinates are rounded to 0.1 px and nothing reads the clock or the locale: same input, same bytes.
 */
import { escapeHtml, formatNumber, formatPercent, formatTick, truncate } from './format.ts';

/** Colours with at least 4.5:1 contrast on white; series also differ by dash pattern, so colour is never the only cue. */
export const SERIES_COLOURS = ['#1d4ed8', '#b45309', '#6d28d9', '#0f766e', '#be185d', '#374151'] as const;
const DASHES = ['', '6 3', '2 3', '8 3 2 3', '4 4', '1 2'] as const;
/** Drifted / degraded / flagged windows. */
export const FLAG_COLOUR = '#b42318';
const REFERENCE_FILL = '#94a3b8';
const REFERENCE_STROKE = '#334155';
const CURRENT_FILL = '#1d4ed8';
const GRID = '#d0d5dd';
const INK = '#1f2937';

const WIDTH = 640;

function r(x: number): string {
  return String(Math.round(x * 10) / 10);
}

function svgOpen(id: string, width: number, height: number, title: string, desc: string): string {
  return `<svg class="chart" role="img" aria-labelledby="${id}-t ${id}-d" viewBox="0 0 ${width} ${r(height)}" width="${width}" height="${r(height)}" xmlns="http://www.w3.org/2000/svg">`
    + `<title id="${id}-t">${escapeHtml(title)}</title><desc id="${id}-d">${escapeHtml(desc)}</desc>`;
}

/** One bin of a paired histogram: shares (0–1) and counts of each side; null when that side is absent. */
export interface PairedBin {
  label: string;
  reference: { share: number; count: number } | null;
  current: { share: number; count: number } | null;
  /** Drawn in italics: a category the reference did not track. */
  novel?: boolean;
}

/** Horizontal paired bars, one row per bin: the reference (grey, outlined) above the current (blue). */
export function pairedBarChart(options: { id: string; title: string; desc: string; bins: readonly PairedBin[] }): string {
  const { id, bins } = options;
  const labelW = 190;
  const valueW = 120;
  const barW = WIDTH - labelW - valueW - 16;
  const rowH = 22;
  const top = 6;
  const height = top + bins.length * rowH + 22;
  const axis = niceAxis(0, Math.max(0, ...bins.flatMap((b) => [b.reference?.share ?? 0, b.current?.share ?? 0])));
  const max = axis.hi;
  const x = (share: number) => labelW + (share / max) * barW;
  const parts = [svgOpen(id, WIDTH, height, options.title, options.desc)];
  for (let i = 0; i <= Math.round(max / axis.step); i++) {
    const gx = x(i * axis.step);
    parts.push(`<line x1="${r(gx)}" y1="${top}" x2="${r(gx)}" y2="${r(top + bins.length * rowH)}" stroke="${GRID}" stroke-width="1"/>`,
      `<text x="${r(gx)}" y="${r(top + bins.length * rowH + 14)}" text-anchor="middle" class="tick">${escapeHtml(formatPercent(i * axis.step))}</text>`);
  }
  bins.forEach((b, i) => {
    const y = top + i * rowH;
    const tip = `${b.label}: reference ${b.reference ? `${formatPercent(b.reference.share)} (${b.reference.count})` : 'none'}, `
      + `current ${b.current ? `${formatPercent(b.current.share)} (${b.current.count})` : 'none'}`;
    parts.push(`<g><title>${escapeHtml(tip)}</title>`,
      `<text x="${labelW - 6}" y="${r(y + 14)}" text-anchor="end" class="label${b.novel ? ' novel' : ''}">${escapeHtml(truncate(b.label, 26))}</text>`);
    if (b.reference) {
      parts.push(`<rect x="${labelW}" y="${r(y + 2)}" width="${r(Math.max(x(b.reference.share) - labelW, 0))}" height="8" fill="${REFERENCE_FILL}" stroke="${REFERENCE_STROKE}" stroke-width="0.75"/>`);
    }
    if (b.current) {
      parts.push(`<rect x="${labelW}" y="${r(y + 11)}" width="${r(Math.max(x(b.current.share) - labelW, 0))}" height="8" fill="${CURRENT_FILL}"/>`);
    }
    parts.push(`<text x="${WIDTH - 8}" y="${r(y + 14)}" text-anchor="end" class="value">${escapeHtml(`${b.reference ? formatPercent(b.reference.share) : '—'} → ${b.current ? formatPercent(b.current.share) : '—'}`)}</text>`,
      '</g>');
  });
  parts.push('</svg>');
  return parts.join('');
}

/** One point of a series over time: the window [start, end) in epoch ms and its value (null: a gap). */
export interface TimePoint {
  start: number;
  end: number;
  y: number | null;
  /** Marked in red with a larger filled dot (drifted, degraded). */
  flag: boolean;
  /** The text of the point's tooltip. */
  tip: string;
}

/** A named line of points. */
export interface TimeSeries {
  name: string;
  points: readonly TimePoint[];
}

/** Options of a chart over time. */
export interface TimeChartOptions {
  id: string;
  title: string;
  desc: string;
  /** Epoch ms of the x axis. */
  range: { start: number; end: number };
  yLabel: string;
  /** Values are shares, labelled as percentages. */
  percent?: boolean;
  /** The top of the y axis is at least this (then rounded up to a nice number). */
  minTop?: number;
  /** Values above are drawn at the top edge (their tooltips keep the true value). */
  yCap?: number;
  threshold?: { y: number; label: string };
  /** The y axis fits the values (for metrics far from zero) instead of starting at 0. */
  fitted?: boolean;
  height?: number;
}

const PLOT = { left: 58, right: 14, top: 12, bottom: 40 };

/**
 * A y axis over [min, max] in at most five steps of 1, 2 or 5 × 10^k, from a multiple of the step at or below min to
 * one at or above max; `pad` adds room as a share of the span (for axes that do not start at zero).
 */
export function niceAxis(min: number, max: number, pad = 0): { lo: number; hi: number; step: number } {
  const room = max > min ? (max - min) * pad : pad > 0 ? Math.abs(max) * 0.05 || 1 : 0;
  const from = min - room;
  // Nothing to span (all values equal and no padding): one unit, or the value's own size, so the axis is not degenerate.
  const to = max + room > from ? max + room : from + (Math.abs(from) || 1);
  let exp = 10 ** Math.floor(Math.log10((to - from) / 5));
  for (;;) {
    for (const f of [1, 2, 5]) {
      const step = f * exp;
      const lo = Math.floor(from / step) * step;
      const hi = Math.ceil(to / step) * step;
      if ((hi - lo) / step <= 5 + 1e-9) return { lo, hi: hi > lo ? hi : lo + step, step };
    }
    exp *= 10;
  }
}

function timeFrame(o: TimeChartOptions, axis: { lo: number; hi: number; step: number }) {
  const { lo: yLo, hi: yMax, step } = axis;
  const height = o.height ?? 180;
  const plotW = WIDTH - PLOT.left - PLOT.right;
  const plotH = height - PLOT.top - PLOT.bottom;
  const span = Math.max(o.range.end - o.range.start, 1);
  const x = (t: number) => PLOT.left + ((t - o.range.start) / span) * plotW;
  const y = (v: number) => PLOT.top + plotH - ((Math.min(Math.max(v, yLo), yMax) - yLo) / (yMax - yLo)) * plotH;
  const parts: string[] = [];
  const steps = Math.round((yMax - yLo) / step);
  for (let i = 0; i <= steps; i++) {
    const v = yLo + step * i;
    parts.push(`<line x1="${PLOT.left}" y1="${r(y(v))}" x2="${WIDTH - PLOT.right}" y2="${r(y(v))}" stroke="${GRID}" stroke-width="1"/>`,
      `<text x="${PLOT.left - 6}" y="${r(y(v) + 4)}" text-anchor="end" class="tick">${escapeHtml(o.percent ? formatPercent(v) : formatNumber(v))}</text>`);
  }
  const ticks = Math.min(5, Math.max(1, Math.round(span / 60_000)));
  for (let i = 0; i <= ticks; i++) {
    const t = o.range.start + (span * i) / ticks;
    const anchor = i === 0 ? 'start' : i === ticks ? 'end' : 'middle';
    parts.push(`<text x="${r(x(t))}" y="${r(height - PLOT.bottom + 16)}" text-anchor="${anchor}" class="tick">${escapeHtml(formatTick(t))}</text>`);
  }
  parts.push(`<text x="${PLOT.left}" y="${r(height - 6)}" class="axis">${escapeHtml(`${o.yLabel} · time in UTC`)}</text>`);
  return { height, x, y, parts };
}

/**
 * Step lines: each window is a flat segment over its span, joined to the next window when they touch, broken by gaps
 * and missing values; a dashed line marks the threshold.
 */
export function stepChart(o: TimeChartOptions & { series: readonly TimeSeries[] }): string {
  const values = o.series.flatMap((s) => s.points.map((p) => p.y)).filter((v): v is number => v !== null && Number.isFinite(v));
  const top = Math.max(0, ...values.map((v) => (o.yCap === undefined ? v : Math.min(v, o.yCap))), (o.threshold?.y ?? 0) * 1.25, o.minTop ?? 0);
  const axis = o.fitted && values.length > 0
    ? niceAxis(Math.min(...values), Math.max(...values), 0.1)
    : niceAxis(0, o.percent ? Math.min(top, 1) : top);
  const f = timeFrame(o, axis);
  const parts = [svgOpen(o.id, WIDTH, f.height, o.title, o.desc), ...f.parts];
  if (o.threshold) {
    const ty = f.y(o.threshold.y);
    parts.push(`<line x1="${PLOT.left}" y1="${r(ty)}" x2="${WIDTH - PLOT.right}" y2="${r(ty)}" stroke="${FLAG_COLOUR}" stroke-width="1.25" stroke-dasharray="5 4"><title>${escapeHtml(o.threshold.label)}</title></line>`,
      `<text x="${WIDTH - PLOT.right}" y="${r(ty - 4)}" text-anchor="end" class="threshold">${escapeHtml(o.threshold.label)}</text>`);
  }
  o.series.forEach((s, i) => {
    const colour = SERIES_COLOURS[i % SERIES_COLOURS.length]!;
    const dash = DASHES[i % DASHES.length]!;
    let d = '';
    let prev: TimePoint | undefined;
    for (const p of s.points) {
      if (p.y === null || !Number.isFinite(p.y)) {
        prev = undefined;
        continue;
      }
      const py = r(f.y(p.y));
      d += prev && prev.end === p.start ? `V${py}H${r(f.x(p.end))}` : `M${r(f.x(p.start))} ${py}H${r(f.x(p.end))}`;
      prev = p;
    }
    if (d !== '') {
      parts.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}><title>${escapeHtml(s.name)}</title></path>`);
    }
    for (const p of s.points) {
      if (p.y === null || !Number.isFinite(p.y)) continue;
      const cx = r((f.x(p.start) + f.x(p.end)) / 2);
      const cy = r(f.y(p.y));
      parts.push(p.flag
        ? `<circle cx="${cx}" cy="${cy}" r="4" fill="${FLAG_COLOUR}" stroke="#fff" stroke-width="1"><title>${escapeHtml(p.tip)}</title></circle>`
        : `<circle cx="${cx}" cy="${cy}" r="2.5" fill="#fff" stroke="${colour}" stroke-width="1.5"><title>${escapeHtml(p.tip)}</title></circle>`);
    }
  });
  parts.push('</svg>');
  return parts.join('');
}

/** One bar per window (values summed by the caller), from its start to its end. */
export function timeBarChart(o: TimeChartOptions & { bars: readonly { start: number; end: number; value: number; tip: string }[] }): string {
  const f = timeFrame(o, niceAxis(0, Math.max(0, ...o.bars.map((b) => b.value))));
  const parts = [svgOpen(o.id, WIDTH, f.height, o.title, o.desc), ...f.parts];
  const base = f.y(0);
  for (const b of o.bars) {
    const x0 = f.x(b.start);
    const w = Math.max(f.x(b.end) - x0 - 1, 0.5);
    const top = f.y(b.value);
    parts.push(`<rect x="${r(x0 + 0.5)}" y="${r(top)}" width="${r(w)}" height="${r(base - top)}" fill="${SERIES_COLOURS[0]}"><title>${escapeHtml(b.tip)}</title></rect>`);
  }
  parts.push('</svg>');
  return parts.join('');
}

/** A legend for series: a short line in each series' colour and dash, then its name (HTML, so it wraps and prints). */
export function seriesLegend(names: readonly string[]): string {
  const items = names.map((name, i) => {
    const colour = SERIES_COLOURS[i % SERIES_COLOURS.length]!;
    const dash = DASHES[i % DASHES.length]!;
    return `<li><svg width="24" height="10" aria-hidden="true" focusable="false"><line x1="0" y1="5" x2="24" y2="5" stroke="${colour}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/></svg>${escapeHtml(name)}</li>`;
  });
  return `<ul class="legend">${items.join('')}</ul>`;
}

/** The colours of the paired histogram, for its HTML legend. */
export const HISTOGRAM_COLOURS = { reference: REFERENCE_FILL, referenceStroke: REFERENCE_STROKE, current: CURRENT_FILL, ink: INK } as const;
