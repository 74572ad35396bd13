/** Ingestion pipelines: the transformation steps a dataset declares, compiled once and applied to every row. */
export { compileTransforms, describeValue, EXPRESSION_FUNCTION_NAMES, TRANSFORM_STEP_KINDS } from './transforms.ts';
export type {
  CastTarget, CompiledTransforms, CompileTransformsOptions, MaskMethod, TransformResult, TransformStep,
} from './transforms.ts';
export { DatasetService } from './dataset.service.ts';
export type { DatasetSpec } from './dataset.service.ts';
export { DEFAULT_CHUNK_ROWS, IngestService } from './ingest.service.ts';
export type { CompiledPipeline, IngestOptions, IngestProgress, IngestResult } from './ingest.service.ts';
export {
  csvCellTyper, csvItems, FORMAT_MEDIA_TYPES, formatOfFileName, formatOfMediaType, jsonLinesItems, parquetItems, recordItems,
} from './sources.ts';
export type { SourceFormat, SourceItem } from './sources.ts';
export { eventTimeOf, timeliness, windowStart } from './event-time.ts';
export type { EventTimePolicy, Timeliness } from './event-time.ts';
export { compileRecordKey } from './record-key.ts';
export { csvCell, EXPORT_MEDIA_TYPES, toCsv, toJsonLines, toParquetFile } from './export.ts';
export type { ExportFormat } from './export.ts';
export { NatsDatasetConsumer } from './nats-ingest.ts';
export type { IngestItem, IngestMessage, MessageIngester, NatsDataset } from './nats-ingest.ts';
export { IngestMetrics } from './ingest-metrics.ts';
