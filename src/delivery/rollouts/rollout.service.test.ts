import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { InProcessEventBus } from '../../bus/index.ts';
import { AuditLog, SYSTEM_PRINCIPAL } from '../../security/index.ts';
import { FakeClock } from '../../shared/clock.ts';
import { createLogger } from '../../shared/logger.ts';
import { createStores, migrateToLatest, openDatabase } from '../../store/index.ts';
import type { StoreDatabase, Stores } from '../../store/index.ts';
import { RolloutService } from './rollout.service.ts';

// The controller's own limits, on a real SQLite store: an analysis that cannot run (its evidence is unreadable) is
// retried, and past consecutive_error_limit in a row the rollout pauses for a person instead of hanging.

let dir = '';
let db: StoreDatabase;
let stores: Stores;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tarmac-rollout-unit-'));
  db = await openDatabase({ dataDir: dir });
  await migrateToLatest(db);
  stores = createStores(db);
});

after(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

test('analyses that cannot run are counted; past the limit the rollout pauses, and one that runs resets the count', async () => {
  const clock = new FakeClock(Date.UTC(2026, 10, 1));
  const log = createLogger({ level: 'silent' });
  const applied: unknown[] = [];
  let broken = true;
  const registry = {
    getDeployment: async () => ({ revision: 1, spec: { variants: [{ name: 'stable', version: 1, weight: 100 }] } }),
    setDeployment: async (_m: string, spec: unknown) => { applied.push(spec); return {} as never; },
    rollback: async () => ({}) as never,
    resolveVersion: async () => ({ version: 2 }),
  } as unknown as ConstructorParameters<typeof RolloutService>[0]['registry'];
  const rollouts = new RolloutService({
    store: stores.rollouts, registry, audit: new AuditLog({ audit: stores.audit, clock, log }), bus: new InProcessEventBus({ log }), clock, log,
    evidence: async () => {
      if (broken) throw new Error('the monitor store is unreachable');
      return { rows: 0, errors: 0, latencyP99: null, labels: 0, accuracy: null };
    },
  });
  await rollouts.start('m', { version: 2, steps: [10, 100], intervalSeconds: 60, consecutiveErrorLimit: 2 }, SYSTEM_PRINCIPAL);
  assert.deepEqual(applied.at(-1), { variants: [{ name: 'stable', version: 1, weight: 90 }, { name: 'canary', version: 2, weight: 10 }] });
  for (const expected of [1, 2]) {
    clock.advance(61_000);
    await rollouts.tick();
    const state = await rollouts.status('m');
    assert.equal(state.status, 'progressing');
    assert.equal(state.consecutiveErrors, expected);
  }
  broken = false;
  clock.advance(1_000);
  await rollouts.tick();
  assert.equal((await rollouts.status('m')).consecutiveErrors, 0, 'an analysis that ran (not enough data) resets the count');
  broken = true;
  for (let i = 0; i < 3; i++) {
    clock.advance(1_000);
    await rollouts.tick();
  }
  const paused = await rollouts.status('m');
  assert.equal(paused.status, 'paused');
  assert.match(paused.reason!, /could not run 3 times in a row \(the monitor store is unreachable\)/);
  await rollouts.close();
});
