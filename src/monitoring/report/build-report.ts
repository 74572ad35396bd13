/**
 * Builds the monitoring report from what the monitor stores: the version's reference profile and the windows (their
 * summaries and profiles). Pure: no I/O, no clock (the caller passes `generatedAt`), and the same input gives the
 * same report, whatever order the windows come in.
 */
import type { ColumnDrift, ColumnKind } from '../drift/report.ts';
import { OUTPUT_CONFIDENCE, OUTPUT_PREDICTION, SYSTEM_LATENCY } from '../monitor.service.ts';
import type { WindowSummary } from '../monitor.service.ts';
import { mergeDatasetProfiles, OTHER_CATEGORY, specsEqual } from '../profile/index.ts';
import type { CategoricalProfile, ColumnProfile, DatasetProfile, NumericProfile } from '../profile/index.ts';
import { MONITOR_REPORT_VERSION } from './types.ts';
import type {
  DatasetDriftPoint, Distribution, DriftPoint, FeatureReport, FeatureStats, HistogramReport, MonitorReport, PerformancePoint,
  QualityPoint,
} from './types.ts';

/** What buildMonitorReport reads: the scope asked for, the reference (if the version has one) and the windows. */
export interface MonitorReportInput {
  model: string;
  version?: number;
  variant?: string;
  /** Epoch ms. */
  generatedAt: number;
  reference: { profile: DatasetProfile; source: string; rows: number } | null;
  /** In any order; each with its stored profile when there is one. */
  windows: { summary: WindowSummary; profile: DatasetProfile | null }[];
}

type Window = MonitorReportInput['windows'][number];

const OUTPUT_COLUMNS: ReadonlySet<string> = new Set([OUTPUT_PREDICTION, OUTPUT_CONFIDENCE]);

/** Builds the JSON report (see types.ts for its shape); never throws on odd data: what cannot be shown is a message. */
export function buildMonitorReport(input: MonitorReportInput): MonitorReport {
  const windows = [...input.windows].sort(compareWindows);
  const reference = input.reference?.profile ?? null;
  const current = mergeCurrent(windows, reference);
  const names = featureNames(reference, windows, current.profile);

  const timelines = driftTimelines(windows);
  const features = names.map((name) => featureReport(name, reference?.column(name), current.profile?.column(name), timelines.get(name)));
  const drift = windows.filter((w) => w.summary.drift).map(({ summary: s }): DatasetDriftPoint => {
    const compared = s.drift!.columns.filter((c) => typeof c.statistic === 'number' && !Number.isNaN(c.statistic));
    return {
      ...where(s), drift_share: s.drift!.drift_share, dataset_drift: s.drift!.dataset_drift,
      drifted: compared.filter((c) => c.drift).length, compared: compared.length,
    };
  });
  const first = windows[0]?.summary;
  const last = windows.reduce<WindowSummary | undefined>((acc, w) => {
    const end = Date.parse(w.summary.window_start) + w.summary.window_seconds * 1000;
    return acc === undefined || end > Date.parse(acc.window_start) + acc.window_seconds * 1000 ? w.summary : acc;
  }, undefined);

  return {
    report_version: MONITOR_REPORT_VERSION,
    model: input.model,
    version: input.version ?? null,
    variant: input.variant ?? null,
    generated_at: new Date(input.generatedAt).toISOString(),
    range: first && last
      ? { start: first.window_start, end: new Date(Date.parse(last.window_start) + last.window_seconds * 1000).toISOString() }
      : null,
    reference: input.reference ? { source: input.reference.source, rows: input.reference.rows } : null,
    windows: {
      count: windows.length,
      rows: windows.reduce((a, w) => a + w.summary.rows, 0),
      versions: [...new Set(windows.map((w) => w.summary.version))].sort((a, b) => a - b),
      variants: [...new Set(windows.map((w) => w.summary.variant))].sort(byText),
      window_seconds: [...new Set(windows.map((w) => w.summary.window_seconds))].sort((a, b) => a - b),
      profiles_merged: current.merged,
      profiles_skipped: windows.length - current.merged,
    },
    latest_drift: drift.at(-1) ?? null,
    features,
    drift,
    quality: windows.map((w) => qualityPoint(w.summary)),
    performance: windows.filter((w) => w.summary.performance).map(({ summary: s }): PerformancePoint => ({
      ...where(s), task: s.performance!.task, labels: s.performance!.labels, metrics: { ...s.performance!.metrics },
      degraded: [...s.performance!.degraded], concept_drift: s.performance!.concept_drift,
    })),
    messages: messages(input, windows.length, current.merged),
  };
}

function messages(input: MonitorReportInput, windows: number, merged: number): string[] {
  const out: string[] = [];
  if (!input.reference) {
    const version = input.version === undefined ? 'VERSION' : String(input.version);
    out.push(`No reference profile is set${input.version === undefined ? '' : ` for version ${input.version}`}, so there is nothing to `
      + `compare with: reference histograms and statistics are not shown, and windows carry no drift verdict. Set one with `
      + `\`tarmac monitor reference ${input.model} ${version} FILE\`.`);
  }
  if (windows === 0) {
    out.push('No monitoring windows in this time range: the model has answered no predictions here yet (or the monitor has '
      + 'not stored a window). Current histograms, drift, quality and performance appear once it has.');
  } else if (merged < windows) {
    const n = windows - merged;
    out.push(`${n} window${n === 1 ? '' : 's'} had no profile that merges with the others (built on another reference's bins, `
      + 'or not stored) and are left out of the current histograms and statistics; their drift and quality still show.');
  }
  return out;
}

/** Ascending by start, then version, then variant: a total order, so the report does not depend on input order. */
function compareWindows(a: Window, b: Window): number {
  return Date.parse(a.summary.window_start) - Date.parse(b.summary.window_start)
    || a.summary.version - b.summary.version
    || byText(a.summary.variant, b.summary.variant);
}

function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function where(s: WindowSummary): { window_start: string; version: number; variant: string } {
  return { window_start: s.window_start, version: s.version, variant: s.variant };
}

/** NaN and ±Infinity are not JSON: they become null (JSON.stringify would do it silently and lie about the type). */
function num(x: number | null | undefined): number | null {
  return typeof x === 'number' && Number.isFinite(x) ? x : null;
}

/**
 * The merge of the windows' profiles. The first profile taken is the newest one built on the reference's specs (what
 * the monitor builds once the reference is set), so profiles from before a reference change are the ones skipped.
 */
function mergeCurrent(windows: readonly Window[], reference: DatasetProfile | null): { profile: DatasetProfile | null; merged: number } {
  const withProfile = windows.filter((w) => w.profile !== null);
  const fits = (p: DatasetProfile) => reference === null
    || [...reference.columns].every(([name, col]) => {
      const c = p.column(name);
      return c === undefined || specsEqual(c.spec, col.spec);
    });
  const anchor = [...withProfile].reverse().find((w) => fits(w.profile!)) ?? withProfile.at(-1);
  if (!anchor) return { profile: null, merged: 0 };
  let acc = anchor.profile!;
  let merged = 1;
  for (const w of withProfile) {
    if (w === anchor) continue;
    try {
      acc = mergeDatasetProfiles(acc, w.profile!);
      merged++;
    } catch {
      // Built on other bins or columns: counted as skipped and named in the messages.
    }
  }
  return { profile: acc, merged };
}

/**
 * Features first (the reference's columns in its order, then others seen in windows), then the model's outputs; the
 * monitor's system columns (latency) are not data the model reads, so they are left out.
 */
function featureNames(reference: DatasetProfile | null, windows: readonly Window[], current: DatasetProfile | null): string[] {
  const seen = new Set<string>();
  const add = (name: string) => {
    if (!OUTPUT_COLUMNS.has(name) && name !== SYSTEM_LATENCY) seen.add(name);
  };
  for (const name of reference?.columns.keys() ?? []) add(name);
  for (const { summary } of windows) {
    for (const c of summary.drift?.columns ?? []) add(c.column);
    for (const name of Object.keys(summary.quality.features)) add(name);
  }
  for (const name of current?.columns.keys() ?? []) add(name);
  const outputs = [OUTPUT_PREDICTION, OUTPUT_CONFIDENCE].filter((n) => current?.column(n) !== undefined || reference?.column(n) !== undefined
    || windows.some((w) => w.summary.prediction_drift?.columns.some((c) => c.column === n)));
  return [...seen, ...outputs];
}

function driftTimelines(windows: readonly Window[]): Map<string, { kind: ColumnKind; points: DriftPoint[] }> {
  const out = new Map<string, { kind: ColumnKind; points: DriftPoint[] }>();
  for (const { summary } of windows) {
    // Output drift (prediction_drift) is charted per output column but, as in the monitor, not counted in the dataset share.
    for (const c of [...(summary.drift?.columns ?? []), ...(summary.prediction_drift?.columns ?? [])]) {
      let t = out.get(c.column);
      if (!t) out.set(c.column, (t = { kind: c.type, points: [] }));
      t.points.push(driftPoint(summary, c));
    }
  }
  return out;
}

function driftPoint(s: WindowSummary, c: ColumnDrift): DriftPoint {
  // Stored windows went through JSON, so a NaN statistic arrives as null.
  return {
    ...where(s), method: c.method, statistic: num(c.statistic), p_value: num(c.p_value), threshold: c.threshold, drift: c.drift,
  };
}

function featureReport(
  name: string, ref: ColumnProfile | undefined, cur: ColumnProfile | undefined, timeline: { kind: ColumnKind; points: DriftPoint[] } | undefined,
): FeatureReport {
  // Without any profile of the column (its windows' profiles were skipped) the drift verdicts still say its kind.
  const kind = (ref ?? cur)?.kind ?? timeline?.kind ?? 'numeric';
  const drift = timeline?.points ?? [];
  const spec = (ref ?? cur)?.spec;
  const out: FeatureReport = {
    name,
    role: OUTPUT_COLUMNS.has(name) ? 'output' : 'feature',
    kind,
    histogram: histogram(ref, cur),
    stats: { reference: ref ? stats(ref) : null, current: cur ? stats(cur) : null },
    drift,
    latest_drift: drift.at(-1) ?? null,
  };
  if (spec?.kind === 'numeric' && spec.temporal !== undefined) out.temporal = spec.temporal;
  return out;
}

/** The two sides on the reference's bins; the current side is left out when its bins differ (it could not line up). */
function histogram(ref: ColumnProfile | undefined, cur: ColumnProfile | undefined): HistogramReport {
  const base = ref ?? cur;
  if (!base) return { bins: [], reference: null, current: null };
  const aligned = cur !== undefined && (ref === undefined || specsEqual(ref.spec, cur.spec)) ? cur : undefined;
  if (base.kind === 'numeric') {
    const edges = base.spec.edges.slice();
    return {
      bins: binLabels(edges), edges,
      reference: ref ? distribution((ref as NumericProfile).histogram()) : null,
      current: aligned ? distribution((aligned as NumericProfile).histogram()) : null,
    };
  }
  const r = ref as CategoricalProfile | undefined;
  const c = aligned as CategoricalProfile | undefined;
  const rNovel = r?.novelCategories() ?? new Map<string, number>();
  const cNovel = c?.novelCategories() ?? new Map<string, number>();
  const novel = [...new Set([...cNovel.keys(), ...rNovel.keys()])].sort((a, b) =>
    (cNovel.get(b) ?? 0) - (cNovel.get(a) ?? 0) || (rNovel.get(b) ?? 0) - (rNovel.get(a) ?? 0) || byText(a, b));
  const side = (p: CategoricalProfile, named: Map<string, number>): Distribution => {
    const counts = p.histogram().slice(0, -1);
    let rest = p.other;
    for (const n of novel) {
      const k = named.get(n) ?? 0;
      counts.push(k);
      rest -= k;
    }
    counts.push(rest);
    return distribution(counts);
  };
  return {
    bins: [...base.spec.categories, ...novel, OTHER_CATEGORY],
    novel,
    reference: r ? side(r, rNovel) : null,
    current: c ? side(c, cNovel) : null,
  };
}

/** `(-∞, e1)`, `[e1, e2)`, …, `[em, +∞)`: bins are closed on the left, as profile/bins.ts cuts them. */
export function binLabels(edges: readonly number[], format: (x: number) => string = String): string[] {
  if (edges.length === 0) return ['(-∞, +∞)'];
  const out = [`(-∞, ${format(edges[0]!)})`];
  for (let i = 1; i < edges.length; i++) out.push(`[${format(edges[i - 1]!)}, ${format(edges[i]!)})`);
  out.push(`[${format(edges.at(-1)!)}, +∞)`);
  return out;
}

function distribution(counts: number[]): Distribution {
  const total = counts.reduce((a, b) => a + b, 0);
  return { total, counts, proportions: counts.map((c) => (total === 0 ? 0 : c / total)) };
}

function stats(p: ColumnProfile): FeatureStats {
  const common = { count: p.count, valid: p.valid, null_rate: p.nullRate, invalid_rate: p.invalidRate };
  if (p.kind === 'categorical') {
    return { ...common, mean: null, std: null, min: null, p5: null, p50: null, p95: null, max: null, other_rate: p.valid === 0 ? null : p.other / p.valid };
  }
  const q = (x: number) => (p.valid === 0 ? null : num(p.quantile(x)));
  return {
    ...common, mean: num(p.mean), std: num(p.std), min: num(p.min), p5: q(0.05), p50: q(0.5), p95: q(0.95), max: num(p.max), other_rate: null,
  };
}

function maxOf(values: (number | undefined)[]): number | null {
  let best: number | null = null;
  for (const v of values) if (typeof v === 'number' && Number.isFinite(v) && (best === null || v > best)) best = v;
  return best;
}

function qualityPoint(s: WindowSummary): QualityPoint {
  const f = Object.values(s.quality.features);
  const features: QualityPoint['features'] = {};
  for (const [name, q] of Object.entries(s.quality.features)) features[name] = { ...q };
  return {
    ...where(s), window_seconds: s.window_seconds, closed: s.closed, rows: s.rows, profiled_rows: s.quality.profiled_rows,
    volume_ratio: num(s.quality.volume_ratio),
    max_null_rate: maxOf(f.map((q) => q.null_rate)),
    max_unseen_category_rate: maxOf(f.map((q) => q.unseen_category_rate)),
    max_out_of_range_rate: maxOf(f.map((q) => q.out_of_range_rate)),
    features,
  };
}
