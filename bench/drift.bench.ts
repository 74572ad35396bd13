/**
 * Drift computation speed beside scipy, in one run on the same data: 30 numeric features, a reference and a current
 * sample of ROWS rows each (default 1,000,000; the current one shifted on a third of the features). Per feature both
 * sides compute the two-sample KS test (scipy's ks_2samp with method auto: asymptotic at this size) and the
 * Wasserstein distance normed by the reference std. Loading the data is not timed on either side.
 *
 *   npm run bench:drift [-- --rows 1000000 --features 30]
 *
 * Needs python3 with numpy and scipy (Debian: python3-scipy); without them only Tarmac's side runs, with a message.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ks2samp, wassersteinDistance } from '../src/monitoring/stats/index.ts';

const HERE = fileURLToPath(new URL('./', import.meta.url));

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Two xorshift32 streams combined into 53-bit doubles, then Box–Muller normals: reproducible and fast. */
function normals(seed: number, n: number, mean: number, std: number): Float64Array {
  let a = (Math.imul(seed, 0x9e3779b1) ^ 0x85ebca6b) >>> 0 || 1;
  let b = (Math.imul(seed + 1, 0xc2b2ae35) ^ 0x27d4eb2f) >>> 0 || 1;
  const next = () => {
    a ^= a << 13; a >>>= 0; a ^= a >>> 17; a ^= a << 5; a >>>= 0;
    b ^= b << 13; b >>>= 0; b ^= b >>> 17; b ^= b << 5; b >>>= 0;
    return ((a >>> 5) * 67108864 + (b >>> 6)) / 9007199254740992;
  };
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = Math.max(next(), 1e-300);
    const u2 = next();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = mean + std * r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = mean + std * r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

async function main(): Promise<void> {
  const rows = arg('--rows', 1_000_000);
  const features = arg('--features', 30);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tarmac-bench-drift-'));
  try {
    const ref: Float64Array[] = [];
    const cur: Float64Array[] = [];
    for (let c = 0; c < features; c++) {
      // Rounded to 3 decimals so there are ties, as real features have.
      const r = normals(1000 + c, rows, 0, 1).map((v) => Math.round(v * 1000) / 1000);
      const shifted = c % 3 === 0;
      const k = normals(5000 + c, rows, shifted ? 0.1 : 0, shifted ? 1.1 : 1).map((v) => Math.round(v * 1000) / 1000);
      ref.push(r);
      cur.push(k);
      await writeFile(path.join(dir, `ref-${c}.f64`), new Uint8Array(r.buffer));
      await writeFile(path.join(dir, `cur-${c}.f64`), new Uint8Array(k.buffer));
    }

    const started = performance.now();
    const ours = ref.map((r, c) => {
      const ks = ks2samp(r, cur[c]!);
      let mean = 0;
      let m2 = 0;
      for (let i = 0; i < r.length; i++) {
        const d = r[i]! - mean;
        mean += d / (i + 1);
        m2 += d * (r[i]! - mean);
      }
      const std = Math.max(Math.sqrt(m2 / r.length), 0.001);
      return { ks: ks.statistic, p: ks.pvalue, wasserstein: wassersteinDistance(r, cur[c]!) / std };
    });
    const tarmacSeconds = (performance.now() - started) / 1000;

    const py = spawnSync('python3', [path.join(HERE, 'baselines/drift_scipy.py'), dir, String(features), String(rows)], { encoding: 'utf8', maxBuffer: 64 << 20 });
    let scipy: { seconds: number; scipy: string; numpy: string; results: { ks: number; p: number; wasserstein: number }[] } | undefined;
    if (py.status === 0) scipy = JSON.parse(py.stdout) as typeof scipy;
    else console.error(`scipy baseline skipped: ${(py.stderr || py.error?.message || '').trim().split('\n').at(-1)} (apt-get install python3-scipy)`);

    let worst = { ks: 0, p: 0, wasserstein: 0 };
    if (scipy) {
      scipy.results.forEach((s, c) => {
        const o = ours[c]!;
        const rel = (x: number, y: number) => (x === y ? 0 : Math.abs(x - y) / Math.max(Math.abs(y), 1e-300));
        worst = {
          ks: Math.max(worst.ks, rel(o.ks, s.ks)),
          p: Math.max(worst.p, Math.abs(o.p - s.p) <= 1e-12 ? 0 : rel(o.p, s.p)),
          wasserstein: Math.max(worst.wasserstein, rel(o.wasserstein, s.wasserstein)),
        };
      });
    }
    const drifted = ours.filter((o) => o.wasserstein >= 0.1).length;
    const md = [
      `# Drift computation: Tarmac vs scipy (${new Date().toISOString()})`,
      '',
      `${features} numeric features × ${rows.toLocaleString('en')} reference rows vs ${rows.toLocaleString('en')} current rows (a third shifted); per feature: two-sample KS (p-value included) and Wasserstein ÷ reference std. Data loading not timed.`,
      '',
      '| engine | seconds | per feature (ms) |',
      '| --- | ---: | ---: |',
      `| Tarmac (TypeScript, Node ${process.version}) | ${tarmacSeconds.toFixed(2)} | ${((tarmacSeconds * 1000) / features).toFixed(1)} |`,
      scipy ? `| scipy ${scipy.scipy} (numpy ${scipy.numpy}) | ${scipy.seconds.toFixed(2)} | ${((scipy.seconds * 1000) / features).toFixed(1)} |` : '| scipy | skipped | |',
      '',
      scipy ? `Tarmac / scipy time: **${(tarmacSeconds / scipy.seconds).toFixed(2)}×** (target ≤ 1). Worst relative difference from scipy: KS D ${worst.ks.toExponential(1)}, p-value ${worst.p.toExponential(1)}, Wasserstein ${worst.wasserstein.toExponential(1)}. ${drifted} of ${features} features drifted (Wasserstein ≥ 0.1).` : '',
    ].join('\n');
    console.log(md);
    await mkdir(path.join(HERE, 'results'), { recursive: true });
    await writeFile(path.join(HERE, 'results', 'drift-latest.md'), md + '\n');
    await writeFile(path.join(HERE, 'results', 'drift-latest.json'), JSON.stringify({ rows, features, tarmacSeconds, scipySeconds: scipy?.seconds ?? null, worst }, null, 2));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
