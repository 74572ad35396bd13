import { Counter, Gauge, type Registry } from 'prom-client';
import type { BatchCounts } from '../store/index.ts';

/** Ingestion's Prometheus metrics, registered on the app's registry. */
export class IngestMetrics {
  readonly rows: Counter<'dataset' | 'outcome'>;
  readonly batches: Counter<'dataset' | 'status'>;
  readonly watermark: Gauge<'dataset'>;

  constructor(registry: Registry) {
    this.rows = new Counter({
      name: 'tarmac_ingest_rows_total',
      help: 'Rows read by ingestion, by dataset and outcome (accepted, quarantined, duplicate, late, too_late; late rows are also accepted, too-late rows also quarantined)',
      labelNames: ['dataset', 'outcome'],
      registers: [registry],
    });
    this.batches = new Counter({
      name: 'tarmac_ingest_batches_total',
      help: 'Ingestion batches finished, by dataset and status (completed or failed)',
      labelNames: ['dataset', 'status'],
      registers: [registry],
    });
    this.watermark = new Gauge({
      name: 'tarmac_ingest_watermark_seconds',
      help: 'The highest event time accepted so far, by dataset (Unix seconds)',
      labelNames: ['dataset'],
      registers: [registry],
    });
  }

  /** Adds one committed chunk's counts. */
  addChunk(dataset: string, counts: BatchCounts): void {
    if (counts.accepted) this.rows.inc({ dataset, outcome: 'accepted' }, counts.accepted);
    if (counts.quarantined) this.rows.inc({ dataset, outcome: 'quarantined' }, counts.quarantined);
    if (counts.duplicates) this.rows.inc({ dataset, outcome: 'duplicate' }, counts.duplicates);
    if (counts.late) this.rows.inc({ dataset, outcome: 'late' }, counts.late);
    if (counts.tooLate) this.rows.inc({ dataset, outcome: 'too_late' }, counts.tooLate);
  }
}
