/**
 * Logs on stderr (pino), level from LOG_LEVEL (default info): JSON lines for machines, or
 * one short human line per message (pino-pretty) on a terminal or with `--log-format human`.
 * Secrets never reach the log: known secret keys are redacted wherever they appear, and
 * values that look like credentials are masked in messages.
 */
import { createRequire } from 'node:module';
import type { Logger, DestinationStream } from 'pino';
import type PinoPretty from 'pino-pretty';
import { ConfigError } from '../core/errors.js';

// Required, not imported: see README.md, "Build and start-up".
const { pino } = createRequire(import.meta.url)('pino') as typeof import('pino');

export const LOG_FORMATS = ['human', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** The default: human lines when stderr is a terminal, JSON lines otherwise. */
export function defaultLogFormat(): LogFormat {
  return process.stderr.isTTY === true ? 'human' : 'json';
}

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** Keys whose values are secrets, at any depth of a logged object. */
export const SECRET_KEYS = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'password',
  'token',
  'secret',
  'authorization',
  'apiKey',
];

/** Masks credential-looking substrings in free text: AWS key ids and `NAME=value` pairs of secret names. */
export function maskSecrets(text: string): string {
  return text
    .replace(/\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g, '[REDACTED]')
    .replace(/\b((?:AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|AWS_ACCESS_KEY_ID|[A-Z_]*TOKEN|[A-Z_]*PASSWORD|[A-Z_]*SECRET)\s*[=:]\s*)\S+/gi, '$1[REDACTED]');
}

/**
 * Masks secrets in every string of a value about to be logged (objects, arrays and errors
 * to a small depth): a credential inside a value (a Spark Connect address with `;token=…`,
 * an error message) is as secret as one under a secret key.
 */
export function maskDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return maskSecrets(value);
  if (value === null || typeof value !== 'object' || depth > 5) return value;
  if (value instanceof Error) {
    return { type: value.name, message: maskSecrets(value.message), ...(value.stack === undefined ? {} : { stack: maskSecrets(value.stack) }) };
  }
  if (Array.isArray(value)) return value.map((v) => maskDeep(v, depth + 1));
  // fromEntries defines own properties: a `__proto__` key stays a key.
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskDeep(v, depth + 1)]));
}

export function levelFromEnv(value: string | undefined, strict = false): string {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '') return 'info';
  if (v === 'warning') return 'warn';
  if (LEVELS.has(v)) return v;
  // A command's own setting (strict) is checked like every other; elsewhere (workers) the default.
  if (strict) throw new ConfigError(`LOG_LEVEL ${JSON.stringify(value)} is not a log level: trace, debug, info, warn, error, fatal or silent`);
  return 'info';
}

function humanStream(destination: number): DestinationStream {
  // Loaded only for human output: importing pino-pretty cost about 8% of every command's start-up.
  const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
  return pretty({
    destination,
    sync: true,
    colorize: destination === 2 ? process.stderr.isTTY === true : false,
    translateTime: 'HH:MM:ss',
    ignore: 'pid,hostname,app,time',
    singleLine: true,
    messageFormat: '{msg}',
  });
}

export function createLogger(
  level: string = levelFromEnv(process.env.LOG_LEVEL),
  destination: number = 2,
  format: LogFormat = 'json',
): Logger {
  const stream = format === 'human' ? humanStream(destination) : pino.destination({ fd: destination, sync: true });
  // Logs are best-effort: stderr that refuses writes (a full device, a closed pipe) must not turn
  // a run's outcome into another (its exit code still tells it), nor crash on an unhandled event.
  (stream as unknown as NodeJS.EventEmitter).on('error', () => undefined);
  return pino(
    {
      level,
      base: { app: 'mr' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]),
        censor: '[REDACTED]',
      },
      hooks: {
        logMethod(args, method) {
          const masked = args.map((a) => maskDeep(a));
          method.apply(this, masked as Parameters<typeof method>);
        },
      },
    },
    stream,
  );
}

/**
 * Node's own warnings go through `log` instead of Node's plain stderr lines: JSON logs stay
 * JSON lines, and a human log keeps one shape. A deprecation (DEP0123 when grpc-js names an
 * IP address as a TLS server name) at level debug, any other warning at warn. The last
 * logger routed to takes them.
 */
export function routeProcessWarnings(log: Logger): void {
  process.removeAllListeners('warning');
  process.on('warning', (w: Error & { code?: string }) => {
    const fields = { warning: w.name, ...(w.code === undefined ? {} : { code: w.code }) };
    // A deprecation in a library is for mr's developers, not its users: debug.
    if (w.name === 'DeprecationWarning') log.debug(fields, w.message);
    else log.warn(fields, w.message);
  });
}

export type { Logger };
