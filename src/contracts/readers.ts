/**
 * Streaming row readers for contract inference and checks: CSV (RFC 4180) and JSON Lines. Both read line by line
 * (memory stays flat whatever the file size) and yield one plain object per row.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { TarmacError } from '../shared/errors.ts';

export type Row = Record<string, unknown>;

function badInput(path: string, line: number, message: string): TarmacError {
  return new TarmacError('VALIDATION_FAILED', `${path}, line ${line}: ${message}`, {
    issues: [{ field: `line ${line}`, rule: 'input', message }],
    details: { path, line },
  });
}

function lines(path: string) {
  return createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
}

/** A plain decimal: optional minus, no leading zeros ("007" is an identifier), optional fraction, no exponent. */
const DECIMAL_RE = /^-?(?:0|[1-9]\d*)(?:\.\d+)?$/;

/**
 * Type one CSV cell: empty → null; a plain decimal that converts to a double without losing a digit → number
 * (trailing fraction zeros allowed: "8.70" is 8.7; "007", "1e3", "0x1F" and over-precise digits stay strings);
 * `true`/`false` → boolean; anything else the string itself.
 */
export function typeCsvValue(s: string): string | number | boolean | null {
  if (s === '') return null;
  if (s === 'true') return true;
  if (s === 'false') return false;
  if (DECIMAL_RE.test(s)) {
    const n = Number(s);
    // Exact round trip, ignoring trailing fraction zeros ("10.0", "0.50" are 10 and 0.5; "0.1000000000000000055" and
    // "12345678901234567890" would lose digits and stay strings).
    const canonical = s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
    const dot = s.indexOf('.');
    const decimals = dot < 0 ? 0 : s.length - dot - 1;
    if (Number.isFinite(n) && (String(n) === canonical || (decimals <= 100 && n.toFixed(decimals) === s) || (n === 0 && canonical === '-0'))) {
      return n;
    }
  }
  return s;
}

/**
 * Split one CSV record (RFC 4180: fields separated by commas, optionally double-quoted, `""` an escaped quote;
 * a quoted field may hold commas and line breaks). Returns undefined when a quoted field is still open at the end,
 * meaning the record continues on the next line.
 */
export function splitCsvRecord(text: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  const n = text.length;
  for (;;) {
    if (i < n && text.charCodeAt(i) === 34) {
      // quoted field
      let value = '';
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q < 0) return undefined;
        value += text.slice(j, q);
        if (text.charCodeAt(q + 1) === 34) {
          value += '"';
          j = q + 2;
        } else {
          j = q + 1;
          break;
        }
      }
      // anything between the closing quote and the next comma is kept verbatim (lenient)
      const comma = text.indexOf(',', j);
      const end = comma < 0 ? n : comma;
      out.push(value + text.slice(j, end));
      if (comma < 0) return out;
      i = comma + 1;
    } else {
      const comma = text.indexOf(',', i);
      if (comma < 0) {
        out.push(text.slice(i));
        return out;
      }
      out.push(text.slice(i, comma));
      i = comma + 1;
    }
  }
}

/**
 * Read a CSV file with a header row, streaming. Cells are typed by `typeCsvValue`. A record with a different number
 * of cells than the header, a duplicate or empty header name, or an unterminated quote is an error naming the line.
 */
export async function* readCsvRows(path: string): AsyncGenerator<Row> {
  let header: string[] | undefined;
  let pending = '';
  let startLine = 0;
  let lineNo = 0;
  for await (const line of lines(path)) {
    lineNo++;
    const text = pending === '' ? line : `${pending}\n${line}`;
    if (pending === '') startLine = lineNo;
    const cells = splitCsvRecord(text);
    if (cells === undefined) {
      pending = text;
      continue;
    }
    pending = '';
    if (header === undefined) {
      if (cells[0] !== undefined && cells[0].charCodeAt(0) === 0xfeff) cells[0] = cells[0].slice(1);
      const seen = new Set<string>();
      for (const h of cells) {
        if (h === '') throw badInput(path, startLine, 'the header has an empty column name');
        if (seen.has(h)) throw badInput(path, startLine, `the header names column "${h}" twice`);
        seen.add(h);
      }
      header = cells;
      continue;
    }
    if (text === '') continue; // blank line
    if (cells.length !== header.length) {
      throw badInput(path, startLine, `expected ${header.length} fields, found ${cells.length}`);
    }
    const row: Row = {};
    for (let k = 0; k < header.length; k++) row[header[k]!] = typeCsvValue(cells[k]!);
    yield row;
  }
  if (pending !== '') throw badInput(path, startLine, 'a quoted field is never closed');
}

/** Read a JSON Lines file, streaming: one JSON object per line; blank lines are skipped. */
export async function* readJsonLinesRows(path: string): AsyncGenerator<Row> {
  let lineNo = 0;
  for await (const line of lines(path)) {
    lineNo++;
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(lineNo === 1 && line.charCodeAt(0) === 0xfeff ? line.slice(1) : line);
    } catch (e) {
      throw badInput(path, lineNo, `not valid JSON (${(e as Error).message})`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw badInput(path, lineNo, `expected a JSON object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
    }
    yield value as Row;
  }
}
