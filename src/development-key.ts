// A random key for development, generated once and kept in .data/, so that processes which
// must agree on it (npm start and npm run token on the JWT secret; the worker and
// tenant:import on the export signing key) do so without anyone choosing one. Production
// refuses to start without its keys configured; this is never reached there.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** The key kept in `file`, made (48 random bytes, base64url, readable by the owner only) if there is none. */
export async function developmentKey(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const key = randomBytes(48).toString('base64url');
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, `${key}\n`, { mode: 0o600 });
    return key;
  }
}
