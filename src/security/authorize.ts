import type { ErrorCode } from '../shared/errors.ts';
import { principalAllows, type Permission, type Principal } from './roles.ts';
import { scopeCovers, type ScopeKind } from './scope.ts';

/**
 * How a route relates to scoped principals (keys or tokens restricted to some models/datasets):
 * - `{ model: 'name' }` / `{ dataset: 'name' }`: the path parameter that names the model or dataset it acts on;
 * - `{ filter: 'models' | 'datasets' }`: a listing whose handler leaves out what the principal's scope does not cover;
 * - `'neutral'`: touches no particular model or dataset (server metadata, artifact upload);
 * - absent: acts across every model (alert rules, keys, the audit log, metrics), so a scoped principal is refused.
 */
export type RouteScope = { model: string } | { dataset: string } | { filter: 'models' | 'datasets' } | 'neutral';

/** What a route requires: a permission and, for scoped principals, how its target is named. */
export interface RouteRule {
  permission: Permission;
  scope?: RouteScope;
}

/** Why an authenticated principal was refused. */
export interface Refusal {
  code: Extract<ErrorCode, 'AUTH_FORBIDDEN' | 'AUTH_OUT_OF_SCOPE'>;
  message: string;
  details: Record<string, unknown>;
}

/**
 * Decides whether `principal` may use a route; undefined means yes. Pure and synchronous: it runs on every request,
 * the predict path included.
 */
export function authorize(principal: Principal, rule: RouteRule, params: Readonly<Record<string, string | undefined>>): Refusal | undefined {
  if (!principalAllows(principal, rule.permission)) {
    return {
      code: 'AUTH_FORBIDDEN',
      message: `role "${principal.role}" may not ${rule.permission}`,
      details: { role: principal.role, permission: rule.permission },
    };
  }
  const scope = principal.scope;
  if (scope === undefined) return undefined;
  const routeScope = rule.scope;
  if (routeScope === 'neutral') return undefined;
  if (routeScope === undefined) {
    return {
      code: 'AUTH_OUT_OF_SCOPE',
      message: 'this route acts across every model and dataset; a key or token scoped to some of them may not use it',
      details: { permission: rule.permission },
    };
  }
  if ('filter' in routeScope) return undefined;
  const [kind, param]: [ScopeKind, string] = 'model' in routeScope ? ['model', routeScope.model] : ['dataset', routeScope.dataset];
  const name = params[param] ?? '';
  if (scopeCovers(scope, kind, name)) return undefined;
  return {
    code: 'AUTH_OUT_OF_SCOPE',
    message: `this key or token is scoped to other ${kind}s than "${name}"`,
    details: { [kind]: name },
  };
}

/** True when `principal` may see the `kind` named `name` in a listing (for `{ filter }` routes). */
export function mayList(principal: Principal | undefined, kind: ScopeKind, name: string): boolean {
  return scopeCovers(principal?.scope, kind, name);
}
