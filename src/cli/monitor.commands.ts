import path from 'node:path';
import type { Command } from 'commander';
import { buildReferenceDatasetProfile } from '../monitoring/index.ts';
import type { WindowSummary } from '../monitoring/index.ts';
import type { TarmacClient } from './client.ts';
import { rowsOfFile } from './contract-files.ts';
import { table, UsageError } from './output.ts';

/** What the monitor commands need from the program. */
export interface MonitorContext {
  client: () => TarmacClient;
  emit: (value: unknown, human: () => string) => void;
}

/** A feature as the version's signature describes it. */
export interface FeatureInfo {
  name: string;
  type?: string;
}

/** Rows read from a reference file at most: a bounded prefix keeps memory flat (the profile needs two passes). */
export const REFERENCE_MAX_ROWS = 200_000;

/**
 * The reference profile of a training file for the given features: string and boolean features are categorical,
 * the rest numeric. Reads at most REFERENCE_MAX_ROWS rows. Throws UsageError when none of the features is in the file.
 */
export async function referenceProfileOf(file: string, features: readonly FeatureInfo[]): Promise<{ profile: unknown; rows: number; truncated: boolean }> {
  const rows: Record<string, unknown>[] = [];
  let truncated = false;
  const present = new Set<string>();
  for await (const row of rowsOfFile(file)) {
    if (rows.length >= REFERENCE_MAX_ROWS) {
      truncated = true;
      break;
    }
    rows.push(row);
    if (rows.length <= 100) for (const k of Object.keys(row)) present.add(k);
  }
  const kinds: Record<string, 'numeric' | 'categorical'> = {};
  for (const f of features) {
    if (!present.has(f.name)) continue;
    kinds[f.name] = f.type === 'string' || f.type === 'bool' ? 'categorical' : 'numeric';
  }
  if (Object.keys(kinds).length === 0) throw new UsageError(`${file} has none of the model's features (${features.map((f) => f.name).join(', ')})`);
  const profile = buildReferenceDatasetProfile(rows, kinds);
  return { profile: profile.toJSON(), rows: rows.length, truncated };
}

/** Sends a reference profile for a version. */
export async function putReferenceProfile(client: TarmacClient, model: string, version: number, file: string, features: readonly FeatureInfo[]): Promise<{ rows: number; columns: string[]; truncated: boolean }> {
  const { profile, truncated } = await referenceProfileOf(file, features);
  const result = await client.request<{ rows: number; columns: string[] }>('PUT', `/v1/models/${encodeURIComponent(model)}/versions/${version}/reference-profile`, {
    profile, source: path.basename(file),
  });
  return { ...result, truncated };
}

/** Adds `tarmac monitor …`. */
export function addMonitorCommands(program: Command, ctx: MonitorContext): void {
  const monitor = program.command('monitor').description('live monitoring: reference profiles and windows (drift, quality)');

  monitor.command('reference <model> <version> <file>')
    .description('set a version\'s reference profile from its training data (CSV, JSON Lines or Parquet; first 200,000 rows)')
    .action(async (model: string, versionText: string, file: string) => {
      const version = Number(versionText);
      if (!Number.isInteger(version) || version < 1) throw new UsageError('VERSION must be a version number');
      const info = await ctx.client().request<{ signature: { features: FeatureInfo[] } }>('GET', `/v1/models/${encodeURIComponent(model)}/versions/${version}`);
      const result = await putReferenceProfile(ctx.client(), model, version, file, info.signature.features);
      ctx.emit(result, () => `reference profile of ${model} v${version}: ${result.rows} rows${result.truncated ? ' (the first 200,000)' : ''}, features ${result.columns.join(', ')}`);
    });

  monitor.command('windows <model>')
    .description('the monitor\'s windows, newest first: rows, drifted features, drift share, quality')
    .option('--version <n>', 'one version')
    .option('--variant <name>', 'one variant')
    .option('--limit <n>', 'how many', '20')
    .action(async (model: string, opts: { version?: string; variant?: string; limit: string }) => {
      const query = new URLSearchParams({ limit: opts.limit });
      if (opts.version) query.set('version', opts.version);
      if (opts.variant) query.set('variant', opts.variant);
      const result = await ctx.client().request<{ windows: WindowSummary[] }>('GET', `/v1/models/${encodeURIComponent(model)}/monitor/windows?${query}`);
      ctx.emit(result, () => (result.windows.length === 0 ? `no windows yet for ${model}` : table(result.windows.map((w) => ({
        window_start: w.window_start,
        version: w.version,
        variant: w.variant,
        rows: w.rows,
        state: w.closed ? 'closed' : 'open',
        drift_share: w.drift ? w.drift.drift_share.toFixed(2) : '-',
        drifted: w.drift ? w.drift.columns.filter((c) => c.drift).map((c) => c.column).join(',') || '-' : 'no reference',
        volume: w.quality.volume_ratio === null ? '-' : w.quality.volume_ratio.toFixed(2),
      })), ['window_start', 'version', 'variant', 'rows', 'state', 'drift_share', 'drifted', 'volume'])));
    });
}
