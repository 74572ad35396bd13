/**
 * Row sources for ingestion: CSV, JSON Lines and Parquet read as a stream of numbered items. Unlike the contract
 * readers (which stop at the first bad line), a bad row here is an `unreadable` item that ingestion quarantines with
 * its reason, so one broken line never loses the rest of a file. Only a source that cannot be read at all (no header,
 * a duplicate column name) throws INGEST_UNREADABLE.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { FieldRule } from '../contracts/index.ts';
import { splitCsvRecord, typeCsvValue } from '../contracts/index.ts';
import { TarmacError } from '../shared/errors.ts';

/** One numbered item of a source: a record, or text that could not be read as one. */
export type SourceItem =
  | { rowNumber: number; kind: 'row'; value: unknown }
  | { rowNumber: number; kind: 'unreadable'; raw: string; reason: string };

/** The formats ingestion reads. */
export type SourceFormat = 'csv' | 'jsonl' | 'parquet';

/** Media types (and file extensions) for each format. */
export const FORMAT_MEDIA_TYPES: Readonly<Record<SourceFormat, readonly string[]>> = {
  csv: ['text/csv', 'application/csv'],
  jsonl: ['application/x-ndjson', 'application/jsonl', 'application/json-lines', 'application/x-jsonlines'],
  parquet: ['application/vnd.apache.parquet', 'application/x-parquet'],
};

/** The format of a media type (parameters ignored), if it is one ingestion reads. */
export function formatOfMediaType(contentType: string | undefined): SourceFormat | undefined {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  for (const [format, types] of Object.entries(FORMAT_MEDIA_TYPES) as [SourceFormat, readonly string[]][]) {
    if (types.includes(type)) return format;
  }
  return undefined;
}

/** The format of a file name by its extension, if it is one ingestion reads. */
export function formatOfFileName(name: string): SourceFormat | undefined {
  const lower = name.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  if (lower.endsWith('.parquet')) return 'parquet';
  return undefined;
}

function unreadableSource(message: string, field = '/body'): TarmacError {
  return new TarmacError('INGEST_UNREADABLE', message, { issues: [{ field, rule: 'format', message }] });
}

/**
 * How CSV cells become values. CSV has no types, so a column the contract declares as text keeps its raw string
 * ("007", "12345" stay strings), and every other column is typed by `typeCsvValue` (so "12" becomes 12 and a
 * number column holding "abc" fails validation as a type error, naming the field). An empty cell is missing.
 */
export function csvCellTyper(fields: readonly FieldRule[]): (column: string, cell: string) => unknown {
  const textual = new Set(fields.filter((f) => f.logicalType === 'string' || f.logicalType === 'date'
    || f.logicalType === 'timestamp' || f.logicalType === 'time').map((f) => f.name));
  return (column, cell) => {
    if (cell === '') return undefined;
    return textual.has(column) ? cell : typeCsvValue(cell);
  };
}

/** Lines of a text stream (UTF-8; CRLF or LF; a leading BOM removed). */
function linesOf(input: Readable): AsyncIterable<string> {
  input.setEncoding('utf8');
  return createInterface({ input, crlfDelay: Infinity });
}

/**
 * CSV (RFC 4180) with a header row, as items numbered from 1 (the header is not a row; blank lines are skipped but
 * keep the numbering deterministic). A record with the wrong number of cells or an unterminated quote is an
 * unreadable item with its text.
 */
export async function* csvItems(input: Readable, typeCell: (column: string, cell: string) => unknown): AsyncGenerator<SourceItem> {
  let header: string[] | undefined;
  let pending = '';
  let rowNumber = 0;
  for await (const line of linesOf(input)) {
    const text = pending === '' ? line : `${pending}\n${line}`;
    const cells = splitCsvRecord(text);
    if (cells === undefined) {
      // A quoted field spanning lines; bounded so one stray quote cannot swallow the rest of a huge file.
      if (text.length > 1_000_000) {
        rowNumber++;
        yield { rowNumber, kind: 'unreadable', raw: text.slice(0, 10_000), reason: 'a quoted field is never closed within 1 MB' };
        pending = '';
      } else {
        pending = text;
      }
      continue;
    }
    pending = '';
    if (header === undefined) {
      if (cells[0] !== undefined && cells[0].charCodeAt(0) === 0xfeff) cells[0] = cells[0].slice(1);
      const seen = new Set<string>();
      for (const h of cells) {
        if (h === '') throw unreadableSource('the CSV header has an empty column name');
        if (seen.has(h)) throw unreadableSource(`the CSV header names column "${h}" twice`);
        seen.add(h);
      }
      header = cells;
      continue;
    }
    if (text === '') continue;
    rowNumber++;
    if (cells.length !== header.length) {
      yield { rowNumber, kind: 'unreadable', raw: text, reason: `expected ${header.length} fields, found ${cells.length}` };
      continue;
    }
    const row: Record<string, unknown> = {};
    for (let k = 0; k < header.length; k++) {
      const v = typeCell(header[k]!, cells[k]!);
      if (v !== undefined) row[header[k]!] = v;
    }
    yield { rowNumber, kind: 'row', value: row };
  }
  if (pending !== '') {
    rowNumber++;
    yield { rowNumber, kind: 'unreadable', raw: pending.slice(0, 10_000), reason: 'a quoted field is never closed' };
  }
  if (header === undefined) throw unreadableSource('the CSV source is empty: it needs a header row');
}

/** JSON Lines: one JSON object per line, numbered from 1; blank lines skipped; a line that is not JSON is unreadable. */
export async function* jsonLinesItems(input: Readable): AsyncGenerator<SourceItem> {
  let rowNumber = 0;
  let first = true;
  for await (const raw of linesOf(input)) {
    const line = first && raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
    first = false;
    if (line.trim() === '') continue;
    rowNumber++;
    try {
      yield { rowNumber, kind: 'row', value: JSON.parse(line) };
    } catch (e) {
      yield { rowNumber, kind: 'unreadable', raw: line, reason: `not valid JSON (${(e as Error).message})` };
    }
  }
}

/** Parquet rows from a file (Parquet needs random access, so an upload is spooled to a file first). */
export async function* parquetItems(path: string): AsyncGenerator<SourceItem> {
  const { readParquetRows } = await import('../contracts/parquet.ts');
  let rowNumber = 0;
  for await (const row of readParquetRows(path)) {
    rowNumber++;
    yield { rowNumber, kind: 'row', value: row };
  }
}

/** Items of records already in memory (an HTTP body, a stream message). */
export function* recordItems(records: readonly unknown[]): Generator<SourceItem> {
  for (let i = 0; i < records.length; i++) yield { rowNumber: i + 1, kind: 'row', value: records[i] };
}
