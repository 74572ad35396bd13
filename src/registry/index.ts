export { RegistryService, type RegisterVersionInput, type UploadedArtifact } from './registry.service.ts';
export { assertModelName, assertAliasName } from './names.ts';
