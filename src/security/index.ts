export * from './roles.ts';
export { KeyService, type KeyView, type CreatedKey } from './key-service.ts';
export { AuditLog } from './audit-log.ts';
export { ensureAdminKey } from './bootstrap.ts';
export { RateLimits, DailyQuota, type QuotaCharge } from './limits.ts';
