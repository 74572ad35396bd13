import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { formatOfFileName, FORMAT_MEDIA_TYPES } from '../pipelines/index.ts';
import type { TarmacClient } from './client.ts';
import { localContractText } from './contract-files.ts';
import { table, UsageError } from './output.ts';

/** What dataset commands need from the program. */
export interface CliContext {
  client: () => TarmacClient;
  emit: (value: unknown, human: () => string) => void;
  asJson: () => boolean;
  /** Where progress goes (stderr); only written when it is a terminal. */
  progress: NodeJS.WriteStream;
}

interface Counts { read: number; accepted: number; quarantined: number; duplicates: number; late: number; too_late: number }
interface BatchView {
  id: string; dataset: string; source: string; content_sha256: string | null; status: string; counts: Counts;
  contract_version: number; started_at: string; finished_at: string | null; error: string | null;
  resumed_from_row?: number | null; duration_ms?: number;
}
interface DatasetView {
  name: string; contract: { name: string; version: number }; key: string[]; event_time: string | null;
  window_seconds: number; allowed_lateness_seconds: number; transforms: unknown[]; nats_subject: string | null;
  watermark: string | null; rows?: number; quarantine_open?: number;
  windows?: { window_start: string; rows: number; late: number; too_late: number }[];
}
interface QuarantineView {
  id: number; batch_id: string; row_number: number; raw: unknown; status: string;
  reasons: { field: string; rule: string; message: string }[];
}

const DURATION = /^(\d+)(s|m|h|d)?$/;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `90`, `90s`, `15m`, `1h`, `2d` → seconds; throws UsageError naming the option. */
export function parseDuration(text: string, option: string): number {
  const m = DURATION.exec(text.trim());
  if (!m) throw new UsageError(`${option} must be a duration like 90s, 15m, 1h or 2d (got ${JSON.stringify(text)})`);
  return Number(m[1]) * UNIT_SECONDS[m[2] ?? 's']!;
}

const enc = encodeURIComponent;

/** Adds `tarmac datasets …` and `tarmac ingest` to the program. */
export function addDatasetCommands(program: Command, ctx: CliContext): void {
  const { client, emit } = ctx;
  const datasets = program.command('datasets').description('contract-governed datasets: ingestion, quarantine, exports');

  datasets.command('create <name>')
    .description('create a dataset governed by a contract (a registered NAME[@VERSION], or a YAML file registered first)')
    .requiredOption('--contract <contract>', 'contract file, or NAME[@VERSION]')
    .option('--key <fields>', 'de-duplication key fields, comma-separated (default: the contract\'s primary key; "" for whole-record content)')
    .option('--event-time <field>', 'event-time field (default: the contract\'s tarmac.eventTime field)')
    .option('--window <duration>', 'event-time window size, e.g. 1h (default 1h)')
    .option('--lateness <duration>', 'how long after its end a window accepts rows, e.g. 10m (default: the contract\'s, else 1h)')
    .option('--transforms <file>', 'a YAML or JSON file holding the list of transformation steps')
    .option('--nats-subject <subject>', 'consume this NATS JetStream subject')
    .option('--description <text>', 'what the dataset holds')
    .action(async (name: string, opts: { contract: string; key?: string; eventTime?: string; window?: string; lateness?: string; transforms?: string; natsSubject?: string; description?: string }) => {
      const contract = await contractReference(client(), opts.contract);
      const body: Record<string, unknown> = { name, contract };
      if (opts.key !== undefined) body.key = opts.key.split(',').map((s) => s.trim()).filter((s) => s !== '');
      if (opts.eventTime !== undefined) body.event_time = opts.eventTime;
      if (opts.window !== undefined) body.window_seconds = parseDuration(opts.window, '--window');
      if (opts.lateness !== undefined) body.allowed_lateness_seconds = parseDuration(opts.lateness, '--lateness');
      if (opts.transforms !== undefined) body.transforms = await readTransforms(opts.transforms);
      if (opts.natsSubject !== undefined) body.nats_subject = opts.natsSubject;
      if (opts.description !== undefined) body.description = opts.description;
      const result = await client().request<DatasetView>('POST', '/v1/datasets', body);
      emit(result, () => `created dataset ${result.name} governed by contract ${result.contract.name}@${result.contract.version}; key ${result.key.join(',') || '(whole record)'}; event time ${result.event_time ?? '-'}`);
    });

  datasets.command('list').description('list datasets').action(async () => {
    const result = await client().request<{ datasets: DatasetView[] }>('GET', '/v1/datasets');
    emit(result, () => table(result.datasets.map((d) => ({
      name: d.name, contract: `${d.contract.name}@${d.contract.version}`, key: d.key.join(',') || '-', event_time: d.event_time ?? '-', nats_subject: d.nats_subject ?? '-',
    })), ['name', 'contract', 'key', 'event_time', 'nats_subject']));
  });

  datasets.command('show <name>').description('a dataset: definition, row and quarantine counts, recent windows').action(async (name: string) => {
    const d = await client().request<DatasetView>('GET', `/v1/datasets/${enc(name)}`);
    emit(d, () => [
      `dataset ${d.name}: contract ${d.contract.name}@${d.contract.version}; ${d.rows ?? 0} rows; ${d.quarantine_open ?? 0} open in quarantine`,
      `key: ${d.key.join(',') || '(whole record)'}; event time: ${d.event_time ?? '-'} (window ${d.window_seconds}s, lateness ${d.allowed_lateness_seconds}s, watermark ${d.watermark ?? '-'})`,
      `transforms: ${d.transforms.length}; nats subject: ${d.nats_subject ?? '-'}`,
      ...(d.windows && d.windows.length > 0 ? ['', table(d.windows, ['window_start', 'rows', 'late', 'too_late'])] : []),
    ].join('\n'));
  });

  datasets.command('set-contract <name> <contract>')
    .description('move a dataset to another version of its contract (NAME@VERSION, or a file registered first)')
    .action(async (name: string, contractText: string) => {
      const contract = await contractReference(client(), contractText);
      const d = await client().request<DatasetView>('PATCH', `/v1/datasets/${enc(name)}`, { contract });
      emit(d, () => `dataset ${d.name} now follows contract ${d.contract.name}@${d.contract.version}`);
    });

  datasets.command('batches <name>')
    .description('ingestion batches, newest first')
    .option('--limit <n>', 'how many', '50')
    .action(async (name: string, opts: { limit: string }) => {
      const result = await client().request<{ batches: BatchView[] }>('GET', `/v1/datasets/${enc(name)}/batches?limit=${enc(opts.limit)}`);
      emit(result, () => table(result.batches.map((b) => ({ id: b.id, source: b.source, status: b.status, ...b.counts, started_at: b.started_at })),
        ['id', 'source', 'status', 'read', 'accepted', 'quarantined', 'duplicates', 'late', 'too_late', 'started_at']));
    });

  datasets.command('quarantine <name>')
    .description('quarantined rows with every reason')
    .option('--status <status>', 'open, resubmitted or discarded (default: all)')
    .option('--limit <n>', 'how many', '100')
    .option('--after <id>', 'list rows after this id (paging)')
    .action(async (name: string, opts: { status?: string; limit: string; after?: string }) => {
      const query = new URLSearchParams({ limit: opts.limit });
      if (opts.status) query.set('status', opts.status);
      if (opts.after) query.set('after', opts.after);
      const result = await client().request<{ rows: QuarantineView[]; next_after: number | null }>('GET', `/v1/datasets/${enc(name)}/quarantine?${query}`);
      emit(result, () => (result.rows.length === 0 ? 'no quarantined rows' : table(result.rows.flatMap((r) => r.reasons.map((reason, i) => ({
        id: i === 0 ? r.id : '', row: i === 0 ? r.row_number : '', status: i === 0 ? r.status : '', field: reason.field || '(row)', rule: reason.rule, message: reason.message,
      }))), ['id', 'row', 'status', 'field', 'rule', 'message'])));
    });

  datasets.command('resubmit <name> <id>')
    .description('re-submit a corrected quarantined row (JSON object, or @file)')
    .requiredOption('--record <json>', 'the corrected record as JSON, or @FILE')
    .action(async (name: string, id: string, opts: { record: string }) => {
      const text = opts.record.startsWith('@') ? await readFile(opts.record.slice(1), 'utf8') : opts.record;
      let record: unknown;
      try {
        record = JSON.parse(text);
      } catch (err) {
        throw new UsageError(`--record is not valid JSON: ${(err as Error).message}`);
      }
      const result = await client().request<{ stored: boolean; batch: BatchView }>('POST', `/v1/datasets/${enc(name)}/quarantine/${enc(id)}/resubmit`, { record });
      emit(result, () => (result.stored ? `stored; quarantined row ${id} resolved (batch ${result.batch.id})` : `already stored (a duplicate key); quarantined row ${id} resolved`));
    });

  datasets.command('discard <name> <id>').description('discard a quarantined row (kept, marked discarded)').action(async (name: string, id: string) => {
    const result = await client().request('POST', `/v1/datasets/${enc(name)}/quarantine/${enc(id)}/discard`);
    emit(result, () => `discarded quarantined row ${id}`);
  });

  datasets.command('export <name>')
    .description('export the accepted rows (for training and audits)')
    .option('--format <format>', 'csv, jsonl or parquet', 'csv')
    .option('--out <file>', 'write here (default: NAME.FORMAT)')
    .action(async (name: string, opts: { format: string; out?: string }) => {
      if (!['csv', 'jsonl', 'parquet'].includes(opts.format)) throw new UsageError('--format must be csv, jsonl or parquet');
      const out = opts.out ?? `${name}.${opts.format}`;
      const response = await client().download(`/v1/datasets/${enc(name)}/rows?format=${opts.format}`);
      await pipeline(Readable.fromWeb(response.body! as WebReadableStream<Uint8Array>), createWriteStream(out));
      const { size } = await stat(out);
      emit({ file: out, bytes: size, format: opts.format }, () => `wrote ${out} (${size} bytes, ${opts.format})`);
    });

  program.command('ingest <dataset> <files...>')
    .description('ingest CSV, JSON Lines or Parquet files into a dataset; exits 0 when each batch was processed, whatever it quarantined')
    .action(async (dataset: string, files: string[]) => {
      const results: BatchView[] = [];
      for (const file of files) results.push(await ingestFile(client(), dataset, file, ctx));
      emit(results.length === 1 ? results[0] : { batches: results }, () => table(results.map((b) => ({
        source: b.source, batch: b.id, ...b.counts, resumed_from: b.resumed_from_row ?? '-', seconds: ((b.duration_ms ?? 0) / 1000).toFixed(1),
      })), ['source', 'batch', 'read', 'accepted', 'quarantined', 'duplicates', 'late', 'too_late', 'resumed_from', 'seconds']));
    });
}

/** A contract argument: a local YAML file is registered first (idempotent) and pinned to the version it became. */
async function contractReference(client: TarmacClient, text: string): Promise<string> {
  const yamlText = await localContractText(text);
  if (yamlText === undefined) return text;
  const registered = await client.request<{ name: string; version: number }>('POST', '/v1/contracts', new TextEncoder().encode(yamlText), 'application/yaml');
  return `${registered.name}@${registered.version}`;
}

async function readTransforms(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (err) {
    throw new UsageError(`${file} is not valid YAML or JSON: ${(err as Error).message}`);
  }
  const steps = (value as { transforms?: unknown } | null)?.transforms ?? value;
  if (!Array.isArray(steps)) throw new UsageError(`${file} must hold a list of transformation steps (or {transforms: [...]})`);
  return steps;
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Uploads one file as a batch. The sha-256 goes first as Content-Digest, so running the same command after an
 * interruption resumes the server's batch from its last checkpoint. Progress (rows sent, rows/s, ETA) is drawn on a
 * terminal; the server reads as fast as it commits, so what is sent tracks what is stored.
 */
async function ingestFile(client: TarmacClient, dataset: string, file: string, ctx: CliContext): Promise<BatchView> {
  const format = formatOfFileName(file);
  if (!format) throw new UsageError(`${file}: unknown format; use a .csv, .jsonl/.ndjson or .parquet file`);
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const digest = await sha256File(file);
  const started = Date.now();
  let bytes = 0;
  let lines = 0;
  const tty = ctx.progress.isTTY === true && !ctx.asJson();
  const draw = () => {
    const seconds = (Date.now() - started) / 1000;
    // A CSV's header line is not a row.
    const rows = format === 'csv' ? Math.max(0, lines - 1) : lines;
    const rate = seconds > 0 ? rows / seconds : 0;
    const eta = bytes > 0 && bytes < size ? ((size - bytes) / (bytes / seconds)) : 0;
    ctx.progress.write(`\r${path.basename(file)}  ${Math.floor((100 * bytes) / Math.max(size, 1))}%  ${rows.toLocaleString('en')} rows  ${Math.round(rate).toLocaleString('en')} rows/s  ETA ${Math.ceil(eta)}s   `);
  };
  const timer = tty ? setInterval(draw, 250) : undefined;
  const source = createReadStream(file);
  source.on('data', (chunk) => {
    const buf = chunk as Buffer;
    bytes += buf.length;
    if (format !== 'parquet') for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) lines++;
  });
  try {
    const body = Readable.toWeb(source) as unknown as ReadableStream<Uint8Array>;
    return await client.request<BatchView>('POST', `/v1/datasets/${enc(dataset)}/batches`, body, FORMAT_MEDIA_TYPES[format][0], {
      'content-digest': `sha-256=:${Buffer.from(digest, 'hex').toString('base64')}:`,
      'x-tarmac-source-name': path.basename(file),
    });
  } finally {
    if (timer) {
      clearInterval(timer);
      draw();
      ctx.progress.write('\n');
    }
  }
}
