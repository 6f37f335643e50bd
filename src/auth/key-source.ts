// Which key verifies tokens, from the configuration. In development with nothing
// configured, a random HS256 secret is generated once and kept in .data/, so
// `npm start` and `npm run token` agree without anyone choosing a secret.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Env } from '../config.ts';
import type { KeySource } from './verify-token.ts';

export const DEV_SECRET_FILE = '.data/dev-jwt-secret';

export async function developmentSecret(file = DEV_SECRET_FILE): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const secret = randomBytes(48).toString('base64url');
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, `${secret}\n`, { mode: 0o600 });
    return secret;
  }
}

export async function keySourceFor(env: Env): Promise<KeySource> {
  if (env.JWT_SECRET) return { kind: 'secret', secret: env.JWT_SECRET };
  if (env.JWT_PUBLIC_KEY) return { kind: 'publicKey', pem: env.JWT_PUBLIC_KEY.replace(/\\n/g, '\n') };
  if (env.JWT_JWKS_URL) return { kind: 'jwks', url: env.JWT_JWKS_URL };
  // readEnv refuses this combination in production.
  return { kind: 'secret', secret: await developmentSecret() };
}
