import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { TarmacError } from '../../shared/errors.ts';
import { scanJson } from './json-scan.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The records API's records as the client sent them (each one's JSON text), when the body's top-level "records"
     * array holds only objects and the text has no \u escape; null otherwise. The prediction log stores these.
     */
    rawRecords: string[] | null;
  }
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
  app.decorateRequest('rawRecords', null);
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    const scan = scanJson(text, maxDepth);
    if (scan.tooDeep) {
      done(new TarmacError('REQUEST_TOO_DEEP', `the JSON body is nested deeper than ${maxDepth} levels (TARMAC_MAX_JSON_DEPTH)`, {
        details: { limit: maxDepth },
        issues: [{ field: '/body', rule: 'max_depth', message: `must nest at most ${maxDepth} levels` }],
      }), undefined);
      return;
    }
    // An escape could spell "records" another way than the scan read it: then the spans are not trusted.
    if (scan.records !== undefined && !text.includes('\\u')) request.rawRecords = scan.records.map(([start, end]) => text.slice(start, end));
    if (cannotPoisonPrototypes(text)) {
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        request.rawRecords = null;
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
