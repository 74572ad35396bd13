/** Where an action came from: the client address, the request id and the user agent of the HTTP request. */
export interface RequestContext {
  ip: string | null;
  requestId: string | null;
  userAgent: string | null;
}

const MAX_USER_AGENT = 512;

/**
 * The origin of an HTTP request, as the auth hook attaches it to the request's principal (`Principal.origin`) so the
 * audit log records where an action came from. Carried on the principal rather than in an AsyncLocalStorage: on
 * Node 20 an enabled AsyncLocalStorage puts promise hooks on every promise of the serving path (measured at about
 * 40 µs per predict request).
 */
export function requestOrigin(request: { ip?: string; id: string; headers: Record<string, string | string[] | undefined> }): RequestContext {
  const agent = request.headers['user-agent'];
  return { ip: request.ip ?? null, requestId: request.id, userAgent: typeof agent === 'string' ? agent.slice(0, MAX_USER_AGENT) : null };
}
