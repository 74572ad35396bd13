export { ModelPool, LoadedVersion } from './model-pool.ts';
export { RouteTable, type Route, type RouteSource, type LiveVariant } from './route-table.ts';
export { PredictionLogger, type PredictionBatch } from './prediction-logger.ts';
export { PredictService, type RecordsAnswer, type RecordAnswer, type RequestContext } from './predict.service.ts';
export { FeedbackService, type FeedbackResult } from './feedback.service.ts';
export { ServingMetrics } from './serving-metrics.ts';
export { StorePredictionSink, WorkerPredictionSink, type PredictionSink } from './prediction-sink.ts';
