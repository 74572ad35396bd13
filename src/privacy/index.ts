/** Privacy by default and data sovereignty: PII protection, retention, data subject requests, residency, the decision register. */
export { MASKED_VALUE, PiiHasher, hashInput, piiRulesOf, protectReasons, sourceRules, subjectFieldsOf, type PiiRule } from './pii.ts';
export { PiiPolicy, type ContractReader, type VersionSource } from './pii-policy.ts';
export { RETENTION_KINDS, RetentionJanitor, RetentionService, parseRetention, type RetentionRunReport, type RetentionScope, type RetentionView } from './retention.ts';
export { SubjectRequestService, type SubjectErasure, type SubjectExport } from './subject-requests.ts';
export {
  checkResidency, enforceResidency, hostOf, parseEndpointRegions, parseRegion, parseRegions, regionOf,
  type Endpoint, type EndpointRegion, type ResidencyConfig,
} from './residency.ts';
export {
  AUTOMATIONS, DECISION_EFFECTS, DecisionRegisterService, parseDecisionRegister, personalInformationKinds,
  type Automation, type DecisionEffect, type DecisionRegisterEntry, type DecisionRegisterView,
} from './decision-register.ts';
export { buildPolicyStatement, type PolicyStatement } from './policy-statement.ts';
