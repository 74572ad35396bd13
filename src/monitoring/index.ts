/** Monitoring: drift statistics, drift reports and (as they land) profiles, windows, quality, performance and alerts. */
export { binCounts, chooseMethod, columnDrift, DRIFT_METHODS, driftReport, METHOD_DEFAULTS } from './drift/report.ts';
export type { ColumnDrift, ColumnKind, ColumnSamples, DriftMethod, DriftOptions, DriftReport } from './drift/report.ts';
