import { Counter, Gauge, type Registry } from 'prom-client';
import { HotCounter, HotHistogram } from '../shared/hot-metrics.ts';

/** The per-request metric handles of one variant, bound to their labels once (label hashing is per-call otherwise). */
export interface VariantMetrics {
  predictions: { inc(value: number): void };
  inferenceSeconds: { observe(value: number): void };
}

/** The serving path's Prometheus metrics, registered on the app's registry (never the global one). */
export class ServingMetrics {
  /** Per request (hot: bound handles add without hashing, see hot-metrics.ts). */
  readonly predictions: HotCounter;
  readonly inferenceSeconds: HotHistogram;
  readonly errors: Counter<'model' | 'version' | 'code'>;
  readonly logDropped: Counter;
  readonly logWritten: Counter;
  readonly logBuffered: Gauge;
  /** What `tarmac_prediction_log_buffered` reports when scraped (the prediction logger sets it to its queue length). */
  bufferedRows: () => number = () => 0;
  readonly loadedVersions: Gauge;
  readonly feedback: Counter<'model'>;
  readonly batchRows: HotHistogram;
  readonly contractViolations: Counter<'model' | 'version' | 'field' | 'rule'>;
  readonly shadowPredictions: Counter<'model' | 'shadow' | 'version'>;
  readonly shadowDisagreements: Counter<'model' | 'shadow' | 'version'>;
  readonly shadowErrors: Counter<'model' | 'shadow' | 'version'>;

  constructor(registry: Registry) {
    this.predictions = new HotCounter('tarmac_predictions_total', 'Records answered, by model, version, variant and API (records or v2)',
      ['model', 'version', 'variant', 'api'], registry);
    this.inferenceSeconds = new HotHistogram('tarmac_inference_duration_seconds', 'Time in the runtime for one request (one batch), by model, version and variant',
      ['model', 'version', 'variant'], [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registry);
    this.errors = new Counter({
      name: 'tarmac_prediction_errors_total',
      help: 'Refused or failed prediction requests, by model, version and error code',
      labelNames: ['model', 'version', 'code'],
      registers: [registry],
    });
    this.logDropped = new Counter({
      name: 'tarmac_prediction_log_dropped_total',
      help: 'Prediction events dropped because the log buffer was full or a write failed',
      registers: [registry],
    });
    this.logWritten = new Counter({
      name: 'tarmac_prediction_log_written_total',
      help: 'Prediction events written to the store',
      registers: [registry],
    });
    const buffered = () => this.bufferedRows();
    this.logBuffered = new Gauge({
      name: 'tarmac_prediction_log_buffered',
      help: 'Prediction events waiting in the log buffer',
      registers: [registry],
      // Read when scraped, not set on every answer.
      collect() {
        this.set(buffered());
      },
    });
    this.loadedVersions = new Gauge({
      name: 'tarmac_loaded_versions',
      help: 'Model versions loaded in this process',
      registers: [registry],
    });
    this.batchRows = new HotHistogram('tarmac_batch_rows', 'Rows per runtime call after adaptive batching, by model and version',
      ['model', 'version'], [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024], registry);
    this.shadowPredictions = new Counter({
      name: 'tarmac_shadow_predictions_total',
      help: 'Records a shadow variant answered (a copy of live traffic; never returned), by model, shadow and version',
      labelNames: ['model', 'shadow', 'version'],
      registers: [registry],
    });
    this.shadowDisagreements = new Counter({
      name: 'tarmac_shadow_disagreements_total',
      help: 'Records whose shadow prediction differed from the answer returned, by model, shadow and version',
      labelNames: ['model', 'shadow', 'version'],
      registers: [registry],
    });
    this.shadowErrors = new Counter({
      name: 'tarmac_shadow_errors_total',
      help: 'Shadow runs that failed (the client never sees them), by model, shadow and version',
      labelNames: ['model', 'shadow', 'version'],
      registers: [registry],
    });
    this.contractViolations = new Counter({
      name: 'tarmac_contract_violations_total',
      help: 'Values that broke the bound data contract at the serving edge (refused or imputed), by field and rule',
      labelNames: ['model', 'version', 'field', 'rule'],
      registers: [registry],
    });
    this.feedback = new Counter({
      name: 'tarmac_feedback_total',
      help: 'Ground-truth labels stored, by model',
      labelNames: ['model'],
      registers: [registry],
    });
  }

  private readonly bound = new Map<string, VariantMetrics>();

  /** The bound handles for one model, version, variant and API; created on first use. */
  forVariant(model: string, version: string, variant: string, api: string): VariantMetrics {
    const key = `${model}\u0000${version}\u0000${variant}\u0000${api}`;
    let handles = this.bound.get(key);
    if (!handles) {
      handles = {
        predictions: this.predictions.labels({ model, version, variant, api }),
        inferenceSeconds: this.inferenceSeconds.labels({ model, version, variant }),
      };
      this.bound.set(key, handles);
    }
    return handles;
  }
}
