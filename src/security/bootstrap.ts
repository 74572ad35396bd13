import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { KeyService } from './key-service.ts';
import { SYSTEM_PRINCIPAL } from './roles.ts';

/**
 * On an empty store, creates the first admin key and writes it to `<dataDir>/admin.key` (mode 0600); returns it so
 * the caller can print it once. Returns undefined when keys already exist.
 */
export async function ensureAdminKey(keys: KeyService, dataDir: string): Promise<{ key: string; file: string } | undefined> {
  if ((await keys.count()) > 0) return undefined;
  const created = await keys.create({ role: 'admin', name: 'bootstrap-admin' }, SYSTEM_PRINCIPAL);
  await mkdir(dataDir, { recursive: true });
  const file = path.join(dataDir, 'admin.key');
  await writeFile(file, `${created.key}\n`, { mode: 0o600 });
  return { key: created.key, file };
}
