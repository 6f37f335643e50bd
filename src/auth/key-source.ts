// Which key verifies tokens, from the configuration. In development with nothing
// configured, a random HS256 secret is generated once and kept in .data/, so
// `npm start` and `npm run token` agree without anyone choosing a secret.
import type { Env } from '../config.ts';
import { developmentKey } from '../development-key.ts';
import type { KeySource } from './verify-token.ts';

export const DEV_SECRET_FILE = '.data/dev-jwt-secret';

export function developmentSecret(file = DEV_SECRET_FILE): Promise<string> {
  return developmentKey(file);
}

export async function keySourceFor(env: Env): Promise<KeySource> {
  if (env.JWT_SECRET) return { kind: 'secret', secret: env.JWT_SECRET };
  if (env.JWT_PUBLIC_KEY) return { kind: 'publicKey', pem: env.JWT_PUBLIC_KEY.replace(/\\n/g, '\n') };
  if (env.JWT_JWKS_URL) return { kind: 'jwks', url: env.JWT_JWKS_URL };
  // readEnv refuses this combination in production.
  return { kind: 'secret', secret: await developmentSecret() };
}
