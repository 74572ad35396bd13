/** The runtime module: ONNX model parsing, the inference engine port and its ONNX Runtime adapter, request codecs. */
export type { ElementType, FeatureSpec, OutputSpec, Signature, Task, Tensor, TensorData, TensorSpec } from './types.ts';
export { FEATURE_NAME_PATTERN, parseOnnxModel, prepareForServing } from './onnx-model.ts';
export type { ParsedModel, ParseOptions } from './onnx-model.ts';
export { OnnxEngine } from './onnx-engine.ts';
export { WorkerPoolEngine, type WorkerPoolOptions } from './worker-pool-engine.ts';
export { HybridEngine, type HybridEngineOptions } from './hybrid-engine.ts';
export { BatchingModel, isBatchable, type BatchingOptions } from './batcher.ts';
export type { InferenceEngine, LoadedModel, OnnxEngineOptions } from './onnx-engine.ts';
export { outputsToPredictions, recordsToFeeds } from './records.ts';
export type { RecordPrediction, RecordsOptions } from './records.ts';
export { fromV2Datatype, tensorsToV2Outputs, toV2Datatype, v2ModelMetadata, v2RequestToFeeds } from './v2.ts';
export type {
  V2Feeds, V2InferenceRequest, V2InferenceResponse, V2MetadataTensor, V2ModelMetadata, V2RequestInput, V2Tensor,
} from './v2.ts';
export { MAX_STRING_LENGTH } from './element-types.ts';
export { MAX_ISSUES } from './issues.ts';
