/**
 * User-defined business metrics: a safe expression evaluated on every (profiled) answered record — its features,
 * `prediction`, `confidence` and, for metrics over feedback, `label` — and aggregated per window as a mean (a rate,
 * when the expression is a condition) or a sum (scaled up when the window profiles a sample). Expressions use the
 * same hardened language as dataset transformations (docs/ingestion.md#expressions).
 */
import { compileTransforms } from '../pipelines/index.ts';
import type { CompiledTransforms } from '../pipelines/index.ts';
import { TarmacError } from '../shared/errors.ts';
import type { FieldIssue } from '../shared/errors.ts';

/** One business metric as configured. */
export interface BusinessMetricSpec {
  name: string;
  expr: string;
  aggregate: 'mean' | 'sum';
  /** `predictions`: every answered record; `feedback`: records with a label (the expression may read `label`). */
  source: 'predictions' | 'feedback';
  description?: string;
}

/** A compiled business metric. */
export interface CompiledBusinessMetric {
  spec: BusinessMetricSpec;
  /** The value for one record, or undefined when the expression has none (a null input, a refused row). */
  value(record: Record<string, unknown>): number | undefined;
}

const NAME = /^[a-z][a-z0-9_]{0,62}$/;
const RESULT = '__business_metric';

/** Validates and compiles business metric specs; throws VALIDATION_FAILED naming each bad field. */
export function compileBusinessMetrics(input: unknown): CompiledBusinessMetric[] {
  const issues: FieldIssue[] = [];
  if (!Array.isArray(input)) {
    throw new TarmacError('VALIDATION_FAILED', 'business metrics must be an array', { issues: [{ field: '/metrics', rule: 'type', message: 'must be an array' }] });
  }
  if (input.length > 50) issues.push({ field: '/metrics', rule: 'max_items', message: 'at most 50 business metrics per model' });
  const names = new Set<string>();
  const out: CompiledBusinessMetric[] = [];
  input.forEach((raw: unknown, i) => {
    const at = `/metrics/${i}`;
    const m = raw as Partial<BusinessMetricSpec> | null;
    if (typeof m !== 'object' || m === null) {
      issues.push({ field: at, rule: 'type', message: 'must be an object' });
      return;
    }
    for (const key of Object.keys(m)) if (!['name', 'expr', 'aggregate', 'source', 'description'].includes(key)) issues.push({ field: `${at}/${key}`, rule: 'unknown_field', message: 'is not a business metric setting' });
    if (typeof m.name !== 'string' || !NAME.test(m.name)) issues.push({ field: `${at}/name`, rule: 'pattern', message: 'must be 1–63 lowercase letters, digits or "_", starting with a letter' });
    else if (names.has(m.name)) issues.push({ field: `${at}/name`, rule: 'unique', message: `${m.name} is defined twice` });
    else names.add(m.name);
    const aggregate = m.aggregate ?? 'mean';
    if (aggregate !== 'mean' && aggregate !== 'sum') issues.push({ field: `${at}/aggregate`, rule: 'enum', message: 'must be mean or sum' });
    const source = m.source ?? 'predictions';
    if (source !== 'predictions' && source !== 'feedback') issues.push({ field: `${at}/source`, rule: 'enum', message: 'must be predictions or feedback' });
    if (typeof m.expr !== 'string' || m.expr.trim() === '') {
      issues.push({ field: `${at}/expr`, rule: 'required', message: 'an expression is required' });
      return;
    }
    let compiled: CompiledTransforms;
    try {
      compiled = compileTransforms([{ derive: { field: RESULT, expr: m.expr } }]);
    } catch (err) {
      for (const issue of (err as TarmacError).issues ?? []) issues.push({ ...issue, field: `${at}/expr`, message: issue.message });
      return;
    }
    const spec: BusinessMetricSpec = { name: m.name ?? '', expr: m.expr, aggregate, source, ...(m.description ? { description: m.description } : {}) };
    out.push({
      spec,
      value(record) {
        const r = compiled.apply(record);
        if (!r.ok) return undefined;
        const v = r.row[RESULT];
        if (typeof v === 'boolean') return v ? 1 : 0;
        return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
      },
    });
  });
  if (issues.length > 0) {
    throw new TarmacError('VALIDATION_FAILED', `the business metrics are not valid: ${issues.map((i) => `${i.field} ${i.message}`).join('; ')}`, { issues });
  }
  return out;
}
