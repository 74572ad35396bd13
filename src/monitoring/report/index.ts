/** The monitoring report: a JSON summary of a model's reference, windows, drift, quality and performance, and its HTML page. */
export { binLabels, buildMonitorReport } from './build-report.ts';
export type { MonitorReportInput } from './build-report.ts';
export { escapeHtml } from './format.ts';
export { renderMonitorReportHtml } from './render-html.ts';
export { MONITOR_REPORT_VERSION } from './types.ts';
export type {
  DatasetDriftPoint, Distribution, DriftPoint, FeatureReport, FeatureStats, HistogramReport, MonitorReport, PerformancePoint,
  QualityPoint, WindowsOverview,
} from './types.ts';
