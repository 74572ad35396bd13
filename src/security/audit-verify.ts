import { AUDIT_GENESIS_HASH, auditHash } from '../store/index.ts';
import type { AuditRecord } from '../store/index.ts';
import type { AuditCheckpoint } from './audit-checkpoints.ts';

/** What kind of tampering (or damage) a problem points at. */
export type AuditProblemKind =
  /** An entry's content no longer matches its hash: the row was edited. */
  | 'hash_mismatch'
  /** An entry's prev_hash is not the previous entry's hash: rows were reordered, replaced or inserted. */
  | 'link_broken'
  /** Seq numbers are missing and the link across them is broken: rows were deleted. */
  | 'entries_missing'
  /** The first entry does not start the chain (seq 1 from the genesis hash): the oldest rows were deleted. */
  | 'start_missing'
  /** A checkpoint names a seq beyond the chain's head: the tail was truncated. */
  | 'truncated'
  /** The entry a checkpoint names has another hash, or is gone: the chain was rewritten from there. */
  | 'checkpoint_mismatch'
  /** Fewer or more entries up to a checkpoint's seq than the checkpoint counted. */
  | 'checkpoint_count'
  /** A checkpoint line is malformed, signed by an unknown key, or its signature does not verify. */
  | 'checkpoint_signature';

/** One problem found by verification, with where it is. */
export interface AuditProblem {
  kind: AuditProblemKind;
  /** The entry it concerns, when it concerns one. */
  seq?: number;
  /** The checkpoint file and line (1-based) it concerns, when it concerns a checkpoint. */
  file?: string;
  line?: number;
  message: string;
}

/** The outcome of verifying the chain (and the checkpoints, when given). */
export interface AuditVerification {
  ok: boolean;
  /** Entries read. */
  entries: number;
  head: { seq: number; hash: string } | null;
  /** Checkpoints whose signature verified and that were compared with the chain. */
  checkpoints: { checked: number; latest: { seq: number; hash: string; at: string } | null };
  problems: AuditProblem[];
  /** What was not checked, e.g. no checkpoints given (then truncation and full rewrites cannot be detected). */
  warnings: string[];
}

/** A checkpoint whose signature verified, with where it came from. */
export interface LocatedCheckpoint {
  checkpoint: AuditCheckpoint;
  file: string;
  line: number;
}

/**
 * Recomputes the audit chain entry by entry (feed them in seq order with `add`, page by page) and compares it with
 * signed checkpoints; `finish` reports every problem with its seq or checkpoint line. Pure: no I/O.
 */
export class AuditChainVerifier {
  private readonly problems: AuditProblem[] = [];
  private readonly bySeq = new Map<number, LocatedCheckpoint[]>();
  private readonly matched = new Set<LocatedCheckpoint>();
  private previous: { seq: number; hash: string } | undefined;
  private entries = 0;

  /** `checkpoints` are the verified ones; `checkpointProblems` are those found while reading and checking them. */
  constructor(
    private readonly checkpoints: readonly LocatedCheckpoint[] = [],
    checkpointProblems: readonly AuditProblem[] = [],
    private readonly warnings: string[] = [],
  ) {
    for (const cp of checkpoints) {
      const list = this.bySeq.get(cp.checkpoint.seq) ?? [];
      list.push(cp);
      this.bySeq.set(cp.checkpoint.seq, list);
    }
    this.problems.push(...checkpointProblems);
  }

  /** Checks the next entry (in ascending seq order). */
  add(record: AuditRecord): void {
    this.entries++;
    const prev = this.previous;
    if (prev === undefined) {
      if (record.seq !== 1 || record.prevHash !== AUDIT_GENESIS_HASH) {
        this.problems.push({
          kind: 'start_missing', seq: record.seq,
          message: `the chain starts at seq ${record.seq}${record.prevHash === AUDIT_GENESIS_HASH ? '' : ' without the genesis hash'}: entries before it were deleted`,
        });
      }
    } else if (record.prevHash !== prev.hash) {
      if (record.seq > prev.seq + 1) {
        this.problems.push({
          kind: 'entries_missing', seq: record.seq,
          message: `entries ${prev.seq + 1}..${record.seq - 1} are missing and seq ${record.seq} does not link to seq ${prev.seq}: rows were deleted`,
        });
      } else {
        this.problems.push({
          kind: 'link_broken', seq: record.seq,
          message: `seq ${record.seq} does not link to seq ${prev.seq} (prev_hash differs): rows were reordered, replaced or inserted`,
        });
      }
    }
    if (auditHash(record.prevHash, record) !== record.hash) {
      this.problems.push({ kind: 'hash_mismatch', seq: record.seq, message: `seq ${record.seq} does not match its hash: the entry was edited` });
    }
    for (const cp of this.bySeq.get(record.seq) ?? []) {
      this.matched.add(cp);
      if (cp.checkpoint.hash !== record.hash) {
        this.problems.push({
          kind: 'checkpoint_mismatch', seq: record.seq, file: cp.file, line: cp.line,
          message: `checkpoint ${cp.file}:${cp.line} signed hash ${cp.checkpoint.hash.slice(0, 12)}… for seq ${record.seq}, the chain has ${record.hash.slice(0, 12)}…: the chain was rewritten`,
        });
      } else if (cp.checkpoint.count !== this.entries) {
        this.problems.push({
          kind: 'checkpoint_count', seq: record.seq, file: cp.file, line: cp.line,
          message: `checkpoint ${cp.file}:${cp.line} counted ${cp.checkpoint.count} entries up to seq ${record.seq}, the chain has ${this.entries}`,
        });
      }
    }
    // Continue from this entry, so one problem is reported once instead of breaking every later link.
    this.previous = { seq: record.seq, hash: record.hash };
  }

  /** The report; call after the last entry. */
  finish(): AuditVerification {
    const head = this.previous ?? null;
    for (const cp of this.checkpoints) {
      if (this.matched.has(cp)) continue;
      const beyond = head === null || cp.checkpoint.seq > head.seq;
      this.problems.push(beyond
        ? {
          kind: 'truncated', seq: cp.checkpoint.seq, file: cp.file, line: cp.line,
          message: `checkpoint ${cp.file}:${cp.line} signed seq ${cp.checkpoint.seq}, but the chain ends at ${head?.seq ?? 'nothing'}: the tail was truncated`,
        }
        : {
          kind: 'checkpoint_mismatch', seq: cp.checkpoint.seq, file: cp.file, line: cp.line,
          message: `checkpoint ${cp.file}:${cp.line} signed seq ${cp.checkpoint.seq}, which is no longer in the chain: the chain was rewritten`,
        });
    }
    const latest = this.checkpoints.reduce<LocatedCheckpoint | undefined>((a, b) => (a === undefined || b.checkpoint.seq >= a.checkpoint.seq ? b : a), undefined);
    return {
      ok: this.problems.length === 0,
      entries: this.entries,
      head,
      checkpoints: {
        checked: this.checkpoints.length,
        latest: latest ? { seq: latest.checkpoint.seq, hash: latest.checkpoint.hash, at: latest.checkpoint.at } : null,
      },
      problems: this.problems,
      warnings: this.warnings,
    };
  }
}

/** Verifies a whole list of entries (in seq order) at once; see AuditChainVerifier. */
export function verifyAuditEntries(
  records: Iterable<AuditRecord>,
  checkpoints: readonly LocatedCheckpoint[] = [],
  checkpointProblems: readonly AuditProblem[] = [],
): AuditVerification {
  const verifier = new AuditChainVerifier(checkpoints, checkpointProblems);
  for (const record of records) verifier.add(record);
  return verifier.finish();
}
