/**
 * The monitoring report as JSON: what `GET /v1/models/{name}/monitor/report?format=json` serves and what the HTML is
 * rendered from. Every number keeps full precision (rounding happens only in the HTML); a value that is not defined
 * (the mean of no values, a missing p-value) is `null`, never NaN, so the object survives JSON.stringify unchanged.
 * Timelines are in ascending time (window start, then version, then variant).
 */
import type { DriftMethod } from '../drift/report.ts';

/** The version of this JSON shape; bumped when a field changes meaning or disappears. */
export const MONITOR_REPORT_VERSION = 1;

/** The whole report. */
export interface MonitorReport {
  report_version: typeof MONITOR_REPORT_VERSION;
  model: string;
  /** The version asked for; null when the report spans every version. */
  version: number | null;
  /** The variant asked for; null when the report spans every variant. */
  variant: string | null;
  /** ISO 8601 UTC. */
  generated_at: string;
  /** From the first window's start to the last window's end; null without windows. */
  range: { start: string; end: string } | null;
  reference: { source: string; rows: number } | null;
  windows: WindowsOverview;
  /** The latest dataset-level drift verdict; null when no window has one. */
  latest_drift: DatasetDriftPoint | null;
  features: FeatureReport[];
  /** Dataset drift share per window that has a drift verdict. */
  drift: DatasetDriftPoint[];
  quality: QualityPoint[];
  /** Windows that have label-based performance. */
  performance: PerformancePoint[];
  /** Plain-language notes for people: what is missing and why (no reference, no windows, profiles left out). */
  messages: string[];
}

/** What the report's windows cover. */
export interface WindowsOverview {
  count: number;
  /** Events seen over all windows. */
  rows: number;
  versions: number[];
  variants: string[];
  /** Distinct window lengths in seconds (one, unless the monitor was reconfigured). */
  window_seconds: number[];
  /** Windows whose profile went into the current histograms. */
  profiles_merged: number;
  /** Windows whose profile could not be merged (built from another reference's bins) or was missing. */
  profiles_skipped: number;
}

/** One feature (or model output) of the report. */
export interface FeatureReport {
  name: string;
  /** `output` for the monitor's output columns (prediction, confidence), which have no reference. */
  role: 'feature' | 'output';
  kind: 'numeric' | 'categorical';
  /** Set for numeric columns read from dates or times (values are epoch ms or seconds since midnight). */
  temporal?: 'date' | 'timestamp' | 'time';
  histogram: HistogramReport;
  stats: { reference: FeatureStats | null; current: FeatureStats | null };
  /** Per window (ascending), the drift verdict; empty when no window compared this column. */
  drift: DriftPoint[];
  /** The last point of `drift`, or null. */
  latest_drift: DriftPoint | null;
}

/** A histogram of the reference and of the current (merged) windows on the same bins. */
export interface HistogramReport {
  /**
   * Bin labels: numeric `(-∞, e1)`, `[e1, e2)`, …, `[em, +∞)` on the reference's edges; categorical the tracked
   * categories in spec order, then novel categories counted by name, then `__other__` (the rest outside the spec).
   */
  bins: string[];
  /** Numeric: the edges the bins are cut at (m edges, m + 1 bins). */
  edges?: number[];
  /** Categorical: the bins that are categories outside the reference's tracked set. */
  novel?: string[];
  reference: Distribution | null;
  current: Distribution | null;
}

/** Counts per bin and the same as proportions of `total` (all zeros when total is 0). */
export interface Distribution {
  total: number;
  counts: number[];
  proportions: number[];
}

/** Summary statistics of one side; numeric fields are null for categorical columns or without valid values. */
export interface FeatureStats {
  /** Values offered, nulls and invalid ones included. */
  count: number;
  valid: number;
  null_rate: number;
  invalid_rate: number;
  mean: number | null;
  /** Population standard deviation. */
  std: number | null;
  min: number | null;
  p5: number | null;
  p50: number | null;
  p95: number | null;
  max: number | null;
  /** Categorical: the share of valid values outside the tracked categories (`__other__`, novel ones included). */
  other_rate: number | null;
}

/** One window's drift verdict for one column. */
export interface DriftPoint {
  window_start: string;
  version: number;
  variant: string;
  method: DriftMethod;
  /** Null when the window had no values of the column. */
  statistic: number | null;
  p_value: number | null;
  threshold: number;
  drift: boolean;
}

/** One window's dataset-level drift. */
export interface DatasetDriftPoint {
  window_start: string;
  version: number;
  variant: string;
  drift_share: number;
  dataset_drift: boolean;
  /** Columns that drifted, and columns compared (with values on both sides). */
  drifted: number;
  compared: number;
}

/** One window's data quality. */
export interface QualityPoint {
  window_start: string;
  window_seconds: number;
  version: number;
  variant: string;
  closed: boolean;
  rows: number;
  profiled_rows: number;
  volume_ratio: number | null;
  /** The worst feature's rate in this window (null when no feature reports the rate). */
  max_null_rate: number | null;
  max_unseen_category_rate: number | null;
  max_out_of_range_rate: number | null;
  features: Record<string, { null_rate: number; invalid_rate: number; unseen_category_rate?: number; out_of_range_rate?: number }>;
}

/** One window's label-based performance. */
export interface PerformancePoint {
  window_start: string;
  version: number;
  variant: string;
  task: 'classification' | 'regression';
  labels: number;
  metrics: Record<string, number | null>;
  degraded: string[];
  concept_drift: boolean;
}
