export { RegistryService, type DeploymentRequest, type ReferenceInput, type RegisterVersionInput, type UploadedArtifact, type VersionLineage } from './registry.service.ts';
export { assertModelName, assertAliasName, isModelName, MODEL_NAME_RULE } from './names.ts';
export { ContractService, type ContractDiff, type FieldChange, type RegisteredContract, type ResolvedContract } from './contract.service.ts';
export { VersionSigningService, type SignatureView, type SigningRequirement } from './signing.service.ts';
