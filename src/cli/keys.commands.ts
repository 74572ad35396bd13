import { Option, type Command } from 'commander';
import { ROLES } from '../security/roles.ts';
import type { TarmacClient } from './client.ts';
import { parseDuration } from './datasets.commands.ts';
import { table, UsageError } from './output.ts';

/** What the keys commands need from the program. */
export interface KeysCliContext {
  client: () => TarmacClient;
  emit: (value: unknown, human: () => string) => void;
  /** Runs `tarmac keys bootstrap` against the local store (needs the data dir or TARMAC_DATABASE_URL). */
  bootstrap: (dataDir: string | undefined) => Promise<void>;
}

interface KeyView {
  id: string;
  name: string;
  role: string;
  key?: string;
  scope: { models?: string[]; datasets?: string[] } | null;
  expires_at: string | null;
  previous_secret_expires_at: string | null;
}

function list(text: string | undefined, option: string): string[] | undefined {
  if (text === undefined) return undefined;
  const items = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new UsageError(`${option} needs at least one name or glob, e.g. ${option} credit-*,fraud`);
  return items;
}

function scopeLine(scope: KeyView['scope']): string {
  if (!scope) return 'unrestricted';
  return [scope.models && `models ${scope.models.join(',')}`, scope.datasets && `datasets ${scope.datasets.join(',')}`].filter(Boolean).join('; ');
}

/** Adds `tarmac keys create|list|rotate|revoke|bootstrap`; returns the `keys` command so other parts can add to it. */
export function addKeysCommands(program: Command, ctx: KeysCliContext): Command {
  const { client, emit } = ctx;
  const keys = program.command('keys').description('API keys');

  keys.command('create').description('create a key; it is printed once')
    .addOption(new Option('--role <role>', 'the key\'s role').choices([...ROLES]).makeOptionMandatory())
    .option('--name <name>', 'a label for the key')
    .option('--models <list>', 'restrict the key to these models (names or globs like credit-*, comma-separated)')
    .option('--datasets <list>', 'restrict the key to these datasets (names or globs, comma-separated)')
    .option('--expires-in <duration>', 'the key stops working after this long (90s, 15m, 12h, 30d)')
    .option('--rate-limit <n>', 'the key\'s own requests per minute (0: unlimited; default: the server\'s)')
    .option('--quota <n>', 'the key\'s own records per UTC day (0: unlimited; default: the server\'s)')
    .action(async (opts: { role: string; name?: string; models?: string; datasets?: string; expiresIn?: string; rateLimit?: string; quota?: string }) => {
      const models = list(opts.models, '--models');
      const datasets = list(opts.datasets, '--datasets');
      const limits = limitsBody(opts);
      const body = {
        ...(limits ? { limits } : {}),
        role: opts.role,
        ...(opts.name ? { name: opts.name } : {}),
        ...(models || datasets ? { scope: { ...(models ? { models } : {}), ...(datasets ? { datasets } : {}) } } : {}),
        ...(opts.expiresIn !== undefined ? { expires_in_seconds: parseDuration(opts.expiresIn, '--expires-in') } : {}),
      };
      const created = await client().request<KeyView>('POST', '/v1/keys', body);
      emit(created, () => [
        `created ${created.role} key ${created.id}`,
        created.key!,
        `scope: ${scopeLine(created.scope)}; expires: ${created.expires_at ?? 'never'}`,
        'store it now: it is not shown again',
      ].join('\n'));
    });

  keys.command('list').description('list keys with their scope, expiry and last use (never secrets)').action(async () => {
    const result = await client().request<{ keys: Record<string, unknown>[] }>('GET', '/v1/keys');
    emit(result, () => table(result.keys, ['id', 'name', 'role', 'scope', 'expires_at', 'last_used_at', 'revoked_at']));
  });

  keys.command('rotate <id>')
    .description('issue a new secret for a key (printed once); the old one keeps working for the grace period')
    .option('--grace <duration>', 'how long the old secret keeps working (0, 90s, 15m, 24h; default: the server\'s, 24h)')
    .action(async (id: string, opts: { grace?: string }) => {
      const body = opts.grace !== undefined ? { grace_seconds: parseDuration(opts.grace, '--grace') } : {};
      const rotated = await client().request<KeyView>('POST', `/v1/keys/${encodeURIComponent(id)}/rotate`, body);
      emit(rotated, () => [
        `rotated ${rotated.role} key ${rotated.id}`,
        rotated.key!,
        `the old secret works until ${rotated.previous_secret_expires_at ?? 'now'}`,
        'store it now: it is not shown again',
      ].join('\n'));
    });

  keys.command('limits <id>')
    .description('give a key its own request rate and daily records quota (neither option: back to the server defaults)')
    .option('--rate-limit <n>', 'requests per minute (0: unlimited)')
    .option('--quota <n>', 'records per UTC day (0: unlimited)')
    .action(async (id: string, opts: { rateLimit?: string; quota?: string }) => {
      const updated = await client().request<KeyView & { limits: Record<string, number> | null }>('PUT', `/v1/keys/${encodeURIComponent(id)}/limits`, limitsBody(opts) ?? {});
      emit(updated, () => `key ${updated.id}: ${updated.limits ? Object.entries(updated.limits).map(([k, v]) => `${k} ${v}`).join(', ') : 'the server defaults'}`);
    });

  keys.command('revoke <id>').description('revoke a key at once').action(async (id: string) => {
    const result = await client().request<{ id: string }>('DELETE', `/v1/keys/${encodeURIComponent(id)}`);
    emit(result, () => `revoked ${result.id}`);
  });

  keys.command('bootstrap')
    .description('create an admin key in <data dir>/admin.key when the store has no usable one (runs against the store, not the API)')
    .option('--data-dir <dir>', 'data directory')
    .action(async (opts: { dataDir?: string }) => ctx.bootstrap(opts.dataDir));

  return keys;
}

/** `--rate-limit` / `--quota` as a limits body, or undefined when neither is given. */
function limitsBody(opts: { rateLimit?: string; quota?: string }): { requests_per_minute?: number; records_per_day?: number } | undefined {
  const whole = (value: string, option: string) => {
    if (!/^\d+$/.test(value)) throw new UsageError(`${option} takes a whole number ≥ 0, got "${value}"`);
    return Number(value);
  };
  if (opts.rateLimit === undefined && opts.quota === undefined) return undefined;
  return {
    ...(opts.rateLimit !== undefined ? { requests_per_minute: whole(opts.rateLimit, '--rate-limit') } : {}),
    ...(opts.quota !== undefined ? { records_per_day: whole(opts.quota, '--quota') } : {}),
  };
}
