import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { checkOutboundUrl, type OutboundPolicy } from './outbound.ts';
import { TarmacError } from '../shared/errors.ts';
import type { OidcSettings } from './oidc-settings.ts';
import { isRole, ROLES, type Principal, type Role } from './roles.ts';
import { buildScope, scopeIssues, type ScopeInput } from './scope.ts';

/** The claims that carry a token's optional scope (lists of model / dataset names or globs). */
export const SCOPE_CLAIMS = { models: 'tarmac_models', datasets: 'tarmac_datasets' } as const;

const DISCOVERY_TIMEOUT_MS = 5_000;

function invalid(reason: string, message: string): TarmacError {
  return new TarmacError('AUTH_INVALID', `the bearer token was refused: ${message}`, {
    details: { reason },
    issues: [{ field: '/headers/authorization', rule: 'valid_token', message }],
  });
}

function unavailable(message: string, cause?: unknown): TarmacError {
  return new TarmacError('AUTH_PROVIDER_UNAVAILABLE', `the identity provider's keys cannot be fetched: ${message}`, { cause, retryable: true });
}

function claimAt(payload: JWTPayload, path: string): unknown {
  let value: unknown = payload;
  for (const part of path.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/**
 * Verifies OIDC access tokens (JWTs) with jose against the provider's JWKS, pinned issuer, audience and algorithm
 * allow-list, and turns them into principals `oidc:<sub>` with the roles their claim maps to.
 */
export class OidcVerifier {
  private keySet: Promise<JWTVerifyGetKey> | undefined;

  /**
   * `outbound`: the outbound policy the discovery and JWKS URLs must pass (internal addresses refused unless allowed,
   * so a misconfigured or hostile issuer cannot make Tarmac call into its own network); absent only in unit tests.
   */
  constructor(private readonly settings: OidcSettings, private readonly outbound?: OutboundPolicy) {}

  /**
   * The principal a token stands for. Throws AUTH_INVALID (bad or expired token), AUTH_NO_ROLE (valid, but no
   * role maps) or AUTH_PROVIDER_UNAVAILABLE (the key set cannot be fetched).
   */
  async verify(token: string): Promise<Principal> {
    const keys = await this.keys();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        algorithms: [...this.settings.algorithms],
        clockTolerance: this.settings.clockSkewSeconds,
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (err) {
      throw this.refusal(err);
    }
    const roles = this.rolesOf(payload);
    const subject = payload.sub!;
    if (roles.length === 0) {
      throw new TarmacError('AUTH_NO_ROLE', `the token is valid but its "${this.settings.roleClaim}" claim maps to no Tarmac role`, {
        details: { subject: `oidc:${subject}`, claim: this.settings.roleClaim },
      });
    }
    const scopeInput: ScopeInput = {};
    const models = payload[SCOPE_CLAIMS.models];
    const datasets = payload[SCOPE_CLAIMS.datasets];
    if (models !== undefined) scopeInput.models = models as string[];
    if (datasets !== undefined) scopeInput.datasets = datasets as string[];
    if (scopeIssues(scopeInput, '/token').length > 0) throw invalid('scope', `the ${SCOPE_CLAIMS.models}/${SCOPE_CLAIMS.datasets} claims must be lists of names or globs`);
    const scope = buildScope(scopeInput, '/token');
    const name = typeof payload.preferred_username === 'string' ? payload.preferred_username
      : typeof payload.email === 'string' ? payload.email : subject;
    return Object.freeze({
      id: `oidc:${subject}`,
      name,
      role: roles[0]!,
      ...(roles.length > 1 ? { roles: Object.freeze(roles) } : {}),
      ...(scope ? { scope } : {}),
    });
  }

  /** The roles a verified token's claim maps to, most privileged first. */
  private rolesOf(payload: JWTPayload): Role[] {
    const raw = claimAt(payload, this.settings.roleClaim);
    const values = typeof raw === 'string' ? raw.split(/[\s,]+/) : Array.isArray(raw) ? raw.filter((v): v is string => typeof v === 'string') : [];
    const found = new Set<Role>();
    const map = this.settings.roleMap;
    for (const value of values) {
      const role = map ? (Object.hasOwn(map, value) ? map[value] : undefined) : isRole(value) ? value : undefined;
      if (role !== undefined) found.add(role);
    }
    return ROLES.filter((r) => found.has(r));
  }

  private refusal(err: unknown): TarmacError {
    if (err instanceof errors.JWTExpired) return invalid('expired', 'it has expired');
    if (err instanceof errors.JWTClaimValidationFailed) {
      if (err.claim === 'iss') return invalid('issuer', 'it was issued by another issuer');
      if (err.claim === 'aud') return invalid('audience', 'it is meant for another audience');
      if (err.claim === 'nbf') return invalid('not_yet_valid', 'it is not valid yet');
      return invalid('claims', `its "${err.claim}" claim is ${err.reason}`);
    }
    if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) return invalid('algorithm', 'its algorithm is not allowed');
    if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) return invalid('unknown_key', 'no trusted key matches its "kid"');
    if (err instanceof errors.JWSSignatureVerificationFailed) return invalid('signature', 'its signature does not verify');
    if (err instanceof errors.JWKSTimeout) return unavailable('the JWKS request timed out', err);
    if (err instanceof errors.JWKSInvalid) return unavailable('the JWKS is not valid', err);
    if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return invalid('malformed', 'it is not a well-formed JWT');
    // What is left is a failed fetch of the key set (network error or a non-200 answer): not the caller's fault.
    if (err instanceof TypeError || (err instanceof errors.JOSEError && err.code === 'ERR_JOSE_GENERIC')) return unavailable((err as Error).message, err);
    if (err instanceof errors.JOSEError) return invalid('malformed', 'it cannot be verified');
    return unavailable(String((err as Error)?.message ?? err), err);
  }

  /** The remote key set, built once (after discovery when no JWKS URL is configured); a failed discovery is retried. */
  private keys(): Promise<JWTVerifyGetKey> {
    this.keySet ??= this.resolveJwksUrl().then(async (url) => {
      await this.checkDestination(url, 'jwks_uri');
      return url;
    }).then((url) => createRemoteJWKSet(new URL(url), {
      cacheMaxAge: this.settings.jwksCacheSeconds * 1000,
      cooldownDuration: this.settings.jwksCooldownSeconds * 1000,
      timeoutDuration: DISCOVERY_TIMEOUT_MS,
    }));
    return this.keySet.catch((err: unknown) => {
      this.keySet = undefined;
      throw err;
    });
  }

  /** Refuses (AUTH_PROVIDER_UNAVAILABLE, naming the reason) a URL the outbound policy does not allow. */
  private async checkDestination(url: string, what: string): Promise<void> {
    if (this.outbound === undefined) return;
    try {
      await checkOutboundUrl(url, this.outbound, { field: what });
    } catch (err) {
      throw unavailable(`${what} ${url} is refused by the outbound policy (${(err as Error).message}); list it in TARMAC_OUTBOUND_ALLOW if it is meant to be internal`, err);
    }
  }

  private async resolveJwksUrl(): Promise<string> {
    if (this.settings.jwksUrl !== undefined) return this.settings.jwksUrl;
    const url = `${this.settings.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    await this.checkDestination(url, 'TARMAC_OIDC_ISSUER');
    let document: { issuer?: unknown; jwks_uri?: unknown };
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS), redirect: 'error' });
      if (!response.ok) throw new Error(`${url} answered ${response.status}`);
      document = await response.json() as typeof document;
    } catch (err) {
      throw unavailable(`discovery at ${url} failed (${(err as Error).message})`, err);
    }
    // OpenID Connect Discovery 1.0 §4.3: the document's issuer must be exactly the one we asked.
    if (document.issuer !== this.settings.issuer) throw unavailable(`the discovery document names issuer ${JSON.stringify(document.issuer)}, not ${this.settings.issuer}`);
    if (typeof document.jwks_uri !== 'string') throw unavailable('the discovery document has no jwks_uri');
    return document.jwks_uri;
  }
}
