/**
 * Profiles of whole datasets: one ColumnProfile per column, built from rows, merged column by column. The monitor
 * keeps one per model version's reference data and one per window of live traffic per deployment/variant.
 */
import type { Contract, LogicalType } from '../../contracts/index.ts';
import { TarmacError } from '../../shared/errors.ts';
import {
  columnProfileFromJSON, mergeProfiles, profileBuilder, ReferenceSpecBuilder, reopenable, specsEqual,
} from './column-profile.ts';
import type {
  BuilderOptions, CategoricalProfileJson, ColumnKind, ColumnProfile, ColumnSpec, NumericProfileJson, ProfileBuilder,
  ReferenceOptions, Source, TemporalEncoding,
} from './column-profile.ts';
import { hashString, mixSeeds } from './random.ts';

/** How one column is profiled: its kind and, for dates/times, how strings are read. */
export interface ColumnKindSpec {
  kind: ColumnKind;
  temporal?: TemporalEncoding;
}

/** Column name → how it is profiled (a bare kind is shorthand for `{ kind }`). */
export type DatasetKinds = Record<string, ColumnKind | ColumnKindSpec>;

/** Column name → spec: what a live builder needs, taken from the reference profile. */
export type DatasetSpec = Record<string, ColumnSpec>;

/**
 * The profile kind of a contract logical type: integer/number → numeric; string/boolean → categorical;
 * date/timestamp → numeric epoch ms; time → numeric seconds since midnight; object/array → undefined (not profiled).
 */
export function columnKindOf(type: LogicalType): ColumnKindSpec | undefined {
  switch (type) {
    case 'integer':
    case 'number':
      return { kind: 'numeric' };
    case 'string':
    case 'boolean':
      return { kind: 'categorical' };
    case 'date':
    case 'timestamp':
    case 'time':
      return { kind: 'numeric', temporal: type };
    default:
      return undefined;
  }
}

/** The kinds of every profilable field of a contract, in field order (object/array fields are left out). */
export function kindsFromContract(contract: Pick<Contract, 'fields'>): Record<string, ColumnKindSpec> {
  const out: Record<string, ColumnKindSpec> = {};
  for (const f of contract.fields) {
    const k = columnKindOf(f.logicalType);
    if (k) out[f.name] = k;
  }
  return out;
}

/** Each column gets its own random stream so columns of the same rows are sketched independently. */
function columnSeed(seed: number | undefined, name: string): number {
  return mixSeeds(seed ?? 0x7a3c, hashString(name) % 4294967296);
}

/** A profile per column plus the number of rows; built by DatasetProfileBuilder or buildReferenceDatasetProfile. */
export class DatasetProfile {
  /** @internal Use the builders, mergeDatasetProfiles or datasetProfileFromJSON. */
  constructor(readonly rows: number, readonly columns: ReadonlyMap<string, ColumnProfile>) {}

  /** The profile of `name`, undefined when the column is not profiled. */
  column(name: string): ColumnProfile | undefined {
    return this.columns.get(name);
  }

  /** The specs of every column: what live builders of this dataset need. */
  spec(): DatasetSpec {
    const out: DatasetSpec = {};
    for (const [name, p] of this.columns) out[name] = p.spec;
    return out;
  }

  /** The versioned JSON form: `{ v: 1, rows, columns: { name: columnJson } }`. */
  toJSON(): { v: 1; rows: number; columns: Record<string, NumericProfileJson | CategoricalProfileJson> } {
    const columns: Record<string, NumericProfileJson | CategoricalProfileJson> = {};
    for (const [name, p] of this.columns) columns[name] = p.toJSON();
    return { v: 1, rows: this.rows, columns };
  }
}

/** Accumulates rows into a DatasetProfile; columns missing from a row count as nulls, extra keys are ignored. */
export class DatasetProfileBuilder {
  private rows = 0;
  private readonly builders: [string, ProfileBuilder][];

  constructor(spec: DatasetSpec, options: BuilderOptions = {}) {
    this.builders = Object.entries(spec).map(([name, s]) => [name, profileBuilder(s, { seed: columnSeed(options.seed, name) })]);
  }

  /** Adds one row. */
  add(row: Record<string, unknown>): void {
    this.rows++;
    for (const [name, b] of this.builders) b.add(row[name]);
  }

  /** A snapshot profile; the builder can go on adding. */
  build(): DatasetProfile {
    return new DatasetProfile(this.rows, new Map(this.builders.map(([name, b]) => [name, b.build()])));
  }
}

/** A live builder for a dataset spec (usually `reference.spec()`); give each replica/window its own seed. */
export function datasetProfileBuilder(spec: DatasetSpec, options: BuilderOptions = {}): DatasetProfileBuilder {
  return new DatasetProfileBuilder(spec, options);
}

/**
 * The reference profile of rows in two passes (specs, then profiles); `rows` may be an array, a function that
 * re-opens the source, or a one-shot iterator (read once into memory). Options apply to every column.
 */
export function buildReferenceDatasetProfile(
  rows: Source<Record<string, unknown>>, kinds: DatasetKinds, options: ReferenceOptions = {},
): DatasetProfile {
  const open = reopenable(rows);
  const specBuilders = Object.entries(kinds).map(([name, k]): [string, ReferenceSpecBuilder] => {
    const ks = typeof k === 'string' ? { kind: k } : k;
    return [name, new ReferenceSpecBuilder(ks.kind, { ...options, temporal: ks.temporal, seed: columnSeed(options.seed, name) })];
  });
  for (const row of open()) for (const [name, b] of specBuilders) b.add(row[name]);
  const spec: DatasetSpec = {};
  for (const [name, b] of specBuilders) spec[name] = b.spec();
  const builder = new DatasetProfileBuilder(spec, { seed: options.seed });
  for (const row of open()) builder.add(row);
  return builder.build();
}

/** The profile of both datasets' rows; throws VALIDATION_FAILED when their columns or column specs differ. */
export function mergeDatasetProfiles(a: DatasetProfile, b: DatasetProfile): DatasetProfile {
  const names = [...a.columns.keys()];
  const same = names.length === b.columns.size && names.every((n) => {
    const other = b.columns.get(n);
    return other !== undefined && specsEqual(a.columns.get(n)!.spec, other.spec);
  });
  if (!same) {
    throw new TarmacError('VALIDATION_FAILED', 'cannot merge dataset profiles with different columns or specs', {
      issues: [{ field: 'columns', rule: 'same-spec', message: 'both profiles must have the same columns built from the same specs' }],
      details: { left: names, right: [...b.columns.keys()] },
    });
  }
  return new DatasetProfile(a.rows + b.rows, new Map(names.map((n) => [n, mergeProfiles(a.columns.get(n)!, b.columns.get(n)!)])));
}

/** Reads `DatasetProfile.toJSON()` output (object or text); throws VALIDATION_FAILED naming the bad column. */
export function datasetProfileFromJSON(input: unknown): DatasetProfile {
  let json: unknown = input;
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input);
    } catch (e) {
      throw new TarmacError('VALIDATION_FAILED', `not a valid dataset profile: not JSON (${(e as Error).message})`);
    }
  }
  const j = json as { v?: unknown; rows?: unknown; columns?: unknown } | null;
  if (typeof j !== 'object' || j === null || j.v !== 1 || !Number.isSafeInteger(j.rows) || (j.rows as number) < 0 ||
    typeof j.columns !== 'object' || j.columns === null) {
    throw new TarmacError('VALIDATION_FAILED', 'not a valid dataset profile: expected { v: 1, rows, columns }', {
      issues: [{ field: '', rule: 'profile', message: 'expected { v: 1, rows, columns }' }],
    });
  }
  const columns = new Map<string, ColumnProfile>();
  for (const [name, c] of Object.entries(j.columns as Record<string, unknown>)) {
    try {
      const p = columnProfileFromJSON(c);
      if (p.count !== j.rows) throw new TarmacError('VALIDATION_FAILED', `column count ${p.count} differs from rows ${String(j.rows)}`);
      columns.set(name, p);
    } catch (e) {
      const err = e as TarmacError;
      throw new TarmacError('VALIDATION_FAILED', `not a valid dataset profile: column ${JSON.stringify(name)}: ${err.message}`, {
        issues: [{ field: `/columns/${name}`, rule: 'profile', message: err.message }], cause: e,
      });
    }
  }
  return new DatasetProfile(j.rows as number, columns);
}
