// Subscriptions over websockets, with a real graphql-ws client: each tenant receives
// only its own changes, in order, read through RLS; the handshake verifies the
// credential exactly like HTTP; lifetimes (expiry, removed membership) end delivery.
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { tokenFor, useApi } from './support/api.ts';
import { asOwner, asUser } from './support/db.ts';
import { createTenant, type TenantFixture } from './support/fixtures.ts';
import { connectSocket, PRODUCT_CHANGED, type SocketClient } from './support/realtime.ts';

const api = useApi({ limits: { maxQueryCost: 200 } });
let a: TenantFixture;
let b: TenantFixture;
const sockets: SocketClient[] = [];

function socketAs(claims: Parameters<typeof tokenFor>[0] | null, options: Parameters<typeof connectSocket>[1] = {}) {
  const socket = connectSocket(api.url, claims ? { connectionParams: { Authorization: `Bearer ${tokenFor(claims)}` }, ...options } : options);
  sockets.push(socket);
  return socket;
}

beforeAll(async () => {
  [a, b] = await Promise.all([createTenant('rt-a'), createTenant('rt-b')]);
});

afterEach(async () => {
  await Promise.all(sockets.splice(0).map((socket) => socket.dispose()));
});

async function renameProduct(tenant: TenantFixture, productId: string, name: string) {
  await asUser({ userId: tenant.users.member, tenantId: tenant.id }, (db) => db.query('update app_public.products set name = $1 where id = $2', [name, productId]), { commit: true });
}

describe('two tenants subscribed to products', () => {
  test('each receives only its own changes, in order, with fields read under RLS', async () => {
    const [inA, inB] = await Promise.all([
      socketAs({ userId: a.users.viewer, tenantId: a.id }).subscribe(PRODUCT_CHANGED),
      socketAs({ userId: b.users.viewer, tenantId: b.id }).subscribe(PRODUCT_CHANGED),
    ]);
    expect(inA.results[0]).toEqual({ data: { productChanged: { event: 'SUBSCRIBED', productId: null, product: null } } });

    const created = await asUser({ userId: a.users.member, tenantId: a.id }, async (db) => {
      const { rows } = await db.query(`insert into app_public.products (name, price) values ('Saw', 9) returning id`);
      await db.query('update app_public.products set price = 10 where id = $1', [rows[0].id]);
      return rows[0].id as string;
    }, { commit: true });
    await renameProduct(b, b.productIds[0]!, 'B hammer');
    await renameProduct(a, a.productIds[0]!, 'A hammer');
    await asUser({ userId: a.users.admin, tenantId: a.id }, (db) => db.query('delete from app_public.products where id = $1', [created]), { commit: true });

    const received = (await inA.waitFor(5)).slice(1).map((r) => r.data.productChanged);
    // Insert and update in one transaction arrive as two events; the row is read after commit.
    expect(received.map((e) => e.event)).toEqual(['CREATED', 'UPDATED', 'UPDATED', 'DELETED']);
    expect(received[2].product).toMatchObject({ name: 'A hammer', tenantId: a.id });
    expect(received[3]).toMatchObject({ event: 'DELETED', product: null });
    expect(received[3].productId).toBe(received[0].productId);
    for (const event of received.filter((e) => e.product)) expect(event.product.tenantId).toBe(a.id);

    const inBReceived = (await inB.waitFor(2)).slice(1).map((r) => r.data.productChanged);
    expect(inBReceived).toEqual([{ event: 'UPDATED', productId: expect.any(String), product: expect.objectContaining({ name: 'B hammer', tenantId: b.id }) }]);
    // Nothing of A's ever reaches B: give stragglers a moment.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(inB.results).toHaveLength(2);
  });

  test('a token naming tenant A for a user of B subscribes to nothing', async () => {
    const subscription = await socketAs({ userId: b.users.owner, tenantId: a.id }).subscribe(PRODUCT_CHANGED);
    await subscription.ended;
    expect(subscription.results).toHaveLength(1);
    expect(subscription.results[0]!.data).toBeFalsy();
    expect(subscription.results[0]!.errors).toEqual([expect.objectContaining({ extensions: { code: 'TENANT_REQUIRED' } })]);
  });
});

describe('the handshake', () => {
  test('a missing token is refused at connect with 4401', async () => {
    const socket = socketAs(null);
    expect(await socket.closed).toEqual({ code: 4401, reason: expect.stringMatching(/^UNAUTHENTICATED: /) });
  });

  test('an expired token is refused at connect with 4401', async () => {
    const expired = tokenFor({ userId: a.users.owner, tenantId: a.id }, { expiresIn: -60 });
    const socket = connectSocket(api.url, { connectionParams: { Authorization: `Bearer ${expired}` } });
    sockets.push(socket);
    expect(await socket.closed).toEqual({ code: 4401, reason: expect.stringMatching(/^TOKEN_EXPIRED: /) });
  });

  test('a forged token is refused at connect with 4401', async () => {
    const forged = tokenFor({ userId: a.users.owner, tenantId: a.id }, {}, 'not-the-secret-but-at-least-32-bytes-long');
    const socket = connectSocket(api.url, { connectionParams: { Authorization: `Bearer ${forged}` } });
    sockets.push(socket);
    expect(await socket.closed).toEqual({ code: 4401, reason: expect.stringMatching(/^UNAUTHENTICATED: /) });
  });

  test("the upgrade request's Authorization header works when connectionParams have none", async () => {
    const socket = connectSocket(api.url, { headers: { authorization: `Bearer ${tokenFor({ userId: a.users.viewer, tenantId: a.id })}` } });
    sockets.push(socket);
    const subscription = await socket.subscribe(PRODUCT_CHANGED);
    expect(subscription.results[0]?.data?.productChanged.event).toBe('SUBSCRIBED');
  });
});

describe('lifetimes', () => {
  test('a token expiring mid-subscription closes the socket with 4419', async () => {
    const short = connectSocket(api.url, { connectionParams: { Authorization: `Bearer ${tokenFor({ userId: a.users.viewer, tenantId: a.id }, { expiresIn: 2 })}` } });
    sockets.push(short);
    const subscription = await short.subscribe(PRODUCT_CHANGED);
    expect(subscription.results[0]?.data?.productChanged.event).toBe('SUBSCRIBED');
    expect(await short.closed).toEqual({ code: 4419, reason: expect.stringMatching(/^TOKEN_EXPIRED: /) });
  });

  test('a removed membership ends the subscription before any later change is delivered', async () => {
    const tenant = await createTenant('rt-removed');
    const subscription = await socketAs({ userId: tenant.users.member, tenantId: tenant.id }).subscribe(PRODUCT_CHANGED);
    await asOwner((db) => db.query('delete from app_public.memberships where tenant_id = $1 and user_id = $2', [tenant.id, tenant.users.member]));
    await renameProduct(tenant, tenant.productIds[0]!, 'after removal');
    const ended = (await subscription.ended) as Array<{ extensions?: { code?: string } }>;
    expect(ended[0]?.extensions?.code).toBe('MEMBERSHIP_ENDED');
    expect(subscription.results.map((r) => r.data?.productChanged?.event)).toEqual(['SUBSCRIBED']);
  });
});
