import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { canonicalManifest, generateSigningKeyPair, signingKeyId, signManifest, type VersionManifest } from '../security/index.ts';
import type { TarmacClient } from './client.ts';
import { UsageError } from './output.ts';

interface SigningContext {
  client: () => TarmacClient;
  emit: (value: unknown, human: () => string) => void;
}

async function readKeyFile(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

/**
 * `tarmac models sign MODEL VERSION --key private.pem` (fetches the manifest, signs it locally, uploads the
 * signature; the private key never leaves the machine) and `tarmac keys generate-signing` (an Ed25519 key pair).
 */
export function addSigningCommands(models: Command, keys: Command, ctx: SigningContext): void {
  models.command('sign <name> <version>')
    .description('sign a version\'s manifest with an Ed25519 private key (locally) and upload the signature')
    .requiredOption('--key <file>', 'the Ed25519 private key (PEM, PKCS#8), e.g. from `tarmac keys generate-signing`')
    .option('--artifact <file>', 'the ONNX file you mean to vouch for: refuse to sign unless the version\'s sha256 matches it')
    .action(async (name: string, version: string, opts: { key: string; artifact?: string }) => {
      const pem = await readKeyFile(opts.key);
      let keyId: string;
      try {
        const privateKey = createPrivateKey(pem);
        if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`it is a ${privateKey.asymmetricKeyType ?? 'unknown'} key; Ed25519 is required`);
        keyId = signingKeyId(createPublicKey(privateKey));
      } catch (err) {
        throw new UsageError(`${opts.key} is not an Ed25519 private key: ${(err as Error).message}`);
      }
      const api = ctx.client();
      const base = `/v1/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}`;
      const { manifest, canonical } = await api.request<{ manifest: VersionManifest; canonical: string }>('GET', `${base}/manifest`);
      // Sign what we canonicalise ourselves from the manifest we read, never a text we did not check.
      if (canonicalManifest(manifest) !== canonical) throw new UsageError('the server\'s canonical manifest does not match the manifest it sent; refusing to sign');
      if (opts.artifact !== undefined) {
        const sha = createHash('sha256').update(await readKeyFile(opts.artifact)).digest('hex');
        if (sha !== manifest.artifact_sha256) {
          throw new UsageError(`${opts.artifact} has sha256 ${sha}, but ${name} version ${manifest.version} holds ${manifest.artifact_sha256}; refusing to sign`);
        }
      }
      const signature = signManifest(canonical, pem);
      const result = await api.request<{ model: string; version: number; key_id: string }>('POST', `${base}/signature`, { signature, key_id: keyId });
      ctx.emit(result, () => `signed ${result.model} version ${result.version} with key ${result.key_id} (artifact sha256 ${manifest.artifact_sha256.slice(0, 12)}…)`);
    });

  keys.command('generate-signing')
    .description('make an Ed25519 key pair for signing versions: <name>.pem (private, mode 0600) and <name>.pub.pem (to trust via TARMAC_TRUSTED_SIGNING_KEYS)')
    .option('--out <dir>', 'where to write the files', '.')
    .option('--name <name>', 'the files\' base name', 'tarmac-signing')
    .action(async (opts: { out: string; name: string }) => {
      if (!/^[A-Za-z0-9._-]{1,100}$/.test(opts.name)) throw new UsageError('--name must be letters, digits, ".", "_" or "-"');
      const pair = generateSigningKeyPair();
      const privatePath = path.resolve(opts.out, `${opts.name}.pem`);
      const publicPath = path.resolve(opts.out, `${opts.name}.pub.pem`);
      try {
        await writeFile(privatePath, pair.privatePem, { mode: 0o600, flag: 'wx' });
        await writeFile(publicPath, pair.publicPem, { mode: 0o644, flag: 'wx' });
      } catch (err) {
        throw new UsageError(`cannot write the key pair: ${(err as Error).message} (existing files are never overwritten)`);
      }
      ctx.emit({ key_id: pair.keyId, private_key: privatePath, public_key: publicPath }, () =>
        `key ${pair.keyId}\nprivate key: ${privatePath} (keep it secret)\npublic key:  ${publicPath} (add it to TARMAC_TRUSTED_SIGNING_KEYS)`);
    });
}
