import { createServer } from 'node:http';
import fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import Fastify from 'fastify';
const features: string[] = JSON.parse(fs.readFileSync('/tmp/fx/features.json', 'utf8'));
const session = await ort.InferenceSession.create('/tmp/fx/lr30.onnx', { graphOptimizationLevel: 'all', executionProviders: ['cpu'], intraOpNumThreads: 1 });
const input = session.inputNames[0]!;
async function predict(records: Record<string, number>[]) {
  const n = records.length, k = features.length; const data = new Float32Array(n * k);
  for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) data[i * k + j] = records[i]![features[j]!]!;
  const out = await session.run({ [input]: new ort.Tensor('float32', data, [n, k]) });
  const probs = out.probabilities!.data as Float32Array; const labels = out.label?.data as BigInt64Array;
  const predictions = []; for (let i = 0; i < n; i++) predictions.push({ label: Number(labels[i]), probabilities: { 0: probs[2 * i], 1: probs[2 * i + 1] } });
  return { predictions };
}
const mode = process.argv[2];
if (mode === 'bare') {
  createServer((req, res) => { const chunks: Buffer[] = []; req.on('data', (c) => chunks.push(c)); req.on('end', () => {
    predict(JSON.parse(Buffer.concat(chunks).toString()).records).then((o) => { const json = JSON.stringify(o); res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) }); res.end(json); }); }); }).listen(Number(process.argv[3]), '127.0.0.1');
} else {
  const app = Fastify({ logger: false });
  app.post('/predict', async (request) => predict((request.body as any).records));
  await app.listen({ port: Number(process.argv[3]), host: '127.0.0.1' });
}
console.log('ready', mode);
