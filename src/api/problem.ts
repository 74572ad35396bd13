import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CATALOGUE, isTarmacError, TarmacError, type ErrorCode, type FieldIssue } from '../shared/errors.ts';

/** An RFC 9457 problem document as Tarmac sends it. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  code: ErrorCode;
  request_id: string;
  errors?: FieldIssue[];
  /** The Open Inference Protocol's error string, on /v2 routes. */
  error?: string;
  [extension: string]: unknown;
}

const AJV_RULES: Record<string, string> = {
  additionalProperties: 'unknown_field',
  minItems: 'min_items',
  maxItems: 'max_items',
  minLength: 'min_length',
  maxLength: 'max_length',
  minProperties: 'min_properties',
};

/** Turns any thrown value into a TarmacError: Fastify's own errors by code, anything unknown into INTERNAL. */
export function toTarmacError(err: unknown): TarmacError {
  if (isTarmacError(err)) return err;
  const fe = err as FastifyError & { validation?: { instancePath: string; keyword: string; message?: string; params: Record<string, unknown> }[]; validationContext?: string };
  if (fe && Array.isArray(fe.validation)) {
    const context = fe.validationContext ?? 'body';
    const issues: FieldIssue[] = fe.validation.slice(0, 100).map((v) => {
      let field = v.instancePath || '';
      if (v.keyword === 'required') field += `/${String(v.params.missingProperty)}`;
      if (v.keyword === 'additionalProperties') field += `/${String(v.params.additionalProperty)}`;
      const prefix = context === 'body' ? '' : `/${context}`;
      return { field: `${prefix}${field}` || '/', rule: AJV_RULES[v.keyword] ?? v.keyword, message: v.message ?? 'is not valid' };
    });
    const summary = issues.map((i) => `${i.field} ${i.message} (${i.rule})`).join('; ');
    return new TarmacError('VALIDATION_FAILED', `the ${context} is not valid: ${summary}`, { issues });
  }
  switch (fe?.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_TYPE':
      return new TarmacError('REQUEST_UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json (artifacts as application/octet-stream)', {
        issues: [{ field: '/headers/content-type', rule: 'media_type', message: 'must be application/json' }],
      });
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new TarmacError('REQUEST_TOO_LARGE', 'the body is larger than the limit (TARMAC_BODY_LIMIT_MB)', {
        issues: [{ field: '/body', rule: 'max_size', message: 'is larger than the limit' }],
      });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new TarmacError('REQUEST_MALFORMED_JSON', 'the body is empty but the content type says JSON', {
        issues: [{ field: '/body', rule: 'json', message: 'must be a JSON document' }],
      });
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new TarmacError('VALIDATION_FAILED', 'the Content-Length header does not match the body', {
        issues: [{ field: '/headers/content-length', rule: 'content_length', message: 'must match the body' }],
      });
    default:
      break;
  }
  if (err instanceof SyntaxError || fe?.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (fe?.statusCode === 400 && /JSON|prototype/i.test(fe.message))) {
    return new TarmacError('REQUEST_MALFORMED_JSON', `the body is not valid JSON: ${fe?.message ?? 'parse error'}`, {
      issues: [{ field: '/body', rule: 'json', message: 'must be valid JSON' }],
    });
  }
  if (fe?.statusCode === 404) return new TarmacError('REQUEST_NOT_FOUND', fe.message);
  if (fe?.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new TarmacError('VALIDATION_FAILED', fe.message, { details: { fastifyCode: fe.code } });
  }
  return new TarmacError('INTERNAL', 'an internal error occurred; the request id identifies it in the server log', { cause: err });
}

/** The problem document for `err` answering the request at `url` (V2 routes also carry the protocol's `error` field). */
export function problemOf(err: TarmacError, url: string, requestId: string): Problem {
  const problem: Problem = {
    type: `https://tarmac.dev/errors/${err.code.toLowerCase().replace(/_/g, '-')}`,
    title: ERROR_CATALOGUE[err.code].title,
    status: ERROR_CATALOGUE[err.code].status,
    detail: err.message,
    instance: url,
    code: err.code,
    request_id: requestId,
  };
  if (err.issues.length > 0) problem.errors = err.issues;
  for (const [key, value] of Object.entries(err.details)) if (!(key in problem)) problem[key] = value;
  if (url.startsWith('/v2')) problem.error = err.message;
  return problem;
}

/** Sends `err` as application/problem+json (with `Retry-After: 1` when it is retryable and none is set yet). */
export function sendProblem(request: FastifyRequest, reply: FastifyReply, err: TarmacError): FastifyReply {
  const problem = problemOf(err, request.url, String(request.id));
  if (err.retryable && !reply.hasHeader('retry-after')) void reply.header('retry-after', '1');
  return reply.code(problem.status).type('application/problem+json').send(problem);
}
