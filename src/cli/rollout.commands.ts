import type { Command } from 'commander';
import type { TarmacClient } from './client.ts';
import { describePending, type PendingApproval } from './approvals.commands.ts';
import { parseDuration } from './datasets.commands.ts';
import { table, UsageError } from './output.ts';

/** What the rollout commands need from the program. */
export interface RolloutContext {
  client: () => TarmacClient;
  emit: (value: unknown, human: () => string) => void;
}

interface RolloutView {
  model: string; status: string; reason: string | null; canary_version: number; stable_version: number; steps: number[];
  step: number; weight: number; step_started_at: string; interval_seconds: number;
  analyses: { at: string; weight: number; outcome: string; gates: { kind: string; verdict: string; message: string }[] }[];
}

function describe(r: RolloutView): string {
  const lines = [
    `rollout of ${r.model}: v${r.canary_version} over v${r.stable_version} — ${r.status}${r.reason ? ` (${r.reason})` : ''}`,
    `steps ${r.steps.join(' → ')}%; now ${r.weight}% since ${r.step_started_at}; analysis every ${r.interval_seconds}s`,
  ];
  if (r.analyses.length > 0) {
    lines.push('', table(r.analyses.slice(-10).flatMap((a) => a.gates.map((g, i) => ({
      at: i === 0 ? a.at : '', weight: i === 0 ? `${a.weight}%` : '', outcome: i === 0 ? a.outcome : '', gate: g.kind, verdict: g.verdict, detail: g.message,
    }))), ['at', 'weight', 'outcome', 'gate', 'verdict', 'detail']));
  }
  return lines.join('\n');
}

/** Adds `tarmac rollout start|status|pause|resume|promote|abort`. */
export function addRolloutCommands(program: Command, ctx: RolloutContext): void {
  const rollout = program.command('rollout').description('gated canary rollouts');
  const enc = encodeURIComponent;

  rollout.command('start <model> <version>')
    .description('roll VERSION out over the stable version step by step, each step gated by an analysis')
    .option('--steps <weights>', 'canary shares, ending at 100; a first step of 0 runs the canary as a shadow', '5,25,50,100')
    .option('--interval <duration>', 'how long each step runs before its analysis', '10m')
    .option('--gate <kind:threshold>', 'a gate: error_rate:0.01, latency_p99:1.5, accuracy:0.02, prediction_drift:0.1, shadow_disagreement:0.05 (needs a first step of 0) or business_metric:NAME[:higher|lower]:0.02 (repeatable; default error_rate:0.01 and latency_p99:1.5)', (v: string, prev: string[]) => [...prev, v], [])
    .option('--min-samples <n>', 'requests each variant needs before a step is judged', '100')
    .option('--min-labels <n>', 'labels each variant needs before the accuracy gate judges', '30')
    .option('--failure-limit <n>', 'failed analyses tolerated before rolling back', '0')
    .option('--deadline <duration>', 'how long a step may wait for enough data (default 3 × interval)')
    .action(async (model: string, version: string, opts: { steps: string; interval: string; gate: string[]; minSamples: string; minLabels: string; failureLimit: string; deadline?: string }) => {
      const steps = opts.steps.split(',').map((s) => Number(s.trim()));
      if (steps.some((s) => !Number.isInteger(s))) throw new UsageError('--steps must be whole percentages, e.g. 5,25,50,100');
      const gates = opts.gate.map(parseGate);
      const body = {
        version: /^\d+$/.test(version) ? Number(version) : version,
        steps, interval_seconds: parseDuration(opts.interval, '--interval'),
        ...(gates.length ? { gates } : {}),
        min_samples: Number(opts.minSamples), min_labels: Number(opts.minLabels), failure_limit: Number(opts.failureLimit),
        ...(opts.deadline ? { deadline_seconds: parseDuration(opts.deadline, '--deadline') } : {}),
      };
      const r = await ctx.client().request<RolloutView>('POST', `/v1/models/${enc(model)}/rollout`, body);
      ctx.emit(r, () => describe(r));
    });

  rollout.command('status <model>').description('the newest rollout and its analyses').action(async (model: string) => {
    const r = await ctx.client().request<RolloutView>('GET', `/v1/models/${enc(model)}/rollout`);
    ctx.emit(r, () => describe(r));
  });

  for (const action of ['pause', 'resume', 'promote', 'abort'] as const) {
    const description = action === 'promote' ? 'promote the rollout now (idempotent; under a four-eyes policy it waits for a second person)' : `${action} the rollout (idempotent)`;
    rollout.command(`${action} <model>`).description(description).action(async (model: string) => {
      const r = await ctx.client().request<RolloutView | { approval: PendingApproval }>('POST', `/v1/models/${enc(model)}/rollout/${action}`);
      ctx.emit(r, () => ('approval' in r ? describePending(model, r.approval) : describe(r)));
    });
  }
}

/** `KIND:THRESHOLD`, or `business_metric:NAME[:higher|lower]:THRESHOLD`. */
function parseGate(g: string): { kind: string; threshold: number; metric?: string; direction?: string } {
  const business = /^business_metric:([a-z][a-z0-9_]*)(?::(higher|lower))?:([0-9.]+)$/.exec(g);
  if (business) return { kind: 'business_metric', metric: business[1]!, ...(business[2] ? { direction: business[2] } : {}), threshold: Number(business[3]) };
  const m = /^([a-z_0-9]+):([0-9.]+)$/.exec(g);
  if (!m) throw new UsageError(`--gate takes KIND:THRESHOLD or business_metric:NAME[:higher|lower]:THRESHOLD, got "${g}"`);
  return { kind: m[1]!, threshold: Number(m[2]) };
}
