// Structured JSON logs (pino); human-readable in development on a terminal.
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(options: { level: string; pretty: boolean }): Logger {
  return pino({
    level: options.level,
    // Tokens and passwords must never reach a log line, whatever logs them.
    redact: {
      paths: ['req.headers.authorization', '*.password', '*.token', 'password', 'token'],
      censor: '[redacted]',
    },
    ...(options.pretty && {
      transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } },
    }),
  });
}

export function loggerFor(env: { LOG_LEVEL: string; NODE_ENV: string }): Logger {
  return createLogger({
    level: env.LOG_LEVEL,
    pretty: env.NODE_ENV === 'development' && process.stdout.isTTY === true,
  });
}
