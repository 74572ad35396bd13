import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { TarmacError } from '../../shared/errors.ts';

/**
 * The deepest nesting of objects and arrays in a JSON text, counted without parsing (strings are skipped), stopping
 * as soon as `limit` is passed. O(length), no recursion, so a hostile document cannot exhaust the stack.
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  if (text.length <= limit) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > limit) return true;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return false;
}

/**
 * True when no key of the JSON text can be `__proto__` or `constructor`: neither word is in it, and no `\u` escape
 * could spell one. Such a text is safe to hand to JSON.parse as it is; the others go through secure-json-parse, whose
 * two regular-expression scans of every body cost more than the parse of a small one.
 */
export function cannotPoisonPrototypes(text: string): boolean {
  return !text.includes('\\u') && !text.includes('proto') && !text.includes('constructor');
}

/**
 * Replaces the JSON body parser by one that refuses documents nested deeper than `maxDepth` (REQUEST_TOO_DEEP, 400)
 * before parsing them, then parses as Fastify does (prototype poisoning refused).
 */
export function registerJsonDepthLimit(app: FastifyInstance, maxDepth: number): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    if (jsonDepthExceeds(text, maxDepth)) {
      done(new TarmacError('REQUEST_TOO_DEEP', `the JSON body is nested deeper than ${maxDepth} levels (TARMAC_MAX_JSON_DEPTH)`, {
        details: { limit: maxDepth },
        issues: [{ field: '/body', rule: 'max_depth', message: `must nest at most ${maxDepth} levels` }],
      }), undefined);
      return;
    }
    if (cannotPoisonPrototypes(text)) {
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        parse(request, text, done); // Fastify's own error for a broken or empty body
        return;
      }
      done(null, body);
      return;
    }
    parse(request, text, done);
  });
}

/** A problem+json answer written straight to a socket, for errors Node's HTTP parser raises before Fastify sees a request. */
function rawProblem(status: number, code: string, title: string, detail: string, field: string, rule: string): string {
  const body = JSON.stringify({
    type: `https://tarmac.dev/errors/${code.toLowerCase().replace(/_/g, '-')}`, title, status, detail, code,
    errors: [{ field, rule, message: detail }],
  });
  const reason = STATUS_CODES[status] ?? 'Bad Request';
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/**
 * Fastify's `clientErrorHandler`: answers header blocks over the limit with 431 REQUEST_HEADERS_TOO_LARGE, requests
 * not received in time with 408 REQUEST_TIMEOUT and other malformed HTTP with 400, as problem+json, then closes the
 * connection.
 */
export function clientErrorHandler(maxHeaderBytes: number) {
  return (err: NodeJS.ErrnoException, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed || !socket.writable) return;
    const response = err.code === 'HPE_HEADER_OVERFLOW'
      ? rawProblem(431, 'REQUEST_HEADERS_TOO_LARGE', 'The request headers are larger than the limit',
        `the request headers are larger than ${maxHeaderBytes} bytes (TARMAC_MAX_HEADER_KB)`, '/headers', 'max_size')
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? rawProblem(408, 'REQUEST_TIMEOUT', 'The request was not received in time', 'the request was not received in time', '/', 'timeout')
        : rawProblem(400, 'VALIDATION_FAILED', 'The request is not valid', 'the request is not valid HTTP', '/', 'http');
    socket.end(response);
  };
}
