/** Canary rollouts: the analysis of a step and the controller that advances, rolls back or pauses. */
export { analyze, errorShare, LATENCY_FLOOR_MS } from './analysis.ts';
export type { AnalysisInput, AnalysisResult, Gate, GateKind, GateResult, VariantEvidence, Verdict } from './analysis.ts';
export { RolloutService } from './rollout.service.ts';
export type { EvidenceSource, RolloutAnalysis, RolloutRequest, RolloutState, RolloutStatus } from './rollout.service.ts';
