import { compileValidator, type Contract, type RecordValidator } from '../contracts/index.ts';
import { TarmacError, type FieldIssue } from '../shared/errors.ts';
import type { VersionRecord } from '../store/index.ts';

/**
 * What a record that breaks the bound contract gets: refused, repaired with the contract's declared defaults, or
 * answered by a declared fallback rule instead of the model.
 */
export type ValidationPolicy = 'reject' | 'impute' | 'fallback' | 'off';

/** The declared answer of the fallback rule (e.g. the majority class, a conservative score). */
export interface FallbackAnswer {
  prediction: number | string | boolean;
  probabilities?: Record<string, number>;
}

/** Reference statistics a version was registered with (see VersionRecord.reference). */
export type ReferenceStats = NonNullable<VersionRecord['reference']>;

/** Where an imputed value came from: the contract's `tarmac.default`, or the version's reference median or mode. */
export type ImputeSource = 'default' | 'median' | 'mode';

/** A contract's validator compiled once for a live variant, with its policy, imputable values and fallback. */
export interface EdgeValidation {
  contract: string;
  policy: 'reject' | 'impute' | 'fallback';
  validator: RecordValidator;
  defaults: ReadonlyMap<string, unknown>;
  /** Reference medians and modes that satisfy their field's rules (policy `impute`, after the declared defaults). */
  references: ReadonlyMap<string, { value: unknown; source: 'median' | 'mode' }>;
  fallback?: FallbackAnswer;
  /** The version that answers violating records (policy `fallback`, instead of a rule). */
  fallbackVersion?: number;
}

/** The result of validating a request's records at the edge: records to run, and per record the imputed fields. */
export interface EdgeOutcome {
  records: unknown[];
  imputed: (string[] | undefined)[];
  /** Per record: where each imputed field's value came from. */
  imputedFrom: (Record<string, ImputeSource> | undefined)[];
  /** Per record: true when the fallback (rule or version) answers it instead of the model (policy `fallback`). */
  fallback: boolean[];
  /** Per record sent to the fallback: the violations that sent it there. */
  reasons: ({ field: string; name: string; rule: string; message: string }[] | undefined)[];
  /** Every violation seen (before imputation), for metrics. */
  violations: { name: string; rule: string }[];
}

/** Options of compileEdgeValidation beyond the policy. */
export interface EdgeOptions {
  fallback?: FallbackAnswer;
  fallbackVersion?: number;
  reference?: ReferenceStats | null;
}

/**
 * Compiles the validator for `contract` under `policy` (once per route build, never per request). Reference values
 * that break their field's own rules (a median outside a narrowed range, a mode no longer in the enum) are dropped,
 * so imputation never produces a record the contract refuses.
 */
export function compileEdgeValidation(contract: Contract, policy: 'reject' | 'impute' | 'fallback', fallbackOrOptions?: FallbackAnswer | EdgeOptions): EdgeValidation {
  const options: EdgeOptions = fallbackOrOptions && 'prediction' in fallbackOrOptions ? { fallback: fallbackOrOptions } : (fallbackOrOptions ?? {});
  const defaults = new Map<string, unknown>();
  for (const field of contract.fields) if (field.defaultValue !== undefined) defaults.set(field.name, field.defaultValue);
  const references = new Map<string, { value: unknown; source: 'median' | 'mode' }>();
  if (policy === 'impute' && options.reference) {
    for (const field of contract.fields) {
      const median = options.reference.medians[field.name];
      const mode = options.reference.modes[field.name];
      const candidate = median !== undefined ? { value: median, source: 'median' as const } : mode !== undefined ? { value: mode, source: 'mode' as const } : undefined;
      if (!candidate) continue;
      const single = compileValidator({ ...contract, fields: [field] });
      if (single.validate({ [field.name]: candidate.value }, '').length === 0) references.set(field.name, candidate);
    }
  }
  return {
    contract: `${contract.name}@${contract.version}`, policy, validator: compileValidator(contract), defaults, references,
    ...(options.fallback ? { fallback: options.fallback } : {}),
    ...(options.fallbackVersion !== undefined ? { fallbackVersion: options.fallbackVersion } : {}),
  };
}

/**
 * Validates each record against the contract. Under `reject` any violation refuses the request; under `impute` a
 * violating field takes the declared default, else the version's reference median or mode (the record is flagged
 * with the field and the source), and anything else refuses it; under `fallback` a violating record is marked for
 * the fallback rule or version. Throws SERVING_INPUT_INVALID naming record, field and rule.
 */
export function applyEdgeValidation(edge: EdgeValidation, records: unknown[]): EdgeOutcome {
  const issues: FieldIssue[] = [];
  const violations: { name: string; rule: string }[] = [];
  let out: unknown[] = records;
  const imputed: (string[] | undefined)[] = records.map(() => undefined);
  const imputedFrom: (Record<string, ImputeSource> | undefined)[] = records.map(() => undefined);
  const fallback: boolean[] = records.map(() => false);
  const reasons: EdgeOutcome['reasons'] = records.map(() => undefined);
  const toFallback = edge.policy === 'fallback' && (edge.fallback !== undefined || edge.fallbackVersion !== undefined);
  let copied = false;
  for (let i = 0; i < records.length; i++) {
    const found = edge.validator.validate(records[i], `/records/${i}`);
    if (found.length === 0) continue;
    if (toFallback) {
      for (const v of found) violations.push({ name: v.name, rule: v.rule });
      fallback[i] = true;
      reasons[i] = found.map((v) => ({ field: v.field, name: v.name, rule: v.rule, message: v.message }));
      continue;
    }
    const repaired: Record<string, unknown> = edge.policy === 'impute' && typeof records[i] === 'object' && records[i] !== null
      ? { ...(records[i] as Record<string, unknown>) }
      : {};
    const fields: string[] = [];
    const sources: Record<string, ImputeSource> = {};
    for (const v of found) {
      violations.push({ name: v.name, rule: v.rule });
      const imputable = edge.policy === 'impute' && v.rule !== 'unknown_field' && v.rule !== 'not_object';
      const reference = imputable && !edge.defaults.has(v.name) ? edge.references.get(v.name) : undefined;
      if (imputable && (edge.defaults.has(v.name) || reference)) {
        repaired[v.name] = reference ? reference.value : edge.defaults.get(v.name);
        sources[v.name] = reference ? reference.source : 'default';
        if (!fields.includes(v.name)) fields.push(v.name);
      } else if (issues.length < 100) {
        issues.push({ field: v.field, rule: v.rule, message: `${v.message} (contract ${edge.contract})` });
      }
    }
    if (fields.length > 0) {
      if (!copied) {
        // The caller's array (the request body) is logged as received; imputed records live in a copy.
        out = records.slice();
        copied = true;
      }
      out[i] = repaired;
      imputed[i] = fields;
      imputedFrom[i] = sources;
    }
  }
  if (issues.length > 0) {
    throw new TarmacError('SERVING_INPUT_INVALID', `${issues.length} value(s) break the data contract ${edge.contract}: ${issues.slice(0, 3).map((x) => `${x.field} (${x.rule})`).join(', ')}${issues.length > 3 ? ', …' : ''}`, {
      issues,
      details: { contract: edge.contract, policy: edge.policy },
    });
  }
  return { records: out, imputed, imputedFrom, fallback, reasons, violations };
}
