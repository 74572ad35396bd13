import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { REFERENCE_MAX_ROWS, referenceFromRows } from '../monitoring/index.ts';
import type { ReferenceData } from '../monitoring/index.ts';
import { isTarmacError } from '../shared/errors.ts';
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

/**
 * The reference of a training file for the given features (see referenceFromRows); reads at most
 * REFERENCE_MAX_ROWS rows. Throws UsageError when the file cannot serve as a reference.
 */
export async function referenceProfileOf(file: string, features: readonly FeatureInfo[], labelColumn?: string): Promise<ReferenceData & { truncated: boolean }> {
  const rows: Record<string, unknown>[] = [];
  let truncated = false;
  for await (const row of rowsOfFile(file)) {
    if (rows.length >= REFERENCE_MAX_ROWS) {
      truncated = true;
      break;
    }
    rows.push(row);
  }
  try {
    return { ...referenceFromRows(rows, features, labelColumn), truncated };
  } catch (err) {
    if (isTarmacError(err) && err.code === 'VALIDATION_FAILED') throw new UsageError(`${file}: ${err.message}`);
    throw err;
  }
}

/** Sends a reference profile for a version. */
export async function putReferenceProfile(client: TarmacClient, model: string, version: number, file: string, features: readonly FeatureInfo[], labelColumn?: string): Promise<{ rows: number; columns: string[]; truncated: boolean; cbpe_calibrated: boolean | null }> {
  const { profile, truncated, sample } = await referenceProfileOf(file, features, labelColumn);
  const result = await client.request<{ rows: number; columns: string[]; cbpe_calibrated: boolean | null }>('PUT', `/v1/models/${encodeURIComponent(model)}/versions/${version}/reference-profile`, {
    profile, source: path.basename(file), sample,
  });
  return { ...result, truncated };
}

/** Adds `tarmac monitor …`. */
export function addMonitorCommands(program: Command, ctx: MonitorContext): void {
  const monitor = program.command('monitor').description('live monitoring: reference profiles and windows (drift, quality)');

  monitor.command('reference <model> <version> [file]')
    .description('set a version\'s reference profile from its training data: a file (CSV, JSON Lines or Parquet; first 200,000 rows) or an ingested dataset batch')
    .option('--batch <id>', 'a dataset batch instead of a file (the server reads its stored rows)')
    .option('--label <column>', 'the label column: a binary classifier then gets performance estimated without labels (CBPE)')
    .action(async (model: string, versionText: string, file: string | undefined, opts: { label?: string; batch?: string }) => {
      const version = Number(versionText);
      if (!Number.isInteger(version) || version < 1) throw new UsageError('VERSION must be a version number');
      if ((file === undefined) === (opts.batch === undefined)) throw new UsageError('give a FILE or --batch ID (one of them)');
      if (opts.batch !== undefined) {
        const result = await ctx.client().request<{ rows: number; columns: string[] }>('POST', `/v1/models/${encodeURIComponent(model)}/versions/${version}/reference-profile/from-batch`, {
          batch_id: opts.batch, ...(opts.label ? { label: opts.label } : {}),
        });
        ctx.emit(result, () => `reference profile of ${model} v${version} from batch ${opts.batch}: ${result.rows} rows, columns ${result.columns.join(', ')}`);
        return;
      }
      if (file === undefined) return;
      const info = await ctx.client().request<{ signature: { features: FeatureInfo[] } }>('GET', `/v1/models/${encodeURIComponent(model)}/versions/${version}`);
      const result = await putReferenceProfile(ctx.client(), model, version, file, info.signature.features, opts.label);
      ctx.emit(result, () => `reference profile of ${model} v${version}: ${result.rows} rows${result.truncated ? ' (the first 200,000)' : ''}, features ${result.columns.join(', ')}`);
    });

  monitor.command('report <model>')
    .description('write the monitoring report: a self-contained HTML page and its JSON twin (histograms, drift over time, quality, performance)')
    .option('--version <n>', 'one version (default: the newest window\'s)')
    .option('--variant <name>', 'one variant')
    .option('--since <duration>', 'how far back, e.g. 24h or 7d', '24h')
    .option('--window <duration>', 'report windows of this size, e.g. 1h (stored windows merged exactly; default: the monitor\'s windows)')
    .option('--out <file>', 'the HTML file (the JSON goes beside it, .json)', 'report.html')
    .action(async (model: string, opts: { version?: string; variant?: string; since: string; out: string; window?: string }) => {
      const m = /^(\d+)([mhd])$/.exec(opts.since);
      if (!m) throw new UsageError('--since must look like 90m, 24h or 7d');
      const since = new Date(Date.now() - Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd']).toISOString();
      const query = new URLSearchParams({ since });
      if (opts.version) query.set('version', opts.version);
      if (opts.variant) query.set('variant', opts.variant);
      if (opts.window) query.set('window', opts.window);
      const route = `/v1/models/${encodeURIComponent(model)}/monitor/report?${query}`;
      const json = await ctx.client().request<{ windows: unknown; range: unknown }>('GET', `${route}&format=json`);
      const html = await (await ctx.client().download(`${route}&format=html`)).text();
      const jsonFile = opts.out.replace(/\.html?$/i, '') + '.json';
      await writeFile(opts.out, html);
      await writeFile(jsonFile, JSON.stringify(json, null, 2) + '\n');
      ctx.emit({ html: opts.out, json: jsonFile }, () => `wrote ${opts.out} and ${jsonFile}`);
    });

  monitor.command('windows <model>')
    .description('the monitor\'s windows, newest first: rows, drifted features, drift share, quality')
    .option('--version <n>', 'one version')
    .option('--variant <name>', 'one variant')
    .option('--limit <n>', 'how many', '20')
    .option('--size <duration>', 'roll windows up to this size, e.g. 1h or 1d (a multiple of the window size)')
    .action(async (model: string, opts: { version?: string; variant?: string; limit: string; size?: string }) => {
      const query = new URLSearchParams({ limit: opts.limit });
      if (opts.size) query.set('size', opts.size);
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
