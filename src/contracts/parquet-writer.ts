/**
 * Streaming Parquet writer (hyparquet-writer) for dataset exports. Rows are pulled from an async iterable one row
 * group at a time, converted to the column's Parquet type, encoded and appended to the file, so memory is bounded by
 * the row group size (the rows of one group, their columns and the group's encoded bytes), not by the dataset.
 *
 * Tarmac logical type → Parquet: string → BYTE_ARRAY STRING; integer → INT64; number → DOUBLE; boolean → BOOLEAN;
 * date → INT32 DATE; timestamp → INT64 TIMESTAMP(MICROS, UTC); time → INT64 TIME(MICROS); object/array → BYTE_ARRAY
 * JSON. Every column is optional (nullable). Pages are Snappy-compressed.
 */
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { ByteWriter, ParquetWriter, type SchemaElement } from 'hyparquet-writer';
import { TarmacError } from '../shared/errors.ts';
import type { LogicalType } from './contract.ts';
import { parseDate, parseTime, parseTimestamp } from './temporal.ts';

/** Rows per row group unless told otherwise: near DuckDB's 122,880, small enough to keep a group's memory modest. */
const DEFAULT_ROW_GROUP_SIZE = 100_000;

/** A column to write: its name and the Tarmac logical type that picks its Parquet type. */
export interface ParquetWriteColumn {
  name: string;
  logicalType: LogicalType;
}

/** Options for writeParquetFile. */
export interface ParquetWriteFileOptions {
  /** Rows per row group (default 100 000); memory grows with it. */
  rowGroupSize?: number;
}

/** Appends each encoded row group to the file as soon as it is complete, so the buffer holds one group at most. */
class FileSink extends ByteWriter {
  constructor(private readonly handle: FileHandle) {
    super(1 << 20);
  }

  async flush(): Promise<void> {
    let done = 0;
    while (done < this.index) {
      const { bytesWritten } = await this.handle.write(new Uint8Array(this.buffer, done, this.index - done));
      done += bytesWritten;
    }
    this.index = 0;
  }

  override finish(): Promise<void> {
    return this.flush();
  }
}

function schemaElement(column: ParquetWriteColumn): SchemaElement {
  const base = { name: column.name, repetition_type: 'OPTIONAL' as const };
  switch (column.logicalType) {
    case 'integer':
      return { ...base, type: 'INT64' };
    case 'number':
      return { ...base, type: 'DOUBLE' };
    case 'boolean':
      return { ...base, type: 'BOOLEAN' };
    case 'date':
      return { ...base, type: 'INT32', converted_type: 'DATE', logical_type: { type: 'DATE' } };
    case 'timestamp':
      return {
        ...base, type: 'INT64', converted_type: 'TIMESTAMP_MICROS',
        logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' },
      };
    case 'time':
      return {
        ...base, type: 'INT64', converted_type: 'TIME_MICROS',
        logical_type: { type: 'TIME', isAdjustedToUTC: false, unit: 'MICROS' },
      };
    case 'object':
    case 'array':
      return { ...base, type: 'BYTE_ARRAY', converted_type: 'JSON', logical_type: { type: 'JSON' } };
    default:
      return { ...base, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } };
  }
}

/** A value the column's type cannot hold; thrown, since a half-written export is worse than none. */
class BadValue extends Error {}

const INTEGER_RE = /^-?\d+$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Epoch milliseconds (possibly fractional) → epoch microseconds, exact to the microsecond. */
function microsOf(ms: number): bigint {
  const whole = Math.floor(ms);
  return BigInt(whole) * 1000n + BigInt(Math.round((ms - whole) * 1000));
}

/** The function turning a row's value into the Parquet physical value of the column (null stays null). */
function converterFor(type: LogicalType): (v: unknown) => unknown {
  switch (type) {
    case 'integer':
      return (v) => {
        let n: bigint;
        if (typeof v === 'bigint') n = v;
        else if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
        // int64 values beyond 2^53 travel as decimal strings (that is how the reader yields them).
        else if (typeof v === 'string' && INTEGER_RE.test(v)) n = BigInt(v);
        else throw new BadValue('expected an integer');
        if (n < INT64_MIN || n > INT64_MAX) throw new BadValue('outside the 64-bit integer range');
        return n;
      };
    case 'number':
      return (v) => {
        if (typeof v === 'number') return v;
        if (typeof v === 'bigint') return Number(v);
        if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
        throw new BadValue('expected a number');
      };
    case 'boolean':
      return (v) => {
        if (typeof v === 'boolean') return v;
        if (v === 'true' || v === 'false') return v === 'true';
        throw new BadValue('expected a boolean');
      };
    case 'date':
      return (v) => {
        const ms = v instanceof Date ? v.getTime() : typeof v === 'string' ? parseDate(v) : NaN;
        if (Number.isNaN(ms)) throw new BadValue('expected a date YYYY-MM-DD');
        return Math.floor(ms / 86_400_000);
      };
    case 'timestamp':
      return (v) => {
        const ms = v instanceof Date ? v.getTime() : typeof v === 'string' ? parseTimestamp(v, false) : NaN;
        if (Number.isNaN(ms)) throw new BadValue('expected an RFC 3339 timestamp');
        return microsOf(ms);
      };
    case 'time':
      return (v) => {
        const seconds = typeof v === 'string' ? parseTime(v) : NaN;
        if (Number.isNaN(seconds)) throw new BadValue('expected a time HH:mm:ss');
        return BigInt(Math.round(seconds * 1_000_000));
      };
    case 'object':
    case 'array':
      return (v) => v;
    default:
      return (v) => (typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v));
  }
}

/**
 * Write rows to a Parquet file, one row group at a time, replacing `path` only once the file is complete (it is
 * written beside it first). Throws VALIDATION_FAILED naming the row and column when a value does not fit its column's
 * type, and VALIDATION_FAILED when the columns are empty or named twice; the partial file is removed.
 */
export async function writeParquetFile(
  path: string,
  columns: ParquetWriteColumn[],
  rows: AsyncIterable<Record<string, unknown>>,
  options: ParquetWriteFileOptions = {},
): Promise<{ rows: number; rowGroups: number }> {
  if (columns.length === 0) throw new TarmacError('VALIDATION_FAILED', 'a Parquet file needs at least one column');
  const names = columns.map((c) => c.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new TarmacError('VALIDATION_FAILED', `column "${dup}" is named twice`);
  const groupSize = Math.max(1, Math.floor(options.rowGroupSize ?? DEFAULT_ROW_GROUP_SIZE));
  const schema: SchemaElement[] = [{ name: 'root', num_children: columns.length }, ...columns.map(schemaElement)];
  const converters = columns.map((c) => converterFor(c.logicalType));

  const partial = `${path}.${process.pid}.${Date.now()}.partial`;
  const handle = await open(partial, 'w');
  let total = 0;
  let groups = 0;
  try {
    const writer = new ParquetWriter({ writer: new FileSink(handle), schema, codec: 'SNAPPY', createdBy: 'tarmac' });
    let data: unknown[][] = columns.map(() => []);
    let n = 0;
    const flushGroup = async () => {
      await writer.write({ columnData: columns.map((c, i) => ({ name: c.name, data: data[i]! })), rowGroupSize: n });
      groups++;
      data = columns.map(() => []);
      n = 0;
    };
    for await (const row of rows) {
      for (let c = 0; c < columns.length; c++) {
        const v = row[names[c]!];
        if (v === null || v === undefined) {
          data[c]!.push(null);
          continue;
        }
        try {
          data[c]!.push(converters[c]!(v));
        } catch (err) {
          if (!(err instanceof BadValue)) throw err;
          const message = `${err.message}, got ${JSON.stringify(v) ?? String(v)}`;
          throw new TarmacError('VALIDATION_FAILED', `row ${total + 1}, column "${names[c]}": ${message}`, {
            issues: [{ field: `/rows/${total + 1}/${names[c]}`, rule: 'type', message }],
            details: { path, row: total + 1, column: names[c] },
          });
        }
      }
      n++;
      total++;
      if (n === groupSize) await flushGroup();
    }
    if (n > 0) await flushGroup();
    await writer.finish();
    await handle.close();
    await rename(partial, path);
    return { rows: total, rowGroups: groups };
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(partial, { force: true });
    throw err;
  }
}
