// JSON logs through winston. Every line passes the redaction format last-but-one (just before
// serialisation), so nothing logged anywhere in the operator can carry a secret value.
import type { Writable } from 'node:stream';
import winston from 'winston';
import { maskSecrets, redactField } from './redact.ts';

export { registerSecretValue } from './redact.ts';

export type Logger = winston.Logger;

export interface LoggerOptions {
  level?: 'error' | 'warn' | 'info' | 'debug';
  /** Where JSON lines go; defaults to stdout. */
  stream?: Writable;
  /** Fields on every line, e.g. { component: 'nhi-operator' }. */
  defaultMeta?: Record<string, unknown>;
  silent?: boolean;
}

const reserved = new Set(['level', 'timestamp']);

/** The winston format that masks secrets in the message and every field. */
export const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (reserved.has(key)) continue;
    info[key] =
      key === 'message' && typeof info.message === 'string'
        ? maskSecrets(info.message)
        : redactField(key, info[key]);
  }
  return info;
});

export function createLogger(options: LoggerOptions = {}): Logger {
  const transport = options.stream
    ? new winston.transports.Stream({ stream: options.stream })
    : new winston.transports.Console();
  return winston.createLogger({
    level: options.level ?? 'info',
    silent: options.silent ?? false,
    defaultMeta: options.defaultMeta,
    format: winston.format.combine(
      winston.format.errors({ stack: true }),
      winston.format.timestamp(),
      redactFormat(),
      winston.format.json(),
    ),
    transports: [transport],
  });
}

/** A logger that drops everything (tests, tools). */
export function silentLogger(): Logger {
  return createLogger({ silent: true });
}
