import { writeFile } from 'node:fs/promises';
import { startTestTarmac } from '../test/support.ts';

/** Regenerates docs/openapi.json from the routes' schemas (a test fails when the committed copy drifts). */
const t = await startTestTarmac();
try {
  const doc = (await t.call('GET', '/openapi.json')).json() as unknown;
  await writeFile(new URL('../docs/openapi.json', import.meta.url), `${JSON.stringify(doc, null, 2)}\n`);
  console.log('wrote docs/openapi.json');
} finally {
  await t.close();
}
