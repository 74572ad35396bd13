import type { AuditLog, Principal, TrustedSigningKeys, VersionManifest } from '../security/index.ts';
import { canonicalManifest, versionManifest } from '../security/index.ts';
import type { Clock } from '../shared/clock.ts';
import { TarmacError } from '../shared/errors.ts';
import type { SignatureStore, VersionRecord } from '../store/index.ts';

/** A version's signature as the API shows it, with whether it verifies against the keys trusted now. */
export interface SignatureView {
  model: string;
  version: number;
  key_id: string;
  signature: string;
  signed_by: string;
  signed_at: string;
  /** True when the signature verifies against a trusted key over the manifest rebuilt from the version now. */
  verified: boolean;
  manifest: VersionManifest;
}

/** Which models must carry a verified signature to be deployed and loaded. */
export type SigningRequirement = 'all' | 'none' | readonly string[];

/**
 * Signed version manifests: builds the canonical manifest of a version, attaches Ed25519 signatures that verify against
 * a trusted key, and enforces the policy (TARMAC_REQUIRE_SIGNED_VERSIONS) when a version is deployed or loaded.
 */
export class VersionSigningService {
  constructor(
    private readonly deps: {
      signatures: SignatureStore;
      keys: TrustedSigningKeys;
      require: SigningRequirement;
      /** Resolves a version reference (number, alias, `latest`); throws like RegistryService.resolveVersion. */
      resolve: (name: string, ref: string | number) => Promise<VersionRecord>;
      audit: AuditLog;
      clock: Clock;
    },
  ) {}

  /** True when the policy requires `model`'s versions to be signed. */
  requiresSignature(model: string): boolean {
    const { require } = this.deps;
    return require === 'all' || (Array.isArray(require) && require.includes(model));
  }

  /** The manifest of a version and its canonical text (what `tarmac models sign` signs). Throws like resolve. */
  async manifest(name: string, ref: string | number): Promise<{ manifest: VersionManifest; canonical: string }> {
    const manifest = versionManifest(await this.deps.resolve(name, ref));
    return { manifest, canonical: canonicalManifest(manifest) };
  }

  /**
   * Attaches a signature (base64 Ed25519 over the canonical manifest) after checking it verifies against a trusted key
   * (`keyId` narrows the search); replaces an earlier signature; audited. Throws VALIDATION_FAILED for a malformed
   * input, SIGNATURE_INVALID when no trusted key verifies it, or like resolve.
   */
  async attach(name: string, ref: string | number, input: { signature: string; keyId?: string }, by: Principal): Promise<SignatureView> {
    const version = await this.deps.resolve(name, ref);
    const manifest = versionManifest(version);
    const canonical = canonicalManifest(manifest);
    const keyId = this.deps.keys.verify(canonical, input.signature, input.keyId);
    if (keyId === undefined) {
      throw new TarmacError('SIGNATURE_INVALID', this.deps.keys.size === 0
        ? 'no signing keys are trusted (set TARMAC_TRUSTED_SIGNING_KEYS to the public keys), so no signature can be verified'
        : `the signature does not verify against ${input.keyId === undefined ? 'any trusted key' : `trusted key ${input.keyId}`} over the manifest of ${name} version ${version.version}`, {
        details: { model: name, version: version.version, trusted_keys: this.deps.keys.size },
        issues: [{ field: '/signature', rule: 'verifies', message: 'must be a base64 Ed25519 signature of the canonical manifest by a trusted key' }],
      });
    }
    const signedAt = this.deps.clock.now();
    await this.deps.signatures.put({
      modelName: name, version: version.version, keyId, signature: input.signature, manifest: canonical, signedBy: by.id, signedAt,
    });
    await this.deps.audit.record(by, 'version.sign', `model:${name}/${version.version}`, { key_id: keyId, sha256: version.artifactSha256 });
    return { model: name, version: version.version, key_id: keyId, signature: input.signature, signed_by: by.id, signed_at: new Date(signedAt).toISOString(), verified: true, manifest };
  }

  /** The signature of a version with its verification now. Throws SIGNATURE_NOT_FOUND, or like resolve. */
  async get(name: string, ref: string | number): Promise<SignatureView> {
    const version = await this.deps.resolve(name, ref);
    const stored = await this.deps.signatures.get(version.modelName, version.version);
    if (!stored) {
      throw new TarmacError('SIGNATURE_NOT_FOUND', `${name} version ${version.version} is not signed: run \`tarmac models sign ${name} ${version.version} --key private.pem\``, {
        details: { model: name, version: version.version },
      });
    }
    const manifest = versionManifest(version);
    return {
      model: name, version: version.version, key_id: stored.keyId, signature: stored.signature, signed_by: stored.signedBy,
      signed_at: new Date(stored.signedAt).toISOString(), verified: this.deps.keys.verify(canonicalManifest(manifest), stored.signature) !== undefined, manifest,
    };
  }

  /**
   * Enforces the policy for one version about to be deployed or loaded: when its model must be signed, the stored
   * signature must verify against a trusted key over the manifest rebuilt from the version record. Throws
   * SIGNATURE_REQUIRED (unsigned) or SIGNATURE_INVALID (does not verify); a no-op for models the policy leaves out.
   */
  async assertServable(version: VersionRecord): Promise<void> {
    if (!this.requiresSignature(version.modelName)) return;
    const stored = await this.deps.signatures.get(version.modelName, version.version);
    const where = { model: version.modelName, version: version.version };
    if (!stored) {
      throw new TarmacError('SIGNATURE_REQUIRED', `${version.modelName} version ${version.version} is not signed, and TARMAC_REQUIRE_SIGNED_VERSIONS requires a signature: run \`tarmac models sign ${version.modelName} ${version.version} --key private.pem\``, {
        details: where,
      });
    }
    if (this.deps.keys.verify(canonicalManifest(versionManifest(version)), stored.signature) === undefined) {
      throw new TarmacError('SIGNATURE_INVALID', `the signature of ${version.modelName} version ${version.version} does not verify against any trusted key: the version record, the signature or the trusted keys changed`, {
        details: { ...where, key_id: stored.keyId },
      });
    }
  }
}
