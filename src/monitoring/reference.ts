/**
 * Reference data → what the monitor compares live traffic with: a profile of the version's features and an evenly
 * spread sample of complete records (with their labels when a label column is named) for the version to score. Used
 * by the CLI on a training file and by the server on a dataset batch, so both give the same reference.
 */
import { TarmacError } from '../shared/errors.ts';
import { buildReferenceDatasetProfile } from './profile/index.ts';

/** Rows read for a reference at most: a bounded prefix keeps memory flat (the profile needs two passes). */
export const REFERENCE_MAX_ROWS = 200_000;
/** Reference records the version scores (prediction drift and CBPE need its outputs on reference data). */
export const REFERENCE_SAMPLE_ROWS = 5_000;

/** A feature as the version's signature describes it. */
export interface ReferenceFeature {
  name: string;
  type?: string;
}

/** A reference ready to send or store. */
export interface ReferenceData {
  profile: unknown;
  rows: number;
  sample: { records: Record<string, unknown>[]; labels?: unknown[] };
}

/**
 * Builds the reference from rows (at most REFERENCE_MAX_ROWS): string and boolean features are categorical, the
 * rest numeric. Throws VALIDATION_FAILED when none of the features is present, or the label column is missing.
 */
export function referenceFromRows(rows: readonly Record<string, unknown>[], features: readonly ReferenceFeature[], labelColumn?: string): ReferenceData {
  const present = new Set<string>();
  for (const row of rows.slice(0, 100)) for (const k of Object.keys(row)) present.add(k);
  const kinds: Record<string, 'numeric' | 'categorical'> = {};
  for (const f of features) {
    if (present.has(f.name)) kinds[f.name] = f.type === 'string' || f.type === 'bool' ? 'categorical' : 'numeric';
  }
  if (Object.keys(kinds).length === 0) {
    throw new TarmacError('VALIDATION_FAILED', `the reference data has none of the model's features (${features.map((f) => f.name).join(', ')})`, {
      issues: [{ field: '/reference', rule: 'features', message: 'holds none of the model\'s features' }],
    });
  }
  if (labelColumn !== undefined && !present.has(labelColumn)) {
    throw new TarmacError('VALIDATION_FAILED', `the reference data has no column ${labelColumn} (the label)`, {
      issues: [{ field: '/label', rule: 'exists', message: `no column ${labelColumn}` }],
    });
  }
  const profile = buildReferenceDatasetProfile(rows, kinds);
  // An even spread over the complete rows (the model can only score rows with every feature), not just the first
  // ones: files are often sorted by time.
  const names = Object.keys(kinds);
  const complete = rows.filter((r) => names.every((n) => r[n] !== null && r[n] !== undefined));
  const step = Math.max(1, Math.floor(complete.length / REFERENCE_SAMPLE_ROWS));
  const picked = complete.filter((_, i) => i % step === 0).slice(0, REFERENCE_SAMPLE_ROWS);
  const records = picked.map((r) => Object.fromEntries(names.map((n) => [n, r[n]])));
  return {
    profile: profile.toJSON(),
    rows: rows.length,
    sample: labelColumn === undefined ? { records } : { records, labels: picked.map((r) => r[labelColumn]) },
  };
}
