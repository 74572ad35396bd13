/** Model performance monitoring maths: mergeable labelled metrics, baselines, drift detectors on the error stream and CBPE. */
export { AUC_DEFAULT_BINS, AUC_DEFAULT_EXACT_LIMIT, BinaryAucAccumulator, exactAuc, histogramAuc } from './auc.ts';
export type { AucOptions, AucResult, BinaryAucJSON } from './auc.ts';
export { ClassificationAccumulator, compareLabels, DEFAULT_MAX_CLASSES, LOG_LOSS_EPS } from './classification.ts';
export type { ClassificationJSON, ClassificationMetrics, ClassificationOptions, ClassMetrics, Label, PrfScores } from './classification.ts';
export { RegressionAccumulator } from './regression.ts';
export type { RegressionJSON, RegressionMetrics } from './regression.ts';
export { compareToBaseline, METRIC_DIRECTIONS } from './baseline.ts';
export type { BaselineComparison, CompareOptions, MetricComparison, MetricDirection, Tolerance } from './baseline.ts';
export { PageHinkley } from './page-hinkley.ts';
export type { PageHinkleyJSON, PageHinkleyOptions } from './page-hinkley.ts';
export { Adwin } from './adwin.ts';
export type { AdwinJSON, AdwinOptions, AdwinUpdate } from './adwin.ts';
export { fitIsotonic, isotonicFromJSON, isotonicToJSON, predictIsotonic } from './isotonic.ts';
export type { IsotonicModel } from './isotonic.ts';
export { CbpeAccumulator, CbpeCalibration, expectedCalibrationError, exactExpectedAuc, fitCbpeCalibration } from './cbpe.ts';
export type { CbpeCalibrationJSON, CbpeCalibrationOptions, CbpeEstimate, CbpeJSON, CbpeOptions } from './cbpe.ts';
