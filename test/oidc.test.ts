import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { loadConfig } from '../src/config.ts';
import { OidcVerifier } from '../src/security/index.ts';
import { isTarmacError } from '../src/shared/errors.ts';
import { startTestTarmac, type TestTarmac } from './support.ts';

const AUDIENCE = 'tarmac-api';

/** A real OIDC provider stand-in on 127.0.0.1: discovery document and JWKS, counting key-set fetches. */
class LocalProvider {
  readonly jwks: JWK[] = [];
  jwksFetches = 0;
  requests = 0;
  private server: Server | undefined;
  issuer = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.requests += 1;
      if (req.url === '/.well-known/openid-configuration') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ issuer: this.issuer, jwks_uri: `${this.issuer}/jwks`, id_token_signing_alg_values_supported: ['RS256', 'ES256'] }));
      } else if (req.url === '/jwks') {
        this.jwksFetches += 1;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: this.jwks }));
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.issuer = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

interface SigningKey {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  kid: string;
  alg: string;
}

async function signingKey(alg: string, kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, publicKey, kid, alg };
}

describe('OIDC bearer tokens against a local JWKS server', () => {
  const provider = new LocalProvider();
  let t: TestTarmac;
  let rsa: SigningKey;
  let ec: SigningKey;
  let stranger: SigningKey;

  /** A token as the provider would issue it; `claims` and `options` override the defaults. */
  const token = async (claims: JWTPayload = {}, options: { key?: SigningKey; issuer?: string; audience?: string; expiresIn?: number } = {}) => {
    const key = options.key ?? rsa;
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ groups: ['ml-team'], preferred_username: 'alice', ...claims })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
      .setSubject('alice')
      .setIssuer(options.issuer ?? provider.issuer)
      .setAudience(options.audience ?? AUDIENCE)
      .setIssuedAt(now - 5)
      .setExpirationTime(now + (options.expiresIn ?? 300))
      .sign(key.privateKey);
  };
  const get = (url: string, bearer: string) => t.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${bearer}` } });
  const refusal = async (bearer: string, url = '/v1/models') => {
    const response = await get(url, bearer);
    const body = response.json() as { code: string; reason?: string };
    return { status: response.statusCode, code: body.code, reason: body.reason, type: String(response.headers['content-type']) };
  };

  before(async () => {
    await provider.start();
    rsa = await signingKey('RS256', 'rsa-1');
    ec = await signingKey('ES256', 'ec-1');
    stranger = await signingKey('RS256', 'not-published');
    for (const key of [rsa, ec]) provider.jwks.push({ ...(await exportJWK(key.publicKey)), kid: key.kid, alg: key.alg, use: 'sig' });
    t = await startTestTarmac({
      TARMAC_OIDC_ISSUER: provider.issuer,
      TARMAC_OIDC_AUDIENCE: AUDIENCE,
      TARMAC_OIDC_ROLE_CLAIM: 'groups',
      TARMAC_OIDC_ROLE_MAP: 'tarmac-admins=admin,ml-team=scientist,ops=deployer',
      TARMAC_OIDC_CLOCK_SKEW_SECONDS: '60',
      // High enough that this file's deliberate failures never block 127.0.0.1.
      TARMAC_AUTH_MAX_FAILURES: '1000',
      // The test provider listens on loopback, which the outbound policy refuses unless listed.
      TARMAC_OUTBOUND_ALLOW: '127.0.0.1',
    });
  });
  after(async () => {
    await t?.close();
    await provider.stop();
  });

  test('a valid token (RS256 or ES256) is accepted as oidc:<sub> with its mapped role', async () => {
    assert.equal((await get('/v1/models', await token())).statusCode, 200);
    assert.equal((await get('/v1/models', await token({}, { key: ec }))).statusCode, 200);
    const forbidden = await refusal(await token(), '/v1/keys');
    assert.deepEqual([forbidden.status, forbidden.code], [403, 'AUTH_FORBIDDEN'], 'scientist may not manage keys');
    const audit = (await t.call('GET', '/v1/audit?limit=10000')).json() as { events: { actor: string; outcome: string }[] };
    assert.ok(audit.events.some((e) => e.actor === 'oidc:alice' && e.outcome === 'denied'), 'refusals name the OIDC principal');
    assert.equal((await t.call('GET', '/v1/keys')).statusCode, 200, 'API keys keep working beside OIDC');
  });

  test('role mapping: groups map to roles, several groups give the union, claim values that are not mapped give none', async () => {
    assert.equal((await get('/v1/keys', await token({ groups: ['tarmac-admins'] }))).statusCode, 200);
    assert.equal((await get('/v1/keys', await token({ groups: ['ops', 'tarmac-admins'] }))).statusCode, 200);
    const deployer = await refusal(await token({ groups: ['ops'] }), '/v1/datasets');
    assert.deepEqual([deployer.status, deployer.code], [403, 'AUTH_FORBIDDEN'], 'deployer may not read datasets');
    assert.equal((await get('/v1/datasets', await token({ groups: ['ops', 'ml-team'] }))).statusCode, 200, 'union of deployer and scientist');
    assert.equal((await get('/v1/models', await token({ groups: 'ml-team' }))).statusCode, 200, 'a string claim works too');
  });

  test('a valid token with no mapped role is refused', async () => {
    for (const claims of [{ groups: ['nobody'] }, { groups: [] }, { groups: undefined }, { groups: ['admin'] }]) {
      const r = await refusal(await token(claims));
      assert.deepEqual([r.status, r.code], [403, 'AUTH_NO_ROLE'], JSON.stringify(claims));
    }
  });

  test('tokens from another issuer, for another audience or expired beyond the skew are refused', async () => {
    const wrongIssuer = await refusal(await token({}, { issuer: 'https://evil.example' }));
    assert.deepEqual([wrongIssuer.status, wrongIssuer.code, wrongIssuer.reason], [401, 'AUTH_INVALID', 'issuer']);
    assert.match(wrongIssuer.type, /^application\/problem\+json/);
    const wrongAudience = await refusal(await token({}, { audience: 'another-api' }));
    assert.deepEqual([wrongAudience.status, wrongAudience.reason], [401, 'audience']);
    const expired = await refusal(await token({}, { expiresIn: -120 }));
    assert.deepEqual([expired.status, expired.reason], [401, 'expired']);
    assert.equal((await get('/v1/models', await token({}, { expiresIn: -30 }))).statusCode, 200, 'expired within the 60 s skew is still accepted');
  });

  test('algorithms outside the allow-list are refused: HS256 (also keyed with the public key) and none', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { groups: ['tarmac-admins'], sub: 'mallory', iss: provider.issuer, aud: AUDIENCE, exp: now + 300 };
    const hs = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: rsa.kid }).sign(new TextEncoder().encode('x'.repeat(32)));
    const confused = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: rsa.kid })
      .sign(new TextEncoder().encode(await exportSPKI(rsa.publicKey)));
    const none = new UnsecuredJWT(claims).encode();
    for (const [what, bearer] of [['HS256', hs], ['HS256 keyed with the public key', confused], ['none', none]] as const) {
      const r = await refusal(bearer);
      assert.deepEqual([r.status, r.code], [401, 'AUTH_INVALID'], what);
      assert.equal(r.reason, 'algorithm', what);
    }
  });

  test('an unknown kid and a tampered signature or payload are refused', async () => {
    const unknown = await refusal(await token({}, { key: stranger }));
    assert.deepEqual([unknown.status, unknown.reason], [401, 'unknown_key']);
    const good = await token();
    const [header, payload, signature] = good.split('.') as [string, string, string];
    const flipped = signature.slice(0, 10) + (signature[10] === 'A' ? 'B' : 'A') + signature.slice(11);
    const badSignature = await refusal(`${header}.${payload}.${flipped}`);
    assert.deepEqual([badSignature.status, badSignature.reason], [401, 'signature']);
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), groups: ['tarmac-admins'] })).toString('base64url');
    const badPayload = await refusal(`${header}.${forged}.${signature}`, '/v1/keys');
    assert.deepEqual([badPayload.status, badPayload.reason], [401, 'signature']);
    const garbage = await refusal('a.b.c');
    assert.equal(garbage.status, 401);
  });

  test('the key set is cached: many verifications and unknown kids within the cooldown fetch it once', async () => {
    const before = provider.jwksFetches;
    for (let i = 0; i < 5; i++) assert.equal((await get('/v1/models', await token())).statusCode, 200);
    for (let i = 0; i < 3; i++) assert.equal((await get('/v1/models', await token({}, { key: stranger }))).statusCode, 401);
    assert.ok(provider.jwksFetches - before <= 1, `fetched ${provider.jwksFetches - before} times`);
    assert.ok(provider.jwksFetches >= 1);
  });

  test('scope claims restrict the token to some models', async () => {
    const scoped = await token({ groups: ['tarmac-admins'], tarmac_models: ['loan-*'] });
    assert.notEqual((await get('/v1/models/loan-default', scoped)).statusCode, 403);
    const r = await refusal(scoped, '/v1/models/credit-risk');
    assert.deepEqual([r.status, r.code], [403, 'AUTH_OUT_OF_SCOPE']);
    const bad = await refusal(await token({ tarmac_models: 'not-a-list' }));
    assert.equal(bad.status, 401);
  });
});

describe('OIDC configuration and provider failures', () => {
  test('algorithm allow-list refuses none and HS*, and the issuer needs an audience', () => {
    const base = { TARMAC_OIDC_ISSUER: 'https://idp.example', TARMAC_OIDC_AUDIENCE: 'tarmac' };
    for (const algorithms of ['none', 'HS256', 'RS256,HS512', 'XYZ1']) {
      assert.throws(() => loadConfig({ ...base, TARMAC_OIDC_ALGORITHMS: algorithms }), (err: unknown) =>
        isTarmacError(err) && err.code === 'CONFIG_INVALID' && err.details.variable === 'TARMAC_OIDC_ALGORITHMS', algorithms);
    }
    assert.throws(() => loadConfig({ TARMAC_OIDC_ISSUER: 'https://idp.example' }), (err: unknown) => isTarmacError(err) && err.details.variable === 'TARMAC_OIDC_AUDIENCE');
    assert.throws(() => loadConfig({ ...base, TARMAC_OIDC_ROLE_MAP: 'team=superuser' }), (err: unknown) => isTarmacError(err) && err.details.variable === 'TARMAC_OIDC_ROLE_MAP');
    assert.throws(() => loadConfig({ ...base, TARMAC_OIDC_CLOCK_SKEW_SECONDS: '3600' }), (err: unknown) => isTarmacError(err) && err.details.variable === 'TARMAC_OIDC_CLOCK_SKEW_SECONDS');
    assert.throws(() => loadConfig({ TARMAC_OIDC_AUDIENCE: 'tarmac' }), (err: unknown) => isTarmacError(err) && err.details.variable === 'TARMAC_OIDC_AUDIENCE');
    const config = loadConfig(base);
    assert.deepEqual(config.auth.oidc?.algorithms, ['RS256', 'ES256', 'EdDSA']);
    assert.equal(config.auth.oidc?.roleClaim, 'roles');
    assert.equal(config.auth.oidc?.clockSkewSeconds, 60);
    assert.equal(loadConfig({}).auth.oidc, undefined);
  });

  test('an unreachable provider answers 503 AUTH_PROVIDER_UNAVAILABLE, not 401', async () => {
    const settings = loadConfig({ TARMAC_OIDC_ISSUER: 'http://127.0.0.1:1', TARMAC_OIDC_AUDIENCE: 'tarmac' }).auth.oidc!;
    const verifier = new OidcVerifier(settings);
    const key = await signingKey('RS256', 'k');
    const jwt = await new SignJWT({ roles: ['admin'] }).setProtectedHeader({ alg: 'RS256', kid: 'k' }).setSubject('s')
      .setIssuer(settings.issuer).setAudience('tarmac').setExpirationTime('5m').sign(key.privateKey);
    await assert.rejects(verifier.verify(jwt), (err: unknown) => isTarmacError(err) && err.code === 'AUTH_PROVIDER_UNAVAILABLE' && err.status === 503);
  });

  test('an issuer on an internal address is refused by the outbound policy unless TARMAC_OUTBOUND_ALLOW lists it', async () => {
    const provider = new LocalProvider();
    await provider.start();
    try {
      const settings = loadConfig({ TARMAC_OIDC_ISSUER: provider.issuer, TARMAC_OIDC_AUDIENCE: 'tarmac' }).auth.oidc!;
      const refused = new OidcVerifier(settings, { allow: [] });
      await assert.rejects(refused.verify('a.b.c'), (err: unknown) => isTarmacError(err) && err.code === 'AUTH_PROVIDER_UNAVAILABLE' && /refused by the outbound policy/.test(err.message));
      assert.equal(provider.requests, 0, 'nothing was sent to the internal address');
      const allowed = new OidcVerifier(settings, { allow: ['127.0.0.1'] });
      await assert.rejects(allowed.verify('a.b.c'), (err: unknown) => isTarmacError(err) && err.code === 'AUTH_INVALID', 'the provider is reached; the malformed token is what fails');
    } finally {
      await provider.stop();
    }
  });

  test('a discovery document naming another issuer is not trusted', async () => {
    const provider = new LocalProvider();
    await provider.start();
    try {
      const realIssuer = provider.issuer;
      provider.issuer = 'https://someone-else.example';
      const verifier = new OidcVerifier(loadConfig({ TARMAC_OIDC_ISSUER: realIssuer, TARMAC_OIDC_AUDIENCE: 'tarmac' }).auth.oidc!);
      await assert.rejects(verifier.verify('a.b.c'), (err: unknown) => isTarmacError(err) && err.code === 'AUTH_PROVIDER_UNAVAILABLE' && /names issuer/.test(err.message));
    } finally {
      await provider.stop();
    }
  });
});
