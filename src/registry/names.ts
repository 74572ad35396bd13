import { TarmacError } from '../shared/errors.ts';

const MODEL_NAME = /^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$/;
const ALIAS_NAME = /^[a-z][a-z0-9_-]{0,62}$/;
const TAG_KEY = /^[A-Za-z0-9_.\-/]{1,64}$/;

/** The model-name rule as a regular expression source, for messages. */
export const MODEL_NAME_RULE = MODEL_NAME.source;

/** True when `name` follows the model-name rule (contracts use the same rule for their names). */
export function isModelName(name: unknown): name is string {
  return typeof name === 'string' && MODEL_NAME.test(name);
}

/**
 * Checks a model name: lowercase letters, digits, '.', '_' and '-', 1–64 characters, starting and ending with a
 * letter or digit, so it is safe in URLs, metric labels, file names and Kubernetes object names.
 * Throws REGISTRY_INVALID_NAME naming the field.
 */
export function assertModelName(name: unknown, field = '/name'): asserts name is string {
  if (typeof name !== 'string' || !MODEL_NAME.test(name)) {
    throw new TarmacError('REGISTRY_INVALID_NAME', `model name ${JSON.stringify(name)} is not allowed: use 1–64 lowercase letters, digits, '.', '_' or '-', starting and ending with a letter or digit`, {
      issues: [{ field, rule: 'pattern', message: `must match ${MODEL_NAME.source}` }],
    });
  }
}

/** Checks an alias name (`champion`, `challenger`, …); aliases cannot look like version numbers. Throws REGISTRY_INVALID_NAME. */
export function assertAliasName(alias: unknown, field = '/alias'): asserts alias is string {
  if (typeof alias !== 'string' || !ALIAS_NAME.test(alias) || alias === 'latest') {
    throw new TarmacError('REGISTRY_INVALID_NAME', `alias ${JSON.stringify(alias)} is not allowed: use a lowercase letter then up to 62 lowercase letters, digits, '_' or '-' ("latest" is reserved)`, {
      issues: [{ field, rule: 'pattern', message: `must match ${ALIAS_NAME.source} and not be "latest"` }],
    });
  }
}

/** Checks a string → string map of tags; throws VALIDATION_FAILED naming the bad key. */
export function assertTags(tags: unknown, field = '/tags'): asserts tags is Record<string, string> {
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) {
    throw new TarmacError('VALIDATION_FAILED', 'tags must be an object of string values', {
      issues: [{ field, rule: 'type', message: 'must be an object' }],
    });
  }
  for (const [key, value] of Object.entries(tags)) {
    if (!TAG_KEY.test(key) || typeof value !== 'string' || value.length > 256) {
      throw new TarmacError('VALIDATION_FAILED', `tag "${key}" is not valid: keys are 1–64 of [A-Za-z0-9_./-], values strings up to 256 characters`, {
        issues: [{ field: `${field}/${key}`, rule: 'tag', message: 'key must match [A-Za-z0-9_./-]{1,64} and value be a string of at most 256 characters' }],
      });
    }
  }
}

/** Checks a string → finite number map of metrics; throws VALIDATION_FAILED naming the bad key. */
export function assertMetrics(metrics: unknown, field = '/metrics'): asserts metrics is Record<string, number> {
  if (typeof metrics !== 'object' || metrics === null || Array.isArray(metrics)) {
    throw new TarmacError('VALIDATION_FAILED', 'metrics must be an object of numbers', {
      issues: [{ field, rule: 'type', message: 'must be an object' }],
    });
  }
  for (const [key, value] of Object.entries(metrics)) {
    if (!TAG_KEY.test(key) || typeof value !== 'number' || !Number.isFinite(value)) {
      throw new TarmacError('VALIDATION_FAILED', `metric "${key}" must be a finite number`, {
        issues: [{ field: `${field}/${key}`, rule: 'finite', message: 'must be a finite number with a key of [A-Za-z0-9_./-]{1,64}' }],
      });
    }
  }
}
