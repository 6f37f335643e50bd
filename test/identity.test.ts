// The identity, attacked (src/auth/identify.ts): a request is resolved once into a frozen
// identity whose verified tenant is the only tenant it is charged to, given connections
// as, logged and counted as. A token (or X-Tenant) claiming tenant B for a user who is only
// A's member asks for B and gets nothing of B's: not its data (RLS, tested elsewhere), not
// its budget, not its lane, not its name in the logs or the per-tenant usage. A removed
// membership stops being honoured within MEMBERSHIP_CACHE_SECONDS, over HTTP and on a
// websocket's next operation alike.
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { createIdentities, type Identities } from '../src/auth/identify.ts';
import { createTokenVerifier } from '../src/auth/verify-token.ts';
import { chargedKey } from '../src/limits/charged-key.ts';
import { presetFromEnv, readEnv } from '../src/config.ts';
import { PRICED_BY_ESTIMATE, TEST_SECRET, tokenFor, useApi } from './support/api.ts';
import { asOwner } from './support/db.ts';
import { createTenant, type TenantFixture } from './support/fixtures.ts';
import { capturedLogger } from './support/log-capture.ts';
import { useObservedApi } from './support/observed-api.ts';
import { connectSocket } from './support/realtime.ts';

const database = inject('database');

let a: TenantFixture;
let b: TenantFixture;
beforeAll(async () => {
  [a, b] = await Promise.all([createTenant('identity-a'), createTenant('identity-b')]);
});

const bearer = (token: string) => `Bearer ${token}`;

describe('identify, against the database', () => {
  let pool: pg.Pool;
  let lookUps = 0;
  let identities: Identities;
  const CACHE_SECONDS = 1;

  beforeAll(() => {
    pool = new pg.Pool({ connectionString: database.authenticatorUrl, max: 2 });
    // The real pool, counted: how many membership look-ups reach PostgreSQL.
    const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
    pool.query = ((...args: unknown[]) => (lookUps++, query(...args))) as typeof pool.query;
    identities = createIdentities({
      pool,
      verifyToken: createTokenVerifier({
        key: { kind: 'secret', secret: TEST_SECRET },
        clockToleranceSeconds: 0,
      }),
      // The claim names production reads by default.
      claimNames: presetFromEnv(
        readEnv({ NODE_ENV: 'production', JWT_SECRET: TEST_SECRET, TRUSTED_DOCUMENTS: 'off' }),
      ).tenantgraph!.claimNames!,
      membershipCacheSeconds: CACHE_SECONDS,
      apiKeyCacheSeconds: CACHE_SECONDS,
    });
  });
  afterAll(() => pool?.end());

  test("a token claiming B for A's member asks for B, is verified as no tenant, and is charged and laned as its user", async () => {
    const { identity } = await identities.identify({
      authorization: bearer(tokenFor({ userId: a.users.member, tenantId: b.id })),
    });
    // B goes to PostgreSQL as asked (where current_tenant_id() refuses it), and nowhere else.
    expect(identity).toEqual({ userId: a.users.member, tenantId: b.id });
    expect(chargedKey(identity, '203.0.113.7')).toBe(`user:${a.users.member}`);
  });

  test('X-Tenant naming B, by id or by slug, is never verified; naming A is', async () => {
    const token = bearer(tokenFor({ userId: a.users.member }));
    const as = async (tenant: string) =>
      (await identities.identify({ authorization: token, tenant })).identity;
    expect(await as(b.id)).toEqual({ userId: a.users.member, tenantId: b.id });
    // A stranger's slug selects no tenant at all, and says nothing of B.
    expect(await as(b.slug)).toEqual({ userId: a.users.member });
    expect(await as(a.slug)).toEqual({ userId: a.users.member, tenantId: a.id, verifiedTenantId: a.id });
    expect(chargedKey(await as(a.slug), undefined)).toBe(`tenant:${a.id}`);
    expect(chargedKey(await as(b.slug), undefined)).toBe(`user:${a.users.member}`);
  });

  test('the identity handed out is frozen: nothing after identify can make it B', async () => {
    const { identity } = await identities.identify({
      authorization: bearer(tokenFor({ userId: a.users.member, tenantId: b.id })),
    });
    expect(Object.isFrozen(identity)).toBe(true);
    expect(() => Object.assign(identity!, { verifiedTenantId: b.id })).toThrow(TypeError);
    expect(chargedKey(identity, undefined)).toBe(`user:${a.users.member}`);
  });

  test('one cache for ids and slugs: concurrent first requests of a pair share one look-up, later ones none', async () => {
    const c = await createTenant('identity-cache');
    const token = bearer(tokenFor({ userId: c.users.viewer, tenantId: c.id }));
    const before = lookUps;
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => identities.identify({ authorization: token })),
    );
    expect(answers.every(({ identity }) => identity?.verifiedTenantId === c.id)).toBe(true);
    await identities.identify({ authorization: token });
    expect(lookUps - before).toBe(1);
    await identities.identify({ authorization: token, tenant: c.slug });
    await identities.identify({ authorization: token, tenant: c.slug });
    expect(lookUps - before).toBe(2);
  });

  test('a removed membership stops being honoured within the cache period, for a new request and for a socket identity checked again', async () => {
    const c = await createTenant('identity-removed');
    const token = bearer(tokenFor({ userId: c.users.member, tenantId: c.id }));
    const { identity: before } = await identities.identify({ authorization: token });
    expect(before?.verifiedTenantId).toBe(c.id);
    expect(await identities.reverify(before!)).toBe(before);
    await asOwner((db) =>
      db.query('delete from app_public.memberships where tenant_id = $1 and user_id = $2', [
        c.id,
        c.users.member,
      ]),
    );
    await sleep(CACHE_SECONDS * 1000 + 100);
    const { identity: after } = await identities.identify({ authorization: token });
    expect(after).toEqual({ userId: c.users.member, tenantId: c.id });
    const socket = await identities.reverify(before!);
    expect(socket).toEqual({ userId: c.users.member, tenantId: c.id });
    expect(chargedKey(socket, undefined)).toBe(`user:${c.users.member}`);
    // The identity an earlier request was made with is not changed under it.
    expect(before?.verifiedTenantId).toBe(c.id);
  });
});

describe('over HTTP: budgets, logs and per-tenant usage follow the verified tenant only', () => {
  const { logger, lines } = capturedLogger();
  const api = useObservedApi({
    logger,
    budget: { maxPoints: 300, restoreRate: 0.01 },
    throttleDelayMs: 0,
    work: PRICED_BY_ESTIMATE,
  });
  const QUERY = '{ currentTenant { name } products(first: 5) { nodes { name } } }';
  const top = async () =>
    (
      (await fetch(`${api.observability.url}/admin/tenants/top?limit=1000&by=requests`, {
        headers: { authorization: `Bearer ${api.adminToken}` },
      }).then((r) => r.json())) as { tenants: Array<{ tenantId: string; requests: number }> }
    ).tenants;

  test("A's member claiming B, by token or by X-Tenant: charged to the member, logged and counted as no tenant", async () => {
    const d = await createTenant('identity-victim');
    const attacker = await createTenant('identity-attacker');
    const userId = attacker.users.member;
    const before = lines.length;
    const attacks: Array<Record<string, string>> = [
      { authorization: bearer(tokenFor({ userId, tenantId: d.id })) },
      { authorization: bearer(tokenFor({ userId, tenantId: attacker.id })), 'x-tenant': d.id },
      { authorization: bearer(tokenFor({ userId })), 'x-tenant': d.slug },
    ];
    let spent = 0;
    for (const headers of attacks) {
      const { status, body } = await api.post({ query: QUERY }, headers);
      expect(status).toBe(200);
      // RLS gave nothing of the victim's.
      expect(body.data).toEqual({ currentTenant: null, products: { nodes: [] } });
      spent += body.extensions.cost.actualQueryCost;
      // The member's own bucket paid.
      expect(body.extensions.cost.throttleStatus.currentlyAvailable).toBe(300 - spent);
    }
    // Neither the victim nor the attacker's own tenant appears in the per-tenant usage.
    const seen = (await top()).map((tenant) => tenant.tenantId);
    expect(seen).not.toContain(d.id);
    expect(seen).not.toContain(attacker.id);
    await sleep(50);
    const logged = lines
      .slice(before)
      .map((line) => JSON.parse(line))
      .filter((entry) => entry.userId === userId);
    expect(logged).toHaveLength(attacks.length);
    for (const entry of logged) expect(entry.tenantId).toBeUndefined();

    // The victim's bucket is whole: its own first request is all it has paid for.
    const own = await api.post(
      { query: QUERY },
      { authorization: bearer(tokenFor({ userId: d.users.viewer, tenantId: d.id })) },
    );
    expect(own.body.extensions.cost.throttleStatus.currentlyAvailable).toBe(
      300 - own.body.extensions.cost.actualQueryCost,
    );
    // Positive control: the same member acting in its own tenant is logged and counted as it.
    const mine = await api.post(
      { query: QUERY },
      { authorization: bearer(tokenFor({ userId, tenantId: attacker.id })) },
    );
    expect(mine.body.data.products.nodes).toHaveLength(2);
    await sleep(50);
    expect(
      lines
        .slice(before)
        .map((line) => JSON.parse(line))
        .filter((entry) => entry.userId === userId && entry.tenantId === attacker.id),
    ).toHaveLength(1);
    expect(await top()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ tenantId: attacker.id, requests: 1 }),
        expect.objectContaining({ tenantId: d.id, requests: 1 }),
      ]),
    );
  });
});

describe('over a websocket: each operation is charged as its identity is verified then', () => {
  const api = useApi({
    membershipCacheSeconds: 1,
    budget: { maxPoints: 300, restoreRate: 0.01 },
    throttleDelayMs: 0,
    work: PRICED_BY_ESTIMATE,
  });
  const QUERY = '{ currentTenant { name } }';

  test('a member removed while its socket stays open stops being charged to the tenant within the cache period', async () => {
    const c = await createTenant('identity-socket');
    const socket = connectSocket(api.url, {
      connectionParams: { Authorization: bearer(tokenFor({ userId: c.users.member, tenantId: c.id })) },
    });
    try {
      const cost = async () => {
        const operation = await socket.subscribe(QUERY);
        await operation.ended;
        return operation.results[0]!.extensions!.cost as { actualQueryCost: number };
      };
      const asMember = await cost();
      await asOwner((db) =>
        db.query('delete from app_public.memberships where tenant_id = $1 and user_id = $2', [
          c.id,
          c.users.member,
        ]),
      );
      await sleep(1_100);
      const removed = await cost();
      expect(removed).toMatchObject({
        throttleStatus: { currentlyAvailable: 300 - removed.actualQueryCost },
      });
      // The tenant paid for the member's first operation only.
      const own = await api.post(
        { query: QUERY },
        { authorization: bearer(tokenFor({ userId: c.users.owner, tenantId: c.id })) },
      );
      expect(own.body.extensions.cost.throttleStatus.currentlyAvailable).toBe(
        300 - asMember.actualQueryCost - own.body.extensions.cost.actualQueryCost,
      );
    } finally {
      await socket.dispose();
    }
  });
});
