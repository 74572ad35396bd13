export * from './roles.ts';
export { KeyService, type KeyView, type CreatedKey, type CreateKeyInput } from './key-service.ts';
export { AuditLog } from './audit-log.ts';
export { requestOrigin, type RequestContext } from './request-context.ts';
export { AuditChainVerifier, verifyAuditEntries, type AuditProblem, type AuditProblemKind, type AuditVerification, type LocatedCheckpoint } from './audit-verify.ts';
export {
  appendCheckpoint, CHECKPOINT_FILE, checkpointSigningBytes, keyIdOf, lastCheckpoint, loadOrCreateSigningKey, readCheckpoints, readPublicKey, signCheckpoint,
  type AuditCheckpoint, type AuditSigningKey,
} from './audit-checkpoints.ts';
export { AuditCheckpointer, CHECKPOINT_LEASE } from './audit-checkpointer.ts';
export { AuditVerifyService } from './audit-verify.service.ts';
export { fromExportLine, parseSince, toExportLine, type AuditExportLine } from './audit-export.ts';
export { ensureAdminKey, bootstrapAdminKey } from './bootstrap.ts';
export { buildScope, scopeCovers, scopeIssues, scopeJson, type ResourceScope, type ScopeInput, type ScopeKind } from './scope.ts';
export { authorize, mayList, type Refusal, type RouteRule, type RouteScope } from './authorize.ts';
export { AuthFailureLimiter, type AuthFailureLimits } from './auth-failure-limiter.ts';
export { OidcVerifier, SCOPE_CLAIMS } from './oidc.ts';
export { ASYMMETRIC_ALGORITHMS, type OidcSettings } from './oidc-settings.ts';
export { RateLimits, DailyQuota, type QuotaCharge } from './limits.ts';
export {
  checkOutboundHost, checkOutboundPolicy, checkOutboundUrl, embeddedIpv4, internalAddressKind,
  type CheckedDestination, type HostLookup, type OutboundCheckOptions, type OutboundPolicy, type ResolvedAddress,
} from './outbound.ts';
export {
  canonicalManifest, generateSigningKeyPair, signingKeyId, signManifest, TrustedSigningKeys, versionManifest,
  type TrustedKey, type VersionManifest,
} from './version-signing.ts';
