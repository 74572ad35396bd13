import { createTarmac } from '../app.ts';
import { loadConfig } from '../config.ts';
import { bootstrapAdminKey, ensureAdminKey } from '../security/index.ts';
import { isTarmacError } from '../shared/errors.ts';
import { ApiError } from './client.ts';
import { installDemo } from './demo.ts';

/** Options of `tarmac up`. */
export interface UpOptions {
  port?: number;
  host?: string;
  dataDir?: string;
  demo: boolean;
}

/** Runs Tarmac in this process until SIGINT/SIGTERM: migrations, bootstrap key, optional demo, HTTP server. */
export async function runUp(env: NodeJS.ProcessEnv, options: UpOptions, print: (text: string) => void): Promise<void> {
  const config = loadConfig(env, { port: options.port, host: options.host, dataDir: options.dataDir });
  const tarmac = await createTarmac(config);
  const admin = await ensureAdminKey(tarmac.keys, config.dataDir);
  const demoModel = options.demo ? await installDemo(tarmac) : undefined;
  const url = await tarmac.listen();
  const base = url.replace('127.0.0.1', 'localhost');
  print(`Tarmac is up on ${base} (data in ${config.dataDir}, store ${tarmac.database.dialect})`);
  if (admin) {
    print(`\nAn admin API key was created. It is shown only this once and saved to ${admin.file} (mode 0600):\n  ${admin.key}\n`);
  }
  if (demoModel) {
    print(`Demo model "${demoModel}" is deployed. Try:\n`);
    print(`  curl -s ${base}/v1/models/${demoModel}/predict \\\n    -H "Authorization: Bearer $(cat ${config.dataDir}/admin.key)" \\\n    -H 'Content-Type: application/json' \\\n    -d '{"records":[{"income":52000,"loan_amount":18000,"age":34,"credit_history_years":6,"debt_ratio":0.42,"employment_type":"self_employed"}]}'\n`);
  }
  const stop = async (signal: string) => {
    tarmac.log.info({ signal }, 'shutting down');
    await tarmac.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

/** Applies migrations and exits (`tarmac migrate`). */
export async function runMigrate(env: NodeJS.ProcessEnv, dataDir: string | undefined, print: (text: string) => void): Promise<void> {
  const config = loadConfig(env, { dataDir });
  const tarmac = await createTarmac(config);
  await tarmac.close();
  print(`migrations applied (${tarmac.database.dialect})`);
}

/**
 * `tarmac keys bootstrap`: opens the store and creates an admin key in `<data dir>/admin.key` when no active admin
 * key exists (a new store, or every admin key revoked or expired). Throws KEY_ADMIN_EXISTS otherwise.
 */
export async function runKeysBootstrap(env: NodeJS.ProcessEnv, dataDir: string | undefined, print: (text: string) => void): Promise<void> {
  const config = loadConfig(env, { dataDir });
  const tarmac = await createTarmac(config);
  try {
    const created = await bootstrapAdminKey(tarmac.keys, config.dataDir).catch((err: unknown) => {
      // Same exit code as the API's 409 would give (5, conflict).
      if (isTarmacError(err) && err.code === 'KEY_ADMIN_EXISTS') throw new ApiError(err.message, err.status, err.code);
      throw err;
    });
    print(`created admin key ${created.id}; it is shown only this once and saved to ${created.file} (mode 0600):\n  ${created.key}`);
  } finally {
    await tarmac.close();
  }
}
