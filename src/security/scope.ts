import { TarmacError, type FieldIssue } from '../shared/errors.ts';

/** What kind of thing a scope restricts. */
export type ScopeKind = 'model' | 'dataset';

/**
 * Restricts a principal to named models and/or datasets: exact names or globs where `*` matches any run of
 * characters. Each kind is restricted independently; a kind left out is not restricted.
 */
export interface ResourceScope {
  readonly models?: readonly string[];
  readonly datasets?: readonly string[];
  /** Compiled once when the principal is built; the hot path only runs these. */
  readonly matchers: { readonly model?: RegExp; readonly dataset?: RegExp };
}

/** A scope as JSON carries it (the API, the store, OIDC claims). */
export interface ScopeInput {
  models?: string[];
  datasets?: string[];
}

const PATTERN = /^[A-Za-z0-9._*-]{1,200}$/;
const MAX_PATTERNS = 100;

// Patterns are validated to letters, digits, '.', '_', '-' and '*', so '.' is the only character to escape.
function compile(patterns: readonly string[]): RegExp {
  const alternatives = patterns.map((p) => p.split('*').map((part) => part.replace(/\./g, '\\.')).join('.*'));
  return new RegExp(`^(?:${alternatives.join('|')})$`);
}

/** The problems with a scope's patterns, each naming the field under `base` (e.g. `/scope`). */
export function scopeIssues(input: unknown, base: string): FieldIssue[] {
  if (input === undefined || input === null) return [];
  if (typeof input !== 'object' || Array.isArray(input)) return [{ field: base, rule: 'type', message: 'must be an object with models and/or datasets' }];
  const issues: FieldIssue[] = [];
  for (const [key, value] of Object.entries(input)) {
    if (key !== 'models' && key !== 'datasets') {
      issues.push({ field: `${base}/${key}`, rule: 'unknown_field', message: 'must be models or datasets' });
      continue;
    }
    if (!Array.isArray(value) || value.length === 0 || value.length > MAX_PATTERNS) {
      issues.push({ field: `${base}/${key}`, rule: 'items', message: `must be a list of 1 to ${MAX_PATTERNS} names or globs` });
      continue;
    }
    value.forEach((p, i) => {
      if (typeof p !== 'string' || !PATTERN.test(p)) {
        issues.push({ field: `${base}/${key}/${i}`, rule: 'pattern', message: 'must be a name or glob of letters, digits, ".", "_", "-" and "*"' });
      }
    });
  }
  return issues;
}

/** Builds a scope from its JSON form; undefined when nothing is restricted. Throws VALIDATION_FAILED on bad patterns. */
export function buildScope(input: ScopeInput | null | undefined, base = '/scope'): ResourceScope | undefined {
  const issues = scopeIssues(input, base);
  if (issues.length > 0) throw new TarmacError('VALIDATION_FAILED', `the scope is not valid: ${issues.map((i) => `${i.field} ${i.message}`).join('; ')}`, { issues });
  if (!input || (input.models === undefined && input.datasets === undefined)) return undefined;
  const scope: ResourceScope = {
    ...(input.models ? { models: Object.freeze([...input.models]) } : {}),
    ...(input.datasets ? { datasets: Object.freeze([...input.datasets]) } : {}),
    matchers: Object.freeze({
      ...(input.models ? { model: compile(input.models) } : {}),
      ...(input.datasets ? { dataset: compile(input.datasets) } : {}),
    }),
  };
  return Object.freeze(scope);
}

/** True when `scope` lets its holder touch the `kind` named `name` (always true without a scope for that kind). */
export function scopeCovers(scope: ResourceScope | undefined, kind: ScopeKind, name: string): boolean {
  const matcher = scope?.matchers[kind];
  return matcher === undefined || matcher.test(name);
}

/** The JSON form of a scope, or null when unrestricted (for views and the store). */
export function scopeJson(scope: ResourceScope | undefined): ScopeInput | null {
  if (!scope) return null;
  return { ...(scope.models ? { models: [...scope.models] } : {}), ...(scope.datasets ? { datasets: [...scope.datasets] } : {}) };
}
