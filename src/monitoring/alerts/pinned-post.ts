import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';

/** An address a connection may use, as checked by the outbound policy. */
export interface PinnedAddress {
  address: string;
  family: 4 | 6;
}

/** The parts of an HTTP answer a delivery looks at. */
export interface PostAnswer {
  status: number;
  header(name: string): string | null;
  text: string;
}

const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * POSTs `body` to `url`, connecting only to `addresses` (the ones the outbound check approved) instead of resolving
 * the host again, so a DNS answer that changes after the check (rebinding) cannot redirect the connection; TLS still
 * verifies the certificate against the URL's host name. Never follows redirects. Rejects on network errors and when
 * `timeoutMs` passes (an AbortError named `TimeoutError`).
 */
export function pinnedPost(url: URL, init: { headers: Record<string, string>; body: string; timeoutMs: number }, addresses: readonly PinnedAddress[]): Promise<PostAnswer> {
  const lookup: LookupFunction = (_host, options, callback) => {
    const wanted = addresses.filter((a) => !options.family || options.family === a.family);
    const chosen = wanted.length > 0 ? wanted : addresses;
    if (options.all) (callback as unknown as (err: null, all: PinnedAddress[]) => void)(null, [...chosen]);
    else callback(null, chosen[0]!.address, chosen[0]!.family);
  };
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, {
      method: 'POST',
      headers: { ...init.headers, 'content-length': String(Buffer.byteLength(init.body)) },
      lookup,
      signal: AbortSignal.timeout(init.timeoutMs),
    }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size < MAX_ANSWER_BYTES) chunks.push(chunk);
        size += chunk.length;
      });
      res.on('end', () => resolve({
        status: res.statusCode ?? 0,
        header: (name) => {
          const value = res.headers[name.toLowerCase()];
          return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
        },
        text: Buffer.concat(chunks).toString('utf8').slice(0, MAX_ANSWER_BYTES),
      }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}
