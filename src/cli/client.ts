import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';

/** A problem+json answer (or a transport failure) turned into an error the CLI can print and map to an exit code. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly issues: { field: string; rule: string; message: string }[] = [],
    readonly body: unknown = undefined,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Where the CLI talks to and with which key. */
export interface ClientOptions {
  url: string;
  apiKey: string | undefined;
}

/** Resolves TARMAC_URL / TARMAC_API_KEY, falling back to localhost:8080 and `<data dir>/admin.key`. */
export function clientOptionsFrom(env: NodeJS.ProcessEnv, dataDir = env.TARMAC_DATA_DIR ?? '.tarmac'): ClientOptions {
  let apiKey = env.TARMAC_API_KEY || undefined;
  const keyFile = path.join(dataDir, 'admin.key');
  if (!apiKey && existsSync(keyFile)) apiKey = readFileSync(keyFile, 'utf8').trim();
  return { url: (env.TARMAC_URL || 'http://localhost:8080').replace(/\/+$/, ''), apiKey };
}

/** A small JSON client for Tarmac's API. */
export class TarmacClient {
  constructor(private readonly options: ClientOptions) {}

  /** Sends a request; resolves the parsed JSON body, or throws ApiError with the server's problem details. */
  async request<T = unknown>(method: string, route: string, body?: unknown, contentType = 'application/json', extraHeaders: Record<string, string> = {}): Promise<T> {
    const headers: Record<string, string> = { ...extraHeaders };
    let payload: string | Blob | ReadableStream<Uint8Array> | undefined;
    if (body !== undefined) {
      headers['content-type'] = contentType;
      payload = body instanceof ReadableStream ? body
        : body instanceof Uint8Array ? new Blob([new Uint8Array(body)]) : JSON.stringify(body);
    }
    const response = await this.send(method, route, headers, payload);
    const text = await response.text();
    let parsed: unknown = undefined;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (!response.ok) throw problemError(response, parsed);
    return parsed as T;
  }

  /** Sends a GET and returns the streaming response once it is known to be a success; throws ApiError otherwise. */
  async download(route: string): Promise<Response> {
    const response = await this.send('GET', route, {}, undefined);
    if (!response.ok) {
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      throw problemError(response, parsed);
    }
    return response;
  }

  private async send(method: string, route: string, headers: Record<string, string>, payload: string | Blob | ReadableStream<Uint8Array> | undefined): Promise<Response> {
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    try {
      // A streamed body needs half-duplex mode in Node's fetch.
      const init: RequestInit & { duplex?: 'half' } = { method, headers, body: payload };
      if (payload instanceof ReadableStream) init.duplex = 'half';
      return await fetch(`${this.options.url}${route}`, init);
    } catch (err) {
      throw new ApiError(`cannot reach Tarmac at ${this.options.url} (${(err as Error).cause ? String((err as { cause: unknown }).cause) : (err as Error).message}); start it with \`tarmac up\` or set TARMAC_URL`, 0, 'UNREACHABLE');
    }
  }
}

function problemError(response: Response, parsed: unknown): ApiError {
  const problem = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as { detail?: string; code?: string; errors?: ApiError['issues'] };
  return new ApiError(problem.detail ?? `${response.status} ${response.statusText}`, response.status, problem.code ?? 'HTTP_ERROR', problem.errors ?? [], parsed);
}
