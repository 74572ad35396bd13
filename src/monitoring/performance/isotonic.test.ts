import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitIsotonic, isotonicFromJSON, isotonicToJSON, predictIsotonic } from './isotonic.ts';
import { assertClose, fixture } from './sklearn-fixture.ts';

test('pool-adjacent-violators agrees with sklearn IsotonicRegression(out_of_bounds="clip")', () => {
  for (const c of fixture.isotonic) {
    const m = fitIsotonic(c.x, c.y);
    assert.equal(m.x.length, c.x_thresholds.length, `${c.name} thresholds`);
    m.x.forEach((v, i) => assertClose(v, c.x_thresholds[i]!, `${c.name} x[${i}]`));
    m.y.forEach((v, i) => assertClose(v, c.y_thresholds[i]!, `${c.name} y[${i}]`));
    c.query.forEach((q, i) => assertClose(predictIsotonic(m, q), c.predicted[i]!, `${c.name} predict(${q})`));
    assert.deepEqual(isotonicFromJSON(JSON.parse(JSON.stringify(isotonicToJSON(m)))), m);
  }
});
