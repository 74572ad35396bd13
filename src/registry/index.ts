export { RegistryService, type RegisterVersionInput, type UploadedArtifact } from './registry.service.ts';
export { assertModelName, assertAliasName } from './names.ts';
export { ContractService, type ContractDiff, type FieldChange, type RegisteredContract, type ResolvedContract } from './contract.service.ts';
