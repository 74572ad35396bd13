import type { Clock } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';
import type { Logger } from '../shared/logger.ts';
import type { AuditRecord, AuditStore, UnitOfWork } from '../store/index.ts';
import type { RequestContext } from './request-context.ts';
import type { Principal } from './roles.ts';

/**
 * Records every mutating action and every refused access in the hash-chained audit store, with who (actor and role),
 * what, when and from where (the current request context). Inside `atomically` an entry joins the change's
 * transaction, so both commit or neither does.
 */
export class AuditLog {
  constructor(private readonly deps: { audit: AuditStore; clock: Clock; log: Logger; unitOfWork?: UnitOfWork }) {}

  /**
   * Runs `fn` as one store transaction: the changes it makes through the repositories and the entries it records
   * here commit together, or roll back together when `fn` (or an append) throws. Publish events after it resolves.
   * Without a unit of work (some unit tests) `fn` simply runs.
   */
  atomically<T>(fn: () => Promise<T>): Promise<T> {
    return this.deps.unitOfWork ? this.deps.unitOfWork.run(fn) : fn();
  }

  /** Appends a successful action by `actor` on `target`; put `before`/`after` in `details` when known. */
  async record(actor: Principal, action: string, target: string, details: Record<string, unknown>): Promise<AuditRecord> {
    return this.append(actor.id, actor.role, action, target, 'ok', details, actor.origin);
  }

  /**
   * Appends a refused access; never throws, since refusing must not fail because the audit write did. `origin`: where
   * the request came from when the actor is only a name (an unauthenticated caller).
   */
  async denied(actor: string | Principal, action: string, target: string, details: Record<string, unknown>, origin?: RequestContext): Promise<void> {
    try {
      if (typeof actor === 'string') await this.append(actor, null, action, target, 'denied', details, origin);
      else await this.append(actor.id, actor.role, action, target, 'denied', details, actor.origin ?? origin);
    } catch (err) {
      this.deps.log.error({ err, action, target }, 'could not audit a refused access');
    }
  }

  /** Appends an action by `actor` that was refused on its merits (not for lack of permission). */
  async failed(actor: Principal, action: string, target: string, details: Record<string, unknown>): Promise<AuditRecord> {
    return this.append(actor.id, actor.role, action, target, 'failed', details, actor.origin);
  }

  /** Lists entries, oldest first: after `afterSeq`, created at or after `from` (epoch ms), at most `limit`. */
  async list(options: { limit?: number; afterSeq?: number; from?: number } = {}): Promise<AuditRecord[]> {
    return this.deps.audit.list(options);
  }

  private append(actor: string, actorRole: string | null, action: string, target: string, outcome: AuditRecord['outcome'], details: Record<string, unknown>, from?: RequestContext) {
    return this.deps.audit.append({
      id: newId(),
      createdAt: this.deps.clock.now(),
      actor,
      actorRole,
      action,
      target,
      outcome,
      ip: from?.ip ?? null,
      requestId: from?.requestId ?? null,
      userAgent: from?.userAgent ?? null,
      details,
    });
  }
}
