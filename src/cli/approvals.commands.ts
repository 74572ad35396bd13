import type { Command } from 'commander';
import type { TarmacClient } from './client.ts';
import { table, UsageError } from './output.ts';
import type { RolloutContext } from './rollout.commands.ts';

/** A four-eyes approval as the API shows it. */
export interface PendingApproval {
  id: string; kind: string; status: string; summary: string; requested_by: string; requested_at: string; expires_at: string;
  decided_by: string | null; decided_at: string | null; reason: string | null;
}

/** The line printed when a change waits for a second person. */
export function describePending(model: string, a: PendingApproval): string {
  return `${model}: ${a.summary} — waits for a second person's approval (four-eyes policy) until ${a.expires_at}.\n`
    + `Another person approves with: tarmac approvals approve ${model} ${a.id}`;
}

/** Adds `tarmac approvals list|approve|reject` and `tarmac policy show|set`. */
export function addApprovalCommands(program: Command, ctx: { client: () => TarmacClient; emit: RolloutContext['emit'] }): void {
  const enc = encodeURIComponent;
  const approvals = program.command('approvals').description('four-eyes approvals of promotions');
  approvals.command('list <model>').description('the model\'s approvals, newest first')
    .option('--status <status>', 'only pending, approved, rejected, expired or failed ones')
    .action(async (model: string, opts: { status?: string }) => {
      const r = await ctx.client().request<{ approvals: PendingApproval[] }>('GET', `/v1/models/${enc(model)}/approvals${opts.status ? `?status=${enc(opts.status)}` : ''}`);
      ctx.emit(r, () => (r.approvals.length === 0 ? 'no approvals' : table(r.approvals.map((a) => ({
        id: a.id, status: a.status, change: a.summary, requested_by: a.requested_by, decided_by: a.decided_by ?? '', expires_at: a.expires_at,
      })), ['id', 'status', 'change', 'requested_by', 'decided_by', 'expires_at'])));
    });
  approvals.command('approve <model> <id>').description('approve a pending change and apply it (not by the person who asked)')
    .action(async (model: string, id: string) => {
      const a = await ctx.client().request<PendingApproval>('POST', `/v1/models/${enc(model)}/approvals/${enc(id)}/approve`);
      ctx.emit(a, () => `approved and applied: ${a.summary}`);
    });
  approvals.command('reject <model> <id>').description('reject a pending change')
    .option('--reason <text>', 'why')
    .action(async (model: string, id: string, opts: { reason?: string }) => {
      const a = await ctx.client().request<PendingApproval>('POST', `/v1/models/${enc(model)}/approvals/${enc(id)}/reject`, opts.reason ? { reason: opts.reason } : {});
      ctx.emit(a, () => `rejected: ${a.summary}`);
    });

  const policy = program.command('policy').description('a model\'s promotion policy');
  policy.command('show <model>').action(async (model: string) => {
    const p = await ctx.client().request<{ four_eyes: boolean; expires_after_seconds: number }>('GET', `/v1/models/${enc(model)}/policy`);
    ctx.emit(p, () => `four-eyes: ${p.four_eyes ? 'on' : 'off'}; requests expire after ${p.expires_after_seconds}s`);
  });
  policy.command('set <model>').description('e.g. --four-eyes on: promotions wait for a second person')
    .option('--four-eyes <on|off>', 'a change that gives a version the majority of the traffic needs a second approver')
    .option('--expires-after <seconds>', 'how long a request waits for its approver')
    .action(async (model: string, opts: { fourEyes?: string; expiresAfter?: string }) => {
      if (opts.fourEyes !== undefined && !['on', 'off'].includes(opts.fourEyes)) throw new UsageError('--four-eyes takes on or off');
      const body = {
        ...(opts.fourEyes !== undefined ? { four_eyes: opts.fourEyes === 'on' } : {}),
        ...(opts.expiresAfter !== undefined ? { expires_after_seconds: Number(opts.expiresAfter) } : {}),
      };
      const p = await ctx.client().request<{ four_eyes: boolean; expires_after_seconds: number }>('PUT', `/v1/models/${enc(model)}/policy`, body);
      ctx.emit(p, () => `four-eyes: ${p.four_eyes ? 'on' : 'off'}; requests expire after ${p.expires_after_seconds}s`);
    });
}
