import { pathToFileURL } from 'node:url';
import { createTarmac } from '../src/app.ts';
import { installDemo } from '../src/cli/demo.ts';
import { loadConfig } from '../src/config.ts';
import { ensureAdminKey } from '../src/security/index.ts';
import { runChild, type StartedServer } from './child.ts';

/** Options of startTarmacServer. */
export interface TarmacServerOptions {
  /** An empty directory for Tarmac's store and blobs; the caller creates and removes it. */
  dataDir: string;
  /** Passed as TARMAC_INTRA_OP_THREADS when set. */
  intraOpThreads?: number;
}

/**
 * Starts Tarmac as `tarmac up --demo` would (SQLite store in `dataDir`, the demo model deployed, an admin key) on a
 * free port; throws when `dataDir` already holds keys.
 */
export async function startTarmacServer(options: TarmacServerOptions): Promise<StartedServer> {
  const env: Record<string, string> = { TARMAC_DATA_DIR: options.dataDir, TARMAC_PORT: '0', TARMAC_LOG_LEVEL: 'warn' };
  if (options.intraOpThreads !== undefined) env.TARMAC_INTRA_OP_THREADS = String(options.intraOpThreads);
  const config = loadConfig(env);
  const tarmac = await createTarmac(config);
  try {
    const admin = await ensureAdminKey(tarmac.keys, config.dataDir);
    if (!admin) throw new Error(`tarmac server: ${config.dataDir} already has keys; give the benchmark an empty data dir`);
    const model = await installDemo(tarmac);
    const url = await tarmac.listen();
    return {
      info: {
        url,
        path: `/v1/models/${encodeURIComponent(model)}/predict`,
        headers: { authorization: `Bearer ${admin.key}` },
        metricsPath: '/metrics',
        facts: { model, dataDir: config.dataDir },
      },
      close: () => tarmac.close(),
    };
  } catch (err) {
    await tarmac.close().catch(() => undefined);
    throw err;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dataDir = process.env.BENCH_TARMAC_DATA_DIR;
  if (!dataDir) {
    console.error('tarmac-server: set BENCH_TARMAC_DATA_DIR to an empty directory');
    process.exit(2);
  }
  const threads = process.env.BENCH_INTRA_OP_THREADS;
  await runChild(() => startTarmacServer({ dataDir, intraOpThreads: threads ? Number(threads) : undefined }));
}
