import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClassificationAccumulator } from './classification.ts';
import type { Label } from './classification.ts';
import { assertClose, fixture, worstRelative } from './sklearn-fixture.ts';

function build(c: (typeof fixture.classification)[number], options: ConstructorParameters<typeof ClassificationAccumulator>[0] = {}, range?: [number, number]) {
  const acc = new ClassificationAccumulator({ ...(c.positive_label === null ? {} : { positiveLabel: c.positive_label }), ...options });
  const [from, to] = range ?? [0, c.y_true.length];
  for (let i = from; i < to; i++) {
    const probs = c.proba === null ? undefined : Object.fromEntries(c.proba_labels!.map((l, j) => [String(l), c.proba![i]![j]!]));
    acc.add(c.y_true[i]!, c.y_pred[i]!, probs);
  }
  return acc;
}

test('classification metrics agree with sklearn within 1e-12 relative (exact AUC mode)', (t) => {
  for (const c of fixture.classification) {
    for (const zd of [0, 1] as const) {
      const m = build(c, { zeroDivision: zd }).metrics();
      const e = c.expected;
      const ez = zd === 0 ? e.zd0 : e.zd1;
      assert.deepEqual(m.labels, e.labels, c.name);
      assert.deepEqual(m.matrix, e.confusion_matrix, c.name);
      assertClose(m.accuracy, e.accuracy, `${c.name} accuracy`);
      for (const avg of ['macro', 'micro', 'weighted'] as const) {
        for (const k of ['precision', 'recall', 'f1'] as const) assertClose(m[avg][k], ez[avg][k], `${c.name} ${avg} ${k} zd=${zd}`);
      }
      m.perClass.forEach((pc, i) => {
        for (const k of ['precision', 'recall', 'f1'] as const) assertClose(pc[k], ez.per_class[k][i]!, `${c.name} class ${String(pc.label)} ${k}`);
      });
      if (ez.binary !== undefined) {
        for (const k of ['precision', 'recall', 'f1'] as const) assertClose(m.binary![k], ez.binary[k], `${c.name} binary ${k} zd=${zd}`);
      }
      assertClose(m.logLoss, e.log_loss, `${c.name} logLoss`);
      assertClose(m.rocAuc, e.roc_auc, `${c.name} rocAuc`);
      if (m.rocAuc !== null) assert.equal(m.rocAucMode, 'exact');
      // sklearn 1.2 renormalises after clipping; the two agree whenever no probability needed clipping.
      const clipped = c.proba?.some((r) => r.some((v) => v < fixture.log_loss_eps || v > 1 - fixture.log_loss_eps));
      if (!clipped && e.log_loss_sklearn !== null) assertClose(m.logLoss, e.log_loss_sklearn, `${c.name} logLoss vs sklearn ${fixture.versions.sklearn}`);
    }
  }
  t.diagnostic(`${fixture.classification.length} cases, sklearn ${fixture.versions.sklearn}; worst relative error ${worstRelative().toExponential(2)}`);
});

test('histogram AUC stays within its reported bound of sklearn', (t) => {
  const lines: string[] = [];
  for (const c of fixture.classification.filter((x) => x.expected.roc_auc !== null && x.y_true.length >= 1000)) {
    for (const bins of [100, 1000, 10000]) {
      const m = build(c, { aucExactLimit: 100, aucBins: bins }).metrics();
      assert.equal(m.rocAucMode, 'histogram');
      const err = Math.abs(m.rocAuc! - c.expected.roc_auc!);
      assert.ok(err <= m.rocAucErrorBound! + 1e-12, `${c.name} bins=${bins}: error ${err} > bound ${m.rocAucErrorBound}`);
      lines.push(`${c.name} bins=${bins}: err ${err.toExponential(1)} bound ${m.rocAucErrorBound!.toExponential(1)}`);
    }
  }
  t.diagnostic(lines.join('; '));
});

test('merge equals the accumulator of both streams, in any order and across the exact/histogram switch', () => {
  for (const c of fixture.classification) {
    const n = c.y_true.length;
    for (const limit of [10_000, Math.floor(n * 0.6)]) {
      const whole = build(c, { aucExactLimit: limit }).metrics();
      const cut1 = Math.floor(n / 3);
      const cut2 = Math.floor((2 * n) / 3);
      const a = build(c, { aucExactLimit: limit }, [0, cut1]);
      const b = build(c, { aucExactLimit: limit }, [cut1, cut2]);
      const d = build(c, { aucExactLimit: limit }, [cut2, n]);
      const left = a.clone().merge(b).merge(d).metrics();
      const right = d.clone().merge(b.clone().merge(a)).metrics();
      assert.deepEqual(left, whole, `${c.name} limit ${limit}`);
      assert.deepEqual(right, whole, `${c.name} limit ${limit} (reversed)`);
    }
  }
});

test('JSON round trip keeps every metric and the state is versioned', () => {
  for (const c of fixture.classification) {
    const acc = build(c);
    const json = JSON.parse(JSON.stringify(acc)) as unknown;
    assert.equal((json as { v: number }).v, 1);
    assert.deepEqual(ClassificationAccumulator.fromJSON(json).metrics(), acc.metrics());
  }
  assert.throws(() => ClassificationAccumulator.fromJSON({ v: 2, kind: 'classification' }), { code: 'VALIDATION_FAILED' });
});

test('labels discovered late are backfilled with score 0, so arrival order does not matter', () => {
  const rows: [Label, Label, Record<string, number>][] = [
    ['a', 'a', { a: 0.7, b: 0.3 }],
    ['b', 'a', { a: 0.6, b: 0.4 }],
    ['c', 'c', { a: 0.1, b: 0.1, c: 0.8 }],
    ['a', 'b', { a: 0.4, b: 0.5, c: 0.1 }],
  ];
  const forward = new ClassificationAccumulator();
  for (const r of rows) forward.add(...r);
  const backward = new ClassificationAccumulator();
  for (const r of [...rows].reverse()) backward.add(...r);
  assert.deepEqual(forward.metrics(), backward.metrics());
  assert.equal(forward.metrics().task, 'multiclass');
});

test('undefined values are null, never NaN', () => {
  const empty = new ClassificationAccumulator().metrics();
  assert.equal(empty.n, 0);
  assert.equal(empty.accuracy, null);
  assert.equal(empty.logLoss, null);
  const oneClass = new ClassificationAccumulator().add(1, 1, { 0: 0.2, 1: 0.8 }).add(1, 0, { 0: 0.6, 1: 0.4 }).metrics();
  assert.equal(oneClass.rocAuc, null);
  assert.equal(oneClass.perClass.find((c) => c.label === 0)!.precision, 0);
  assert.equal(oneClass.perClass.find((c) => c.label === 0)!.recall, null);
  assert.equal(oneClass.positiveLabel, 1);
  assert.ok(!JSON.stringify(oneClass).includes('NaN'));
});

test('the class cap overflows deterministically and bounds memory', () => {
  const a = new ClassificationAccumulator({ maxClasses: 3 });
  a.add('x', 'y').add('z', 'x');
  const b = new ClassificationAccumulator({ maxClasses: 3 }).add('w', 'w');
  const merged = a.clone().merge(b).metrics();
  assert.equal(merged.overflowed, true);
  assert.equal(merged.n, 3);
  assert.equal(merged.accuracy, null);
  assert.deepEqual(b.clone().merge(a).metrics(), merged);
});

test('invalid input throws VALIDATION_FAILED', () => {
  const acc = new ClassificationAccumulator();
  assert.throws(() => acc.add(1, 0, { 1: 1.5 }), { code: 'VALIDATION_FAILED' });
  assert.throws(() => acc.add(Number.NaN, 0), { code: 'VALIDATION_FAILED' });
  acc.add(1, 1);
  assert.throws(() => acc.add('1', 1), { code: 'VALIDATION_FAILED' });
  assert.throws(() => acc.merge(new ClassificationAccumulator({ maxClasses: 5 })), { code: 'VALIDATION_FAILED' });
});
