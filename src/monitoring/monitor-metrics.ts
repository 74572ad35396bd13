import { Gauge, type Registry } from 'prom-client';

type VariantLabels = 'model' | 'version' | 'variant';

/** The monitor's Prometheus gauges, set when a window closes (names used by deploy/prometheus/tarmac-alerts.yml). */
export class MonitorMetrics {
  readonly driftScore: Gauge<VariantLabels | 'feature' | 'method'>;
  readonly featureDrift: Gauge<VariantLabels | 'feature'>;
  readonly driftShare: Gauge<VariantLabels>;
  readonly nullRate: Gauge<VariantLabels | 'feature'>;
  readonly unseenCategoryRate: Gauge<VariantLabels | 'feature'>;
  readonly outOfRangeRate: Gauge<VariantLabels | 'feature'>;
  readonly windowRows: Gauge<VariantLabels>;
  readonly volumeRatio: Gauge<VariantLabels>;
  readonly performance: Gauge<VariantLabels | 'metric'>;
  readonly conceptDrift: Gauge<VariantLabels>;
  readonly predictionDrift: Gauge<VariantLabels | 'output' | 'method'>;
  readonly estimatedPerformance: Gauge<VariantLabels | 'metric'>;
  readonly latency: Gauge<VariantLabels | 'quantile'>;
  readonly business: Gauge<VariantLabels | 'metric'>;

  constructor(registry: Registry) {
    const g = <L extends string>(name: string, help: string, labelNames: L[]) => new Gauge<L>({ name, help, labelNames, registers: [registry] });
    const variant: VariantLabels[] = ['model', 'version', 'variant'];
    this.driftScore = g('tarmac_monitor_drift_score', 'The drift method\'s headline value for a feature in the last closed window (KS D, normed Wasserstein, JS distance, PSI, chi-square)', [...variant, 'feature', 'method']);
    this.featureDrift = g('tarmac_monitor_feature_drift', '1 when the feature drifted in the last closed window, else 0', [...variant, 'feature']);
    this.driftShare = g('tarmac_monitor_drift_share', 'Share of features that drifted in the last closed window', variant);
    this.nullRate = g('tarmac_monitor_null_rate', 'Share of null (missing) values of a feature in the last closed window', [...variant, 'feature']);
    this.unseenCategoryRate = g('tarmac_monitor_unseen_category_rate', 'Share of values of a categorical feature outside the reference\'s categories in the last closed window', [...variant, 'feature']);
    this.outOfRangeRate = g('tarmac_monitor_out_of_range_rate', 'Share of values of a numeric feature outside the reference\'s [min, max] in the last closed window', [...variant, 'feature']);
    this.windowRows = g('tarmac_monitor_window_rows', 'Records in the last closed window', variant);
    this.volumeRatio = g('tarmac_monitor_volume_ratio', 'Records in the last closed window ÷ the mean of the previous windows (1 = as usual)', variant);
    this.predictionDrift = g('tarmac_monitor_prediction_drift_score', 'Drift of an output (predicted label or value, confidence) against the reference\'s scored sample in the last closed window', [...variant, 'output', 'method']);
    this.estimatedPerformance = g('tarmac_monitor_estimated_performance', 'Classifier performance estimated without labels (CBPE) in the last closed window', [...variant, 'metric']);
    this.latency = g('tarmac_monitor_latency_ms', 'Request latency quantiles of the last closed window, from its prediction events (ms)', [...variant, 'quantile']);
    this.business = g('tarmac_monitor_business_metric', 'A user-defined business metric (mean or sum over the last closed window)', [...variant, 'metric']);
    this.conceptDrift = g('tarmac_monitor_concept_drift', '1 when the error-stream detector (ADWIN for classifiers, Page-Hinkley for regressors) saw a change in the last labelled window', variant);
    this.performance = g('tarmac_monitor_performance', 'A performance metric (accuracy, f1, roc_auc, log_loss, mae, rmse, r2, estimated_accuracy, …) of the last window with labels', [...variant, 'metric']);
  }
}
