import type { AuditRecord } from '../store/index.ts';

/** One line of an audit export (JSON Lines for a SIEM): every stored field, snake_case like the rest of the API. */
export interface AuditExportLine {
  seq: number;
  format: number;
  id: string;
  /** Epoch milliseconds, as hashed. */
  created_at: number;
  /** The same instant as ISO 8601 UTC, for people and SIEMs (not hashed). */
  time: string;
  actor: string;
  actor_role: string | null;
  action: string;
  target: string;
  outcome: AuditRecord['outcome'];
  ip: string | null;
  request_id: string | null;
  user_agent: string | null;
  details: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

/** An entry as one export line. */
export function toExportLine(r: AuditRecord): AuditExportLine {
  return {
    seq: r.seq, format: r.format, id: r.id, created_at: r.createdAt, time: new Date(r.createdAt).toISOString(), actor: r.actor,
    actor_role: r.actorRole, action: r.action, target: r.target, outcome: r.outcome, ip: r.ip, request_id: r.requestId,
    user_agent: r.userAgent, details: r.details, prev_hash: r.prevHash, hash: r.hash,
  };
}

/** Reads one export line back into an entry; throws a TypeError naming the field when it is not one. */
export function fromExportLine(text: string): AuditRecord {
  const v = JSON.parse(text) as Partial<AuditExportLine>;
  const str = (name: keyof AuditExportLine): string => {
    const value = v[name];
    if (typeof value !== 'string') throw new TypeError(`export line: ${name} must be a string`);
    return value;
  };
  const nullable = (name: keyof AuditExportLine): string | null => (v[name] === null || v[name] === undefined ? null : str(name));
  const int = (name: keyof AuditExportLine): number => {
    const value = v[name];
    if (!Number.isSafeInteger(value)) throw new TypeError(`export line: ${name} must be an integer`);
    return value as number;
  };
  if (typeof v.details !== 'object' || v.details === null || Array.isArray(v.details)) throw new TypeError('export line: details must be an object');
  return {
    seq: int('seq'), format: int('format'), id: str('id'), createdAt: int('created_at'), actor: str('actor'), actorRole: nullable('actor_role'),
    action: str('action'), target: str('target'), outcome: str('outcome') as AuditRecord['outcome'], ip: nullable('ip'),
    requestId: nullable('request_id'), userAgent: nullable('user_agent'), details: v.details, prevHash: str('prev_hash'), hash: str('hash'),
  };
}

/**
 * Parses `--since`/`?since=`: a non-negative integer is a seq (entries after it), anything else must be an ISO 8601
 * time (entries created at or after it). Returns undefined when it is neither.
 */
export function parseSince(since: string | undefined): { afterSeq?: number; from?: number } | undefined {
  if (since === undefined || since === '') return {};
  if (/^[0-9]{1,15}$/.test(since)) return { afterSeq: Number(since) };
  if (!/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(since)) return undefined;
  const from = Date.parse(since);
  return Number.isNaN(from) ? undefined : { from };
}
