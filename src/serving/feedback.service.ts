import type { Principal } from '../security/index.ts';
import type { Clock } from '../shared/clock.ts';
import { TarmacError, type FieldIssue } from '../shared/errors.ts';
import type { FeedbackRecord, PredictionRecord, PredictionStore } from '../store/index.ts';
import type { PredictionLogger } from './prediction-logger.ts';
import type { ServingMetrics } from './serving-metrics.ts';
import type { EventBus } from '../bus/index.ts';

/** The answer to a feedback request: what was stored and which ids were not found. */
export interface FeedbackResult {
  accepted: number;
  unknown_prediction_ids: string[];
}

const MAX_ITEMS = 10_000;

/** Stores ground truth joined to logged predictions; ids that are unknown for the model are reported, not dropped silently. */
export class FeedbackService {
  constructor(
    private readonly deps: {
      store: PredictionStore;
      logger: PredictionLogger;
      metrics: ServingMetrics;
      bus: EventBus;
      clock: Clock;
      /** Told of every stored label with its prediction (the monitor scores windows with them); must not block. */
      onLabels?: (pairs: { prediction: PredictionRecord; label: unknown }[]) => void;
    },
  ) {}

  /** Validates `{"items":[{"prediction_id", "label"}]}` and stores the known ones. Throws FEEDBACK_INVALID. */
  async submit(model: string, body: unknown, by: Principal): Promise<FeedbackResult> {
    const items = this.parse(body);
    // Predictions are logged asynchronously: make sure every answered record is in the store before joining.
    await this.deps.logger.flush();
    const known = await this.deps.store.existing(items.map((i) => i.predictionId), model);
    const now = this.deps.clock.now();
    const rows: FeedbackRecord[] = [];
    const unknown: string[] = [];
    for (const item of items) {
      if (known.has(item.predictionId)) rows.push({ predictionId: item.predictionId, label: item.label, createdBy: by.id, createdAt: now });
      else unknown.push(item.predictionId);
    }
    if (rows.length > 0) {
      await this.deps.store.insertFeedback(rows);
      this.deps.metrics.feedback.inc({ model }, rows.length);
      await this.deps.bus.publish('feedback.received', { model, count: rows.length });
      if (this.deps.onLabels) {
        const predictions = new Map((await this.deps.store.getMany(rows.map((r) => r.predictionId))).map((p) => [p.id, p]));
        const pairs = rows.flatMap((r) => {
          const prediction = predictions.get(r.predictionId);
          return prediction ? [{ prediction, label: r.label }] : [];
        });
        this.deps.onLabels(pairs);
      }
    }
    return { accepted: rows.length, unknown_prediction_ids: unknown };
  }

  private parse(body: unknown): { predictionId: string; label: unknown }[] {
    const fail = (issues: FieldIssue[]) =>
      new TarmacError('FEEDBACK_INVALID', `the feedback is not valid: ${issues.map((i) => `${i.field} ${i.message}`).join('; ')}`, { issues });
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw fail([{ field: '/', rule: 'type', message: 'must be an object like {"items": [{"prediction_id": "...", "label": 1}]}' }]);
    }
    const extra = Object.keys(body).filter((k) => k !== 'items');
    if (extra.length > 0) throw fail(extra.map((k) => ({ field: `/${k}`, rule: 'unknown_field', message: 'is not allowed (only "items")' })));
    const items = (body as { items?: unknown }).items;
    if (!Array.isArray(items)) throw fail([{ field: '/items', rule: items === undefined ? 'required' : 'type', message: 'must be an array' }]);
    if (items.length === 0) throw fail([{ field: '/items', rule: 'min_items', message: 'must not be empty' }]);
    if (items.length > MAX_ITEMS) throw fail([{ field: '/items', rule: 'max_items', message: `must have at most ${MAX_ITEMS} items` }]);
    const issues: FieldIssue[] = [];
    const out: { predictionId: string; label: unknown }[] = [];
    items.forEach((item: unknown, i) => {
      const at = `/items/${i}`;
      if (typeof item !== 'object' || item === null || Array.isArray(item)) {
        issues.push({ field: at, rule: 'type', message: 'must be an object' });
        return;
      }
      const { prediction_id: id, label, ...rest } = item as Record<string, unknown>;
      for (const key of Object.keys(rest)) issues.push({ field: `${at}/${key}`, rule: 'unknown_field', message: 'allowed: prediction_id, label' });
      if (typeof id !== 'string' || id.length === 0 || id.length > 100) issues.push({ field: `${at}/prediction_id`, rule: id === undefined ? 'required' : 'type', message: 'must be a prediction id string' });
      const labelOk = (typeof label === 'number' && Number.isFinite(label)) || typeof label === 'string' || typeof label === 'boolean';
      if (!labelOk) issues.push({ field: `${at}/label`, rule: label === undefined ? 'required' : 'type', message: 'must be a finite number, a string or a boolean' });
      if (typeof id === 'string' && labelOk) out.push({ predictionId: id, label });
    });
    if (issues.length > 0) throw fail(issues.slice(0, 100));
    return out;
  }
}
