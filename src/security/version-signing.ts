import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import canonicalizeModule from 'canonicalize';
import { TarmacError } from '../shared/errors.ts';
import type { VersionRecord } from '../store/index.ts';

// The package is CommonJS (`module.exports = serialize`); its typings describe an ES default export.
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string | undefined;

/** What a version's signature vouches for: the model, the version, the artifact's hash, its I/O and when it was made. */
export interface VersionManifest {
  manifest_version: 1;
  model: string;
  version: number;
  artifact_sha256: string;
  artifact_size: number;
  /** The inputs, outputs and feature mapping of the version (the part of its signature that decides what it computes). */
  signature: { inputs: unknown; outputs: unknown; features: unknown };
  created_at: string;
}

/** The manifest of a stored version (rebuilt from the record on every check, so a changed record fails to verify). */
export function versionManifest(version: VersionRecord): VersionManifest {
  return {
    manifest_version: 1,
    model: version.modelName,
    version: version.version,
    artifact_sha256: version.artifactSha256,
    artifact_size: version.artifactSize,
    signature: { inputs: version.signature.inputs, outputs: version.signature.outputs, features: version.signature.features },
    created_at: new Date(version.createdAt).toISOString(),
  };
}

/** The RFC 8785 canonical JSON of a manifest: the exact bytes that are signed. */
export function canonicalManifest(manifest: VersionManifest | Record<string, unknown>): string {
  const text = canonicalize(manifest);
  if (text === undefined) throw new TarmacError('INTERNAL', 'the manifest cannot be canonicalised');
  return text;
}

/** The id of an Ed25519 public key: the first 32 hex characters of the sha256 of its SPKI DER encoding. */
export function signingKeyId(key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 32);
}

/** Signs a canonical manifest with an Ed25519 private key (PEM); returns the base64 signature. Throws on a non-Ed25519 key. */
export function signManifest(canonical: string, privateKeyPem: string | Buffer): string {
  const key = createPrivateKey(privateKeyPem);
  if (key.asymmetricKeyType !== 'ed25519') throw new TarmacError('VALIDATION_FAILED', `the signing key must be Ed25519, not ${key.asymmetricKeyType ?? 'unknown'}`);
  return sign(null, Buffer.from(canonical, 'utf8'), key).toString('base64');
}

/** A fresh Ed25519 key pair as PEM (SPKI public, PKCS#8 private) with the public key's id. */
export function generateSigningKeyPair(): { publicPem: string; privatePem: string; keyId: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    keyId: signingKeyId(publicKey),
  };
}

/** One trusted public key. */
export interface TrustedKey {
  id: string;
  /** The file it was read from. */
  source: string;
  key: KeyObject;
}

const SIGNATURE_B64 = /^[A-Za-z0-9+/]{86}==$/;

/** The Ed25519 public keys version signatures are verified against (TARMAC_TRUSTED_SIGNING_KEYS). */
export class TrustedSigningKeys {
  private readonly byId: Map<string, TrustedKey>;

  constructor(keys: TrustedKey[]) {
    this.byId = new Map(keys.map((k) => [k.id, k]));
  }

  /**
   * Reads every PEM public key from the given files and directories (`*.pem` and `*.pub` in a directory). Throws
   * CONFIG_INVALID naming TARMAC_TRUSTED_SIGNING_KEYS when a path is unreadable or a key is not an Ed25519 public key.
   */
  static load(paths: readonly string[]): TrustedSigningKeys {
    const fail = (message: string, cause?: unknown) =>
      new TarmacError('CONFIG_INVALID', `TARMAC_TRUSTED_SIGNING_KEYS: ${message}`, { details: { variable: 'TARMAC_TRUSTED_SIGNING_KEYS' }, cause });
    const files: string[] = [];
    for (const p of paths) {
      let isDir: boolean;
      try {
        isDir = statSync(p).isDirectory();
      } catch (err) {
        throw fail(`${p} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, err);
      }
      if (isDir) files.push(...readdirSync(p).filter((f) => /\.(pem|pub)$/i.test(f)).sort().map((f) => path.join(p, f)));
      else files.push(p);
    }
    const keys = files.map((file): TrustedKey => {
      let key: KeyObject;
      try {
        key = createPublicKey(readFileSync(file));
      } catch (err) {
        throw fail(`${file} is not a PEM public key`, err);
      }
      if (key.asymmetricKeyType !== 'ed25519') throw fail(`${file} is a ${key.asymmetricKeyType ?? 'unknown'} key; Ed25519 is required`);
      return { id: signingKeyId(key), source: file, key };
    });
    return new TrustedSigningKeys(keys);
  }

  /** How many keys are trusted. */
  get size(): number {
    return this.byId.size;
  }

  /** The trusted keys' ids and files, for display. */
  list(): { id: string; source: string }[] {
    return [...this.byId.values()].map(({ id, source }) => ({ id, source }));
  }

  /**
   * The id of the trusted key under which `signatureB64` is a valid Ed25519 signature of `canonical` (only `keyId`
   * is tried when given), or undefined when none verifies it or the signature is malformed.
   */
  verify(canonical: string, signatureB64: string, keyId?: string): string | undefined {
    if (typeof signatureB64 !== 'string' || !SIGNATURE_B64.test(signatureB64)) return undefined;
    const signature = Buffer.from(signatureB64, 'base64');
    const data = Buffer.from(canonical, 'utf8');
    const candidates = keyId === undefined ? [...this.byId.values()] : [this.byId.get(keyId)].filter((k) => k !== undefined);
    for (const k of candidates) if (verify(null, data, k.key, signature)) return k.id;
    return undefined;
  }
}
