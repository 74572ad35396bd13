/** What a principal may do; checked at the API edge for every route. */
export type Permission =
  | 'models:read'
  | 'models:write'
  | 'deployments:write'
  | 'predict'
  | 'feedback:write'
  | 'keys:manage'
  | 'audit:read'
  | 'metrics:read'
  | 'datasets:read'
  | 'datasets:write'
  | 'alerts:write'
  | 'privacy:read'
  | 'privacy:write';

/** The built-in roles. */
export const ROLES = ['admin', 'deployer', 'viewer', 'predictor'] as const;

/** A built-in role name. */
export type Role = (typeof ROLES)[number];

const GRANTS: Record<Role, readonly Permission[]> = {
  admin: ['models:read', 'models:write', 'deployments:write', 'predict', 'feedback:write', 'keys:manage', 'audit:read', 'metrics:read', 'datasets:read', 'datasets:write', 'alerts:write', 'privacy:read', 'privacy:write'],
  deployer: ['models:read', 'models:write', 'deployments:write', 'predict', 'feedback:write', 'metrics:read', 'datasets:read', 'datasets:write', 'alerts:write'],
  viewer: ['models:read', 'metrics:read', 'datasets:read'],
  // Inference clients read model metadata (V2 GET /v2/models/{m}) to build their requests.
  predictor: ['models:read', 'predict', 'feedback:write'],
};

const GRANT_SETS = new Map<Role, ReadonlySet<Permission>>(ROLES.map((r) => [r, new Set(GRANTS[r])]));

/** True when `value` names a built-in role. */
export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** True when `role` grants `permission`. */
export function roleAllows(role: Role, permission: Permission): boolean {
  return GRANT_SETS.get(role)?.has(permission) ?? false;
}

/** The permissions a role grants, for display. */
export function permissionsOf(role: Role): readonly Permission[] {
  return GRANTS[role];
}

/** Who is calling: an API key (later also OIDC subjects). */
export interface Principal {
  /** `key:<id>` for API keys; `system` for Tarmac itself. */
  id: string;
  name: string;
  role: Role;
}

/** The principal Tarmac acts as for its own bootstrap work. */
export const SYSTEM_PRINCIPAL: Principal = { id: 'system', name: 'system', role: 'admin' };
