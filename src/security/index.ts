export * from './roles.ts';
export { KeyService, type KeyView, type CreatedKey, type CreateKeyInput } from './key-service.ts';
export { AuditLog } from './audit-log.ts';
export { ensureAdminKey, bootstrapAdminKey } from './bootstrap.ts';
export { buildScope, scopeCovers, scopeIssues, scopeJson, type ResourceScope, type ScopeInput, type ScopeKind } from './scope.ts';
export { authorize, mayList, type Refusal, type RouteRule, type RouteScope } from './authorize.ts';
export { AuthFailureLimiter, type AuthFailureLimits } from './auth-failure-limiter.ts';
export { OidcVerifier, SCOPE_CLAIMS } from './oidc.ts';
export { ASYMMETRIC_ALGORITHMS, type OidcSettings } from './oidc-settings.ts';
