import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { BENCH_DIR, ROOT } from './harness.ts';

// How bench:perf and bench:instructions launch their node servers (bare-server.ts, tarmac-server.ts): with the node
// flags Tarmac runs with, from source through tsx or compiled to JavaScript against dist/ (BENCH_TARMAC_BUILD).

/** The node servers the benches start. */
export type NodeServerKind = 'bare' | 'tarmac';

/**
 * The node flags Tarmac is launched with: those on bin/tarmac.js's `#!/usr/bin/env -S node …` line (e.g. a larger
 * young generation), so a benchmark runs Tarmac as `npx tarmac up` does. The bare server gets them too, so the
 * comparison is not about a V8 flag. BENCH_NODE_FLAGS (space-separated) replaces them.
 */
function launchFlags(): string[] {
  const override = process.env.BENCH_NODE_FLAGS;
  if (override !== undefined) return override.split(/\s+/).filter(Boolean);
  try {
    const shebang = readFileSync(path.join(ROOT, 'bin', 'tarmac.js'), 'utf8').split('\n')[0] ?? '';
    const words = shebang.replace(/^#!/, '').trim().split(/\s+/);
    const node = words.findIndex((w) => w === 'node' || w.endsWith('/node'));
    return node >= 0 ? words.slice(node + 1).filter((w) => w.startsWith('--')) : [];
  } catch {
    return [];
  }
}
export const NODE_FLAGS = launchFlags();

/** BENCH_TARMAC_BUILD: `dist` (default) runs the servers compiled, as `npm run serve`; `source` through tsx. */
export function buildSetting(): 'dist' | 'source' {
  const raw = process.env.BENCH_TARMAC_BUILD || 'dist';
  if (raw !== 'dist' && raw !== 'source') throw new Error(`BENCH_TARMAC_BUILD must be dist or source, got "${raw}"`);
  return raw;
}

/**
 * For BENCH_TARMAC_BUILD=dist: builds Tarmac as `npm run build` does (tsc -p tsconfig.build.json into dist/) and
 * compiles the bench's node servers into `outDir` (under ROOT, so node_modules resolve) as JavaScript that imports
 * dist/ instead of src/, so neither server carries a TypeScript loader (tsx costs memory in every thread and a loader
 * thread). Throws with tsc's output when the build fails.
 */
export function compileServers(outDir: string): void {
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const build = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0) {
    throw new Error(`npm run build failed (use BENCH_TARMAC_BUILD=source to run from source):\n${(build.stdout + build.stderr).split('\n').slice(0, 20).join('\n')}`);
  }
  rmSync(outDir, { recursive: true, force: true });
  for (const file of ['child.ts', 'bare-server.ts', 'tarmac-server.ts']) {
    const source = readFileSync(path.join(BENCH_DIR, file), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    });
    const js = outputText.replace(/(from\s+|import\s*\(\s*)(['"])(\.\.?\/[^'"]+)\.ts\2/g, (_m, lead: string, q: string, spec: string) => {
      if (spec.startsWith('../src/')) return `${lead}${q}${pathToFileURL(path.join(ROOT, 'dist', `${spec.slice('../src/'.length)}.js`)).href}${q}`;
      if (spec === './child') return `${lead}${q}./child.mjs${q}`;
      throw new Error(`compileServers: bench/${file} imports ${spec}.ts, which the dist build cannot map`);
    });
    mkdirSync(outDir, { recursive: true });
    writeFileSync(path.join(outDir, file.replace(/\.ts$/, '.mjs')), js);
  }
}

/** The node arguments after the flags that run a server: its compiled module in `compiledDir`, or its source through tsx. */
export function serverEntry(kind: NodeServerKind, compiledDir: string | undefined): string[] {
  const file = kind === 'bare' ? 'bare-server.ts' : 'tarmac-server.ts';
  return compiledDir
    ? [path.join(compiledDir, file.replace(/\.ts$/, '.mjs'))]
    : ['--import', 'tsx', path.join(BENCH_DIR, file)];
}
