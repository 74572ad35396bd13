import fs from 'node:fs';
import { createTarmac } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { ensureAdminKey, SYSTEM_PRINCIPAL } from '../src/security/index.ts';
const features: string[] = JSON.parse(fs.readFileSync('/tmp/fx/features.json', 'utf8'));
const dataDir = fs.mkdtempSync('/tmp/fx/inj-');
const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('TARMAC_'))) as Record<string, string>, TARMAC_DATA_DIR: dataDir, TARMAC_PORT: '0', TARMAC_LOG_LEVEL: 'warn', TARMAC_INTRA_OP_THREADS: '1' };
const config = loadConfig(env);
const tarmac = await createTarmac(config);
const admin = (await ensureAdminKey(tarmac.keys, config.dataDir))!;
const version = await tarmac.registry.register(new Uint8Array(fs.readFileSync('/tmp/fx/lr30.onnx')), { name: 'lr30', task: 'classification', description: 'x', owner: 'bench', features }, SYSTEM_PRINCIPAL);
await tarmac.registry.deploy('lr30', version.version, SYSTEM_PRINCIPAL);
await tarmac.routes.refresh('lr30');
const payload = fs.readFileSync('/tmp/fx/body.json', 'utf8');
const req = { method: 'POST' as const, url: '/v1/models/lr30/predict', payload, headers: { 'content-type': 'application/json', authorization: `Bearer ${admin.key}` } };
const N = Number(process.env.N ?? 20000);
for (let round = 0; round < 3; round++) {
  const cpu0 = process.cpuUsage(); const t0 = process.hrtime.bigint();
  // 16 concurrent chains, like c=16
  let done = 0;
  await Promise.all(Array.from({ length: 16 }, async () => { while (done < N) { done++; const r = await tarmac.api.inject(req); if (r.statusCode !== 200) throw new Error(r.body); } }));
  const wall = Number(process.hrtime.bigint() - t0) / 1e3 / N; const cpu = process.cpuUsage(cpu0); 
  console.log(`${process.env.LABEL ?? ''} round ${round}: ${wall.toFixed(1)} us/req wall, ${((cpu.user + cpu.system) / N).toFixed(1)} us/req cpu (all threads)`);
}
await tarmac.close();
