// Archives are signed by the server that wrote them: an HMAC-SHA256, with the server's
// EXPORT_SIGNING_KEY, over the exact bytes of manifest.json, which carries the SHA-256 of
// every other file of the archive. The MAC sits beside it as signature.json. An import
// verifies it with the current key and any older ones (EXPORT_VERIFY_KEYS, for rotation);
// an archive that fails (unsigned, edited, or from another server) is not trusted: it is
// refused unless the operator says --untrusted, and then only the tenant's data comes in.
//
// In development with no key configured, a random one is generated once and kept in
// .data/, as the development JWT secret is, so `npm start`'s exports and `npm run
// tenant:import` agree without anyone choosing a key.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { developmentKey } from '../development-key.ts';

export const SIGNATURE_FILE = 'signature.json';
export const SIGNATURE_ALGORITHM = 'HMAC-SHA256';
export const DEV_SIGNING_KEY_FILE = '.data/dev-export-signing-key';
/** As for an HS256 JWT secret: a key at least as long as the hash. */
export const MIN_KEY_BYTES = 32;

export interface Signature {
  algorithm: typeof SIGNATURE_ALGORITHM;
  /** Which key signed (the first 16 hex digits of its SHA-256), so a reader can say which it lacks. */
  keyId: string;
  /** Hex HMAC-SHA256 of manifest.json's bytes. */
  mac: string;
}

export interface SigningKeys {
  /** Signs new archives. */
  signing: Buffer;
  /** Verify archives: the signing key first, then older ones. */
  verifying: Buffer[];
}

export class SigningKeyError extends Error {
  override name = 'SigningKeyError';
}

export const keyId = (key: Buffer) => createHash('sha256').update(key).digest('hex').slice(0, 16);

export function sign(manifestBytes: Buffer, key: Buffer): Signature {
  return {
    algorithm: SIGNATURE_ALGORITHM,
    keyId: keyId(key),
    mac: createHmac('sha256', key).update(manifestBytes).digest('hex'),
  };
}

/** The key (of `keys`) whose MAC over `manifestBytes` is the signature's, or undefined. */
export function verify(manifestBytes: Buffer, signature: unknown, keys: Buffer[]): Buffer | undefined {
  const s = signature as Partial<Signature> | null;
  if (!s || s.algorithm !== SIGNATURE_ALGORITHM || typeof s.mac !== 'string' || !/^[0-9a-f]{64}$/.test(s.mac))
    return undefined;
  const given = Buffer.from(s.mac, 'hex');
  // Every key is tried (not only the one keyId names): keyId is a hint for messages, not trusted.
  return keys.find((key) => timingSafeEqual(createHmac('sha256', key).update(manifestBytes).digest(), given));
}

function parseKey(name: string, value: string): Buffer {
  const key = Buffer.from(value, 'utf8');
  if (key.length < MIN_KEY_BYTES)
    throw new SigningKeyError(
      `${name}: must be at least ${MIN_KEY_BYTES} bytes (an HMAC-SHA256 key as long as its hash)`,
    );
  return key;
}

export function developmentSigningKey(file = DEV_SIGNING_KEY_FILE): Promise<string> {
  return developmentKey(file);
}

export interface SigningEnv {
  NODE_ENV: string;
  EXPORT_SIGNING_KEY?: string | undefined;
  EXPORT_VERIFY_KEYS?: string | undefined;
}

/** The keys from the environment; in development without EXPORT_SIGNING_KEY, the generated one in .data/. */
export async function signingKeysFor(
  env: SigningEnv,
  devKeyFile = DEV_SIGNING_KEY_FILE,
): Promise<SigningKeys> {
  let signing: Buffer;
  if (env.EXPORT_SIGNING_KEY) signing = parseKey('EXPORT_SIGNING_KEY', env.EXPORT_SIGNING_KEY);
  else if (env.NODE_ENV === 'production')
    throw new SigningKeyError(
      'EXPORT_SIGNING_KEY is required in production: exports are signed with it and imports verify it (at least 32 bytes, e.g. `openssl rand -base64 48`; the same on every worker and wherever tenant:import runs)',
    );
  else signing = parseKey(DEV_SIGNING_KEY_FILE, await developmentSigningKey(devKeyFile));
  const older = (env.EXPORT_VERIFY_KEYS ?? '')
    .split(',')
    .map((value) => value.trim())
    .filter(Boolean)
    .map((value, i) => parseKey(`EXPORT_VERIFY_KEYS (key ${i + 1})`, value));
  return { signing, verifying: [signing, ...older] };
}
