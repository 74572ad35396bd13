import type { DeploymentRequest, RegistryService } from '../../registry/index.ts';
import type { AuditLog, Principal } from '../../security/index.ts';
import { SYSTEM_PRINCIPAL } from '../../security/index.ts';
import type { Clock } from '../../shared/clock.ts';
import { TarmacError } from '../../shared/errors.ts';
import { newTimeOrderedId } from '../../shared/ids.ts';
import type { AlertConfigStore, ApprovalRow, DeploymentRecord, RolloutStore } from '../../store/index.ts';
import type { RolloutService, RolloutState } from '../rollouts/index.ts';

/** A model's promotion policy. */
export interface PromotionPolicy {
  /** A change that gives a version the majority of the traffic needs a second person's approval. */
  fourEyes: boolean;
  /** How long a request waits for its approver before it expires. */
  expiresAfterSeconds: number;
}

/** Where an approval stands. */
export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'expired' | 'failed';

/** A change waiting for (or decided by) a second person. */
export interface Approval {
  id: string;
  model: string;
  kind: 'deployment' | 'rollout.promote';
  status: ApprovalStatus;
  /** What the change does, in words ("version 3 takes 100% of the traffic; it had 0%"). */
  summary: string;
  /** deployment: the request, applied as submitted once approved. */
  request?: DeploymentRequest;
  /** rollout.promote: the rollout to promote. */
  rollout?: string;
  requestedBy: string;
  requestedAt: number;
  expiresAt: number;
  decidedBy?: string;
  decidedAt?: number;
  reason?: string;
}

/** What a gated action did: applied at once, or waiting for a second person. */
export type Gated<T> = { applied: T } | { pending: Approval };

const DEFAULT_POLICY: PromotionPolicy = { fourEyes: false, expiresAfterSeconds: 86_400 };

/**
 * Four-eyes promotion: when a model's policy asks for it, a change that gives a version the majority of the traffic
 * (a deployment, a manual rollout promotion, or a rollout's automatic final promotion) waits as a pending approval
 * until a second person — not the one who asked — approves it; then it is applied in the approver's name. A
 * majority rather than exactly 100% so a 99/1 split cannot slip past. Rolling back to an earlier revision is never
 * held: instant rollback must stay instant. Every request and decision is audited.
 */
export class ApprovalService {
  constructor(
    private readonly deps: {
      store: Pick<RolloutStore, 'putApproval' | 'getApproval' | 'listApprovals'>;
      settings: Pick<AlertConfigStore, 'getSetting' | 'putSetting'>;
      registry: Pick<RegistryService, 'getDeployment' | 'resolveVersion' | 'applyDeploymentRequest'>;
      rollouts: () => Pick<RolloutService, 'promote' | 'status'>;
      audit: AuditLog;
      clock: Clock;
    },
  ) {}

  /** The model's promotion policy (four-eyes off unless set). */
  async policy(model: string): Promise<PromotionPolicy> {
    const stored = await this.deps.settings.getSetting(`policy:${model}`);
    return stored ? { ...DEFAULT_POLICY, ...(JSON.parse(stored.document) as Partial<PromotionPolicy>) } : DEFAULT_POLICY;
  }

  /** Replaces the model's promotion policy (audited with before and after). Throws VALIDATION_FAILED naming the field. */
  async setPolicy(model: string, input: { fourEyes?: unknown; expiresAfterSeconds?: unknown }, by: Principal): Promise<PromotionPolicy> {
    const before = await this.policy(model);
    const issues: { field: string; rule: string; message: string }[] = [];
    if (input.fourEyes !== undefined && typeof input.fourEyes !== 'boolean') issues.push({ field: '/four_eyes', rule: 'type', message: 'must be true or false' });
    const expires = input.expiresAfterSeconds ?? before.expiresAfterSeconds;
    if (!Number.isInteger(expires) || (expires as number) < 60 || (expires as number) > 30 * 86_400) issues.push({ field: '/expires_after_seconds', rule: 'range', message: 'must be a whole number of seconds from 60 to 30 days' });
    if (issues.length > 0) throw new TarmacError('VALIDATION_FAILED', `the policy is not valid: ${issues.map((i) => `${i.field} ${i.message}`).join('; ')}`, { issues });
    const after: PromotionPolicy = { fourEyes: (input.fourEyes as boolean | undefined) ?? before.fourEyes, expiresAfterSeconds: expires as number };
    await this.deps.audit.atomically(async () => {
      await this.deps.settings.putSetting(`policy:${model}`, JSON.stringify(after), by.id, this.deps.clock.now());
      await this.deps.audit.record(by, 'policy.set', `model:${model}`, { before, after });
    });
    return after;
  }

  /** Applies a deployment change, or holds it for a second person when the policy asks and it is a promotion. */
  async deploy(model: string, request: DeploymentRequest, by: Principal): Promise<Gated<DeploymentRecord>> {
    const policy = await this.policy(model);
    if (policy.fourEyes) {
      const promotion = await this.promotion(model, request);
      if (promotion) return { pending: await this.request(model, { kind: 'deployment', request, summary: promotion }, by, policy) };
    }
    return { applied: await this.deps.registry.applyDeploymentRequest(model, request, by) };
  }

  /** Promotes the model's rollout now, or holds the promotion for a second person when the policy asks. */
  async promoteRollout(model: string, by: Principal): Promise<Gated<RolloutState>> {
    const policy = await this.policy(model);
    const state = await this.deps.rollouts().status(model);
    if (policy.fourEyes && (state.status === 'progressing' || state.status === 'paused')) {
      return { pending: await this.pendingPromotion(state, by, policy) };
    }
    return { applied: await this.deps.rollouts().promote(model, by) };
  }

  /**
   * For the rollout controller: undefined when the rollout may promote itself now, else the id of the approval it
   * waits for (asked in the name of the person who started the rollout, who therefore cannot approve it).
   */
  async gateAutomaticPromotion(state: RolloutState): Promise<string | undefined> {
    const policy = await this.policy(state.model);
    if (!policy.fourEyes) return undefined;
    return (await this.pendingPromotion(state, undefined, policy)).id;
  }

  /** A model's approvals, newest first. */
  async list(model: string, options: { status?: ApprovalStatus; limit?: number } = {}): Promise<Approval[]> {
    const rows = await this.deps.store.listApprovals(model, { status: options.status, limit: options.limit ?? 100 });
    return rows.map((r) => this.expireIfDue(fromRow(r)));
  }

  /** One approval. Throws APPROVAL_NOT_FOUND. */
  async get(model: string, id: string): Promise<Approval> {
    const row = await this.deps.store.getApproval(id);
    if (!row || row.model !== model) throw new TarmacError('APPROVAL_NOT_FOUND', `model ${model} has no approval ${id}`, { details: { model, id } });
    return this.expireIfDue(fromRow(row));
  }

  /**
   * Approves a pending change and applies it in the approver's name. Throws APPROVAL_NOT_FOUND, APPROVAL_SELF (the
   * requester cannot approve their own change), APPROVAL_NOT_PENDING (decided or expired), or what applying throws
   * (the approval is then `failed` with the reason).
   */
  async approve(model: string, id: string, by: Principal): Promise<{ approval: Approval; result: unknown }> {
    const approval = await this.pendingOne(model, id);
    if (approval.requestedBy === by.id) {
      await this.deps.audit.denied(by, 'approval.approve', `model:${model}`, { approval: id, reason: 'self-approval' });
      throw new TarmacError('APPROVAL_SELF', `${by.id} asked for this change and cannot also approve it: a second person must`, { details: { approval: id, requested_by: approval.requestedBy } });
    }
    // The decision and its audit entry commit together; the change itself is applied (and audited) after, outside
    // the transaction, because applying a deployment loads models and must not hold the store meanwhile.
    const decided = await this.deps.audit.atomically(async () => {
      const next = await this.decide(approval, { status: 'approved', decidedBy: by.id });
      await this.deps.audit.record(by, 'approval.approve', `model:${model}`, { approval: id, kind: next.kind, summary: next.summary, requested_by: next.requestedBy });
      return next;
    });
    try {
      const result = decided.kind === 'deployment'
        ? await this.deps.registry.applyDeploymentRequest(model, decided.request!, by)
        : await this.deps.rollouts().promote(model, by);
      return { approval: decided, result };
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      await this.decide(decided, { status: 'failed', reason }, 'approved');
      await this.deps.audit.failed(by, 'approval.approve', `model:${model}`, { approval: id, reason });
      throw err;
    }
  }

  /** Rejects a pending change (the requester may withdraw their own). Throws APPROVAL_NOT_FOUND or APPROVAL_NOT_PENDING. */
  async reject(model: string, id: string, by: Principal, reason?: string): Promise<Approval> {
    const approval = await this.pendingOne(model, id);
    return this.deps.audit.atomically(async () => {
      const decided = await this.decide(approval, { status: 'rejected', decidedBy: by.id, reason: reason ?? `rejected by ${by.id}` });
      await this.deps.audit.record(by, 'approval.reject', `model:${model}`, { approval: id, kind: decided.kind, reason: decided.reason });
      return decided;
    });
  }

  /** The words for a change that gives a version the majority of the traffic it did not have, or undefined. */
  private async promotion(model: string, request: DeploymentRequest): Promise<string | undefined> {
    const before = new Map<number, number>();
    try {
      const current = await this.deps.registry.getDeployment(model);
      const total = current.spec.variants.reduce((a, v) => a + v.weight, 0) || 1;
      for (const v of current.spec.variants) before.set(v.version, (before.get(v.version) ?? 0) + (v.weight / total) * 100);
    } catch (err) {
      if (!(err instanceof TarmacError) || err.code !== 'SERVING_NOT_DEPLOYED') throw err;
    }
    const after = new Map<number, number>();
    const variants = request.variants ?? (request.version !== undefined ? [{ name: 'stable', version: request.version, weight: 100 }] : []);
    const total = variants.reduce((a, v) => a + (Number.isFinite(v.weight) ? v.weight : 0), 0) || 1;
    for (const v of variants) {
      const version = (await this.deps.registry.resolveVersion(model, v.version)).version;
      after.set(version, (after.get(version) ?? 0) + (v.weight / total) * 100);
    }
    for (const [version, share] of after) {
      const had = before.get(version) ?? 0;
      if (share > 50 && had <= 50) return `version ${version} takes ${round(share)}% of the traffic; it had ${round(had)}%`;
    }
    return undefined;
  }

  /** `by` undefined: the controller asks, in the name of whoever started the rollout. */
  private async pendingPromotion(state: RolloutState, by: Principal | undefined, policy: PromotionPolicy): Promise<Approval> {
    // One pending promotion per rollout: asking twice returns the same request.
    const open = (await this.list(state.model, { status: 'pending' })).find((a) => a.kind === 'rollout.promote' && a.rollout === state.id);
    if (open) return open;
    return this.request(state.model, {
      kind: 'rollout.promote', rollout: state.id,
      summary: `promote the rollout of version ${state.canaryVersion} to 100% (stable version ${state.stableVersion})`,
    }, by, policy, state.createdBy);
  }

  /** Stores a pending approval asked by `by` (or, for the controller, in the name of `requestedBy`) and audits it. */
  private async request(model: string, what: Pick<Approval, 'kind' | 'summary' | 'request' | 'rollout'>, by: Principal | undefined, policy: PromotionPolicy, requestedBy = by?.id ?? SYSTEM_PRINCIPAL.id): Promise<Approval> {
    const now = this.deps.clock.now();
    const approval: Approval = {
      id: newTimeOrderedId(), model, status: 'pending', ...what, requestedBy: by?.id ?? requestedBy, requestedAt: now, expiresAt: now + policy.expiresAfterSeconds * 1000,
    };
    await this.deps.audit.atomically(async () => {
      await this.deps.store.putApproval(toRow(approval));
      await this.deps.audit.record(by ?? SYSTEM_PRINCIPAL, 'approval.request', `model:${model}`, { approval: approval.id, kind: approval.kind, summary: approval.summary, requested_by: approval.requestedBy });
    });
    return approval;
  }

  private async pendingOne(model: string, id: string): Promise<Approval> {
    const approval = await this.get(model, id);
    if (approval.status === 'expired' && (await this.deps.store.getApproval(id))?.status === 'pending') {
      await this.decide({ ...approval, status: 'pending' }, { status: 'expired', reason: 'no second person approved it in time' });
    }
    if (approval.status !== 'pending') {
      throw new TarmacError('APPROVAL_NOT_PENDING', `approval ${id} is ${approval.status}`, { details: { approval: id, status: approval.status } });
    }
    return approval;
  }

  /** Moves an approval on from `from` (compare-and-set: when someone else decided first, APPROVAL_NOT_PENDING). */
  private async decide(approval: Approval, change: Partial<Approval>, from: ApprovalStatus = 'pending'): Promise<Approval> {
    const next: Approval = { ...approval, ...change, decidedAt: this.deps.clock.now() };
    if (!(await this.deps.store.putApproval(toRow(next), from))) {
      throw new TarmacError('APPROVAL_NOT_PENDING', `approval ${approval.id} was decided by someone else`, { details: { approval: approval.id } });
    }
    return next;
  }

  private expireIfDue(a: Approval): Approval {
    return a.status === 'pending' && this.deps.clock.now() > a.expiresAt ? { ...a, status: 'expired' } : a;
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

function toRow(a: Approval): ApprovalRow {
  return { id: a.id, model: a.model, status: a.status, document: JSON.stringify(a), createdAt: a.requestedAt, updatedAt: a.decidedAt ?? a.requestedAt };
}

function fromRow(r: ApprovalRow): Approval {
  return { ...(JSON.parse(r.document) as Approval), status: r.status as ApprovalStatus };
}
