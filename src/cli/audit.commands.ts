import { existsSync, createWriteStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Command } from 'commander';
import type { KeyObject } from 'node:crypto';
import { AuditChainVerifier, fromExportLine, parseSince, readCheckpoints, readPublicKey, type AuditVerification } from '../security/index.ts';
import type { TarmacClient } from './client.ts';
import { UsageError } from './output.ts';

/** What the audit commands need from the program. */
export interface AuditCommandContext {
  client: () => TarmacClient;
  emit: (value: unknown, human: () => string) => void;
  /** Sets the process exit code (8 when verification finds problems). */
  setExitCode: (code: number) => void;
  env: NodeJS.ProcessEnv;
}

const EXIT_VIOLATIONS = 8;

/**
 * Adds `tarmac audit verify` (downloads the chain from the API and verifies it here, against local signed checkpoint
 * files, so a verifier need not trust the server's own check) and `tarmac audit export` (JSON Lines for a SIEM).
 */
export function addAuditCommands(program: Command, ctx: AuditCommandContext): void {
  const audit = program.command('audit').description('the tamper-evident audit log');
  const dataDir = ctx.env.TARMAC_DATA_DIR || '.tarmac';

  audit.command('verify')
    .description('recompute the audit chain and check it against the signed checkpoints; exits 8 when anything was tampered with')
    .option('--checkpoints <dir>', 'the checkpoint directory (default: $TARMAC_AUDIT_CHECKPOINT_DIR or <data dir>/audit-checkpoints when it exists)')
    .option('--public-key <file>', 'an Ed25519 public key (SPKI PEM) checkpoints may be signed with; repeatable (default: <data dir>/audit-signing.pub)', collect, [])
    .action(async (opts: { checkpoints?: string; publicKey: string[] }) => {
      const defaultDir = ctx.env.TARMAC_AUDIT_CHECKPOINT_DIR || path.join(dataDir, 'audit-checkpoints');
      const dir = opts.checkpoints ?? (existsSync(defaultDir) ? defaultDir : undefined);
      if (opts.checkpoints !== undefined && !existsSync(opts.checkpoints)) throw new UsageError(`--checkpoints ${opts.checkpoints}: no such directory`);
      const keyFiles = opts.publicKey.length > 0 ? opts.publicKey : [path.join(dataDir, 'audit-signing.pub')].filter((f) => existsSync(f));
      const keys: KeyObject[] = [];
      for (const file of keyFiles) {
        try {
          keys.push(await readPublicKey(file));
        } catch (err) {
          throw new UsageError(`--public-key ${file}: ${(err as Error).message}`);
        }
      }
      const warnings: string[] = [];
      let verifier: AuditChainVerifier;
      if (dir === undefined) {
        warnings.push('no checkpoint directory: a truncated tail or a rewritten chain cannot be detected (pass --checkpoints)');
        verifier = new AuditChainVerifier([], [], warnings);
      } else {
        if (keys.length === 0) warnings.push('no public key: every checkpoint will be reported as signed by an unknown key (pass --public-key)');
        const { checkpoints, problems } = await readCheckpoints(dir, keys);
        if (checkpoints.length === 0 && problems.length === 0) warnings.push(`no checkpoints in ${dir}: a truncated tail or a rewritten chain cannot be detected`);
        verifier = new AuditChainVerifier(checkpoints, problems, warnings);
      }
      const response = await ctx.client().download('/v1/audit/export?since=0');
      const lines = createInterface({ input: Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), crlfDelay: Infinity });
      let n = 0;
      for await (const line of lines) {
        n++;
        if (line.trim() === '') continue;
        try {
          verifier.add(fromExportLine(line));
        } catch (err) {
          throw new Error(`the export's line ${n} is not an audit entry: ${(err as Error).message}`, { cause: err });
        }
      }
      const report = verifier.finish();
      ctx.emit(report, () => describe(report));
      if (!report.ok) ctx.setExitCode(EXIT_VIOLATIONS);
    });

  audit.command('export')
    .description('write the audit log as JSON Lines (one entry per line, with seq and hashes) for a SIEM')
    .option('--since <seq-or-time>', 'entries after this seq, or created at or after this ISO 8601 time (default: all)', '0')
    .option('--out <file>', 'write to this file (default: standard output)')
    .action(async (opts: { since: string; out?: string }) => {
      if (parseSince(opts.since) === undefined) throw new UsageError(`--since must be a seq or an ISO 8601 time, got "${opts.since}"`);
      const response = await ctx.client().download(`/v1/audit/export?since=${encodeURIComponent(opts.since)}`);
      let entries = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          for (const byte of chunk) if (byte === 10) entries++;
          done(null, chunk);
        },
      });
      const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
      if (opts.out === undefined) {
        await pipeline(body, counter, process.stdout, { end: false });
        return;
      }
      await pipeline(body, counter, createWriteStream(opts.out, { flags: 'wx', mode: 0o600 }));
      ctx.emit({ file: opts.out, entries }, () => `wrote ${entries} audit entries to ${opts.out}`);
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function describe(report: AuditVerification): string {
  const lines = [
    `audit chain: ${report.entries} entries${report.head ? `, head seq ${report.head.seq} (${report.head.hash.slice(0, 12)}…)` : ''}; `
    + `${report.checkpoints.checked} signed checkpoints checked${report.checkpoints.latest ? `, latest seq ${report.checkpoints.latest.seq} at ${report.checkpoints.latest.at}` : ''}`,
  ];
  for (const w of report.warnings) lines.push(`warning: ${w}`);
  if (report.ok) lines.push('OK: the chain verifies');
  else {
    lines.push(`TAMPERED: ${report.problems.length} problem(s)`);
    for (const p of report.problems) lines.push(`  ${p.kind}${p.seq !== undefined ? ` at seq ${p.seq}` : ''}: ${p.message}`);
  }
  return lines.join('\n');
}
