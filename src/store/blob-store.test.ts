import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isTarmacError } from '../shared/errors.ts';
import { FileBlobStore } from './index.ts';

function codeOf(err: unknown): string | undefined {
  return isTarmacError(err) ? err.code : undefined;
}

describe('FileBlobStore', () => {
  let dir: string;
  let blobs: FileBlobStore;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tarmac-blobs-'));
    blobs = new FileBlobStore(dir);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('put then get round-trips the bytes under their sha256', async () => {
    const bytes = new TextEncoder().encode('an onnx model, honestly');
    const sha = await blobs.put(bytes);
    assert.equal(sha, createHash('sha256').update(bytes).digest('hex'));
    assert.equal(await blobs.has(sha), true);
    assert.equal(await blobs.has(sha.toUpperCase()), true);
    assert.deepEqual(await blobs.get(sha), bytes);
    assert.deepEqual(await readdir(join(dir, 'sha256', sha.slice(0, 2))), [sha]);
  });

  test('put is idempotent, also when called concurrently', async () => {
    const bytes = new Uint8Array(256 * 1024).map((_, i) => i % 251);
    const hashes = await Promise.all([blobs.put(bytes), blobs.put(bytes), blobs.put(bytes)]);
    assert.equal(new Set(hashes).size, 1);
    assert.equal(await blobs.put(bytes), hashes[0]);
    assert.deepEqual(await readdir(join(dir, 'sha256', hashes[0]!.slice(0, 2))), [hashes[0]]);
    assert.deepEqual(await blobs.get(hashes[0]!), bytes);
  });

  test('a corrupted file is detected on get and healed by a later put', async () => {
    const bytes = new TextEncoder().encode('precious weights');
    const sha = await blobs.put(bytes);
    await writeFile(join(dir, 'sha256', sha.slice(0, 2), sha), 'garbage');
    await assert.rejects(blobs.get(sha), (err: unknown) => {
      assert.equal(codeOf(err), 'REGISTRY_INTEGRITY_FAILED');
      assert.equal((err as { details: Record<string, unknown> }).details.expected, sha);
      assert.equal((err as { details: Record<string, unknown> }).details.actual, createHash('sha256').update('garbage').digest('hex'));
      return true;
    });
    await blobs.put(bytes);
    assert.deepEqual(await blobs.get(sha), bytes);
  });

  test('a missing artifact is an integrity failure naming the hash', async () => {
    const sha = 'a'.repeat(64);
    assert.equal(await blobs.has(sha), false);
    await assert.rejects(blobs.get(sha), (err: unknown) => {
      assert.equal(codeOf(err), 'REGISTRY_INTEGRITY_FAILED');
      assert.deepEqual((err as { details: unknown }).details, { sha256: sha, missing: true });
      return true;
    });
  });

  test('a malformed hash is rejected before touching the filesystem', async () => {
    for (const bad of ['', 'abc', '../../etc/passwd', `${'a'.repeat(62)}/x`, `${'g'.repeat(64)}`, `${'a'.repeat(65)}`]) {
      await assert.rejects(blobs.get(bad), (err: unknown) => codeOf(err) === 'VALIDATION_FAILED', bad);
      await assert.rejects(blobs.has(bad), (err: unknown) => codeOf(err) === 'VALIDATION_FAILED', bad);
    }
  });
});
