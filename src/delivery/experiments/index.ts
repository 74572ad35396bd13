/** A/B experiments: sticky assignment (GrowthBook's hashing and bucket ranges) and the statistical readout. */
export { assignVariant, chooseVariation, fixedBucketRanges, fnv1a32, getBucketRanges, hash, inRange } from './assign.ts';
export type { AssignmentSpec, BucketRange, HashVersion } from './assign.ts';
export {
  analyzeExperiment, armFromSums, armFromValues, holm, inferMetricType, relativeLift, sampleRatioMismatch, sequentialRelativeLift,
  sequentialRho, twoProportionZTest, waldDifferenceInterval, welchDf, welchTTest, SEQUENTIAL_TUNING_DEFAULT, SRM_THRESHOLD,
} from './stats.ts';
export type {
  AnalyzeOptions, ArmReadout, ArmStats, ComparisonReadout, ExperimentReadout, Interval, MetricType, RelativeLift, SequentialResult,
  SrmReadout, SrmResult, TestResult, WelchResult,
} from './stats.ts';
export { incompleteBeta, logBeta, normalQuantile, studentTCdf, studentTPdf, studentTQuantile, studentTSf } from './distributions.ts';
export { ExperimentService } from './experiment.service.ts';
export type { ExperimentRequest, ExperimentSpec, GuardrailReadout } from './experiment.service.ts';
