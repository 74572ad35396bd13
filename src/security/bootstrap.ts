import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TarmacError } from '../shared/errors.ts';
import type { KeyService } from './key-service.ts';
import { SYSTEM_PRINCIPAL } from './roles.ts';

/** Writes an admin key to `<dataDir>/admin.key`, readable by its owner only. */
async function writeKeyFile(dataDir: string, key: string): Promise<string> {
  await mkdir(dataDir, { recursive: true });
  const file = path.join(dataDir, 'admin.key');
  await writeFile(file, `${key}\n`, { mode: 0o600 });
  // writeFile's mode applies only when it creates the file; an older file keeps its mode unless we set it.
  await chmod(file, 0o600);
  return file;
}

/**
 * On an empty store, creates the first admin key and writes it to `<dataDir>/admin.key` (mode 0600); returns it so
 * the caller can print it once. Returns undefined when keys already exist. There is no default password: until this
 * has run (first `tarmac up`, or `tarmac keys bootstrap`), no request but the health checks is answered.
 */
export async function ensureAdminKey(keys: KeyService, dataDir: string): Promise<{ key: string; file: string } | undefined> {
  if ((await keys.count()) > 0) return undefined;
  const created = await keys.create({ role: 'admin', name: 'bootstrap-admin' }, SYSTEM_PRINCIPAL);
  return { key: created.key, file: await writeKeyFile(dataDir, created.key) };
}

/**
 * `tarmac keys bootstrap`: creates an admin key when the store has no usable one (none yet, or every admin key
 * revoked, expired or scoped), writing it to `<dataDir>/admin.key`. Needs access to the store itself, which is the
 * root of trust. Throws KEY_ADMIN_EXISTS when an active admin key exists.
 */
export async function bootstrapAdminKey(keys: KeyService, dataDir: string): Promise<{ key: string; file: string; id: string }> {
  await keys.refresh();
  if (keys.hasActiveAdmin()) {
    throw new TarmacError('KEY_ADMIN_EXISTS', 'an active admin key exists; use it to create more keys (tarmac keys create)');
  }
  const created = await keys.create({ role: 'admin', name: 'bootstrap-admin' }, SYSTEM_PRINCIPAL);
  return { key: created.key, id: created.id, file: await writeKeyFile(dataDir, created.key) };
}
