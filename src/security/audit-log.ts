import type { Clock } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';
import type { Logger } from '../shared/logger.ts';
import type { AuditRecord, AuditStore } from '../store/index.ts';
import type { Principal } from './roles.ts';

/** Records every mutating action and every refused access in the hash-chained audit store. */
export class AuditLog {
  constructor(private readonly deps: { audit: AuditStore; clock: Clock; log: Logger }) {}

  /** Appends a successful action by `actor` on `target`. */
  async record(actor: Principal, action: string, target: string, details: Record<string, unknown>): Promise<AuditRecord> {
    return this.append(actor.id, action, target, 'ok', details);
  }

  /** Appends a refused access; never throws, since refusing must not fail because the audit write did. */
  async denied(actor: string, action: string, target: string, details: Record<string, unknown>): Promise<void> {
    try {
      await this.append(actor, action, target, 'denied', details);
    } catch (err) {
      this.deps.log.error({ err, action, target }, 'could not audit a refused access');
    }
  }

  /** Appends an action by `actor` that was refused on its merits (not for lack of permission). */
  async failed(actor: Principal, action: string, target: string, details: Record<string, unknown>): Promise<AuditRecord> {
    return this.append(actor.id, action, target, 'failed', details);
  }

  /** Lists entries, oldest first. */
  async list(options: { limit?: number; afterSeq?: number } = {}): Promise<AuditRecord[]> {
    return this.deps.audit.list(options);
  }

  private append(actor: string, action: string, target: string, outcome: AuditRecord['outcome'], details: Record<string, unknown>) {
    return this.deps.audit.append({ id: newId(), createdAt: this.deps.clock.now(), actor, action, target, outcome, details });
  }
}
