import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ERROR_CATALOGUE } from '../src/shared/errors.ts';
import { ROOT, startTestTarmac } from './support.ts';

test('docs/errors.md lists exactly the codes of the error catalogue, with their statuses', () => {
  const text = readFileSync(path.join(ROOT, 'docs/errors.md'), 'utf8');
  const rows = [...text.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1]!, Number(m[2])] as const);
  const documented = new Map(rows);
  assert.deepEqual([...documented.keys()].sort(), Object.keys(ERROR_CATALOGUE).sort());
  for (const [code, entry] of Object.entries(ERROR_CATALOGUE)) assert.equal(documented.get(code), entry.status, code);
});

test('docs/openapi.json is the document the API serves (regenerate with npm run docs:openapi)', async () => {
  const t = await startTestTarmac();
  try {
    const served = (await t.call('GET', '/openapi.json')).json() as unknown;
    const committed = JSON.parse(readFileSync(path.join(ROOT, 'docs/openapi.json'), 'utf8')) as unknown;
    assert.deepEqual(committed, served);
  } finally {
    await t.close();
  }
});
