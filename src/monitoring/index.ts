/** Monitoring: drift statistics, drift reports and (as they land) profiles, windows, quality, performance and alerts. */
export { binCounts, chooseMethod, columnDrift, DRIFT_METHODS, driftReport, METHOD_DEFAULTS } from './drift/report.ts';
export type { ColumnDrift, ColumnKind, ColumnSamples, DriftMethod, DriftOptions, DriftReport } from './drift/report.ts';
export { compareOutputProfiles, profileDrift, columnProfileDrift } from './drift/profile-drift.ts';
export type { ProfileDriftOptions } from './drift/profile-drift.ts';
export { MonitorService, OUTPUT_CONFIDENCE, OUTPUT_PREDICTION } from './monitor.service.ts';
export type { WindowQuality, WindowSummary } from './monitor.service.ts';
export { MonitorMetrics } from './monitor-metrics.ts';
export { buildReferenceDatasetProfile, datasetProfileFromJSON, mergeDatasetProfiles } from './profile/index.ts';
export type { DatasetProfile } from './profile/index.ts';
export { AlertingService, parseConfig as parseAlertConfig, samplesOf } from './alerting.service.ts';
export type { AlertConfig, ChannelConfig } from './alerting.service.ts';
export type { LabelledPrediction, WindowPerformance } from './monitor.service.ts';
export { buildMonitorReport, renderMonitorReportHtml } from './report/index.ts';
export type { MonitorReport } from './report/index.ts';
export { REFERENCE_MAX_ROWS, REFERENCE_SAMPLE_ROWS, referenceFromRows } from './reference.ts';
export type { ReferenceData, ReferenceFeature } from './reference.ts';
