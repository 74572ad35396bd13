import fs from 'node:fs';
import { startTarmacServer } from './tarmac-server.ts';
const features: string[] = JSON.parse(fs.readFileSync('/tmp/fx/features.json', 'utf8'));
const dataDir = fs.mkdtempSync('/tmp/fx/tm-');
const s = await startTarmacServer({ dataDir, intraOpThreads: 1, models: [{ name: 'lr30', path: '/tmp/fx/lr30.onnx', features }], env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('TARMAC_'))) as Record<string, string> });
fs.writeFileSync('/tmp/fx/tarmac.json', JSON.stringify(s.info));
console.log('ready', s.info.url);
