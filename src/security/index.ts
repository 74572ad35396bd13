export * from './roles.ts';
export { KeyService, type KeyView, type CreatedKey } from './key-service.ts';
export { AuditLog } from './audit-log.ts';
export { ensureAdminKey } from './bootstrap.ts';
export { AuthFailureCounter, RateLimits, DailyQuota, type QuotaCharge } from './limits.ts';
export {
  checkOutboundHost, checkOutboundPolicy, checkOutboundUrl, embeddedIpv4, internalAddressKind,
  type CheckedDestination, type HostLookup, type OutboundCheckOptions, type OutboundPolicy, type ResolvedAddress,
} from './outbound.ts';
export {
  canonicalManifest, generateSigningKeyPair, signingKeyId, signManifest, TrustedSigningKeys, versionManifest,
  type TrustedKey, type VersionManifest,
} from './version-signing.ts';
