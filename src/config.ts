// Configuration comes from environment variables only, validated once at start-up.
// Every bad value is reported together, by name, so an operator fixes them in one go.
import { cleanEnv, makeValidator, num, port, str, url, type CleanedEnv } from 'envalid';

const roleName = makeValidator<string>((value) => {
  // Role names end up as SQL identifiers in migrations (graphile-migrate placeholders
  // are substituted without escaping), so only plain lower-case identifiers pass.
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(value)) {
    throw new Error('must be a lower-case PostgreSQL identifier (a-z, 0-9, _)');
  }
  return value;
});

const optionalUrl = url({ default: undefined });

const specs = {
  NODE_ENV: str({ choices: ['development', 'production', 'test'], default: 'development' }),

  // Where the database is. Unset DATABASE_URL means: run the embedded PostgreSQL.
  DATABASE_URL: optionalUrl,
  AUTH_DATABASE_URL: optionalUrl,
  SHADOW_DATABASE_URL: optionalUrl,
  ROOT_DATABASE_URL: optionalUrl,
  EMBEDDED_POSTGRES_PORT: port({ default: 54320 }),
  EMBEDDED_POSTGRES_DIR: str({ default: '.data/postgres' }),

  // The roles a request switches to; the server never picks a role from a token.
  DATABASE_VISITOR: roleName({ default: 'app_user' }),
  DATABASE_ANONYMOUS: roleName({ default: 'app_anonymous' }),

  LOG_LEVEL: str({ choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' }),
  PG_POOL_MAX: num({ default: 10 }),
} as const;

export type Env = CleanedEnv<typeof specs>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function readEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const env = cleanEnv(source, specs, {
    reporter: ({ errors }) => {
      const problems = Object.entries(errors).map(([name, error]) => `  ${name}: ${(error as Error).message}`);
      if (problems.length > 0) {
        throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);
      }
    },
  });
  if (env.DATABASE_URL && !env.AUTH_DATABASE_URL) {
    throw new ConfigError(
      'Invalid configuration:\n  AUTH_DATABASE_URL: required when DATABASE_URL is set (the API connects as the authenticator role, never as the owner)',
    );
  }
  return env;
}
