import type { FastifyInstance } from 'fastify';
import helmet from '@fastify/helmet';

/** The policy of the few HTML pages (the monitoring report): its own inline styles and data: images, nothing else. */
export const HTML_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * Secure response headers for a JSON API (@fastify/helmet): `default-src 'none'` and `frame-ancestors 'none'`,
 * nosniff, no-referrer, DENY framing, and HSTS only when the API itself speaks TLS. HTML answers get HTML_CSP so the
 * monitoring report still renders. Register before authentication so refusals carry the headers too.
 */
export async function registerSecurityHeaders(app: FastifyInstance, options: { tls: boolean }): Promise<void> {
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
    },
    hsts: options.tls ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    referrerPolicy: { policy: 'no-referrer' },
    xFrameOptions: { action: 'deny' },
    crossOriginEmbedderPolicy: false,
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    const type = reply.getHeader('content-type');
    if (typeof type === 'string' && type.startsWith('text/html')) void reply.header('content-security-policy', HTML_CSP);
    return payload;
  });
}
