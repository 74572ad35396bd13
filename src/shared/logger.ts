import { pino, type DestinationStream, type Logger as PinoLogger, type LoggerOptions } from 'pino';

/** The structured logger every module receives; a pino logger with a `component` binding. */
export type Logger = PinoLogger;

const CENSOR = '[redacted]';

/** Field names whose values are secrets wherever they appear (top level or one object down). */
const SECRET_FIELDS = [
  'authorization', 'cookie', 'set-cookie', 'x-api-key', 'apiKey', 'api_key', 'secret', 'password', 'pass', 'token',
  'access_token', 'refresh_token', 'id_token', 'client_secret', 'private_key', 'privateKey',
];

/** Paths that never reach a log line in clear (pino `redact`; value scrubbing below catches the rest). */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers.cookie',
  'headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'key.secret',
  ...SECRET_FIELDS.map((f) => (/^[A-Za-z_]\w*$/.test(f) ? f : `["${f}"]`)),
  ...SECRET_FIELDS.map((f) => (/^[A-Za-z_]\w*$/.test(f) ? `*.${f}` : `*["${f}"]`)),
];

/**
 * Patterns of secret values, replaced in every serialized log line whatever field or message carries them: Tarmac API
 * keys, bearer/basic credentials, credentials in URLs, secret query parameters, Slack/Teams/Discord webhook paths,
 * PEM private keys, and JSON fields named like secrets at any depth.
 */
const SECRET_VALUES: [RegExp, string][] = [
  [/tmk_[A-Za-z0-9_.-]+/g, `tmk_${CENSOR}`],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${CENSOR}`],
  [/([a-z][a-z0-9+.-]*:\/\/)[^\s/"'@]*@/gi, `$1${CENSOR}@`],
  [/([?&](?:token|access_token|key|api_key|apikey|secret|password|pass|sig|signature|code)=)[^&\s"'#]+/gi, `$1${CENSOR}`],
  [/(hooks\.slack\.com\/(?:services|workflows|triggers)\/)[^\s"'?#]+/gi, `$1${CENSOR}`],
  [/(webhook\.office\.com\/webhookb2\/)[^\s"'?#]+/gi, `$1${CENSOR}`],
  [/(discord(?:app)?\.com\/api\/webhooks\/)[^\s"'?#]+/gi, `$1${CENSOR}`],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, CENSOR],
  [new RegExp(`("(?:${SECRET_FIELDS.map((f) => f.replace(/[-]/g, '\\-')).join('|')})"\\s*:\\s*)"(?:[^"\\\\]|\\\\.)*"`, 'gi'), `$1"${CENSOR}"`],
];

/** `line` with every secret-looking value replaced by `[redacted]`. */
export function scrubSecrets(line: string): string {
  let out = line;
  for (const [pattern, replacement] of SECRET_VALUES) out = out.replace(pattern, replacement);
  return out;
}

/** A pino destination that scrubs each serialized line before handing it on. */
function scrubbing(destination: DestinationStream): DestinationStream {
  return { write: (line: string) => destination.write(scrubSecrets(line)) };
}

/**
 * Builds the root logger (`level: 'silent'` for tests). Secrets are removed twice: by field path (pino `redact`) and
 * by value pattern on every serialized line (scrubSecrets), so a key inside a message or an error is hidden too.
 * `destination` defaults to stdout.
 */
export function createLogger(options: { level: string; pretty?: boolean; destination?: DestinationStream } & LoggerOptions): Logger {
  return pino({
    level: options.level,
    redact: { paths: REDACTED_PATHS, censor: CENSOR },
    base: { service: 'tarmac' },
    timestamp: pino.stdTimeFunctions.isoTime,
  }, scrubbing(options.destination ?? pino.destination(1)));
}
