/**
 * Dataset exports: stored rows as CSV (RFC 4180, the contract's field order as the header), JSON Lines or Parquet,
 * streamed so memory stays flat for any dataset size.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FieldRule } from '../contracts/index.ts';

/** The formats a dataset can be exported as. */
export type ExportFormat = 'csv' | 'jsonl' | 'parquet';

/** Media type of each export format. */
export const EXPORT_MEDIA_TYPES: Readonly<Record<ExportFormat, string>> = {
  csv: 'text/csv; charset=utf-8',
  jsonl: 'application/x-ndjson',
  parquet: 'application/vnd.apache.parquet',
};

/** One CSV cell: empty for null/missing, quoted when it holds a comma, quote, line break or edge whitespace. */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** CSV text, header first, chunked (about 1,000 rows per chunk) for a streamed response. */
export async function* toCsv(columns: readonly string[], rows: AsyncIterable<Record<string, unknown>>): AsyncGenerator<string> {
  yield columns.map(csvCell).join(',') + '\r\n';
  let buffer = '';
  let n = 0;
  for await (const row of rows) {
    buffer += columns.map((c) => csvCell(row[c])).join(',') + '\r\n';
    if (++n % 1_000 === 0) {
      yield buffer;
      buffer = '';
    }
  }
  if (buffer !== '') yield buffer;
}

/** JSON Lines text, chunked for a streamed response. */
export async function* toJsonLines(rows: AsyncIterable<Record<string, unknown>>): AsyncGenerator<string> {
  let buffer = '';
  let n = 0;
  for await (const row of rows) {
    buffer += JSON.stringify(row) + '\n';
    if (++n % 1_000 === 0) {
      yield buffer;
      buffer = '';
    }
  }
  if (buffer !== '') yield buffer;
}

/**
 * Writes the rows to a temporary Parquet file (Parquet's footer comes last, so it cannot be streamed as it is made)
 * and returns its path with a cleanup function.
 */
export async function toParquetFile(fields: readonly FieldRule[], rows: AsyncIterable<Record<string, unknown>>): Promise<{ file: string; cleanup: () => Promise<void> }> {
  const { writeParquetFile } = await import('../contracts/parquet-writer.ts');
  const dir = await mkdtemp(path.join(tmpdir(), 'tarmac-export-'));
  const file = path.join(dir, 'export.parquet');
  try {
    await writeParquetFile(file, fields.map((f) => ({ name: f.name, logicalType: f.logicalType })), rows);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return { file, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
