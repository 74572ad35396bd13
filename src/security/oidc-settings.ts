import type { Role } from './roles.ts';

/** How Tarmac trusts an OpenID Connect provider's access tokens. */
export interface OidcSettings {
  /** The pinned issuer: tokens whose `iss` is not exactly this are refused. */
  issuer: string;
  /** The audience tokens must name in `aud`. */
  audience: string;
  /** The JWKS URL; undefined: discovered from `<issuer>/.well-known/openid-configuration`. */
  jwksUrl: string | undefined;
  /** Server-side allow-list of JWS algorithms (never `none`, never HS*). */
  algorithms: readonly string[];
  /** The claim holding the caller's roles or groups (a dotted path, e.g. `realm_access.roles`); string or array. */
  roleClaim: string;
  /** Claim values to roles; undefined: claim values must be role names themselves. */
  roleMap: Readonly<Record<string, Role>> | undefined;
  clockSkewSeconds: number;
  /** How long fetched keys are trusted before they are fetched again. */
  jwksCacheSeconds: number;
  /** The least time between two fetches of the key set (an unknown `kid` refetches at most this often). */
  jwksCooldownSeconds: number;
}

/** The algorithms Tarmac accepts in TARMAC_OIDC_ALGORITHMS: asymmetric only. */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;

