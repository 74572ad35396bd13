import { createTarmac } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { ensureAdminKey } from '../src/security/index.ts';
import { installDemo } from '../src/cli/demo.ts';
import { runChild } from './child.ts';
await runChild(async () => {
  const config = loadConfig({ TARMAC_DATA_DIR: process.env.BENCH_TARMAC_DATA_DIR!, TARMAC_PORT: '0', TARMAC_LOG_LEVEL: 'warn' });
  const t = await createTarmac(config);
  const admin = (await ensureAdminKey(t.keys, config.dataDir))!;
  await installDemo(t);
  (t.predictionLogger as unknown as { enqueue: () => boolean }).enqueue = () => true;
  const url = await t.listen();
  return { info: { url, path: '/v1/models/loan-default/predict', headers: { authorization: `Bearer ${admin.key}` }, facts: {} }, close: () => t.close() };
});
