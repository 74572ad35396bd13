import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { HotCounter, HotHistogram } from './hot-metrics.ts';

const BUCKETS = [0.001, 0.01, 0.1, 1];
const OBSERVED = [0.0005, 0.001, 0.002, 0.05, 0.1, 0.5, 3, 0];

test('a hot histogram and counter print exactly what prom-client prints for the same observations', async () => {
  const reference = new Registry();
  const hot = new Registry();
  const h1 = new Histogram({ name: 'x_seconds', help: 'how long "x" took\nin seconds', labelNames: ['model', 'route'], buckets: BUCKETS, registers: [reference] });
  const c1 = new Counter({ name: 'x_total', help: 'how many', labelNames: ['model', 'status'], registers: [reference] });
  const h2 = new HotHistogram('x_seconds', 'how long "x" took\nin seconds', ['model', 'route'], BUCKETS, hot);
  const c2 = new HotCounter('x_total', 'how many', ['model', 'status'], hot);
  for (const [model, route] of [['a', '/v1/models/:name/predict'], ['b "quoted"\\', '/x']] as const) {
    const bound1 = h1.labels({ model, route });
    const bound2 = h2.labels({ model, route });
    for (const v of OBSERVED) {
      bound1.observe(v);
      bound2.observe(v);
    }
    c1.labels({ model, status: '200' }).inc(3);
    c2.labels({ model, status: '200' }).inc(3);
    c1.labels({ model, status: '200' }).inc();
    c2.labels({ model, status: '200' }).inc();
  }
  assert.equal(await hot.metrics(), await reference.metrics());
  const open = [new Registry(), new Registry()] as const;
  for (const r of open) r.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as unknown as typeof Registry.PROMETHEUS_CONTENT_TYPE);
  const c3 = new Counter({ name: 'y_total', help: 'y', labelNames: ['model'], registers: [open[0]] });
  const c4 = new HotCounter('y_total', 'y', ['model'], open[1]);
  c3.labels({ model: 'a' }).inc(2);
  c4.labels({ model: 'a' }).inc(2);
  assert.equal(await open[1].metrics(), await open[0].metrics(), 'OpenMetrics names counters with _total once');
  hot.resetMetrics();
  assert.match(await hot.metrics(), /x_seconds_count\{model="a",route="\/v1\/models\/:name\/predict"\} 0/);
});

test('unknown label names and values that are not numbers are refused', () => {
  const registry = new Registry();
  const h = new HotHistogram('y_seconds', 'y', ['model'], BUCKETS, registry);
  assert.throws(() => h.labels({ modle: 'a' }), /no label "modle"/);
  assert.throws(() => h.labels({ model: 'a' }).observe(Number.NaN), TypeError);
  assert.throws(() => new HotCounter('y_seconds', 'again', [], registry), /already been registered/);
});
