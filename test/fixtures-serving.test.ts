import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fixtureNames, loadFixture, recordsOf, registerViaApi, startTestTarmac, type Sidecar, type TestTarmac } from './support.ts';

/**
 * Acceptance: every fixture model registers, deploys and answers through both APIs with the framework's expected
 * outputs (labels equal; probabilities within 1e-5; regression within the sidecar's relative tolerance).
 */
const modelName = (fixture: string) => fixture.replace(/_/g, '-');

function classLabelsOf(sidecar: Sidecar): number[] {
  return sidecar.classes ?? [0, 1, 2];
}

function expectedLabels(sidecar: Sidecar): number[] | undefined {
  const e = sidecar.test.expected;
  return (e.label ?? e.output_label ?? sidecar.test.expected_argmax) as number[] | undefined;
}

function expectedProbabilities(sidecar: Sidecar): number[][] | undefined {
  const e = sidecar.test.expected;
  if (Array.isArray(e.probabilities)) return e.probabilities as number[][];
  if (Array.isArray(e.output_probability)) {
    const labels = classLabelsOf(sidecar);
    return (e.output_probability as Record<string, number>[]).map((row) => labels.map((l) => row[String(l)]!));
  }
  return undefined;
}

function expectedRegression(sidecar: Sidecar): { values: number[]; rtol: number } | undefined {
  const v = sidecar.test.expected.variable as number[][] | undefined;
  if (!v) return undefined;
  return { values: v.map((r) => r[0]!), rtol: sidecar.inputs[0]!.dtype === 'float64' ? 1e-9 : 1e-6 };
}

function v2InputsOf(sidecar: Sidecar, rows: number[]) {
  if (sidecar.input_layout === 'matrix') {
    const input = sidecar.inputs[0]!;
    const matrix = sidecar.test.inputs as number[][];
    const data = rows.map((r) => matrix[r]!);
    return [{ name: input.name, shape: [rows.length, sidecar.feature_names.length], datatype: v2Type(input.dtype), data }];
  }
  const columns = sidecar.test.inputs as Record<string, unknown[][]>;
  return sidecar.inputs.map((input) => ({
    name: input.name, shape: [rows.length, 1], datatype: v2Type(input.dtype), data: rows.map((r) => columns[input.name]![r]![0]),
  }));
}

function v2Type(dtype: string): string {
  return { float32: 'FP32', float64: 'FP64', int64: 'INT64', string: 'BYTES' }[dtype]!;
}

function near(actual: number, expected: number, atol: number, rtol: number, what: string) {
  assert.ok(Math.abs(actual - expected) <= atol + rtol * Math.abs(expected), `${what}: got ${actual}, expected ${expected}`);
}

describe('every fixture model serves the framework\'s outputs through both APIs', () => {
  let t: TestTarmac;
  before(async () => {
    t = await startTestTarmac();
  });
  after(async () => t.close());

  for (const fixture of fixtureNames()) {
    test(fixture, async () => {
      const { bytes, sidecar } = loadFixture(fixture);
      const name = modelName(fixture);
      const registered = await registerViaApi(t, name, bytes, sidecar.input_layout === 'matrix' ? { features: sidecar.feature_names } : {});
      assert.equal(registered.statusCode, 201, registered.body);
      const version = registered.json() as { version: number; artifact_sha256: string; signature: { task: string } };
      assert.equal(version.artifact_sha256, sidecar.onnx_sha256);
      assert.equal(version.signature.task, sidecar.task === 'regression' ? 'regression' : 'classification');
      const deployed = await t.call('PUT', `/v1/models/${name}/deployment`, { version: version.version });
      assert.equal(deployed.statusCode, 200, deployed.body);

      const records = recordsOf(sidecar);
      const labels = expectedLabels(sidecar);
      const probabilities = expectedProbabilities(sidecar);
      const regression = expectedRegression(sidecar);

      // Records API: the whole batch, then row 0 alone.
      for (const rows of [records.map((_, i) => i), [0]]) {
        const response = await t.call('POST', `/v1/models/${name}/predict`, { records: rows.map((i) => records[i]) });
        assert.equal(response.statusCode, 200, response.body);
        const body = response.json() as { version: number; predictions: { id: string; version: number; prediction: number; probabilities?: Record<string, number> }[] };
        assert.equal(body.predictions.length, rows.length);
        body.predictions.forEach((p, k) => {
          const i = rows[k]!;
          assert.equal(p.version, version.version);
          assert.match(p.id, /^[0-9a-f-]{36}$/);
          if (labels) assert.equal(p.prediction, labels[i], `label of row ${i}`);
          if (probabilities) {
            const classLabels = classLabelsOf(sidecar);
            classLabels.forEach((label, j) => near(p.probabilities![String(label)]!, probabilities[i]![j]!, 1e-5, 0, `p[${i}][${label}]`));
          }
          if (regression) near(p.prediction, regression.values[i]!, 0, regression.rtol, `value of row ${i}`);
        });
      }

      // Open Inference Protocol v2: the whole batch, then row 0 alone, on the deployed model and the pinned version.
      for (const [url, rows] of [
        [`/v2/models/${name}/infer`, records.map((_, i) => i)],
        [`/v2/models/${name}/versions/${version.version}/infer`, [0]],
      ] as const) {
        const response = await t.call('POST', url, { id: 'req-1', inputs: v2InputsOf(sidecar, [...rows]) });
        assert.equal(response.statusCode, 200, response.body);
        const body = response.json() as { id: string; model_name: string; model_version: string; outputs: { name: string; datatype: string; shape: number[]; data: number[] }[] };
        assert.equal(body.id, 'req-1');
        assert.equal(body.model_name, name);
        assert.equal(body.model_version, String(version.version));
        const byName = new Map(body.outputs.map((o) => [o.name, o]));
        for (const [outputName, expected] of Object.entries(sidecar.test.expected)) {
          const output = byName.get(outputName);
          assert.ok(output, `output ${outputName} missing`);
          if (outputName === 'label' || outputName === 'output_label') {
            assert.deepEqual(output.shape, [rows.length]);
            assert.deepEqual(output.data, rows.map((i) => (expected as number[])[i]));
          } else if (outputName === 'variable') {
            assert.deepEqual(output.shape, [rows.length, 1]);
            rows.forEach((i, k) => near(output.data[k]!, regression!.values[i]!, 0, regression!.rtol, `v2 value of row ${i}`));
          } else {
            const classes = classLabelsOf(sidecar).length;
            assert.deepEqual(output.shape, [rows.length, classes]);
            assert.equal(output.datatype, 'FP32');
            rows.forEach((i, k) => probabilities![i]!.forEach((p, j) => near(output.data[k * classes + j]!, p, 1e-5, 0, `v2 p[${i}][${j}]`)));
          }
        }
      }

      // Model metadata speaks the protocol.
      const metadata = await t.call('GET', `/v2/models/${name}`);
      assert.equal(metadata.statusCode, 200, metadata.body);
      const meta = metadata.json() as { name: string; platform: string; inputs: { name: string; datatype: string; shape: number[] }[] };
      assert.equal(meta.name, name);
      assert.deepEqual(meta.inputs.map((i) => i.name), sidecar.inputs.map((i) => i.name));
      assert.deepEqual(meta.inputs.map((i) => i.datatype), sidecar.inputs.map((i) => v2Type(i.dtype)));
      assert.equal(meta.inputs[0]!.shape[0], -1);
      const ready = await t.call('GET', `/v2/models/${name}/ready`);
      assert.equal(ready.statusCode, 200);
    });
  }

  test('loans edge cases: unseen categories are encoded as all zeros, as sklearn does', async () => {
    const { sidecar } = loadFixture('loans_pipeline_multi_input');
    const edge = sidecar.test.edge_cases as { inputs: Record<string, unknown[][]>; expected: { label: number[]; probabilities: number[][] } };
    const names = Object.keys(edge.inputs);
    const records = edge.expected.label.map((_, i) => Object.fromEntries(names.map((n) => [n, edge.inputs[n]![i]![0]])));
    const response = await t.call('POST', '/v1/models/loans-pipeline-multi-input/predict', { records });
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json() as { predictions: { prediction: number; probabilities: Record<string, number> }[] };
    body.predictions.forEach((p, i) => {
      assert.equal(p.prediction, edge.expected.label[i]);
      edge.expected.probabilities[i]!.forEach((v, j) => near(p.probabilities[String(j)]!, v, 1e-5, 0, `edge ${i}`));
    });
  });
});
