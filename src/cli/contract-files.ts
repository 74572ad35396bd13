import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  compileValidator, inferContract, parseContract, readCsvRows, readJsonLinesRows, readParquetRows, type Contract, type Row,
} from '../contracts/index.ts';
import { isTarmacError } from '../shared/errors.ts';
import { UsageError } from './output.ts';

/** A file that is not what its extension claims is the caller's mistake (exit 2), not an unexpected failure. */
async function* unreadableAsUsage(rows: AsyncGenerator<Row>): AsyncGenerator<Row> {
  try {
    yield* rows;
  } catch (err) {
    if (isTarmacError(err) && err.code === 'INGEST_UNREADABLE') throw new UsageError(`cannot read ${err.message}`);
    throw err;
  }
}

/** The rows of a local CSV (`.csv`), JSON Lines (`.jsonl`, `.ndjson`) or Parquet (`.parquet`) file, streamed. */
export function rowsOfFile(file: string): AsyncGenerator<Row> {
  if (!existsSync(file)) throw new UsageError(`cannot read ${file}: no such file`);
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return readCsvRows(file);
  if (ext === '.jsonl' || ext === '.ndjson') return readJsonLinesRows(file);
  if (ext === '.parquet') return unreadableAsUsage(readParquetRows(file));
  throw new UsageError(`${file}: unknown file type "${ext}" (use .csv, .jsonl, .ndjson or .parquet)`);
}

/** Parses a contract's YAML, turning CONTRACT_INVALID into a usage error that lists the problems. */
export function contractOf(yamlText: string, source: string): Contract {
  try {
    return parseContract(yamlText);
  } catch (err) {
    if (isTarmacError(err) && err.code === 'CONTRACT_INVALID') {
      const lines = err.issues.slice(0, 20).map((i) => `  ${i.field}: ${i.message} (${i.rule})`);
      throw new UsageError([`${source} is not a valid contract: ${err.message}`, ...lines].join('\n'));
    }
    throw err;
  }
}

/** Proposes a contract from a sample file; writes it to `out` when given and returns the YAML and statistics. */
export async function inferFromFile(file: string, options: { name?: string; sampleSize?: number; out?: string }) {
  const name = options.name ?? path.basename(file).replace(/\.[^.]+$/, '').toLowerCase().replace(/[^a-z0-9._-]+/g, '-');
  const result = await inferContract(rowsOfFile(file), { name, ...(options.sampleSize ? { sampleSize: options.sampleSize } : {}) });
  if (options.out) await writeFile(options.out, result.yaml);
  return result;
}

/** One violation as `check` reports it: 1-based data row, field, rule and message. */
export interface CheckViolation {
  row: number;
  field: string;
  rule: string;
  message: string;
}

/** The outcome of checking a file against a contract. */
export interface CheckReport {
  contract: string;
  rows: number;
  rowsWithViolations: number;
  violations: number;
  /** Counts by "field rule". */
  counts: { field: string; rule: string; count: number }[];
  /** The first `limit` violations in file order. */
  first: CheckViolation[];
}

/** Validates every row of `file` with the contract's compiled validator; counts all violations, keeps the first `limit`. */
export async function checkFile(file: string, contract: Contract, limit: number): Promise<CheckReport> {
  const validator = compileValidator(contract);
  const counts = new Map<string, { field: string; rule: string; count: number }>();
  const first: CheckViolation[] = [];
  let rows = 0;
  let rowsWithViolations = 0;
  let violations = 0;
  for await (const row of rowsOfFile(file)) {
    rows++;
    const found = validator.validate(row, `/rows/${rows}`);
    if (found.length === 0) continue;
    rowsWithViolations++;
    for (const v of found) {
      violations++;
      const key = `${v.name}\u0000${v.rule}`;
      const entry = counts.get(key) ?? { field: v.name, rule: v.rule, count: 0 };
      entry.count++;
      counts.set(key, entry);
      if (first.length < limit) first.push({ row: rows, field: v.name, rule: v.rule, message: v.message });
    }
  }
  return {
    contract: `${contract.name} ${contract.version}`,
    rows,
    rowsWithViolations,
    violations,
    counts: [...counts.values()].sort((a, b) => b.count - a.count),
    first,
  };
}

/** Reads a contract from a local file path, or returns undefined when `ref` is not a file (a registered NAME[@V]). */
export async function localContractText(ref: string): Promise<string | undefined> {
  if (!existsSync(ref)) return undefined;
  return readFile(ref, 'utf8');
}
