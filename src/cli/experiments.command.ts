import type { Command } from 'commander';
import { analyzeExperiment, armFromValues, inferMetricType } from '../delivery/experiments/index.ts';
import type { ExperimentReadout, MetricType } from '../delivery/experiments/index.ts';
import { isTarmacError } from '../shared/errors.ts';
import { rowsOfFile } from './contract-files.ts';
import type { TarmacClient } from './client.ts';
import { table, UsageError } from './output.ts';

/** What the experiments commands need from the program. */
export interface ExperimentsContext {
  emit: (value: unknown, human: () => string) => void;
  /** The API client, for live experiments (start, status, stop); `analyze` needs none. */
  client?: () => TarmacClient;
}

/** Adds `tarmac experiments analyze DATA`: the A/B readout computed locally from one row per unit, no server needed. */
export function addExperimentsCommands(program: Command, ctx: ExperimentsContext): void {
  const experiments = program.command('experiments').description('A/B experiments: live (start, status, stop) and offline readouts');
  const api = () => {
    if (!ctx.client) throw new UsageError('this command needs the API');
    return ctx.client();
  };
  const enc = encodeURIComponent;
  experiments.command('start <model>')
    .description('start an A/B experiment on the deployment\'s variants (the first is the control); units stick to a variant')
    .option('--variants <names>', 'variants in the experiment, control first (default: all of the deployment\'s)')
    .option('--weights <shares>', 'intended shares, e.g. 0.5,0.5 (default equal)')
    .option('--unit-header <name>', 'the request header holding the unit key (e.g. x-user-id)')
    .option('--unit-field <name>', 'the record field holding the unit key')
    .option('--metric <type>', 'binary or continuous (default: inferred from the labels)')
    .option('--guardrail <kind:threshold>', 'a guardrail against the control: error_rate:0.01, latency_p99:1.5 or accuracy:0.02 (repeatable)', (v: string, prev: string[]) => [...prev, v], [])
    .action(async (model: string, opts: { variants?: string; weights?: string; unitHeader?: string; unitField?: string; metric?: string; guardrail: string[] }) => {
      if (opts.metric !== undefined && opts.metric !== 'binary' && opts.metric !== 'continuous') throw new UsageError('--metric must be binary or continuous');
      const body = {
        ...(opts.variants ? { variants: opts.variants.split(',').map((v) => v.trim()) } : {}),
        ...(opts.weights ? { weights: opts.weights.split(',').map(Number) } : {}),
        ...(opts.unitHeader ? { unit_header: opts.unitHeader } : {}),
        ...(opts.unitField ? { unit_field: opts.unitField } : {}),
        ...(opts.metric ? { metric: opts.metric } : {}),
        ...(opts.guardrail.length ? {
          guardrails: opts.guardrail.map((g) => {
            const m = /^([a-z_0-9]+):([0-9.]+)$/.exec(g);
            if (!m) throw new UsageError(`--guardrail takes KIND:THRESHOLD, got "${g}"`);
            return { kind: m[1]!, threshold: Number(m[2]) };
          }),
        } : {}),
      };
      const spec = await api().request<{ id: string; variants: string[]; weights: number[] }>('POST', `/v1/models/${enc(model)}/experiment`, body);
      ctx.emit(spec, () => `experiment ${spec.id} on ${model}: ${spec.variants.map((v, i) => `${v} ${(spec.weights[i]! * 100).toFixed(0)}%`).join(', ')} (control ${spec.variants[0]})`);
    });
  experiments.command('status <model>').description('the live experiment and its readout from the feedback so far').action(async (model: string) => {
    const result = await api().request<{ experiment: { id: string; status: string }; readout: ExperimentReadout | null; guardrails: { variant: string; outcome: string; gates: { kind: string; verdict: string; message: string }[] }[]; message: string | null }>('GET', `/v1/models/${enc(model)}/experiment`);
    ctx.emit(result, () => [
      `experiment ${result.experiment.id} on ${model}: ${result.experiment.status}`,
      ...(result.message ? [result.message] : []),
      ...(result.readout ? ['', human(result.readout)] : []),
      ...(result.guardrails.length ? ['', table(result.guardrails.flatMap((g) => g.gates.map((gate) => ({ variant: g.variant, guardrail: gate.kind, verdict: gate.verdict, detail: gate.message }))), ['variant', 'guardrail', 'verdict', 'detail'])] : []),
    ].join('\n'));
  });
  experiments.command('stop <model>').description('stop the experiment (idempotent)').action(async (model: string) => {
    const spec = await api().request<{ id: string; status: string }>('POST', `/v1/models/${enc(model)}/experiment/stop`);
    ctx.emit(spec, () => `experiment ${spec.id} on ${model}: ${spec.status}`);
  });
  experiments.command('analyze <data>')
    .description('A/B readout from a CSV, JSON Lines or Parquet file of unit_id,variant,value (one row per unit)')
    .requiredOption('--control <name>', 'the control variant')
    .option('--weights <list>', 'intended weights for the sample-ratio check, e.g. control=0.5,b=0.5 (default: equal)')
    .option('--metric <type>', 'binary or continuous (default: binary when every value is 0 or 1)')
    .action(async (data: string, opts: { control: string; weights?: string; metric?: string }) => {
      if (opts.metric !== undefined && opts.metric !== 'binary' && opts.metric !== 'continuous') {
        throw new UsageError(`--metric must be binary or continuous, got "${opts.metric}"`);
      }
      const weights = opts.weights === undefined ? undefined : parseWeights(opts.weights);
      const byVariant = await readUnits(data);
      if (!byVariant.has(opts.control)) throw new UsageError(`--control ${opts.control}: no units in ${data} have that variant (found ${[...byVariant.keys()].join(', ') || 'none'})`);
      if (weights) {
        for (const v of byVariant.keys()) if (!(v in weights)) throw new UsageError(`--weights has no weight for variant ${v}`);
        // A weighted variant nobody landed in still counts in the sample-ratio check.
        for (const v of Object.keys(weights)) if (!byVariant.has(v)) byVariant.set(v, []);
      }
      const metric: MetricType = (opts.metric as MetricType | undefined) ?? inferMetricType([...byVariant.values()].flat());
      if (metric === 'binary') {
        for (const [v, values] of byVariant) {
          if (values.some((x) => x !== 0 && x !== 1)) throw new UsageError(`--metric binary needs 0/1 values; variant ${v} has others`);
        }
      }
      let readout: ExperimentReadout;
      try {
        readout = analyzeExperiment([...byVariant].map(([v, values]) => armFromValues(v, values)), { control: opts.control, metric, ...(weights ? { weights } : {}) });
      } catch (err) {
        if (isTarmacError(err) && err.code === 'VALIDATION_FAILED') throw new UsageError(err.message);
        throw err;
      }
      ctx.emit(readout, () => human(readout));
    });
}

function parseWeights(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of text.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const at = item.lastIndexOf('=');
    const name = item.slice(0, at).trim();
    const value = Number(item.slice(at + 1));
    if (at <= 0 || item.slice(at + 1).trim() === '' || !(value > 0) || !Number.isFinite(value)) {
      throw new UsageError(`--weights takes name=positive-number items, e.g. control=0.5,b=0.5; got "${item}"`);
    }
    if (name in out) throw new UsageError(`--weights names ${name} twice`);
    out[name] = value;
  }
  if (Object.keys(out).length < 2) throw new UsageError('--weights needs at least two variants');
  return out;
}

// One row per unit: a repeated unit_id is refused rather than aggregated, because summing or averaging a unit's rows
// silently changes the metric's meaning; aggregate upstream, where the metric is defined.
async function readUnits(file: string): Promise<Map<string, number[]>> {
  const byVariant = new Map<string, number[]>();
  const seen = new Set<string>();
  let row = 0;
  for await (const r of rowsOfFile(file)) {
    row++;
    const unit = r.unit_id;
    const variant = r.variant;
    if (unit === null || unit === undefined || unit === '') throw new UsageError(`${file} row ${row}: unit_id is missing (columns: unit_id, variant, value)`);
    if (variant === null || variant === undefined || variant === '') throw new UsageError(`${file} row ${row}: variant is missing`);
    const key = String(unit);
    if (seen.has(key)) throw new UsageError(`${file}: unit ${key} appears more than once; give one row per unit (aggregate its values first)`);
    seen.add(key);
    const value = toNumber(r.value);
    if (value === undefined) throw new UsageError(`${file} row ${row} (unit ${key}): value must be a number, got ${JSON.stringify(r.value ?? null)}`);
    const name = String(variant);
    let list = byVariant.get(name);
    if (!list) byVariant.set(name, (list = []));
    list.push(value);
  }
  if (row === 0) throw new UsageError(`${file} has no rows`);
  return byVariant;
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function fmt(x: number | null | undefined): string {
  if (x === null || x === undefined) return '-';
  if (x !== 0 && (Math.abs(x) < 1e-4 || Math.abs(x) >= 1e6)) return x.toExponential(3);
  return x.toFixed(4);
}

function pct(x: number | null): string {
  return x === null ? '-' : `${(x * 100).toFixed(2)}%`;
}

function ci(i: [number, number] | null, asPct: boolean): string {
  return i === null ? '-' : `[${asPct ? pct(i[0]) : fmt(i[0])}, ${asPct ? pct(i[1]) : fmt(i[1])}]`;
}

function human(r: ExperimentReadout): string {
  return [
    `metric: ${r.metric}; control: ${r.control}; 95% intervals; sequential tuning N* = ${r.sequential_tuning}`,
    '',
    table(r.arms.map((a) => ({ variant: a.variant, n: a.n, [r.metric === 'binary' ? 'rate' : 'mean']: fmt(a.mean), share: pct(a.share), expected: pct(a.expected_share) })),
      ['variant', 'n', r.metric === 'binary' ? 'rate' : 'mean', 'share', 'expected']),
    '',
    table(r.comparisons.map((c) => ({
      variant: c.variant, test: c.test, abs_lift: fmt(c.absolute_lift), ci95_abs: ci(c.ci95_abs, false), rel_lift: pct(c.relative_lift),
      ci95_rel: ci(c.ci95_rel, true), p_value: fmt(c.p_value), p_holm: fmt(c.p_value_holm), seq_p: fmt(c.sequential_p_value), seq_ci_rel: ci(c.sequential_ci_rel, true),
    })), ['variant', 'test', 'abs_lift', 'ci95_abs', 'rel_lift', 'ci95_rel', 'p_value', 'p_holm', 'seq_p', 'seq_ci_rel']),
    '',
    `sample ratio: chi-square ${fmt(r.srm.statistic)}, p = ${fmt(r.srm.p_value)}: ${r.srm.mismatch ? 'SAMPLE RATIO MISMATCH (p < 0.001): do not trust this readout' : 'no mismatch'}`,
  ].join('\n');
}
