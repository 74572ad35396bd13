import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const RULES_FILE = join(ROOT, 'deploy/prometheus/tarmac-alerts.yml');

interface AlertingRule {
  alert?: string;
  record?: string;
  expr?: unknown;
  for?: unknown;
  labels?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}
interface RulesFile {
  groups: Array<{ name: string; interval?: string; rules: AlertingRule[] }>;
}

const rulesFile = parse(readFileSync(RULES_FILE, 'utf8')) as RulesFile;
const allRules = rulesFile.groups.flatMap((g) => g.rules);

/** The metric names Tarmac exports, read from the modules that register them, plus the monitor's gauges. */
function exportedMetrics(): Set<string> {
  const names = new Set([
    'tarmac_monitor_drift_score', 'tarmac_monitor_feature_drift', 'tarmac_monitor_drift_share',
    'tarmac_monitor_null_rate', 'tarmac_monitor_performance',
  ]);
  for (const file of ['src/serving/serving-metrics.ts', 'src/api/plugins/http-metrics.ts', 'src/pipelines/ingest-metrics.ts']) {
    const source = readFileSync(join(ROOT, file), 'utf8');
    for (const m of source.matchAll(/name: '(tarmac_[a-z0-9_]+)'[\s\S]*?(?=name: '|$)/g)) {
      names.add(m[1]!);
      // A histogram's series carry suffixes.
      if (/new Histogram\(\{\s*$/m.test(source.slice(Math.max(0, m.index! - 40), m.index!))) {
        for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${m[1]}${suffix}`);
      }
    }
    // The hot path's own metrics (src/shared/hot-metrics.ts) take the name first.
    for (const m of source.matchAll(/new Hot(Counter|Histogram)\('(tarmac_[a-z0-9_]+)'/g)) {
      names.add(m[2]!);
      if (m[1] === 'Histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${m[2]}${suffix}`);
    }
  }
  return names;
}

const DURATION = /^(\d+(ms|s|m|h|d|w|y))+$/;

describe('deploy/prometheus/tarmac-alerts.yml', () => {
  test('is a Prometheus rules file: named groups of rules', () => {
    assert.ok(Array.isArray(rulesFile.groups) && rulesFile.groups.length > 0);
    const groupNames = rulesFile.groups.map((g) => g.name);
    assert.equal(new Set(groupNames).size, groupNames.length, 'group names are unique');
    for (const g of rulesFile.groups) {
      assert.equal(typeof g.name, 'string');
      assert.ok(Array.isArray(g.rules) && g.rules.length > 0, `${g.name} has rules`);
      if (g.interval !== undefined) assert.match(g.interval, DURATION);
    }
  });

  test('every rule has alert, expr, for, labels.severity and annotations.summary/description', () => {
    const names = new Set<string>();
    for (const r of allRules) {
      assert.equal(typeof r.alert, 'string', `rule without alert: ${JSON.stringify(r).slice(0, 80)}`);
      const name = r.alert!;
      assert.match(name, /^Tarmac[A-Za-z0-9]+$/);
      assert.ok(!names.has(name), `${name} is defined once`);
      names.add(name);
      assert.ok(typeof r.expr === 'string' && r.expr.trim().length > 0, `${name}: expr`);
      assert.ok(typeof r.for === 'string' && DURATION.test(r.for), `${name}: for is a Prometheus duration`);
      assert.ok(['info', 'warning', 'critical'].includes(r.labels?.severity as string), `${name}: severity`);
      assert.ok(typeof r.annotations?.summary === 'string' && r.annotations.summary.length > 0, `${name}: summary`);
      assert.ok(typeof r.annotations?.description === 'string' && r.annotations.description.length > 0, `${name}: description`);
      const expr = r.expr as string;
      let depth = 0;
      for (const ch of expr) {
        depth += ch === '(' ? 1 : ch === ')' ? -1 : 0;
        assert.ok(depth >= 0, `${name}: parentheses balance`);
      }
      assert.equal(depth, 0, `${name}: parentheses balance`);
    }
  });

  test('covers the requested signals and names only metrics Tarmac exports', () => {
    const known = exportedMetrics();
    assert.ok(known.has('tarmac_inference_duration_seconds_bucket') && known.has('tarmac_http_request_duration_seconds_bucket'));
    const used = new Set<string>();
    for (const r of allRules) {
      for (const m of (r.expr as string).matchAll(/\btarmac_[a-z0-9_]+/g)) {
        assert.ok(known.has(m[0]), `${r.alert} uses ${m[0]}, which Tarmac does not export`);
        used.add(m[0]);
      }
    }
    for (const needed of [
      'tarmac_prediction_errors_total', 'tarmac_predictions_total', 'tarmac_inference_duration_seconds_bucket',
      'tarmac_http_request_duration_seconds_bucket', 'tarmac_prediction_log_dropped_total', 'tarmac_contract_violations_total',
      'tarmac_ingest_rows_total', 'tarmac_monitor_drift_score', 'tarmac_monitor_feature_drift', 'tarmac_monitor_drift_share',
      'tarmac_monitor_null_rate', 'tarmac_monitor_performance',
    ]) assert.ok(used.has(needed), `some rule watches ${needed}`);
  });

  const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  const hasPromtool = promtool.status === 0;

  test('promtool accepts the file and the rules fire on synthetic series', { skip: hasPromtool ? false : 'promtool is not installed' }, () => {
    execFileSync('promtool', ['check', 'rules', RULES_FILE], { encoding: 'utf8', timeout: 30_000 });
    // Unit tests compare annotations verbatim; strip them from a copy so wording changes do not break the semantics test.
    const dir = mkdtempSync(join(tmpdir(), 'tarmac-promtool-'));
    try {
      const stripped: RulesFile = { groups: rulesFile.groups.map((g) => ({ ...g, rules: g.rules.map(({ annotations: _a, ...rest }) => rest) })) };
      writeFileSync(join(dir, 'rules.yml'), stringify(stripped));
      writeFileSync(join(dir, 'test.yml'), stringify(PROMTOOL_TESTS));
      const run = spawnSync('promtool', ['test', 'rules', join(dir, 'test.yml')], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const PROMTOOL_TESTS = {
  rule_files: ['rules.yml'],
  evaluation_interval: '1m',
  tests: [
    {
      interval: '1m',
      input_series: [
        // 100 records and 10 refused requests a minute: 9% errors.
        { series: 'tarmac_predictions_total{model="credit",version="3",variant="stable",api="records"}', values: '0+100x40' },
        { series: 'tarmac_prediction_errors_total{model="credit",version="3",code="SERVING_INPUT_INVALID"}', values: '0+10x40' },
        // A version that never answered: only errors, no predictions series at all.
        { series: 'tarmac_prediction_errors_total{model="fraud",version="1",code="INTERNAL"}', values: '0+10x40' },
        { series: 'tarmac_inference_duration_seconds_bucket{model="credit",version="3",variant="stable",le="0.25"}', values: '0+10x40' },
        { series: 'tarmac_inference_duration_seconds_bucket{model="credit",version="3",variant="stable",le="0.5"}', values: '0+10x40' },
        { series: 'tarmac_inference_duration_seconds_bucket{model="credit",version="3",variant="stable",le="+Inf"}', values: '0+100x40' },
        { series: 'tarmac_inference_duration_seconds_count{model="credit",version="3",variant="stable"}', values: '0+100x40' },
        { series: 'tarmac_contract_violations_total{model="credit",version="3",field="income",rule="minimum"}', values: '0+5x40' },
        { series: 'tarmac_prediction_log_dropped_total{job="tarmac",instance="a:8080"}', values: '0x10 0+20x30' },
        // Late rows are also accepted: the ratio is 10 / (90 + 10), not 10 / 150.
        { series: 'tarmac_ingest_rows_total{dataset="loans",outcome="accepted"}', values: '0+90x40' },
        { series: 'tarmac_ingest_rows_total{dataset="loans",outcome="late"}', values: '0+50x40' },
        { series: 'tarmac_ingest_rows_total{dataset="loans",outcome="quarantined"}', values: '0+10x40' },
        { series: 'tarmac_monitor_drift_share{model="credit",version="3",variant="stable"}', values: '0.25x10 0.6x40' },
        { series: 'tarmac_monitor_feature_drift{model="credit",version="3",variant="stable",feature="income"}', values: '1x50' },
        { series: 'tarmac_monitor_feature_drift{model="credit",version="3",variant="stable",feature="age"}', values: '0x50' },
        { series: 'tarmac_monitor_null_rate{model="credit",version="3",variant="stable",feature="income"}', values: '0.3x50' },
        { series: 'tarmac_monitor_drift_score{model="credit",version="3",variant="stable",feature="income",method="psi"}', values: '0.4x50' },
        { series: 'tarmac_monitor_drift_score{model="credit",version="3",variant="stable",feature="age",method="ks"}', values: '0.4x50' },
      ],
      alert_rule_test: [
        { eval_time: '20m', alertname: 'TarmacPredictionErrorRateHigh', exp_alerts: [
          { exp_labels: { severity: 'warning', model: 'credit', version: '3' } },
          { exp_labels: { severity: 'warning', model: 'fraud', version: '1' } },
        ] },
        { eval_time: '20m', alertname: 'TarmacPredictionServerErrors', exp_alerts: [{ exp_labels: { severity: 'critical', model: 'fraud', version: '1' } }] },
        { eval_time: '20m', alertname: 'TarmacInferenceLatencyP99High', exp_alerts: [{ exp_labels: { severity: 'warning', model: 'credit', version: '3', variant: 'stable' } }] },
        { eval_time: '30m', alertname: 'TarmacContractViolationsHigh', exp_alerts: [{ exp_labels: { severity: 'warning', model: 'credit', version: '3' } }] },
        { eval_time: '20m', alertname: 'TarmacPredictionLogDropping', exp_alerts: [{ exp_labels: { severity: 'warning', job: 'tarmac', instance: 'a:8080' } }] },
        { eval_time: '20m', alertname: 'TarmacIngestQuarantineRateHigh', exp_alerts: [{ exp_labels: { severity: 'warning', dataset: 'loans' } }] },
        { eval_time: '30m', alertname: 'TarmacDatasetDrift', exp_alerts: [] },
        { eval_time: '41m', alertname: 'TarmacDatasetDrift', exp_alerts: [{ exp_labels: { severity: 'warning', model: 'credit', version: '3', variant: 'stable' } }] },
        { eval_time: '31m', alertname: 'TarmacFeatureDrift', exp_alerts: [{ exp_labels: { severity: 'info', model: 'credit', version: '3', variant: 'stable', feature: 'income' } }] },
        { eval_time: '31m', alertname: 'TarmacFeaturePsiHigh', exp_alerts: [{ exp_labels: { severity: 'warning', model: 'credit', version: '3', variant: 'stable', feature: 'income' } }] },
        { eval_time: '16m', alertname: 'TarmacFeatureNullRateHigh', exp_alerts: [{ exp_labels: { severity: 'warning', model: 'credit', version: '3', variant: 'stable', feature: 'income' } }] },
      ],
    },
    {
      interval: '1m',
      input_series: [
        { series: 'tarmac_predictions_total{model="credit",version="3",variant="stable",api="records"}', values: '0+60x100 6000x60' },
        { series: 'tarmac_http_requests_total{method="POST",route="/v1/models/:name/predict",status="200"}', values: '0+60x160' },
      ],
      alert_rule_test: [
        { eval_time: '100m', alertname: 'TarmacModelNoTraffic', exp_alerts: [] },
        { eval_time: '125m', alertname: 'TarmacModelNoTraffic', exp_alerts: [{ exp_labels: { severity: 'warning', model: 'credit' } }] },
        { eval_time: '125m', alertname: 'TarmacMetricsAbsent', exp_alerts: [] },
      ],
    },
    {
      interval: '1m',
      input_series: [
        { series: 'tarmac_monitor_performance{model="credit",version="3",variant="stable",metric="roc_auc"}', values: '0.85x1440 0.52x60' },
        { series: 'tarmac_monitor_performance{model="credit",version="3",variant="stable",metric="mae"}', values: '10x1440 12x60' },
      ],
      alert_rule_test: [
        { eval_time: '1475m', alertname: 'TarmacModelPerformanceDropped', exp_alerts: [{ exp_labels: { severity: 'warning', model: 'credit', version: '3', variant: 'stable', metric: 'roc_auc' } }] },
        { eval_time: '1475m', alertname: 'TarmacModelErrorGrew', exp_alerts: [{ exp_labels: { severity: 'warning', model: 'credit', version: '3', variant: 'stable', metric: 'mae' } }] },
        { eval_time: '1475m', alertname: 'TarmacModelNearRandom', exp_alerts: [{ exp_labels: { severity: 'critical', model: 'credit', version: '3', variant: 'stable', metric: 'roc_auc' } }] },
      ],
    },
  ],
};
