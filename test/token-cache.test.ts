// Verified tokens are remembered (src/auth/token-cache.ts), never past the moment they
// would stop verifying: a cached token expires on time, a tampered copy of a cached token
// is still checked in full, and a refusal is never remembered.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { cachedTokenVerifier } from '../src/auth/token-cache.ts';
import { createTokenVerifier, type VerifyToken } from '../src/auth/verify-token.ts';
import { TENANT_CLAIM, TEST_SECRET, tokenFor } from './support/api.ts';

const claims = {
  userId: '00000000-0000-4000-8000-000000000001',
  tenantId: '00000000-0000-4000-8000-000000000002',
};

function verifier(clockToleranceSeconds = 0): VerifyToken {
  return createTokenVerifier({ key: { kind: 'secret', secret: TEST_SECRET }, clockToleranceSeconds });
}

/** A verifier that counts the verifications it really does. */
function counting(inner: VerifyToken): VerifyToken & { calls: number } {
  const counted = Object.assign(async (token: string) => (counted.calls++, inner(token)), { calls: 0 });
  return counted;
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as { code: string }).code;
  }
  throw new Error('expected the token to be refused');
}

describe('verified tokens are cached', () => {
  test('a token sent again is not verified again', async () => {
    const inner = counting(verifier());
    const verify = cachedTokenVerifier(inner, { max: 10, maxAgeSeconds: 60, clockToleranceSeconds: 0 });
    const token = tokenFor(claims);
    const first = await verify(token);
    expect(await verify(token)).toBe(first);
    expect(inner.calls).toBe(1);
  });

  test('a cached token is refused once it expires, as it would be uncached', async () => {
    const verify = verifier();
    const token = tokenFor(claims, { expiresIn: 2 });
    await expect(verify(token)).resolves.toMatchObject({ sub: claims.userId });
    await sleep(2_100);
    expect(await refusal(verify(token))).toBe('TOKEN_EXPIRED');
  });

  test('a cached token is verified again after the cache period', async () => {
    const inner = counting(verifier());
    const verify = cachedTokenVerifier(inner, { max: 10, maxAgeSeconds: 1, clockToleranceSeconds: 0 });
    const token = tokenFor(claims);
    await verify(token);
    await sleep(1_100);
    await verify(token);
    expect(inner.calls).toBe(2);
  });

  test('a tampered copy of a cached token (another tenant in its claims) is refused', async () => {
    const verify = verifier();
    const token = tokenFor(claims);
    await verify(token);
    const [header, payload, signature] = token.split('.');
    const original = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    const claimsOfB = { ...original, [TENANT_CLAIM]: '00000000-0000-4000-8000-00000000000b' };
    const forged = [header, Buffer.from(JSON.stringify(claimsOfB)).toString('base64url'), signature].join(
      '.',
    );
    expect(await refusal(verify(forged))).toBe('UNAUTHENTICATED');
  });

  test('a refusal is not remembered: a token signed with another secret is checked every time', async () => {
    const inner = counting(verifier());
    const verify = cachedTokenVerifier(inner, { max: 10, maxAgeSeconds: 60, clockToleranceSeconds: 0 });
    const forged = tokenFor(claims, { secret: 'another secret' });
    expect(await refusal(verify(forged))).toBe('UNAUTHENTICATED');
    expect(await refusal(verify(forged))).toBe('UNAUTHENTICATED');
    expect(inner.calls).toBe(2);
  });

  test('the claims handed out cannot be changed by their caller for the next request', async () => {
    const verify = verifier();
    const token = tokenFor(claims);
    const payload = await verify(token);
    expect(() => Object.assign(payload, { sub: 'another user' })).toThrow(TypeError);
    expect((await verify(token)).sub).toBe(claims.userId);
  });
});
