import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kolmogn, smirnovSf } from './kolmogorov.ts';
import { assertPvalue, fixture, worstSummary } from './scipy-fixture.ts';

test('kolmogn agrees with scipy.stats.kstwo.sf on every branch of _kolmogn', (t) => {
  for (const c of fixture.kstwoSf) assertPvalue('kstwo.sf', kolmogn(c.n, c.x), c.sf, `kstwo.sf(${c.x}, ${c.n})`);
  t.diagnostic(`${fixture.kstwoSf.length} cases; worst relative: ${worstSummary()}`);
});

test('smirnovSf agrees with scipy.special.smirnov', (t) => {
  for (const c of fixture.smirnovSf) assertPvalue('smirnov', smirnovSf(c.n, c.x), c.sf, `smirnov(${c.n}, ${c.x})`);
  t.diagnostic(`${fixture.smirnovSf.length} cases; worst relative: ${worstSummary()}`);
});

test('kolmogn: cdf and sf are complements, and n must be a positive integer', () => {
  for (const [n, x] of [[10, 0.2], [100, 0.1], [5000, 0.01], [200000, 0.003]] as const) {
    assert.ok(Math.abs(kolmogn(n, x, true) + kolmogn(n, x, false) - 1) < 1e-12);
  }
  assert.ok(Number.isNaN(kolmogn(0, 0.5)));
  assert.ok(Number.isNaN(kolmogn(2.5, 0.5)));
  assert.equal(kolmogn(10, 0), 1);
  assert.equal(kolmogn(10, 1), 0);
});
