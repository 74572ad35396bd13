import { PeriodicJob } from '../shared/periodic-job.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/logger.ts';
import type { AuditStore, RolloutStore } from '../store/index.ts';
import { appendCheckpoint, lastCheckpoint, signCheckpoint, type AuditCheckpoint, type AuditSigningKey } from './audit-checkpoints.ts';

/** The lease that makes one replica the checkpoint writer. */
export const CHECKPOINT_LEASE = 'audit-checkpoint';

/**
 * Writes a signed checkpoint of the audit chain's head to an append-only file outside the database, every interval
 * and at shutdown, when the head moved since the last one. With several replicas only the lease holder writes.
 */
export class AuditCheckpointer {
  private readonly job = new PeriodicJob(() => this.write(), (err: unknown) => this.deps.log.error({ err }, 'audit checkpoint failed'));

  constructor(
    private readonly deps: {
      audit: Pick<AuditStore, 'head'>;
      leases: Pick<RolloutStore, 'acquireLease'>;
      key: AuditSigningKey;
      dir: string;
      /** This replica's name, as the lease holder. */
      holder: string;
      intervalSeconds: number;
      clock: Clock;
      log: Logger;
    },
  ) {}

  /** Starts the periodic checkpoints (the timer does not keep the process alive). */
  start(): void {
    this.job.start(this.deps.intervalSeconds * 1000);
  }

  /**
   * Writes a checkpoint when this replica holds the lease and the head moved since the file's last line; returns it,
   * or undefined when nothing was written. Calls never overlap.
   */
  checkpoint(): Promise<AuditCheckpoint | undefined> {
    return this.job.run();
  }

  /** Stops the timer and writes a final checkpoint when the head moved. */
  async close(): Promise<void> {
    await this.job.stop();
    await this.checkpoint();
  }

  private async write(): Promise<AuditCheckpoint | undefined> {
    const now = this.deps.clock.now();
    const leased = await this.deps.leases.acquireLease(CHECKPOINT_LEASE, this.deps.holder, now, now + this.deps.intervalSeconds * 2000);
    if (!leased) return undefined;
    const head = await this.deps.audit.head();
    if (!head) return undefined;
    const last = await lastCheckpoint(this.deps.dir);
    if (last && last.seq === head.seq && last.hash === head.hash) return undefined;
    const checkpoint = signCheckpoint(head, new Date(now), this.deps.key);
    await appendCheckpoint(this.deps.dir, checkpoint);
    this.deps.log.info({ seq: head.seq, count: head.count }, 'audit checkpoint written');
    return checkpoint;
  }
}
