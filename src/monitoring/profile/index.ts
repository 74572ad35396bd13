/** Mergeable data profiles (histograms on fixed bins, category counts, KLL quantiles, moments, nulls, samples). */
export {
  buildReferenceProfile, categoricalSpec, CategoricalProfile, CategoricalProfileBuilder, categoryValue,
  columnProfileFromJSON, mergeAllProfiles, mergeProfiles, numericSpec, NumericProfile, NumericProfileBuilder,
  numericValue, OTHER_CATEGORY, PROFILE_DEFAULTS, profileBuilder, referenceSpec, ReferenceSpecBuilder, specsEqual,
} from './column-profile.ts';
export type {
  BuilderOptions, CategoricalProfileJson, CategoricalSpec, ColumnKind, ColumnProfile, ColumnSpec, NumericProfileJson,
  NumericSpec, ProfileBuilder, ReferenceOptions, Source, TemporalEncoding,
} from './column-profile.ts';
export {
  buildReferenceDatasetProfile, columnKindOf, DatasetProfile, DatasetProfileBuilder, datasetProfileBuilder,
  datasetProfileFromJSON, kindsFromContract, mergeDatasetProfiles,
} from './dataset-profile.ts';
export type { ColumnKindSpec, DatasetKinds, DatasetSpec } from './dataset-profile.ts';
export { binIndex, quantileBinEdges } from './bins.ts';
export { KLL_DEFAULT_K, KllSketch } from './kll.ts';
export { BottomKSample } from './sample.ts';
