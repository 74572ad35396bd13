import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RegressionAccumulator } from './regression.ts';
import { assertClose, fixture, worstRelative } from './sklearn-fixture.ts';

test('MAE, MSE, RMSE and R² agree with sklearn within 1e-12 relative', (t) => {
  for (const c of fixture.regression) {
    const acc = new RegressionAccumulator();
    c.y.forEach((y, i) => acc.add(y, c.yhat[i]!));
    const m = acc.metrics();
    assert.equal(m.n, c.y.length);
    assertClose(m.mae, c.expected.mae, `${c.name} mae`);
    assertClose(m.mse, c.expected.mse, `${c.name} mse`);
    assertClose(m.rmse, c.expected.rmse, `${c.name} rmse`);
    assertClose(m.r2, c.expected.r2, `${c.name} r2`);
  }
  t.diagnostic(`${fixture.regression.length} cases, sklearn ${fixture.versions.sklearn}; worst relative error ${worstRelative().toExponential(2)}`);
});

test('merge is exact and order-independent, and JSON round-trips', () => {
  const c = fixture.regression.find((x) => x.name === 'large-offset')!;
  const whole = new RegressionAccumulator();
  const parts = [new RegressionAccumulator(), new RegressionAccumulator(), new RegressionAccumulator()];
  c.y.forEach((y, i) => {
    whole.add(y, c.yhat[i]!);
    parts[i % 3]!.add(y, c.yhat[i]!);
  });
  const ab = parts[0]!.clone().merge(parts[1]!).merge(parts[2]!);
  const ba = parts[2]!.clone().merge(parts[1]!.clone().merge(parts[0]!));
  assert.deepEqual(ab.metrics(), whole.metrics());
  assert.deepEqual(ba.metrics(), whole.metrics());
  assert.deepEqual(RegressionAccumulator.fromJSON(JSON.parse(JSON.stringify(whole))).metrics(), whole.metrics());
});

test('empty windows report nulls and bad input throws', () => {
  assert.deepEqual(new RegressionAccumulator().metrics(), { n: 0, mae: null, rmse: null, mse: null, r2: null, meanError: null });
  assert.throws(() => new RegressionAccumulator().add(Number.POSITIVE_INFINITY, 1), { code: 'VALIDATION_FAILED' });
});
