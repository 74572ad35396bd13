import fs from 'node:fs';
import { buildLogistic, benchRecords, SEEDS, FEATURES } from './models/generate.ts';
const m = buildLogistic(SEEDS.lr30);
fs.writeFileSync('/tmp/fx/lr30.onnx', m.onnx);
fs.writeFileSync('/tmp/fx/body.json', JSON.stringify({ records: benchRecords(1) }));
fs.writeFileSync('/tmp/fx/features.json', JSON.stringify(FEATURES));
