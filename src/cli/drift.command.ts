import type { Command } from 'commander';
import type { Contract } from '../contracts/index.ts';
import { isTarmacError } from '../shared/errors.ts';
import { DRIFT_METHODS, driftReport } from '../monitoring/index.ts';
import type { ColumnKind, ColumnSamples, DriftMethod, DriftReport } from '../monitoring/index.ts';
import { contractOf, localContractText, rowsOfFile } from './contract-files.ts';
import { table, UsageError } from './output.ts';

/** What the drift command needs from the program. */
export interface DriftContext {
  emit: (value: unknown, human: () => string) => void;
  /** Sets the process exit code (8 when --fail-on-drift and the dataset drifted). */
  setExitCode: (code: number) => void;
}

const NUMERIC_TYPES = new Set(['integer', 'number', 'date', 'timestamp']);

/** Adds `tarmac drift REFERENCE CURRENT`: the drift report computed locally on two files, as a pilot needs it. */
export function addDriftCommand(program: Command, ctx: DriftContext): void {
  program.command('drift <reference> <current>')
    .description('compare two files (CSV, JSON Lines or Parquet) column by column: data drift per column and for the dataset')
    .option('--method <method>', `auto (Evidently's choice by type and size) or one of ${DRIFT_METHODS.join(', ')}`, 'auto')
    .option('--threshold <t>', 'drift threshold for every column (default: the method\'s own: p < 0.05 for ks/chisquare/z, ≥ 0.1 for the distances)')
    .option('--columns <names>', 'compare only these columns (comma-separated)')
    .option('--contract <contract>', 'a contract file whose field types decide numeric vs categorical (default: inferred from the values)')
    .option('--bins <n>', 'bins for numeric columns under jensenshannon and psi (reference quantiles)', '10')
    .option('--drift-share <share>', 'share of drifted columns at which the dataset counts as drifted', '0.5')
    .option('--fail-on-drift', 'exit 8 when the dataset drifted (for CI pipelines)')
    .action(async (reference: string, current: string, opts: { method: string; threshold?: string; columns?: string; contract?: string; bins: string; driftShare: string; failOnDrift?: boolean }) => {
      if (opts.method !== 'auto' && !DRIFT_METHODS.includes(opts.method as DriftMethod)) {
        throw new UsageError(`--method must be auto or one of ${DRIFT_METHODS.join(', ')}`);
      }
      const threshold = opts.threshold === undefined ? undefined : finite(opts.threshold, '--threshold');
      const bins = Number(opts.bins);
      if (!Number.isInteger(bins) || bins < 2 || bins > 1000) throw new UsageError('--bins must be a whole number from 2 to 1000');
      const driftShare = finite(opts.driftShare, '--drift-share');
      let contract: Contract | undefined;
      if (opts.contract !== undefined) {
        const text = await localContractText(opts.contract);
        if (text === undefined) throw new UsageError(`--contract ${opts.contract}: no such file`);
        contract = contractOf(text, opts.contract);
      }
      const wanted = opts.columns?.split(',').map((s) => s.trim()).filter((s) => s !== '');
      const [ref, cur] = await Promise.all([readColumns(reference), readColumns(current)]);
      const names = (wanted ?? [...ref.keys()].filter((n) => cur.has(n)));
      for (const n of names) {
        if (!ref.has(n)) throw new UsageError(`column ${n} is not in ${reference}`);
        if (!cur.has(n)) throw new UsageError(`column ${n} is not in ${current}`);
      }
      if (names.length === 0) throw new UsageError(`${reference} and ${current} have no column in common`);
      const columns: ColumnSamples[] = names.map((name) => {
        const field = contract?.fields.find((f) => f.name === name);
        const reference = ref.get(name)!;
        const current = cur.get(name)!;
        const kind: ColumnKind = field ? (NUMERIC_TYPES.has(field.logicalType) ? 'numeric' : 'categorical') : inferKind(reference, current);
        return { name, kind, reference: field && (field.logicalType === 'date' || field.logicalType === 'timestamp') ? reference.map(toEpoch) : reference, current: field && (field.logicalType === 'date' || field.logicalType === 'timestamp') ? current.map(toEpoch) : current };
      });
      let report: DriftReport;
      try {
        report = driftReport(columns, { method: opts.method as DriftMethod | 'auto', threshold, bins, datasetDriftShare: driftShare });
      } catch (err) {
        if (isTarmacError(err) && err.code === 'VALIDATION_FAILED') throw new UsageError(err.message);
        throw err;
      }
      ctx.emit(report, () => human(report));
      if (opts.failOnDrift && report.dataset_drift) ctx.setExitCode(8);
    });
}

async function readColumns(file: string): Promise<Map<string, unknown[]>> {
  const columns = new Map<string, unknown[]>();
  let rows = 0;
  for await (const row of rowsOfFile(file)) {
    for (const [key, value] of Object.entries(row)) {
      let column = columns.get(key);
      if (!column) {
        // A column first seen late is missing (null) in the rows before it.
        column = new Array<unknown>(rows).fill(null);
        columns.set(key, column);
      }
      column.push(value);
    }
    rows++;
    for (const column of columns.values()) if (column.length < rows) column.push(null);
  }
  return columns;
}

/** Numeric when every non-null value on both sides is a number; otherwise categorical. */
function inferKind(reference: readonly unknown[], current: readonly unknown[]): ColumnKind {
  let seen = false;
  for (const side of [reference, current]) {
    for (const v of side) {
      if (v === null || v === undefined) continue;
      if (typeof v !== 'number') return 'categorical';
      seen = true;
    }
  }
  return seen ? 'numeric' : 'categorical';
}

function toEpoch(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : t;
}

function finite(text: string, option: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${option} must be a number`);
  return n;
}

function fmt(x: number | undefined): string {
  if (x === undefined) return '-';
  if (Number.isNaN(x)) return 'n/a';
  if (x !== 0 && (Math.abs(x) < 1e-4 || Math.abs(x) >= 1e6)) return x.toExponential(3);
  return x.toFixed(4);
}

function human(report: DriftReport): string {
  const drifted = report.columns.filter((c) => c.drift).length;
  return [
    table(report.columns.map((c) => ({
      column: c.column, type: c.type, method: c.method, statistic: fmt(c.statistic), p_value: fmt(c.p_value),
      threshold: c.threshold, drift: c.drift ? 'DRIFT' : '-', reference: c.reference_size, current: c.current_size,
    })), ['column', 'type', 'method', 'statistic', 'p_value', 'threshold', 'drift', 'reference', 'current']),
    '',
    `${drifted} of ${report.columns.length} columns drifted (share ${report.drift_share.toFixed(3)}): ${report.dataset_drift ? 'DATASET DRIFT' : 'no dataset drift'}`,
  ].join('\n');
}
