import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { TarmacError } from '../shared/errors.ts';
import type { BlobStore } from './records.ts';

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Content-addressed artifact files under `<dir>/sha256/<first two hex>/<hash>`, written atomically (temporary
 * file, fsync, rename) so a reader never sees a partial artifact and a crash leaves at most a stray `.tmp` file.
 */
export class FileBlobStore implements BlobStore {
  constructor(private readonly dir: string) {}

  /** Stores `bytes` under their sha256 and returns it; a no-op when an intact copy is already stored. */
  async put(bytes: Uint8Array): Promise<string> {
    const sha256 = sha256Hex(bytes);
    const path = this.pathOf(sha256);
    // A damaged existing copy is rewritten rather than trusted, so re-registering an artifact heals the store.
    if ((await hashFile(path)) === sha256) return sha256;
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      const file = await open(tmp, 'wx');
      try {
        await file.writeFile(bytes);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    await syncDir(dirname(path));
    return sha256;
  }

  /**
   * Reads the artifact and re-hashes it. Throws REGISTRY_INTEGRITY_FAILED when the bytes do not match the hash
   * (details `expected`, `actual`) or when the file is missing (details `sha256`, `missing: true`), and
   * VALIDATION_FAILED when `sha256` is not 64 hex characters.
   */
  async get(sha256: string): Promise<Uint8Array> {
    const expected = checkSha256(sha256);
    let bytes: Buffer;
    try {
      bytes = await readFile(this.pathOf(expected));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      throw new TarmacError('REGISTRY_INTEGRITY_FAILED', `artifact missing: ${expected}`, {
        details: { sha256: expected, missing: true },
      });
    }
    const actual = sha256Hex(bytes);
    if (actual !== expected) {
      throw new TarmacError('REGISTRY_INTEGRITY_FAILED', `artifact ${expected} does not match its content hash`, {
        details: { expected, actual },
      });
    }
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** True when a file is stored under this hash (without re-hashing it); VALIDATION_FAILED on a malformed hash. */
  async has(sha256: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(checkSha256(sha256)))).isFile();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  private pathOf(sha256: string): string {
    return join(this.dir, 'sha256', sha256.slice(0, 2), sha256);
  }
}

/** The lowercase sha256 hex of the argument, checked so it can never name a path outside the store. */
function checkSha256(sha256: string): string {
  const normalised = typeof sha256 === 'string' ? sha256.toLowerCase() : '';
  if (!SHA256_HEX.test(normalised)) {
    throw new TarmacError('VALIDATION_FAILED', 'sha256 must be 64 hexadecimal characters', {
      issues: [{ field: 'sha256', rule: 'pattern', message: 'must be 64 hexadecimal characters' }],
    });
  }
  return normalised;
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The sha256 of a file by streaming it, or undefined when it does not exist. */
async function hashFile(path: string): Promise<string | undefined> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return hash.digest('hex');
}

/** Makes a rename durable; best effort because some platforms and filesystems cannot fsync a directory. */
async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Durability of the directory entry is an optimisation here; the content itself was already fsynced.
  }
}
