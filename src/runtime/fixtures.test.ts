import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { OnnxEngine } from './onnx-engine.ts';
import type { LoadedModel } from './onnx-engine.ts';
import { parseOnnxModel } from './onnx-model.ts';
import { outputsToPredictions, recordsToFeeds } from './records.ts';
import type { RecordPrediction } from './records.ts';
import { fixtureNames, loadFixture } from './test-fixtures.ts';
import type { FixtureSidecar } from './test-fixtures.ts';
import { tensorsToV2Outputs, toV2Datatype, v2RequestToFeeds } from './v2.ts';
import type { V2Tensor } from './v2.ts';
import type { Signature } from './types.ts';

/** Largest error seen per fixture and quantity, printed as test diagnostics for the report. */
interface ErrorStats {
  maxAbs: number;
  maxRel: number;
  labelMismatches: number;
}

const engine = new OnnxEngine();

function recordsOf(side: FixtureSidecar, inputs: unknown = side.test.inputs): Record<string, unknown>[] {
  if (inputs === side.test.inputs && side.test.records) return side.test.records;
  if (side.input_layout === 'matrix') {
    return (inputs as unknown[][]).map((row) => Object.fromEntries(side.feature_names.map((f, i) => [f, row[i]])));
  }
  const columns = inputs as Record<string, unknown[][]>;
  const n = columns[side.feature_names[0]!]!.length;
  return Array.from({ length: n }, (_, i) => Object.fromEntries(side.feature_names.map((f) => [f, columns[f]![i]![0]])));
}

function v2Body(side: FixtureSidecar, records: Record<string, unknown>[]): unknown {
  const n = records.length;
  if (side.input_layout === 'matrix') {
    const input = side.inputs[0]!;
    return {
      id: 'req-1',
      inputs: [{
        name: input.name, datatype: toV2Datatype(input.dtype as 'float32'), shape: [n, side.n_features],
        // Nested rows, as clients usually send them; the codec flattens.
        data: records.map((r) => side.feature_names.map((f) => r[f])),
      }],
    };
  }
  return {
    inputs: side.inputs.map((input) => ({
      // [[v], [v], ...] like the sidecar's test.inputs: as many leaves as rows, yet nested.
      name: input.name, datatype: toV2Datatype(input.dtype as 'float32'), shape: [n, 1], data: records.map((r) => [r[input.name]]),
    })),
  };
}

function tolerance(side: FixtureSidecar): { atol: number; rtol: number } {
  const t = side.tolerance as { variable_atol?: number; variable_rtol?: number; probabilities_atol?: number };
  if (side.task === 'regression') return { atol: t.variable_atol ?? 0, rtol: t.variable_rtol ?? 0 };
  return { atol: t.probabilities_atol ?? 1e-5, rtol: 0 };
}

function compareNumber(got: number, want: number, tol: { atol: number; rtol: number }, stats: ErrorStats, what: string): void {
  const diff = Math.abs(got - want);
  stats.maxAbs = Math.max(stats.maxAbs, diff);
  stats.maxRel = Math.max(stats.maxRel, diff / Math.max(Math.abs(want), 1e-300));
  assert.ok(diff <= tol.atol + tol.rtol * Math.abs(want), `${what}: got ${got}, expected ${want} (diff ${diff})`);
}

/** Expected probability matrix rows in class-label order (ZipMap sidecars hold one {label: p} object per row). */
function expectedProbs(side: FixtureSidecar, name: string, rows: unknown[], classes: (string | number)[]): number[][] {
  return rows.map((row) => (Array.isArray(row) ? (row as number[]) : classes.map((c) => (row as Record<string, number>)[String(c)]!)));
}

function checkPredictions(
  side: FixtureSidecar, sig: Signature, preds: RecordPrediction[], expected: Record<string, unknown[]>, argmax: number[] | undefined,
  stats: ErrorStats,
): void {
  const tol = tolerance(side);
  if (sig.task === 'regression') {
    const want = expected[sig.predictionOutput!] as number[][];
    preds.forEach((p, i) => {
      assert.equal(typeof p.prediction, 'number');
      compareNumber(p.prediction as number, want[i]![0]!, tol, stats, `row ${i}`);
    });
    return;
  }
  const classes = sig.classLabels!;
  const labels = sig.predictionOutput ? (expected[sig.predictionOutput] as number[]) : argmax!;
  const probs = expectedProbs(side, sig.probabilityOutput!, expected[sig.probabilityOutput!]!, classes);
  preds.forEach((p, i) => {
    if (p.prediction !== labels[i]) stats.labelMismatches++;
    assert.equal(p.prediction, labels[i], `row ${i} label`);
    assert.deepEqual(Object.keys(p.probabilities!), classes.map(String));
    classes.forEach((c, j) => compareNumber(p.probabilities![String(c)]!, probs[i]![j]!, tol, stats, `row ${i} P(${c})`));
  });
}

function checkV2(
  side: FixtureSidecar, sig: Signature, tensors: V2Tensor[], expected: Record<string, unknown[]>, n: number, stats: ErrorStats,
): void {
  const tol = tolerance(side);
  assert.deepEqual(tensors.map((t) => t.name), sig.outputs.map((o) => o.name));
  for (const t of tensors) {
    const spec = sig.outputs.find((o) => o.name === t.name)!;
    if (t.name === sig.predictionOutput && sig.task === 'classification') {
      assert.equal(t.datatype, 'INT64');
      assert.deepEqual(t.shape, [n]);
      assert.deepEqual(t.data, expected[t.name]);
      continue;
    }
    const want = t.name === sig.probabilityOutput
      ? expectedProbs(side, t.name, expected[t.name]!, sig.classLabels!).flat()
      : (expected[t.name] as number[][]).flat();
    assert.equal(t.datatype, toV2Datatype(spec.type));
    assert.deepEqual(t.shape, [n, spec.shape[1]]);
    assert.equal(t.data.length, want.length);
    t.data.forEach((v, k) => compareNumber(v as number, want[k]!, tol, stats, `${t.name}[${k}]`));
  }
}

const pick = <T>(rows: T[], sel: number | undefined): T[] => (sel === undefined ? rows : [rows[sel]!]);

for (const name of fixtureNames()) {
  describe(`fixture ${name}`, () => {
    const fixture = loadFixture(name);
    const side = fixture.sidecar;
    const options = side.input_layout === 'matrix' ? { features: side.feature_names } : {};
    const { signature } = parseOnnxModel(fixture.bytes, options);
    let model: LoadedModel;
    const records = recordsOf(side);
    const stats: Record<string, ErrorStats> = {};
    const statsFor = (key: string) => (stats[key] ??= { maxAbs: 0, maxRel: 0, labelMismatches: 0 });

    before(async () => {
      model = await engine.load(fixture.bytes, signature);
    });
    after(async () => {
      await model.dispose();
    });

    for (const sel of [undefined, 0]) {
      const label = sel === undefined ? `the whole batch (${side.test.n_rows} rows)` : 'row 0 alone';
      const expected = Object.fromEntries(Object.entries(side.test.expected).map(([k, v]) => [k, pick(v, sel)]));
      const argmax = side.test.expected_argmax && pick(side.test.expected_argmax, sel);

      test(`records API matches the framework for ${label}`, async (t) => {
        const rows = pick(records, sel);
        const feeds = recordsToFeeds(signature, rows);
        const preds = outputsToPredictions(signature, await model.run(feeds), rows.length);
        assert.equal(preds.length, rows.length);
        const s = statsFor(`records ${label}`);
        checkPredictions(side, signature, preds, expected, argmax, s);
        t.diagnostic(`${name} records ${label}: max_abs_err=${s.maxAbs.toExponential(2)} max_rel_err=${s.maxRel.toExponential(2)} `
          + `label_mismatches=${s.labelMismatches}`);
      });

      test(`V2 API matches the framework for ${label}`, async (t) => {
        const rows = pick(records, sel);
        const { feeds, rows: n, id } = v2RequestToFeeds(signature, v2Body(side, rows));
        assert.equal(n, rows.length);
        assert.equal(id, side.input_layout === 'matrix' ? 'req-1' : undefined);
        const tensors = tensorsToV2Outputs(signature, await model.run(feeds));
        const s = statsFor(`v2 ${label}`);
        checkV2(side, signature, tensors, expected, rows.length, s);
        if (argmax) {
          // The torch model has no label tensor: its label is the records API's argmax, checked above.
          const probs = tensors[0]!.data as number[];
          const c = signature.classLabels!.length;
          argmax.forEach((want, i) => {
            const row = probs.slice(i * c, i * c + c);
            assert.equal(row.indexOf(Math.max(...row)), want);
          });
        }
        t.diagnostic(`${name} v2 ${label}: max_abs_err=${s.maxAbs.toExponential(2)} max_rel_err=${s.maxRel.toExponential(2)}`);
      });
    }

    if (side.test.edge_cases) {
      const edge = side.test.edge_cases;
      test('edge cases (unseen categories) match the framework through records and V2', async () => {
        const rows = recordsOf(side, edge.inputs);
        const preds = outputsToPredictions(signature, await model.run(recordsToFeeds(signature, rows)), rows.length);
        checkPredictions(side, signature, preds, edge.expected, undefined, statsFor('edge'));
        // The "overseas" and "NSW" rows are both unseen regions, so they encode (and answer) identically.
        assert.deepEqual(preds[1], preds[3]);
        const { feeds } = v2RequestToFeeds(signature, v2Body(side, rows));
        checkV2(side, signature, tensorsToV2Outputs(signature, await model.run(feeds)), edge.expected, rows.length, statsFor('edge v2'));
      });
    }
  });
}

test('the fixtures folder holds the six documented models', () => {
  assert.deepEqual(fixtureNames(), [
    'counts_int64', 'diabetes_linear_f64', 'iris_tree', 'loans_pipeline_multi_input', 'wine_logreg_zipmap', 'wine_torch_mlp',
  ]);
});
