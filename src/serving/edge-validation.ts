import { compileValidator, type Contract, type RecordValidator } from '../contracts/index.ts';
import { TarmacError, type FieldIssue } from '../shared/errors.ts';

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

/** A contract's validator compiled once for a live variant, with its policy, imputable defaults and fallback. */
export interface EdgeValidation {
  contract: string;
  policy: 'reject' | 'impute' | 'fallback';
  validator: RecordValidator;
  defaults: ReadonlyMap<string, unknown>;
  fallback?: FallbackAnswer;
}

/** The result of validating a request's records at the edge: records to run, and per record the imputed fields. */
export interface EdgeOutcome {
  records: unknown[];
  imputed: (string[] | undefined)[];
  /** Per record: true when the fallback rule answers it instead of the model (policy `fallback`). */
  fallback: boolean[];
  /** Every violation seen (before imputation), for metrics. */
  violations: { name: string; rule: string }[];
}

/** Compiles the validator for `contract` under `policy` (once per route build, never per request). */
export function compileEdgeValidation(contract: Contract, policy: 'reject' | 'impute' | 'fallback', fallback?: FallbackAnswer): EdgeValidation {
  const defaults = new Map<string, unknown>();
  for (const field of contract.fields) if (field.defaultValue !== undefined) defaults.set(field.name, field.defaultValue);
  return {
    contract: `${contract.name}@${contract.version}`, policy, validator: compileValidator(contract), defaults,
    ...(fallback ? { fallback } : {}),
  };
}

/**
 * Validates each record against the contract. Under `reject` any violation refuses the request; under `impute` a
 * violating field with a declared default takes the default (the record is flagged) and anything else refuses it;
 * under `fallback` a violating record is marked for the fallback rule. Throws SERVING_INPUT_INVALID naming record,
 * field and rule.
 */
export function applyEdgeValidation(edge: EdgeValidation, records: unknown[]): EdgeOutcome {
  const issues: FieldIssue[] = [];
  const violations: { name: string; rule: string }[] = [];
  let out: unknown[] = records;
  const imputed: (string[] | undefined)[] = records.map(() => undefined);
  const fallback: boolean[] = records.map(() => false);
  let copied = false;
  for (let i = 0; i < records.length; i++) {
    const found = edge.validator.validate(records[i], `/records/${i}`);
    if (found.length === 0) continue;
    if (edge.policy === 'fallback' && edge.fallback) {
      for (const v of found) violations.push({ name: v.name, rule: v.rule });
      fallback[i] = true;
      continue;
    }
    const repaired: Record<string, unknown> = edge.policy === 'impute' && typeof records[i] === 'object' && records[i] !== null
      ? { ...(records[i] as Record<string, unknown>) }
      : {};
    const fields: string[] = [];
    for (const v of found) {
      violations.push({ name: v.name, rule: v.rule });
      if (edge.policy === 'impute' && v.rule !== 'unknown_field' && v.rule !== 'not_object' && edge.defaults.has(v.name)) {
        repaired[v.name] = edge.defaults.get(v.name);
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
    }
  }
  if (issues.length > 0) {
    throw new TarmacError('SERVING_INPUT_INVALID', `${issues.length} value(s) break the data contract ${edge.contract}: ${issues.slice(0, 3).map((x) => `${x.field} (${x.rule})`).join(', ')}${issues.length > 3 ? ', …' : ''}`, {
      issues,
      details: { contract: edge.contract, policy: edge.policy },
    });
  }
  return { records: out, imputed, fallback, violations };
}
