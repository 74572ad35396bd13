/** Drift statistics: pure, dependency-free ports of the scipy functions Tarmac's drift monitor relies on. */
export { ks2samp, ks2sampSorted, ksStatisticSorted, ksAsympPvalue, KS_MAX_AUTO_N } from './ks.ts';
export type { Ks2sampOptions, Ks2sampResult, KsMethod } from './ks.ts';
export { wassersteinDistance, wassersteinSorted, jensenShannonDistance, psi, PSI_DEFAULT_EPSILON } from './distances.ts';
export type { PsiOptions } from './distances.ts';
export { chi2Contingency, proportionsZTest } from './categorical.ts';
export type { Chi2ContingencyOptions, Chi2ContingencyResult, ProportionsZTestResult } from './categorical.ts';
export { kolmogn, smirnovSf } from './kolmogorov.ts';
export { chi2Sf, erf, erfc, gammaincc, logGamma, normalSf } from './special.ts';
