import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { mkdir, open, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { canonicalJson } from '../store/index.ts';
import type { AuditHead } from '../store/index.ts';
import type { AuditProblem, LocatedCheckpoint } from './audit-verify.ts';

/** One signed checkpoint: the chain's head at `at`, signed with Ed25519 over the JCS of every field but `sig`. */
export interface AuditCheckpoint {
  seq: number;
  hash: string;
  /** ISO 8601 UTC time it was taken. */
  at: string;
  /** Entries in the chain up to and including `seq`. */
  count: number;
  /** The signing key's id: the first 16 hex digits of sha256 over its SPKI DER encoding. */
  key: string;
  /** base64url Ed25519 signature. */
  sig: string;
}

/** The Ed25519 key pair checkpoints are signed with, and its id. */
export interface AuditSigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyId: string;
}

/** The file every replica appends checkpoints to inside the checkpoint directory. */
export const CHECKPOINT_FILE = 'checkpoints.jsonl';

/** The id a checkpoint names its key by: the first 16 hex digits of sha256(SPKI DER). */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/**
 * Loads the PKCS#8 PEM private key at `keyFile`, or makes one (mode 0600) on first start, and (re)writes its public
 * key as SPKI PEM at `publicKeyFile` for verifiers. Throws when the file holds something that is not an Ed25519 key.
 */
export async function loadOrCreateSigningKey(keyFile: string, publicKeyFile: string): Promise<AuditSigningKey> {
  let pem: string;
  try {
    pem = await readFile(keyFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const { privateKey } = generateKeyPairSync('ed25519');
    pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await mkdir(path.dirname(keyFile), { recursive: true });
    try {
      await writeFile(keyFile, pem, { mode: 0o600, flag: 'wx' });
    } catch (writeErr) {
      // Another process made it first: use theirs.
      if ((writeErr as NodeJS.ErrnoException).code !== 'EEXIST') throw writeErr;
      pem = await readFile(keyFile, 'utf8');
    }
  }
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`${keyFile} does not hold an Ed25519 private key`);
  const publicKey = createPublicKey(privateKey);
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const existing = await readFile(publicKeyFile, 'utf8').catch(() => undefined);
  if (existing !== publicPem) await writeFile(publicKeyFile, publicPem, { mode: 0o644 });
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
}

/** Reads an SPKI PEM Ed25519 public key. Throws when the file is missing or holds anything else. */
export async function readPublicKey(file: string): Promise<KeyObject> {
  const key = createPublicKey(await readFile(file, 'utf8'));
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${file} does not hold an Ed25519 public key`);
  return key;
}

/** The bytes a checkpoint's signature covers: the RFC 8785 JSON of `{at, count, hash, key, seq}`. */
export function checkpointSigningBytes(cp: Omit<AuditCheckpoint, 'sig'>): Buffer {
  const { seq, hash, at, count, key } = cp;
  return Buffer.from(canonicalJson({ seq, hash, at, count, key }), 'utf8');
}

/** Signs the head of the chain as of `at`. */
export function signCheckpoint(head: AuditHead, at: Date, key: AuditSigningKey): AuditCheckpoint {
  const unsigned = { seq: head.seq, hash: head.hash, at: at.toISOString(), count: head.count, key: key.keyId };
  return { ...unsigned, sig: sign(null, checkpointSigningBytes(unsigned), key.privateKey).toString('base64url') };
}

/** Appends one checkpoint as a JSON line and flushes it to disk before resolving. */
export async function appendCheckpoint(dir: string, checkpoint: AuditCheckpoint): Promise<void> {
  await mkdir(dir, { recursive: true });
  const handle = await open(path.join(dir, CHECKPOINT_FILE), 'a', 0o644);
  try {
    await handle.write(`${JSON.stringify(checkpoint)}\n`);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

/** The last checkpoint in the directory's file, if any line parses (signatures are not checked here). */
export async function lastCheckpoint(dir: string): Promise<AuditCheckpoint | undefined> {
  const text = await readFile(path.join(dir, CHECKPOINT_FILE), 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  for (let i = lines.length - 1; i >= 0; i--) {
    const parsed = parseCheckpoint(lines[i]!);
    if (parsed) return parsed;
  }
  return undefined;
}

/**
 * Reads every `*.jsonl` file in `dir` and checks each line's signature against `publicKeys` (matched by key id).
 * Lines that are malformed, signed by an unknown key or whose signature fails become `checkpoint_signature` problems.
 * A missing directory yields no checkpoints.
 */
export async function readCheckpoints(dir: string, publicKeys: readonly KeyObject[]): Promise<{ checkpoints: LocatedCheckpoint[]; problems: AuditProblem[] }> {
  const keys = new Map(publicKeys.map((k) => [keyIdOf(k), k]));
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  const checkpoints: LocatedCheckpoint[] = [];
  const problems: AuditProblem[] = [];
  for (const name of names.filter((n) => n.endsWith('.jsonl')).sort()) {
    const file = path.join(dir, name);
    const lines = (await readFile(file, 'utf8')).split('\n');
    lines.forEach((text, index) => {
      if (text.trim() === '') return;
      const line = index + 1;
      const checkpoint = parseCheckpoint(text);
      if (!checkpoint) {
        problems.push({ kind: 'checkpoint_signature', file, line, message: `${file}:${line} is not a checkpoint` });
        return;
      }
      const key = keys.get(checkpoint.key);
      if (!key) {
        problems.push({ kind: 'checkpoint_signature', file, line, seq: checkpoint.seq, message: `${file}:${line} is signed by key ${checkpoint.key}, which is not among the public keys given` });
        return;
      }
      if (!verify(null, checkpointSigningBytes(checkpoint), key, Buffer.from(checkpoint.sig, 'base64url'))) {
        problems.push({ kind: 'checkpoint_signature', file, line, seq: checkpoint.seq, message: `${file}:${line}: the signature does not verify (the checkpoint was altered or forged)` });
        return;
      }
      checkpoints.push({ checkpoint, file, line });
    });
  }
  return { checkpoints, problems };
}

function parseCheckpoint(text: string): AuditCheckpoint | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const v = value as Partial<AuditCheckpoint> | null;
  if (v === null || typeof v !== 'object') return undefined;
  if (!Number.isSafeInteger(v.seq) || !Number.isSafeInteger(v.count) || typeof v.hash !== 'string' || typeof v.at !== 'string'
    || typeof v.key !== 'string' || typeof v.sig !== 'string') return undefined;
  return { seq: v.seq!, hash: v.hash, at: v.at, count: v.count!, key: v.key, sig: v.sig };
}
