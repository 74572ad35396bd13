/**
 * Drift between two profiles (a reference and a live window), for the monitor, which keeps profiles rather than raw
 * values. The method is chosen as for raw samples (report.ts) from the reference's row count; what each method reads:
 *
 * - Jensen–Shannon, PSI, chi-square, z: the histograms on the reference's fixed bins (numeric) or the category counts
 *   with `__other__` (categorical) — exact counts, so exactly what the offline report computes on the same bins.
 * - Wasserstein ÷ reference std: the 1-Wasserstein distance is ∫₀¹ |F⁻¹(q) − G⁻¹(q)| dq; it is integrated over 1,000
 *   quantile midpoints of both KLL sketches (an approximation within the sketches' rank error; exact std).
 * - KS: on the two bounded uniform samples (an approximation: the test's power is that of the sample sizes; its
 *   p-value is the exact scipy p-value of those samples).
 */
import { specsEqual } from '../profile/index.ts';
import type { CategoricalProfile, ColumnProfile, DatasetProfile, NumericProfile } from '../profile/index.ts';
import { chi2Contingency, jensenShannonDistance, ks2samp, proportionsZTest, psi, wassersteinDistance } from '../stats/index.ts';
import { chooseMethod, METHOD_DEFAULTS } from './report.ts';
import type { ColumnDrift, ColumnKind, DriftMethod, DriftReport } from './report.ts';

/** Options of a profile comparison: methods and thresholds per column, and the dataset share. */
export interface ProfileDriftOptions {
  method?: DriftMethod | 'auto';
  threshold?: number;
  perColumn?: Record<string, { method?: DriftMethod; threshold?: number }>;
  datasetDriftShare?: number;
  /** Compare only these columns (default: every column of the reference). */
  columns?: readonly string[];
}

const QUANTILE_POINTS = 1000;
const MIN_STD = 0.001;

/** Compares every column of `current` with `reference` (same specs); columns without live values report NaN, no drift. */
export function profileDrift(reference: DatasetProfile, current: DatasetProfile, options: ProfileDriftOptions = {}): DriftReport {
  const names = options.columns ?? [...reference.columns.keys()];
  const columns: ColumnDrift[] = [];
  for (const name of names) {
    const ref = reference.column(name);
    const cur = current.column(name);
    if (!ref || !cur) continue;
    columns.push(columnProfileDrift(name, ref, cur, options));
  }
  const compared = columns.filter((c) => !Number.isNaN(c.statistic));
  const drifted = compared.filter((c) => c.drift).length;
  const share = compared.length === 0 ? 0 : drifted / compared.length;
  return { columns, drift_share: share, dataset_drift: compared.length > 0 && share >= (options.datasetDriftShare ?? 0.5) };
}

/** One column's drift between two profiles of the same spec. */
export function columnProfileDrift(name: string, ref: ColumnProfile, cur: ColumnProfile, options: ProfileDriftOptions = {}): ColumnDrift {
  const override = options.perColumn?.[name];
  const requested = override?.method ?? (options.method === 'auto' || options.method === undefined ? undefined : options.method);
  const kind: ColumnKind = ref.kind === 'numeric' ? 'numeric' : 'categorical';
  const distinct = distinctValues(ref, cur);
  let method = requested ?? chooseMethod(kind, ref.valid, distinct);
  // KS and Wasserstein read numbers: a categorical column falls back to the default choice for its kind.
  if (kind === 'categorical' && (method === 'ks' || method === 'wasserstein')) method = chooseMethod('categorical', ref.valid, distinct);
  const spec = METHOD_DEFAULTS[method];
  const threshold = override?.threshold ?? options.threshold ?? spec.threshold;
  const base = { column: name, type: kind, method, threshold, reference_size: ref.valid, current_size: cur.valid };
  if (ref.valid === 0 || cur.valid === 0) return { ...base, statistic: NaN, drift: false };
  let statistic: number;
  let pValue: number | undefined;
  switch (method) {
    case 'ks': {
      const r = ks2samp((ref as NumericProfile).sampleValues(), (cur as NumericProfile).sampleValues());
      statistic = r.statistic;
      pValue = r.pvalue;
      break;
    }
    case 'wasserstein':
      statistic = quantileWasserstein(ref as NumericProfile, cur as NumericProfile) / Math.max((ref as NumericProfile).std, MIN_STD);
      break;
    case 'jensenshannon':
      statistic = jensenShannonDistance(...aligned(ref, cur), 2);
      break;
    case 'psi':
      statistic = psi(...aligned(ref, cur));
      break;
    case 'chisquare': {
      const [a, b] = nonEmpty(...aligned(ref, cur));
      if (a.length < 2) {
        statistic = 0;
        pValue = 1;
      } else {
        const r = chi2Contingency([a, b]);
        statistic = r.statistic;
        pValue = r.pvalue;
      }
      break;
    }
    case 'z': {
      const [a, b] = nonEmpty(...aligned(ref, cur));
      if (a.length !== 2) {
        // Not binary after all (more categories live than in the reference): chi-square answers instead.
        const r = a.length < 2 ? { statistic: 0, pvalue: 1 } : chi2Contingency([a, b]);
        statistic = r.statistic;
        pValue = r.pvalue;
      } else {
        const r = proportionsZTest(a[1]!, a[0]! + a[1]!, b[1]!, b[0]! + b[1]!);
        statistic = r.statistic;
        pValue = r.pvalue;
      }
      break;
    }
  }
  const verdict = spec.pValue ? pValue! < threshold : statistic >= threshold;
  return { ...base, statistic, ...(pValue === undefined ? {} : { p_value: pValue }), drift: verdict };
}

/** Distinct values seen (numeric: in both samples; categorical: non-empty categories and novel names). */
function distinctValues(ref: ColumnProfile, cur: ColumnProfile): number {
  if (ref.kind === 'numeric') {
    return new Set([...ref.sampleValues(), ...(cur as NumericProfile).sampleValues()]).size;
  }
  const seen = new Set<string>();
  for (const p of [ref, cur as CategoricalProfile]) {
    for (const [k, n] of p.categoryCounts()) if (n > 0) seen.add(k);
    for (const k of p.novelCategories().keys()) seen.add(`novel:${k}`);
  }
  return seen.size;
}

/** Counts on the same bins/categories, with novel categories (tracked by name) as their own cells. */
function aligned(ref: ColumnProfile, cur: ColumnProfile): [number[], number[]] {
  if (ref.kind === 'numeric') return [ref.histogram(), (cur as NumericProfile).histogram()];
  const c = cur as CategoricalProfile;
  const a = ref.histogram();
  const b = c.histogram();
  // Split named novel categories out of `__other__` so a new category shows as its own cell.
  const refNovel = ref.novelCategories();
  const curNovel = c.novelCategories();
  const names = new Set([...refNovel.keys(), ...curNovel.keys()]);
  // `__other__` is the last cell before any novel one is appended.
  const otherA = a.length - 1;
  const otherB = b.length - 1;
  for (const n of [...names].sort()) {
    const x = refNovel.get(n) ?? 0;
    const y = curNovel.get(n) ?? 0;
    a[otherA]! -= x;
    b[otherB]! -= y;
    a.push(x);
    b.push(y);
  }
  return [a, b];
}

/** Drops cells empty on both sides (chi-square needs positive expected counts). */
function nonEmpty(a: number[], b: number[]): [number[], number[]] {
  const x: number[] = [];
  const y: number[] = [];
  a.forEach((v, i) => {
    if (v + b[i]! > 0) {
      x.push(v);
      y.push(b[i]!);
    }
  });
  return [x, y];
}

/** ∫₀¹ |F⁻¹(q) − G⁻¹(q)| dq over QUANTILE_POINTS midpoints of the two sketches. */
function quantileWasserstein(ref: NumericProfile, cur: NumericProfile): number {
  if (ref.valid + cur.valid <= 2 * ref.spec.sampleSize && ref.valid <= ref.spec.sampleSize && cur.valid <= cur.spec.sampleSize) {
    // Small windows keep every value in their samples: the exact distance.
    return wassersteinDistance(ref.sampleValues(), cur.sampleValues());
  }
  let total = 0;
  for (let i = 0; i < QUANTILE_POINTS; i++) {
    const q = (i + 0.5) / QUANTILE_POINTS;
    total += Math.abs(ref.quantile(q) - cur.quantile(q));
  }
  return total / QUANTILE_POINTS;
}

/**
 * Jensen–Shannon distance (base 2) between two variants' predicted labels or values, from their merged window
 * profiles; null when either lacks the output or their bins differ (the two versions were profiled differently).
 */
export function compareOutputProfiles(canary: DatasetProfile | null, stable: DatasetProfile | null): number | null {
  const a = stable?.column('output.prediction');
  const b = canary?.column('output.prediction');
  if (!a || !b || a.valid === 0 || b.valid === 0 || !specsEqual(a.spec, b.spec)) return null;
  return columnProfileDrift('output.prediction', a, b, { method: 'jensenshannon' }).statistic;
}
