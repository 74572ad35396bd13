/** The synthetic loan-application dataset: generation, CSV serialisation and parsing. */
import { mulberry32, normal } from './prng.ts';
import type { Rng } from './prng.ts';

/** Employment categories in one-hot order (the order the ONNX OneHotEncoder uses). */
export const EMPLOYMENT_TYPES = ['salaried', 'self_employed', 'contractor', 'unemployed'] as const;

/** One employment category. */
export type EmploymentType = (typeof EMPLOYMENT_TYPES)[number];

/** Numeric feature columns in model-input order. */
export const NUMERIC_FEATURES = ['income', 'loan_amount', 'age', 'credit_history_years', 'debt_ratio'] as const;

/** One numeric feature name. */
export type NumericFeature = (typeof NUMERIC_FEATURES)[number];

/** All model inputs in order: the numerics, then the categorical column. */
export const FEATURES = [...NUMERIC_FEATURES, 'employment_type'] as const;

/** Name of the binary target column. */
export const TARGET = 'default';

/** The features of one loan application (what a client sends to the served model). */
export interface LoanFeatures {
  income: number;
  loan_amount: number;
  age: number;
  credit_history_years: number;
  debt_ratio: number;
  employment_type: EmploymentType;
}

/** A labelled row of the dataset: features plus `default` (1 = the loan defaulted). */
export interface LoanRow extends LoanFeatures {
  default: 0 | 1;
}

/** Decimal places each numeric column is rounded to, in the data and in the CSV. */
const DECIMALS: Record<NumericFeature, number> = {
  income: 0,
  loan_amount: 0,
  age: 0,
  credit_history_years: 1,
  debt_ratio: 3,
};

/** Baseline log-odds of default, tuned so roughly 12% of applications default. */
const TRUE_INTERCEPT = -2.35;

/** Extra log-odds of default per employment category in the generating process. */
const TRUE_EMPLOYMENT_EFFECT: Record<EmploymentType, number> = {
  salaried: 0,
  self_employed: 0.35,
  contractor: 0.55,
  unemployed: 1.0,
};

/** Log-income distribution per employment category: [median income, sd of log income]. */
const INCOME_DIST: Record<EmploymentType, [number, number]> = {
  salaried: [56000, 0.45],
  self_employed: [62000, 0.7],
  contractor: [52000, 0.55],
  unemployed: [17000, 0.5],
};

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

/** Rounds to `decimals` places through the decimal string, so the value equals what the CSV holds. */
function roundTo(x: number, decimals: number): number {
  return Number(x.toFixed(decimals));
}

/** Formats a numeric column value exactly as it is written in the CSV. */
export function formatNumber(feature: NumericFeature, value: number): string {
  return value.toFixed(DECIMALS[feature]);
}

/** The logistic function, evaluated without overflow for either sign. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

function pickEmployment(rng: Rng): EmploymentType {
  const u = rng();
  if (u < 0.62) return 'salaried';
  if (u < 0.79) return 'self_employed';
  if (u < 0.92) return 'contractor';
  return 'unemployed';
}

/** The true (generating) probability of default for an application, used only to draw labels. */
export function trueDefaultProbability(f: LoanFeatures): number {
  const logit = TRUE_INTERCEPT
    - 0.9 * Math.log(f.income / 50000)
    + 1.1 * Math.log(f.loan_amount / f.income / 0.3)
    + 4.0 * (f.debt_ratio - 0.28)
    - 0.06 * (f.credit_history_years - 8)
    - 0.012 * (f.age - 38)
    + TRUE_EMPLOYMENT_EFFECT[f.employment_type];
  return sigmoid(logit);
}

/** Generates `n` seeded loan applications with a binary `default` label drawn from a logistic model. */
export function generateLoans(n: number, seed: number): LoanRow[] {
  const rng = mulberry32(seed);
  const rows: LoanRow[] = [];
  for (let i = 0; i < n; i++) {
    const employment_type = pickEmployment(rng);
    const age = roundTo(clamp(normal(rng, 39, 11), 21, 75), DECIMALS.age);
    const [median, sd] = INCOME_DIST[employment_type];
    const logIncome = Math.log(median) + 0.008 * (clamp(age, 21, 60) - 39) + normal(rng, 0, sd);
    const income = clamp(roundTo(Math.exp(logIncome) / 100, 0) * 100, 8000, 400000);
    const credit_history_years = roundTo((age - 18) * (0.15 + 0.8 * rng()), DECIMALS.credit_history_years);
    const loanRatio = Math.exp(normal(rng, Math.log(0.3), 0.5));
    const loan_amount = clamp(roundTo((income * loanRatio) / 500, 0) * 500, 1000, 200000);
    const debt_ratio = roundTo(sigmoid(normal(rng, -1.0, 0.55)), DECIMALS.debt_ratio);
    const features: LoanFeatures = { income, loan_amount, age, credit_history_years, debt_ratio, employment_type };
    const label: 0 | 1 = rng() < trueDefaultProbability(features) ? 1 : 0;
    rows.push({ ...features, default: label });
  }
  return rows;
}

/** Serialises rows as CSV: a header line, then one line per row, each ending in "\n". */
export function toCsv(rows: readonly LoanRow[]): string {
  const lines = [[...FEATURES, TARGET].join(',')];
  for (const r of rows) {
    const numerics = NUMERIC_FEATURES.map((f) => formatNumber(f, r[f]));
    lines.push([...numerics, r.employment_type, String(r.default)].join(','));
  }
  return lines.join('\n') + '\n';
}

/** Parses CSV written by `toCsv` back into rows (used to check that the CSV round-trips exactly). */
export function parseCsv(text: string): LoanRow[] {
  const [header, ...lines] = text.trimEnd().split('\n');
  if (header !== [...FEATURES, TARGET].join(',')) throw new Error(`unexpected CSV header: ${header ?? ''}`);
  return lines.map((line, i) => {
    const cells = line.split(',');
    const employment = cells[5] as EmploymentType;
    if (cells.length !== 7 || !EMPLOYMENT_TYPES.includes(employment)) throw new Error(`bad CSV line ${i + 2}`);
    return {
      income: Number(cells[0]),
      loan_amount: Number(cells[1]),
      age: Number(cells[2]),
      credit_history_years: Number(cells[3]),
      debt_ratio: Number(cells[4]),
      employment_type: employment,
      default: cells[6] === '1' ? 1 : 0,
    };
  });
}
