import { pino, type Logger as PinoLogger, type LoggerOptions } from 'pino';

/** The structured logger every module receives; a pino logger with a `component` binding. */
export type Logger = PinoLogger;

/** Paths that never reach a log line in clear. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'apiKey',
  'secret',
  'key.secret',
];

/** Builds the root logger; `level: 'silent'` for tests. */
export function createLogger(options: { level: string; pretty?: boolean } & LoggerOptions): Logger {
  return pino({
    level: options.level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { service: 'tarmac' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
