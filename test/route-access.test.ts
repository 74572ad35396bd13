import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { declaredRoutes, registerAuth, type DeclaredRoute } from '../src/api/plugins/auth.ts';
import { sendProblem, toTarmacError } from '../src/api/problem.ts';
import { AuthFailureLimiter, GRANTS, isPermission, PERMISSIONS, ROLES, roleAllows, type Role } from '../src/security/index.ts';
import { systemClock } from '../src/shared/clock.ts';
import { startTestTarmac, type TestTarmac } from './support.ts';

/** The only routes that may answer without authentication. */
const PUBLIC_ROUTES = new Set(['/v2/health/live', '/v2/health/ready', '/openapi.json']);

const MODEL_A = 'model-a';
const MODEL_B = 'model-b';
const DATASET_A = 'dataset-a';
const DATASET_B = 'dataset-b';

/** The route's URL with every path parameter filled; `name` is a model or a dataset depending on the route's scope. */
function concreteUrl(route: DeclaredRoute, model: string, dataset: string): string {
  const scope = route.config.scope;
  const isDataset = typeof scope === 'object' && 'dataset' in scope;
  return route.url.replace(/:([A-Za-z_]+)/g, (_, param: string) => {
    if (param === 'name') return isDataset || route.url.startsWith('/v1/datasets/') ? dataset : model;
    if (param === 'version') return '1';
    if (param === 'alias') return 'champion';
    return 'no-such-id';
  });
}

function isProblem(response: { headers: Record<string, unknown> }): boolean {
  return String(response.headers['content-type']).startsWith('application/problem+json');
}

describe('every route × every role', () => {
  let t: TestTarmac;
  let routes: readonly DeclaredRoute[];
  const keys = new Map<Role, string>();

  before(async () => {
    t = await startTestTarmac();
    routes = declaredRoutes(t.app);
    for (const role of ROLES) {
      const created = await t.call('POST', '/v1/keys', { role, name: `${role}-matrix` });
      assert.equal(created.statusCode, 201, created.body);
      keys.set(role, (created.json() as { key: string }).key);
    }
  });
  after(async () => t?.close());

  test('the grants are exactly the documented table', () => {
    const all = [...PERMISSIONS].sort();
    const expected: Record<Role, string[]> = {
      admin: all,
      maintainer: all.filter((p) => p !== 'keys:manage' && p !== 'privacy:write'),
      scientist: ['alerts:write', 'datasets:read', 'datasets:write', 'feedback:write', 'metrics:read', 'models:read', 'models:write', 'predict'],
      deployer: ['deployments:promote', 'deployments:write', 'feedback:write', 'metrics:read', 'models:read', 'predict'],
      viewer: ['datasets:read', 'metrics:read', 'models:read'],
      predictor: ['feedback:write', 'models:read', 'predict'],
    };
    assert.deepEqual(PERMISSIONS.length, 15);
    for (const role of ROLES) assert.deepEqual([...GRANTS[role]].sort(), expected[role], role);
  });

  test('the route table is read from the app, and every route declares a permission or is one of the public ones', () => {
    assert.ok(routes.length >= 60, `expected the whole route table, got ${routes.length} routes`);
    assert.ok(routes.some((r) => r.method === 'POST' && r.url === '/v1/models/:name/predict'));
    const undeclared = routes.filter((r) => r.config.public !== true && !isPermission(r.config.permission));
    assert.deepEqual(undeclared.map((r) => `${r.method} ${r.url}`), [], 'routes without a permission (add config: { permission } to them)');
    const publicOnes = routes.filter((r) => r.config.public === true).map((r) => r.url);
    for (const url of publicOnes) assert.ok(PUBLIC_ROUTES.has(url), `${url} is public but not one of the allowed public routes`);
  });

  test('allowed roles are never refused; other roles get 403 problem+json', async () => {
    const failures: string[] = [];
    for (const route of routes) {
      const url = concreteUrl(route, MODEL_A, DATASET_A);
      for (const role of ROLES) {
        const response = await t.app.inject({ method: route.method as 'GET', url, headers: { authorization: `Bearer ${keys.get(role)}` } });
        const where = `${route.method} ${route.url} as ${role}: ${response.statusCode}`;
        if (route.config.public === true || roleAllows(role, route.config.permission!)) {
          if (response.statusCode === 401 || response.statusCode === 403) failures.push(`${where} (should be allowed) ${response.body}`);
        } else if (response.statusCode !== 403 || (route.method !== 'HEAD' && !isProblem(response))) {
          failures.push(`${where} (should be 403 problem+json)`);
        } else if (route.method !== 'HEAD' && (response.json() as { code: string }).code !== 'AUTH_FORBIDDEN') {
          failures.push(`${where} has code ${(response.json() as { code: string }).code}`);
        }
      }
    }
    assert.deepEqual(failures, []);
  });

  test('without credentials every non-public route answers 401 problem+json with a Bearer challenge', async () => {
    const failures: string[] = [];
    for (const route of routes.filter((r) => r.config.public !== true && r.method !== 'HEAD')) {
      const response = await t.app.inject({ method: route.method as 'GET', url: concreteUrl(route, MODEL_A, DATASET_A) });
      if (response.statusCode !== 401 || !isProblem(response) || response.headers['www-authenticate'] !== 'Bearer realm="tarmac"') {
        failures.push(`${route.method} ${route.url}: ${response.statusCode}`);
      }
    }
    assert.deepEqual(failures, []);
    for (const url of PUBLIC_ROUTES) assert.notEqual((await t.app.inject({ method: 'GET', url })).statusCode, 401, url);
  });

  test('a key scoped to model A is refused on model B\'s routes, and a dataset-scoped key likewise', async () => {
    const scoped = async (scope: Record<string, string[]>) =>
      ((await t.call('POST', '/v1/keys', { role: 'admin', name: 'scoped', scope })).json() as { key: string }).key;
    const modelKey = await scoped({ models: ['model-a', 'model-a-*'] });
    const datasetKey = await scoped({ datasets: ['dataset-*a'] });
    const failures: string[] = [];
    const send = (route: DeclaredRoute, url: string, key: string) =>
      t.app.inject({ method: route.method as 'GET', url, headers: { authorization: `Bearer ${key}` } });
    for (const route of routes.filter((r) => r.config.public !== true && r.method !== 'HEAD')) {
      const scope = route.config.scope;
      const where = `${route.method} ${route.url}`;
      if (typeof scope === 'object' && ('model' in scope || 'dataset' in scope)) {
        const key = 'model' in scope ? modelKey : datasetKey;
        const inScope = await send(route, concreteUrl(route, MODEL_A, DATASET_A), key);
        const outOfScope = await send(route, concreteUrl(route, MODEL_B, DATASET_B), key);
        if (inScope.statusCode === 401 || inScope.statusCode === 403) failures.push(`${where} in scope: ${inScope.statusCode}`);
        if (outOfScope.statusCode !== 403 || (outOfScope.json() as { code: string }).code !== 'AUTH_OUT_OF_SCOPE') failures.push(`${where} out of scope: ${outOfScope.statusCode}`);
      } else if (scope === undefined) {
        // Routes acting across every model (alert rules, keys, audit, metrics) are closed to scoped callers.
        const response = await send(route, concreteUrl(route, MODEL_A, DATASET_A), modelKey);
        if (response.statusCode !== 403 || (response.json() as { code: string }).code !== 'AUTH_OUT_OF_SCOPE') failures.push(`${where} (global) as scoped: ${response.statusCode}`);
      } else {
        const response = await send(route, concreteUrl(route, MODEL_A, DATASET_A), modelKey);
        if (response.statusCode === 401 || response.statusCode === 403) failures.push(`${where} (${JSON.stringify(scope)}) as scoped: ${response.statusCode}`);
      }
    }
    assert.deepEqual(failures, []);

    const audit = (await t.call('GET', '/v1/audit?limit=10000')).json() as { events: { action: string; outcome: string; details: { reason?: string } }[] };
    assert.ok(audit.events.some((e) => e.outcome === 'denied' && e.details.reason === 'out_of_scope'), 'out-of-scope refusals are audited');
  });

  test('a route that declares no permission is refused by default', async () => {
    const bare = Fastify();
    registerAuth(bare, { keys: t.tarmac.keys, audit: t.tarmac.audit, authFailures: new AuthFailureLimiter({ limits: { maxFailures: 5, windowSeconds: 60, blockSeconds: 60 }, clock: systemClock }) });
    bare.setErrorHandler((err, request, reply) => sendProblem(request, reply, toTarmacError(err)));
    bare.get('/forgotten', async () => ({ secret: true }));
    bare.get('/declared', { config: { permission: 'models:read' } }, async () => ({ ok: true }));
    await bare.ready();
    try {
      const refused = await bare.inject({ method: 'GET', url: '/forgotten', headers: { authorization: `Bearer ${t.adminKey}` } });
      assert.equal(refused.statusCode, 403);
      assert.equal((refused.json() as { code: string }).code, 'AUTH_ROUTE_UNDECLARED');
      assert.equal((await bare.inject({ method: 'GET', url: '/declared', headers: { authorization: `Bearer ${t.adminKey}` } })).statusCode, 200);
      assert.ok(declaredRoutes(bare).some((r) => r.url === '/forgotten' && r.config.permission === undefined));
    } finally {
      await bare.close();
    }
  });
});
