import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jensenShannonDistance, psi, wassersteinDistance } from './distances.ts';
import { assertValue, fixture, materialise, worstSummary } from './scipy-fixture.ts';

const isValidation = (e: { code?: string }) => e.code === 'VALIDATION_FAILED';

test('wassersteinDistance agrees with scipy.stats.wasserstein_distance', (t) => {
  for (const c of fixture.wasserstein) {
    const got = wassersteinDistance(
      materialise(c.u), materialise(c.v),
      c.uWeights === null ? undefined : materialise(c.uWeights), c.vWeights === null ? undefined : materialise(c.vWeights),
    );
    assertValue('wasserstein', got, c.expected, c.name);
  }
  t.diagnostic(`${fixture.wasserstein.length} cases; worst relative: ${worstSummary()}`);
});

test('jensenShannonDistance agrees with scipy.spatial.distance.jensenshannon', (t) => {
  for (const c of fixture.jensenShannon) {
    assertValue('jensenshannon', jensenShannonDistance(c.p, c.q, c.base ?? undefined), c.expected, c.name);
  }
  t.diagnostic(`${fixture.jensenShannon.length} cases; worst relative: ${worstSummary()}`);
});

test('psi agrees with the documented numpy formula', (t) => {
  for (const c of fixture.psi) {
    const opts = c.epsilon === null ? {} : { epsilon: c.epsilon };
    assertValue('psi', psi(c.expectedCounts, c.actualCounts, opts), c.expected, c.name);
  }
  t.diagnostic(`${fixture.psi.length} cases; worst relative: ${worstSummary()}`);
});

test('psi: an empty bin counts as epsilon of the mass, the same as epsilon·N counts', () => {
  const withRule = psi([0, 50, 50], [10, 45, 45], { epsilon: 0.01 });
  const byHand = psi([1, 50, 50], [10, 45, 45], { epsilon: 0.01 });
  assert.ok(Math.abs(withRule - byHand) < 1e-15);
});

test('invalid inputs are VALIDATION_FAILED', () => {
  assert.throws(() => wassersteinDistance([], [1]), isValidation);
  assert.throws(() => wassersteinDistance([1, 2], [1], [1]), isValidation);
  assert.throws(() => wassersteinDistance([1, 2], [1], [1, -1]), isValidation);
  assert.throws(() => wassersteinDistance([1, 2], [1], [0, 0]), isValidation);
  assert.throws(() => jensenShannonDistance([1, 2], [1]), isValidation);
  assert.throws(() => jensenShannonDistance([0, 0], [1, 1]), isValidation);
  assert.throws(() => jensenShannonDistance([1, -1], [1, 1]), isValidation);
  assert.throws(() => psi([1, 2], [1]), isValidation);
  assert.throws(() => psi([1, 2], [1, 2], { epsilon: 0 }), isValidation);
  assert.ok(Number.isNaN(wassersteinDistance([1, Number.NaN], [2])));
});
