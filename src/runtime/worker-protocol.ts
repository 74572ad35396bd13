import type { ErrorCode, FieldIssue } from '../shared/errors.ts';
import type { Signature, Tensor } from './types.ts';

/** A message from the engine to an inference worker. */
export type WorkerRequest =
  | { type: 'load'; id: number; key: number; bytes: Uint8Array; signature: Signature }
  | { type: 'run'; id: number; key: number; feeds: Record<string, Tensor> }
  | { type: 'unload'; id: number; key: number }
  | { type: 'shutdown'; id: number };

/** A TarmacError flattened to cross a thread boundary. */
export interface SerializedError {
  code: ErrorCode;
  message: string;
  details: Record<string, unknown>;
  issues: FieldIssue[];
  retryable: boolean;
}

/** A worker's answer to one request. */
export type WorkerReply =
  | { id: number; ok: true; outputs?: Record<string, Tensor> }
  | { id: number; ok: false; error: SerializedError };
