import type { RequestContext } from './request-context.ts';
import type { ResourceScope } from './scope.ts';

/** Every permission Tarmac checks; routes name one each (see docs/security-access.md for the table). */
export const PERMISSIONS = [
  'models:read',
  'models:write',
  'deployments:write',
  'deployments:promote',
  'policies:write',
  'predict',
  'feedback:write',
  'keys:manage',
  'audit:read',
  'metrics:read',
  'datasets:read',
  'datasets:write',
  'alerts:write',
  'privacy:read',
  'privacy:write',
] as const;

/** What a principal may do; checked at the API edge for every route. */
export type Permission = (typeof PERMISSIONS)[number];

/** The built-in roles, most privileged first (a principal holding several shows the first as its `role`). */
export const ROLES = ['admin', 'maintainer', 'scientist', 'deployer', 'viewer', 'predictor'] as const;

/** A built-in role name. */
export type Role = (typeof ROLES)[number];

const ALL: readonly Permission[] = PERMISSIONS;

/**
 * The one permission table: which role grants which permission. Everything else (the auth hook, the generated
 * route × role test, the docs) reads it from here.
 */
export const GRANTS: Readonly<Record<Role, readonly Permission[]>> = Object.freeze({
  admin: ALL,
  // Runs the platform day to day, but neither mints credentials nor erases people's data.
  maintainer: ALL.filter((p) => p !== 'keys:manage' && p !== 'privacy:write'),
  // Builds models and data; may try them out (predict, feedback) but never changes what serves traffic.
  scientist: ['models:read', 'models:write', 'datasets:read', 'datasets:write', 'metrics:read', 'predict', 'feedback:write', 'alerts:write'],
  // Changes what serves traffic, from versions someone else registered.
  deployer: ['models:read', 'deployments:write', 'deployments:promote', 'metrics:read', 'predict', 'feedback:write'],
  viewer: ['models:read', 'metrics:read', 'datasets:read'],
  // Inference clients read model metadata (V2 GET /v2/models/{m}) to build their requests.
  predictor: ['models:read', 'predict', 'feedback:write'],
});

const GRANT_SETS = new Map<Role, ReadonlySet<Permission>>(ROLES.map((r) => [r, new Set(GRANTS[r])]));

/** True when `value` names a built-in role. */
export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** True when `value` names a permission. */
export function isPermission(value: unknown): value is Permission {
  return typeof value === 'string' && (PERMISSIONS as readonly string[]).includes(value);
}

/** True when `role` grants `permission`. */
export function roleAllows(role: Role, permission: Permission): boolean {
  return GRANT_SETS.get(role)?.has(permission) ?? false;
}

/** True when any role the principal holds grants `permission`. */
export function principalAllows(principal: Principal, permission: Permission): boolean {
  if (principal.roles === undefined) return roleAllows(principal.role, permission);
  for (const role of principal.roles) if (roleAllows(role, permission)) return true;
  return false;
}

/** The permissions a role grants, for display. */
export function permissionsOf(role: Role): readonly Permission[] {
  return GRANTS[role];
}

/** Who is calling: an API key, an OIDC subject, or Tarmac itself. */
export interface Principal {
  /** `key:<id>` for API keys; `oidc:<sub>` for OIDC subjects; `system` for Tarmac itself. */
  id: string;
  name: string;
  /** The principal's (most privileged) role. */
  role: Role;
  /** Every role held, when more than one (OIDC tokens may map to several); permissions are their union. */
  roles?: readonly Role[];
  /** Restricts the principal to some models and/or datasets; absent: unrestricted. */
  scope?: ResourceScope;
  /** The HTTP request this principal acts through (set by the auth hook), so the audit log records where from. */
  origin?: RequestContext;
}

/** The principal Tarmac acts as for its own bootstrap work. */
export const SYSTEM_PRINCIPAL: Principal = { id: 'system', name: 'system', role: 'admin' };
