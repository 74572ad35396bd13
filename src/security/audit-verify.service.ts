import type { KeyObject } from 'node:crypto';
import type { AuditRecord, AuditStore } from '../store/index.ts';
import { readCheckpoints } from './audit-checkpoints.ts';
import { AuditChainVerifier, type AuditVerification } from './audit-verify.ts';

const PAGE = 1000;

/** Verifies the stored audit chain against this instance's signed checkpoints, and streams it for export. */
export class AuditVerifyService {
  constructor(
    private readonly deps: {
      audit: Pick<AuditStore, 'list'>;
      /** The checkpoint directory; absent when checkpoints are not kept (then tail truncation goes unnoticed). */
      checkpointDir?: string;
      /** The public keys checkpoint signatures are checked with. */
      publicKeys?: readonly KeyObject[];
    },
  ) {}

  /** Recomputes the whole chain and compares it with every checkpoint; never throws for tampering, reports it. */
  async verify(): Promise<AuditVerification> {
    const warnings: string[] = [];
    let verifier: AuditChainVerifier;
    if (this.deps.checkpointDir === undefined) {
      warnings.push('no checkpoint directory: a truncated tail or a rewritten chain cannot be detected');
      verifier = new AuditChainVerifier([], [], warnings);
    } else {
      const { checkpoints, problems } = await readCheckpoints(this.deps.checkpointDir, this.deps.publicKeys ?? []);
      if (checkpoints.length === 0 && problems.length === 0) warnings.push('no checkpoints written yet: a truncated tail or a rewritten chain cannot be detected');
      verifier = new AuditChainVerifier(checkpoints, problems, warnings);
    }
    for await (const record of this.entries()) verifier.add(record);
    return verifier.finish();
  }

  /** Every entry in seq order, after `afterSeq` and created at or after `from`, read page by page. */
  async *entries(options: { afterSeq?: number; from?: number } = {}): AsyncGenerator<AuditRecord> {
    let after = options.afterSeq ?? 0;
    for (;;) {
      const page = await this.deps.audit.list({ afterSeq: after, limit: PAGE, ...(options.from !== undefined ? { from: options.from } : {}) });
      yield* page;
      if (page.length < PAGE) return;
      after = page.at(-1)!.seq;
    }
  }
}
