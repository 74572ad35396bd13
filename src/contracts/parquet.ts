/**
 * Streaming Parquet row reader (hyparquet) for contract inference and checks. The file is read through byte ranges
 * of an open handle, one row group (or, when the file has offset indexes, one slice of a row group) at a time, so
 * memory stays bounded by the largest row group, never the file. Values become plain JSON-like values: int64 → number
 * when safe (else its decimal string), timestamps → ISO 8601 UTC strings, dates → `YYYY-MM-DD`, times → `HH:mm:ss[.ffffff]`,
 * decimals → numbers, lists → arrays, structs and maps → objects, binary → base64 strings.
 */
import { open, type FileHandle } from 'node:fs/promises';
import {
  parquetMetadataAsync, parquetRead, parquetSchema, type AsyncBuffer, type ColumnData, type FileMetaData,
  type ParquetParsers, type SchemaElement, type SchemaTree,
} from 'hyparquet';
import { TarmacError, isTarmacError } from '../shared/errors.ts';
import type { LogicalType } from './contract.ts';
import type { Row } from './readers.ts';

/**
 * The most rows materialised at once when a row group can be read in slices (its large column chunks have offset
 * indexes); without them a slice would decode a large chunk again, so such row groups are read whole.
 */
const SLICE_ROWS = 65_536;

/**
 * A column chunk without an offset index is decoded whole for every slice; below this size that repetition is cheap
 * (writers skip the offset index for single-page chunks, which would otherwise stop slicing altogether).
 */
const SMALL_CHUNK_BYTES = 4 << 20;

const MAGIC = 0x31524150; // "PAR1", little-endian

function unreadable(path: string, message: string, cause?: unknown): TarmacError {
  return new TarmacError('INGEST_UNREADABLE', `${path}: ${message}`, {
    details: { path, format: 'parquet' },
    ...(cause === undefined ? {} : { cause }),
  });
}

/** An AsyncBuffer over an open file handle: hyparquet asks for the byte ranges it needs (footer, column chunks). */
function handleBuffer(handle: FileHandle, size: number): AsyncBuffer {
  return {
    byteLength: size,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const stop = Math.min(end ?? size, size);
      const length = Math.max(0, stop - start);
      // A fresh Uint8Array owns its ArrayBuffer exactly (no pooled slab shared with other reads).
      const bytes = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(bytes, done, length - done, start + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return bytes.buffer;
    },
  };
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** ISO 8601 UTC from epoch milliseconds plus extra sub-millisecond digits (kept only when non-zero). */
function isoFrom(millis: bigint, subMillis: bigint, subDigits: number): string {
  const date = new Date(Number(millis));
  if (Number.isNaN(date.getTime())) return `${millis}`; // outside the range a Date can hold (±273,790 years)
  const iso = date.toISOString();
  if (subMillis === 0n) return iso;
  const fraction = `${subMillis}`.padStart(subDigits, '0').replace(/0+$/, '');
  return `${iso.slice(0, -1)}${fraction}Z`;
}

/** Floor division for bigints (epoch values before 1970 are negative). */
function floorDiv(a: bigint, b: bigint): [bigint, bigint] {
  let q = a / b;
  let r = a % b;
  if (r < 0n) {
    q -= 1n;
    r += b;
  }
  return [q, r];
}

/** Parsers handed to hyparquet so temporal values arrive as strings, never Dates (and keep micro/nanoseconds). */
const PARSERS: Partial<ParquetParsers> = {
  timestampFromMilliseconds: (millis: bigint | number) => isoFrom(BigInt(millis), 0n, 0),
  timestampFromMicroseconds: (micros: bigint | number) => {
    const [ms, rest] = floorDiv(BigInt(micros), 1000n);
    return isoFrom(ms, rest, 3);
  },
  timestampFromNanoseconds: (nanos: bigint | number) => {
    const [ms, rest] = floorDiv(BigInt(nanos), 1_000_000n);
    return isoFrom(ms, rest, 6);
  },
  dateFromDays: (days: number) => {
    const date = new Date(days * 86_400_000);
    return Number.isNaN(date.getTime()) ? String(days) : date.toISOString().slice(0, 10);
  },
};

/** Any decoded value → a plain JSON-like value (bigint, Date, bytes and typed arrays are not JSON). */
function plain(v: unknown): unknown {
  if (v === undefined || v === null) return null;
  switch (typeof v) {
    case 'bigint':
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
    case 'object': {
      if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
      if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
      if (Array.isArray(v)) return v.map(plain);
      if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<unknown>, plain);
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = plain(x);
      return out;
    }
    default:
      return v;
  }
}

/** `HH:mm:ss[.fraction]` from a time of day in the given unit per second. */
function timeOfDay(value: unknown, perSecond: bigint, digits: number): unknown {
  if (value === null || value === undefined) return null;
  const [seconds, fraction] = floorDiv(BigInt(value as number | bigint), perSecond);
  const s = Number(seconds);
  const text = `${pad(Math.floor(s / 3600), 2)}:${pad(Math.floor((s % 3600) / 60), 2)}:${pad(s % 60, 2)}`;
  if (fraction === 0n) return text;
  return `${text}.${`${fraction}`.padStart(digits, '0').replace(/0+$/, '')}`;
}

/** The converter for one top-level column, chosen once from its schema (TIME is not converted by hyparquet). */
function converterFor(element: SchemaElement): (v: unknown) => unknown {
  const lt = element.logical_type;
  if (lt?.type === 'TIME') {
    if (lt.unit === 'MILLIS') return (v) => timeOfDay(v, 1000n, 3);
    if (lt.unit === 'MICROS') return (v) => timeOfDay(v, 1_000_000n, 6);
    return (v) => timeOfDay(v, 1_000_000_000n, 9);
  }
  if (element.converted_type === 'TIME_MILLIS') return (v) => timeOfDay(v, 1000n, 3);
  if (element.converted_type === 'TIME_MICROS') return (v) => timeOfDay(v, 1_000_000n, 6);
  return plain;
}

/** The Tarmac logical type that best holds a top-level Parquet column's values as this reader yields them. */
function logicalTypeOf(node: SchemaTree): LogicalType {
  const { element } = node;
  const lt = element.logical_type;
  const ct = element.converted_type;
  if (node.children.length > 0) return lt?.type === 'LIST' || ct === 'LIST' ? 'array' : 'object';
  if (element.repetition_type === 'REPEATED') return 'array';
  if (lt?.type === 'DATE' || ct === 'DATE') return 'date';
  if (lt?.type === 'TIMESTAMP' || ct === 'TIMESTAMP_MILLIS' || ct === 'TIMESTAMP_MICROS' || element.type === 'INT96') return 'timestamp';
  if (lt?.type === 'TIME' || ct === 'TIME_MILLIS' || ct === 'TIME_MICROS') return 'time';
  if (lt?.type === 'DECIMAL' || ct === 'DECIMAL') return (element.scale ?? 0) === 0 ? 'integer' : 'number';
  if (lt?.type === 'JSON' || ct === 'JSON' || lt?.type === 'VARIANT') return 'object';
  switch (element.type) {
    case 'BOOLEAN':
      return 'boolean';
    case 'INT32':
    case 'INT64':
      return 'integer';
    case 'FLOAT':
    case 'DOUBLE':
      return 'number';
    default:
      return 'string';
  }
}

/** One top-level column of a Parquet file. */
export interface ParquetColumn {
  name: string;
  /** The Tarmac logical type suggested for the values readParquetRows yields for this column. */
  logicalType: LogicalType;
  /** The Parquet physical type (`INT64`, `BYTE_ARRAY`, …), or `GROUP` for a struct, list or map. */
  physicalType: string;
  /** The Parquet logical or converted annotation (`TIMESTAMP`, `STRING`, `DECIMAL`, …), when there is one. */
  annotation?: string;
  nullable: boolean;
}

/** The shape of a Parquet file: its top-level columns, row count and row groups. */
export interface ParquetFileSchema {
  columns: ParquetColumn[];
  rows: number;
  rowGroups: number;
}

interface OpenedParquet {
  handle: FileHandle;
  file: AsyncBuffer;
  metadata: FileMetaData;
}

/** Opens the file and reads its footer; throws INGEST_UNREADABLE when it is not a readable Parquet file. */
async function openParquet(path: string): Promise<OpenedParquet> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw unreadable(path, `cannot open the file (${(err as Error).message})`, err);
  }
  try {
    const { size } = await handle.stat();
    const file = handleBuffer(handle, size);
    if (size < 12) throw unreadable(path, `not a Parquet file (${size} bytes; too short for the PAR1 header and footer)`);
    const head = new DataView(await file.slice(0, 4));
    const tail = new DataView(await file.slice(size - 4, size));
    if (head.getUint32(0, true) !== MAGIC || tail.getUint32(0, true) !== MAGIC) {
      throw unreadable(path, 'not a Parquet file (no PAR1 magic at its start and end)');
    }
    let metadata: FileMetaData;
    try {
      metadata = await parquetMetadataAsync(file);
    } catch (err) {
      throw unreadable(path, `the Parquet footer cannot be read (${(err as Error).message})`, err);
    }
    return { handle, file, metadata };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

function describeColumns(metadata: FileMetaData): ParquetColumn[] {
  return parquetSchema(metadata).children.map((node) => {
    const { element } = node;
    const annotation = element.logical_type?.type ?? element.converted_type;
    return {
      name: element.name,
      logicalType: logicalTypeOf(node),
      physicalType: node.children.length > 0 ? 'GROUP' : (element.type ?? 'GROUP'),
      ...(annotation === undefined ? {} : { annotation }),
      nullable: element.repetition_type !== 'REQUIRED',
    };
  });
}

/** Reads only the footer of a Parquet file: its columns with suggested logical types; throws INGEST_UNREADABLE. */
export async function readParquetSchema(path: string): Promise<ParquetFileSchema> {
  const { handle, metadata } = await openParquet(path);
  try {
    return { columns: describeColumns(metadata), rows: Number(metadata.num_rows), rowGroups: metadata.row_groups.length };
  } finally {
    await handle.close();
  }
}

/** Row ranges to read: each row group whole, or in slices when every large column chunk has an offset index. */
function* rowRanges(metadata: FileMetaData): Generator<[number, number]> {
  let groupStart = 0;
  for (const group of metadata.row_groups) {
    const rows = Number(group.num_rows);
    const sliceable = group.columns.every((c) => (c.offset_index_offset !== undefined && c.offset_index_length !== undefined) ||
      Number(c.meta_data?.total_uncompressed_size ?? Infinity) <= SMALL_CHUNK_BYTES);
    const step = sliceable ? SLICE_ROWS : Math.max(rows, 1);
    for (let start = 0; start < rows; start += step) yield [groupStart + start, groupStart + Math.min(start + step, rows)];
    groupStart += rows;
  }
}

/**
 * Read a Parquet file as plain row objects, streaming by row group; throws INGEST_UNREADABLE (naming the path) when
 * the file is not Parquet, its footer is corrupt, or a page cannot be decoded (e.g. a codec other than Snappy).
 */
export async function* readParquetRows(path: string): AsyncGenerator<Row> {
  const { handle, file, metadata } = await openParquet(path);
  try {
    const nodes = parquetSchema(metadata).children;
    const names = nodes.map((n) => n.element.name);
    const converters = nodes.map((n) => converterFor(n.element));
    const index = new Map(names.map((n, i) => [n, i]));
    for (const [start, end] of rowRanges(metadata)) {
      const chunks: ColumnData[][] = names.map(() => []);
      try {
        await parquetRead({
          file, metadata, rowStart: start, rowEnd: end, parsers: PARSERS, useOffsetIndex: true,
          onChunk: (chunk) => {
            const i = index.get(chunk.columnName);
            if (i !== undefined) chunks[i]!.push(chunk);
          },
        });
      } catch (err) {
        if (isTarmacError(err)) throw err;
        throw unreadable(path, `rows ${start}–${end - 1} cannot be decoded (${(err as Error).message})`, err);
      }
      // Gather each column's values for [start, end); chunks may start before or run past the requested range.
      const count = end - start;
      const columns = chunks.map((list, c) => {
        const values: unknown[] = new Array(count).fill(null);
        const convert = converters[c]!;
        for (const chunk of list) {
          const from = Math.max(chunk.rowStart, start);
          const to = Math.min(chunk.rowEnd, end);
          for (let r = from; r < to; r++) values[r - start] = convert(chunk.columnData[r - chunk.rowStart]);
        }
        return values;
      });
      chunks.length = 0; // let the decoded chunks go before the consumer holds the rows
      for (let r = 0; r < count; r++) {
        const row: Row = {};
        for (let c = 0; c < names.length; c++) row[names[c]!] = columns[c]![r];
        yield row;
      }
    }
  } finally {
    await handle.close();
  }
}
