import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Command, Option } from 'commander';
import { ApiError, clientOptionsFrom, TarmacClient } from './client.ts';
import { addAuditCommands } from './audit.commands.ts';
import { addDatasetCommands } from './datasets.commands.ts';
import { addDriftCommand } from './drift.command.ts';
import { addExperimentsCommands } from './experiments.command.ts';
import { addKeysCommands } from './keys.commands.ts';
import { addMonitorCommands, putReferenceProfile } from './monitor.commands.ts';
import { addApprovalCommands, describePending, type PendingApproval } from './approvals.commands.ts';
import { addPrivacyCommands } from './privacy.commands.ts';
import { addRolloutCommands } from './rollout.commands.ts';
import { referenceOf } from '../serving/reference-stats.ts';
import { isTarmacError } from '../shared/errors.ts';
import { checkFile, contractOf, inferFromFile, localContractText, rowsOfFile } from './contract-files.ts';
import { registerLineageCommand } from './lineage.command.ts';
import { addSigningCommands } from './signing.commands.ts';
import { keyValues, table, UsageError } from './output.ts';

/**
 * Exit codes: 0 ok; 1 unexpected; 2 bad usage or refused input; 3 auth; 4 not found; 5 conflict; 6 unreachable;
 * 7 server error; 8 a file checked against a contract has violations.
 */
export const EXIT = { ok: 0, unexpected: 1, usage: 2, auth: 3, notFound: 4, conflict: 5, unreachable: 6, server: 7, violations: 8 } as const;

interface GlobalOptions {
  json?: boolean;
  url?: string;
}

/** Maps an error to the exit code that means something to scripts. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError) return EXIT.usage;
  if (err instanceof ApiError) {
    if (err.status === 0) return EXIT.unreachable;
    if (err.status === 401 || err.status === 403) return EXIT.auth;
    if (err.status === 404) return EXIT.notFound;
    if (err.status === 409) return EXIT.conflict;
    if (err.status >= 500) return EXIT.server;
    return EXIT.usage;
  }
  return EXIT.unexpected;
}

/** A line or two telling the user what went wrong and what to do. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    const lines = [`error: ${err.message}${err.code && err.status ? ` [${err.code}]` : ''}`];
    for (const issue of err.issues.slice(0, 20)) lines.push(`  ${issue.field}: ${issue.message} (${issue.rule})`);
    if (err.status === 401) lines.push('hint: set TARMAC_API_KEY, or run from the folder holding .tarmac/admin.key');
    return lines.join('\n');
  }
  return `error: ${(err as Error).message ?? String(err)}`;
}

/** Builds the `tarmac` command tree; `up` is imported lazily so client commands start fast. */
export function buildProgram(env: NodeJS.ProcessEnv, print: (text: string) => void): Command {
  const program = new Command('tarmac')
    .description('Take an AI pilot to production: register, deploy, serve and watch ONNX models.')
    .option('--json', 'print JSON for scripts instead of tables')
    .option('--url <url>', 'Tarmac API URL (default: $TARMAC_URL or http://localhost:8080)')
    .showHelpAfterError()
    .exitOverride();
  const client = () => {
    const options = clientOptionsFrom(env);
    const url = (program.opts() as GlobalOptions).url;
    return new TarmacClient(url ? { ...options, url } : options);
  };
  const asJson = () => (program.opts() as GlobalOptions).json === true;
  const emit = (value: unknown, human: () => string) => print(asJson() ? JSON.stringify(value, null, 2) : human());

  program.command('up')
    .description('start Tarmac (API, serving, workers) in this process')
    .option('--port <port>', 'port to listen on (default: $TARMAC_PORT or 8080)')
    .option('--host <host>', 'address to bind (default: $TARMAC_HOST or 127.0.0.1)')
    .option('--data-dir <dir>', 'where the embedded store and artifacts live (default: .tarmac)')
    .option('--demo', 'register and deploy the demo model')
    .action(async (opts: { port?: string; host?: string; dataDir?: string; demo?: boolean }) => {
      const { runUp } = await import('./up.ts');
      let port: number | undefined;
      if (opts.port !== undefined) {
        port = Number(opts.port);
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0–65535, got "${opts.port}"`);
      }
      await runUp(env, { port, host: opts.host, dataDir: opts.dataDir, demo: opts.demo === true }, print);
    });

  program.command('migrate')
    .description('apply database migrations and exit')
    .option('--data-dir <dir>', 'data directory')
    .action(async (opts: { dataDir?: string }) => {
      const { runMigrate } = await import('./up.ts');
      await runMigrate(env, opts.dataDir, print);
    });

  const models = program.command('models').description('the model registry');
  models.command('register <name> <file>')
    .description('upload an ONNX file and register it as the next version of NAME')
    .option('--features <names>', 'comma-separated feature names (matrix inputs: in column order)')
    .option('--metric <k=v>', 'a metric such as auc=0.91 (repeatable)', collect, [])
    .option('--tag <k=v>', 'a tag such as team=risk (repeatable)', collect, [])
    .option('--owner <owner>', 'who owns the model')
    .option('--description <text>', 'what the model does')
    .addOption(new Option('--task <task>', 'override the inferred task').choices(['classification', 'regression', 'other']))
    .option('--class-labels <labels>', 'comma-separated class labels in probability-column order')
    .option('--training-data <ref>', 'lineage: where the training data is')
    .option('--training-data-sha256 <hash>', 'lineage: the training data\'s hash')
    .option('--code-ref <ref>', 'lineage: the training code (e.g. a git commit)')
    .option('--contract <name[@version]>', 'bind to a data contract (default: its latest version); feature names must match its fields')
    .option('--reference <file>', 'training data (.csv, .jsonl or .parquet): per-feature medians and modes (imputed at the serving edge under policy impute) and the reference profile live windows are compared with')
    .option('--reference-label <column>', 'the label column of the --reference file (a binary classifier then gets performance estimated without labels)')
    .option('--trained-on <batch-id>', 'lineage: an ingestion batch the version was trained on (repeatable)', collect, [])
    .action(async (name: string, file: string, opts: RegisterOptions) => {
      // Check the options before uploading, so a typo does not leave an orphan artifact behind.
      const metrics = keyValues(opts.metric, true, '--metric');
      const tags = keyValues(opts.tag, false, '--tag');
      // The training file is read before the upload too: a bad file then leaves nothing behind.
      const reference = opts.reference === undefined ? undefined : await referenceOf(rowsOfFile(opts.reference), path.basename(opts.reference)).catch((err: unknown) => {
        throw isTarmacError(err) ? new UsageError(`--reference: ${err.message}`) : err;
      });
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await readFile(file));
      } catch (err) {
        throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
      }
      const api = client();
      const uploaded = await api.request<{ artifact_sha256: string; signature: VersionView['signature'] }>('POST', '/v1/artifacts', bytes, 'application/octet-stream');
      const lineage = Object.fromEntries(Object.entries({
        training_data: opts.trainingData, training_data_sha256: opts.trainingDataSha256, code_ref: opts.codeRef,
        dataset_batches: opts.trainedOn.length ? opts.trainedOn : undefined,
      }).filter(([, v]) => v !== undefined));
      // A training file also holds the label and other columns: only the model's features are sent.
      const features = new Set(opts.features ? splitList(opts.features) : uploaded.signature.features.map((f) => f.name));
      const only = <T>(values: Record<string, T>) => Object.fromEntries(Object.entries(values).filter(([k]) => features.size === 0 || features.has(k)));
      const body = {
        artifact_sha256: uploaded.artifact_sha256,
        ...(opts.features ? { features: splitList(opts.features) } : {}),
        ...(opts.task ? { task: opts.task } : {}),
        ...(opts.classLabels ? { class_labels: splitList(opts.classLabels).map((l) => (/^-?\d+$/.test(l) ? Number(l) : l)) } : {}),
        ...(opts.owner ? { owner: opts.owner } : {}),
        ...(opts.description ? { description: opts.description } : {}),
        ...(opts.contract ? { contract: opts.contract } : {}),
        metrics,
        tags,
        ...(Object.keys(lineage).length ? { lineage } : {}),
        ...(reference ? { reference: { ...reference, medians: only(reference.medians), modes: only(reference.modes) } } : {}),
      };
      const version = await api.request<VersionView>('POST', `/v1/models/${encodeURIComponent(name)}/versions`, body);
      // The reference profile (what live windows are compared with) goes with the version.
      const profiled = opts.reference === undefined ? undefined
        : await putReferenceProfile(api, version.model, version.version, opts.reference, version.signature.features, opts.referenceLabel);
      emit({ ...version, ...(profiled ? { reference_profile: profiled } : {}) }, () => `registered ${version.model} version ${version.version} (sha256 ${version.artifact_sha256.slice(0, 12)}…, task ${version.signature.task}, features ${version.signature.features.map((f) => f.name).join(',') || '-'}${version.contract ? `, contract ${version.contract.name}@${version.contract.version}` : ''})${profiled ? `; reference profile from ${profiled.rows} rows` : ''}`);
    });
  models.command('list').description('list models').action(async () => {
    const result = await client().request<{ models: Record<string, unknown>[] }>('GET', '/v1/models');
    emit(result, () => table(result.models, ['name', 'owner', 'deployed_versions', 'description']));
  });
  models.command('show <name>').description('a model with its versions, aliases and deployment').action(async (name: string) => {
    const model = await client().request<ModelView>('GET', `/v1/models/${encodeURIComponent(name)}`);
    emit(model, () => [
      `model ${model.name} (owner ${model.owner || '-'})${model.description ? `: ${model.description}` : ''}`,
      model.deployment ? `deployed: ${model.deployment.variants.map((v) => `v${v.version} ${v.weight}% (${v.name})`).join(', ')}; ready=${model.deployment.ready}` : 'deployed: no',
      '',
      table(model.versions.map((v) => ({ ...v, sha256: v.artifact_sha256.slice(0, 12), inputs: v.signature.features.length || v.signature.inputs.length })), ['version', 'aliases', 'sha256', 'inputs', 'metrics', 'created_at']),
    ].join('\n'));
  });

  const contracts = program.command('contracts').description('data contracts (ODCS v3 YAML)');
  contracts.command('register <file>')
    .description('register a contract file as the next version of the contract it names (unchanged content adds nothing)')
    .action(async (file: string) => {
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await readFile(file));
      } catch (err) {
        throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
      }
      const result = await client().request<ContractView>('POST', '/v1/contracts', bytes, 'application/yaml');
      emit(result, () => result.created
        ? `registered contract ${result.name} version ${result.version} (document version ${result.odcs_version}, ${result.fields.length} fields, compatibility ${result.compatibility})`
        : `unchanged: identical to contract ${result.name} version ${result.version}; nothing added`);
    });
  contracts.command('list').description('list contracts (latest version of each)').action(async () => {
    const result = await client().request<{ contracts: Record<string, unknown>[] }>('GET', '/v1/contracts');
    emit(result, () => table(result.contracts, ['name', 'version', 'odcs_version', 'compatibility', 'created_by', 'created_at']));
  });
  contracts.command('show <ref>').description('one contract version: NAME (latest) or NAME@VERSION').action(async (ref: string) => {
    const { name, version } = contractRef(ref);
    const result = await client().request<ContractView>('GET', `/v1/contracts/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}`);
    emit(result, () => [
      `contract ${result.name} version ${result.version} (document version ${result.odcs_version}, status ${result.status}, compatibility ${result.compatibility})`,
      `primary key: ${result.primary_key.join(',') || '-'}; event time: ${result.event_time_field ?? '-'}; sha256 ${result.sha256.slice(0, 12)}…`,
      '',
      table(result.fields, ['name', 'logical_type', 'required', 'unique', 'primary_key', 'pii']),
      ...result.warnings.map((w) => `warning: ${w}`),
    ].join('\n'));
  });
  contracts.command('diff <name> <from> <to>').description('what changed between two versions of a contract (numbers or latest)').action(async (name: string, from: string, to: string) => {
    const query = new URLSearchParams({ from, to }).toString();
    const result = await client().request<ContractDiffView>('GET', `/v1/contracts/${encodeURIComponent(name)}/diff?${query}`);
    const { compatibility } = result;
    emit(result, () => [
      `contract ${result.name}: version ${result.from} → ${result.to}; ${compatibility.compatible ? 'compatible' : 'NOT compatible'} under ${compatibility.mode}`,
      '',
      table(compatibility.changes.map((c) => ({
        field: c.field || '(contract)', change: c.change, breaks: c.breaks.length ? c.breaks : '-', message: c.message,
      })), ['field', 'change', 'breaks', 'message']),
    ].join('\n'));
  });

  contracts.command('infer <file>')
    .description('propose a contract from a CSV, JSON Lines or Parquet sample (types, ranges from quantiles, enums, nullability)')
    .option('--name <name>', 'the contract name (default: from the file name)')
    .option('--sample-size <rows>', 'rows to read (default 100000)')
    .option('--out <file>', 'write the YAML to this file instead of printing it')
    .action(async (file: string, opts: { name?: string; sampleSize?: string; out?: string }) => {
      const sampleSize = opts.sampleSize === undefined ? undefined : positiveInt(opts.sampleSize, '--sample-size', 1);
      const result = await inferFromFile(file, { name: opts.name, sampleSize, out: opts.out });
      emit({ yaml: result.yaml, stats: result.stats }, () => (opts.out
        ? `wrote ${opts.out}: ${result.contract.fields.length} fields from ${result.stats.rowsRead} rows; review it, then \`tarmac contracts register ${opts.out}\``
        : result.yaml.trimEnd()));
    });
  contracts.command('check <file>')
    .description('report every row of a CSV, JSON Lines or Parquet file that breaks a contract; exits 8 when any does')
    .requiredOption('--contract <contract>', 'a contract file, or a registered contract NAME[@VERSION]')
    .option('--limit <n>', 'violations to list (all are counted)', '50')
    .action(async (file: string, opts: { contract: string; limit: string }) => {
      let yamlText = await localContractText(opts.contract);
      if (yamlText === undefined) {
        const { name, version } = contractRef(opts.contract);
        yamlText = (await client().request<ContractView>('GET', `/v1/contracts/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}`)).document;
      }
      const report = await checkFile(file, contractOf(yamlText, opts.contract), positiveInt(opts.limit, '--limit', 0));
      emit(report, () => [
        `${file}: ${report.rows} rows checked against ${report.contract}; ${report.rowsWithViolations} rows with ${report.violations} violations`,
        ...(report.violations ? ['', table([...report.counts], ['field', 'rule', 'count']), '', table(report.first.map((v) => ({ ...v })), ['row', 'field', 'rule', 'message'])] : []),
      ].join('\n'));
      if (report.violations > 0) process.exitCode = EXIT.violations;
    });

  addDatasetCommands(program, { client, emit, asJson, progress: process.stderr });
  addDriftCommand(program, { emit, setExitCode: (code) => { process.exitCode = code; } });
  addExperimentsCommands(program, { emit, client });
  addMonitorCommands(program, { client, emit });
  addRolloutCommands(program, { client, emit });
  addApprovalCommands(program, { client, emit });
  addAuditCommands(program, { client, emit, env, setExitCode: (code) => { process.exitCode = code; } });
  addPrivacyCommands(program, { client, emit });

  const alias = program.command('alias').description('movable names for versions');
  alias.command('set <name> <alias> <version>').description('point ALIAS of NAME at VERSION').action(async (name: string, aliasName: string, version: string) => {
    const result = await client().request<{ alias: string; version: number }>('PUT', `/v1/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(aliasName)}`, { version: versionRef(version) });
    emit(result, () => `${name}@${result.alias} → version ${result.version}`);
  });
  alias.command('delete <name> <alias>').description('remove an alias').action(async (name: string, aliasName: string) => {
    await client().request('DELETE', `/v1/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(aliasName)}`);
    emit({ deleted: aliasName }, () => `deleted ${name}@${aliasName}`);
  });

  program.command('deploy <name> [version]')
    .description('serve VERSION (a number or alias) for NAME, or a traffic split with --split (and shadows with --shadow)')
    .option('--split <variants>', 'a traffic split: NAME=VERSION:WEIGHT,… e.g. stable=3:90,canary=4:10')
    .option('--shadow <shadows>', 'shadow variants answering a copy of the traffic (logged and compared, never returned): NAME=VERSION,…')
    .option('--max-batch-size <rows>', 'most rows the adaptive batcher stacks into one run')
    .option('--max-queue-delay-ms <ms>', 'how long a request may wait for company (0: adaptive, no wait)')
    .option('--no-batching', 'run every request on its own')
    .addOption(new Option('--validation <policy>', 'what a record breaking the version\'s data contract gets').choices(['reject', 'impute', 'fallback', 'off']))
    .option('--fallback <json>', 'the fallback rule\'s answer, e.g. \'{"prediction":0}\' (with --validation fallback)')
    .option('--fallback-version <n>', 'a version of NAME that answers records breaking the contract (with --validation fallback; instead of --fallback)')
    .action(async (name: string, version: string | undefined, opts: { split?: string; shadow?: string; maxBatchSize?: string; maxQueueDelayMs?: string; batching: boolean; validation?: string; fallback?: string; fallbackVersion?: string }) => {
      if ((version === undefined) === (opts.split === undefined)) throw new UsageError('give a VERSION or --split (one of them)');
      const batching: Record<string, number | boolean> = {};
      if (opts.batching === false) batching.enabled = false;
      if (opts.maxBatchSize !== undefined) batching.max_batch_size = positiveInt(opts.maxBatchSize, '--max-batch-size', 1);
      if (opts.maxQueueDelayMs !== undefined) batching.max_queue_delay_ms = positiveInt(opts.maxQueueDelayMs, '--max-queue-delay-ms', 0);
      if ((opts.fallback !== undefined || opts.fallbackVersion !== undefined) && opts.validation !== 'fallback') {
        throw new UsageError(`${opts.fallback !== undefined ? '--fallback' : '--fallback-version'} needs --validation fallback`);
      }
      if (opts.fallback !== undefined && opts.fallbackVersion !== undefined) throw new UsageError('give --fallback or --fallback-version, not both');
      const parts = (text: string, option: string, weighted: boolean) => splitList(text).map((item) => {
        const m = weighted ? /^([a-z][a-z0-9_-]*)=([^:]+):(\d+(?:\.\d+)?)$/.exec(item) : /^([a-z][a-z0-9_-]*)=(.+)$/.exec(item);
        if (!m) throw new UsageError(`${option} takes ${weighted ? 'NAME=VERSION:WEIGHT' : 'NAME=VERSION'} items, got "${item}"`);
        return weighted ? { name: m[1]!, version: versionRef(m[2]!), weight: Number(m[3]) } : { name: m[1]!, version: versionRef(m[2]!) };
      });
      const body = {
        ...(version !== undefined ? { version: versionRef(version) } : { variants: parts(opts.split!, '--split', true) }),
        ...(opts.shadow ? { shadows: parts(opts.shadow, '--shadow', false) } : {}),
        ...(Object.keys(batching).length ? { batching } : {}),
        ...(opts.validation ? {
          validation: {
            policy: opts.validation,
            ...(opts.fallback ? { fallback: parseJsonOption(opts.fallback, '--fallback') } : {}),
            ...(opts.fallbackVersion !== undefined ? { fallback_version: positiveInt(opts.fallbackVersion, '--fallback-version', 1) } : {}),
          },
        } : {}),
      };
      const answer = await client().request<{ revision: number; variants: { name: string; version: number; weight: number }[]; shadows: { name: string; version: number }[]; ready: boolean; validation: { policy: string; fallback_version?: number } | null } | { approval: PendingApproval }>('PUT', `/v1/models/${encodeURIComponent(name)}/deployment`, body);
      if ('approval' in answer) {
        emit(answer, () => describePending(name, answer.approval));
        return;
      }
      const result = answer;
      const fallbackNote = result.validation?.fallback_version !== undefined ? `; contract violations answered by version ${result.validation.fallback_version}` : '';
      const shadowNote = result.shadows?.length ? `; shadows ${result.shadows.map((s) => `${s.name}=v${s.version}`).join(', ')}` : '';
      const served = result.variants.length === 1 ? `version ${result.variants[0]!.version}` : result.variants.map((v) => `${v.name}=v${v.version} (${v.weight})`).join(', ');
      emit(result, () => `${name} now serves ${served} (revision ${result.revision}, ready=${result.ready})${fallbackNote}${shadowNote}`);
    });

  program.command('rollback <name>')
    .description('return NAME to its previous deployment revision (or restore revision N with --to); the swap is instant on every replica')
    .option('--to <revision>', 'restore this revision number')
    .action(async (name: string, opts: { to?: string }) => {
      const body = opts.to === undefined ? {} : { revision: positiveInt(opts.to, '--to', 1) };
      const result = await client().request<{ revision: number; variants: { name: string; version: number; weight: number }[] }>('POST', `/v1/models/${encodeURIComponent(name)}/deployment/rollback`, body);
      emit(result, () => `${name} now serves ${result.variants.map((v) => `${v.name}=v${v.version} (${v.weight}%)`).join(', ')} as revision ${result.revision}`);
    });

  const deployments = program.command('deployments').description('deployment revisions');
  deployments.command('history <name>')
    .description('the deployment revisions of NAME, newest first (--at: what served at that time)')
    .option('--at <time>', 'an ISO 8601 time: only revisions made at or before it (the first served then)')
    .option('--limit <n>', 'how many', '20')
    .action(async (name: string, opts: { at?: string; limit: string }) => {
      const query = new URLSearchParams({ limit: opts.limit });
      if (opts.at !== undefined) {
        if (Number.isNaN(Date.parse(opts.at))) throw new UsageError('--at must be an ISO 8601 time, e.g. 2026-11-27T10:00:00Z');
        query.set('at', new Date(opts.at).toISOString());
      }
      const result = await client().request<{ revisions: { revision: number; variants: { name: string; version: number; weight: number }[]; updated_by: string; updated_at: string }[] }>('GET', `/v1/models/${encodeURIComponent(name)}/deployment/revisions?${query}`);
      emit(result, () => table(result.revisions.map((r) => ({
        revision: r.revision, variants: r.variants.map((v) => `${v.name}=v${v.version} (${v.weight}%)`).join(', '), by: r.updated_by, at: r.updated_at,
      })), ['revision', 'variants', 'by', 'at']));
    });

  program.command('predict <name>')
    .description('predict from a JSON file of {"records": [...]} (or - for stdin)')
    .requiredOption('--file <file>', 'records file, or - for stdin')
    .action(async (name: string, opts: { file: string }) => {
      const body = await readJson(opts.file);
      const result = await client().request<{ version: number; predictions: { id: string; prediction: unknown; probabilities?: Record<string, number> }[] }>('POST', `/v1/models/${encodeURIComponent(name)}/predict`, body);
      emit(result, () => table(result.predictions.map((p, i) => ({ row: i, prediction: p.prediction, probabilities: p.probabilities, version: result.version, id: p.id })), ['row', 'prediction', 'probabilities', 'version', 'id']));
    });

  program.command('feedback <name>')
    .description('send ground truth from a JSON file of {"items": [{"prediction_id", "label"}]} (or - for stdin)')
    .requiredOption('--file <file>', 'feedback file, or - for stdin')
    .action(async (name: string, opts: { file: string }) => {
      const body = await readJson(opts.file);
      const result = await client().request<{ accepted: number; unknown_prediction_ids: string[] }>('POST', `/v1/models/${encodeURIComponent(name)}/feedback`, body);
      emit(result, () => `accepted ${result.accepted}${result.unknown_prediction_ids.length ? `; unknown prediction ids: ${result.unknown_prediction_ids.join(', ')}` : ''}`);
    });

  registerLineageCommand(program, { client, emit });

  const keys = addKeysCommands(program, {
    client, emit,
    bootstrap: async (dataDir) => {
      const { runKeysBootstrap } = await import('./up.ts');
      await runKeysBootstrap(env, dataDir, print);
    },
  });
  addSigningCommands(models, keys, { client, emit });

  return program;
}

interface RegisterOptions {
  features?: string;
  metric: string[];
  tag: string[];
  owner?: string;
  description?: string;
  task?: string;
  classLabels?: string;
  trainingData?: string;
  trainingDataSha256?: string;
  codeRef?: string;
  contract?: string;
  reference?: string;
  referenceLabel?: string;
  trainedOn: string[];
}

interface ContractView {
  name: string;
  version: number;
  odcs_version: string;
  status: string;
  compatibility: string;
  sha256: string;
  created: boolean;
  primary_key: string[];
  event_time_field: string | null;
  fields: Record<string, unknown>[];
  warnings: string[];
  /** The contract's YAML, as registered. */
  document: string;
}

interface ContractDiffView {
  name: string;
  from: number;
  to: number;
  compatibility: { mode: string; compatible: boolean; changes: { field: string; change: string; message: string; breaks: string[] }[] };
}

interface VersionView {
  model: string;
  version: number;
  artifact_sha256: string;
  aliases: string[];
  metrics: Record<string, number>;
  created_at: string;
  signature: { task: string; features: { name: string; type?: string }[]; inputs: unknown[] };
  contract: { name: string; version: number } | null;
}

interface ModelView {
  name: string;
  owner: string;
  description: string;
  versions: VersionView[];
  deployment: { variants: { name: string; version: number; weight: number }[]; ready: boolean } | null;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function splitList(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

function parseJsonOption(text: string, option: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`${option} must be JSON, e.g. '{"prediction":0}', got ${text}`);
  }
}

function positiveInt(text: string, option: string, min: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new UsageError(`${option} must be an integer ≥ ${min}, got "${text}"`);
  return value;
}

/** Splits `NAME[@VERSION]` (version: a number or latest; default latest). */
function contractRef(text: string): { name: string; version: string } {
  const at = text.lastIndexOf('@');
  const name = at < 0 ? text : text.slice(0, at);
  const version = at < 0 ? 'latest' : text.slice(at + 1);
  if (!name || !/^([1-9][0-9]*|latest)$/.test(version)) throw new UsageError(`expected NAME or NAME@VERSION, got "${text}"`);
  return { name, version };
}

function versionRef(text: string): number | string {
  return /^[1-9][0-9]*$/.test(text) ? Number(text) : text;
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
