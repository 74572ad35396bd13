import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PeriodicJob } from './periodic-job.ts';

test('runs asked for while one is in progress join it; a failed run is reported and the next one runs', async () => {
  let calls = 0;
  let release: () => void = () => undefined;
  const job = new PeriodicJob(async () => {
    calls++;
    await new Promise<void>((resolve) => { release = resolve; });
    return calls;
  }, () => undefined);
  const first = job.run();
  const second = job.run();
  assert.equal(first, second, 'the same run');
  release();
  assert.equal(await first, 1);
  const third = job.run();
  release();
  assert.equal(await third, 2, 'a new run once the last one finished');

  const errors: unknown[] = [];
  let fail = true;
  const flaky = new PeriodicJob(async () => {
    if (fail) throw new Error('store down');
    return 'ok';
  }, (err) => errors.push(err));
  flaky.start(5);
  while (errors.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.match(String(errors[0]), /store down/);
  fail = false;
  assert.equal(await flaky.run(), 'ok');
  await flaky.stop();
  await job.stop();
});
