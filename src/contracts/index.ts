/** Data contracts: ODCS v3 documents → Contract model → validators compiled once per contract. */
export type { Bound, Compatibility, Contract, FieldRule, LogicalType, PiiTreatment } from './contract.ts';
export {
  COMPATIBILITY_MODES, ENFORCED_STRING_FORMATS, LOGICAL_TYPES, PII_CLASSIFICATIONS, TARMAC_CONTRACT_PROPERTIES,
  TARMAC_FIELD_PROPERTIES, PII_TREATMENTS,
} from './contract.ts';
export { parseContract } from './parse.ts';
export type { ParseOptions } from './parse.ts';
export { codePointLength, compilePattern, compileValidator, pointerSegment, STRING_FORMATS } from './validator.ts';
export type { FieldViolation, RecordValidator, ValidatorOptions, ViolationRule } from './validator.ts';
export { parseDate, parseTime, parseTimestamp } from './temporal.ts';
export { CHANGE_CODES, checkCompatibility, diffContracts, directionsOf } from './compatibility.ts';
export type { CompatibilityReport, Difference, Direction } from './compatibility.ts';
export { inferContract } from './infer.ts';
export type { ColumnStats, InferOptions, InferResult, InferStats } from './infer.ts';
export { readCsvRows, readJsonLinesRows, splitCsvRecord, typeCsvValue } from './readers.ts';
export type { Row } from './readers.ts';
export { readParquetRows, readParquetSchema } from './parquet.ts';
export type { ParquetColumn, ParquetFileSchema } from './parquet.ts';
export { writeParquetFile } from './parquet-writer.ts';
export type { ParquetWriteColumn, ParquetWriteFileOptions } from './parquet-writer.ts';
