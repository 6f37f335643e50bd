// Subscriptions over websockets, with a real graphql-ws client: each tenant receives
// only its own changes, in order, read through RLS; the handshake verifies the
// credential exactly like HTTP; lifetimes (expiry, removed membership) end delivery.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { PRICED_BY_ESTIMATE, tokenFor, useApi } from './support/api.ts';
import { asOwner, asUser } from './support/db.ts';
import { createTenant, type TenantFixture } from './support/fixtures.ts';
import { capturedLogger } from './support/log-capture.ts';
import { connectSocket, PRODUCT_CHANGED, type SocketClient } from './support/realtime.ts';

// Priced by the estimate: these tests are about delivery, and on a loaded machine each
// re-read's measured time (charged to the subscriber) once drained the tenant's bucket
// halfway through the 120 events of the bulk statement.
const api = useApi({ limits: { maxQueryCost: 200 }, work: PRICED_BY_ESTIMATE });
// Production's trusted documents: only the manifest's operations run, over any transport.
const trusted = useApi({
  trustedDocuments: {
    file: fileURLToPath(new URL('../trusted-documents.json', import.meta.url)),
    enforce: true,
  },
});
// Small limits and short periods, to watch them act.
const keyed = useApi({
  apiKeyCacheSeconds: 1,
  realtime: {
    limits: { perConnection: 2, perTenant: 3, maxBuffered: 100, readConcurrency: 2 },
    keepaliveMs: 500,
    idleMs: 1_500,
  },
});
let a: TenantFixture;
let b: TenantFixture;
const sockets: SocketClient[] = [];

function socketAs(
  claims: Parameters<typeof tokenFor>[0] | null,
  options: Parameters<typeof connectSocket>[1] = {},
) {
  const socket = connectSocket(
    api.url,
    claims ? { connectionParams: { Authorization: `Bearer ${tokenFor(claims)}` }, ...options } : options,
  );
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
  await asUser(
    { userId: tenant.users.member, tenantId: tenant.id },
    (db) => db.query('update app_public.products set name = $1 where id = $2', [name, productId]),
    { commit: true },
  );
}

describe('two tenants subscribed to products', () => {
  test('each receives only its own changes, in order, with fields read under RLS', async () => {
    const [inA, inB] = await Promise.all([
      socketAs({ userId: a.users.viewer, tenantId: a.id }).subscribe(PRODUCT_CHANGED),
      socketAs({ userId: b.users.viewer, tenantId: b.id }).subscribe(PRODUCT_CHANGED),
    ]);
    expect(inA.results[0]).toEqual({
      data: { productChanged: { event: 'SUBSCRIBED', productId: null, product: null } },
    });

    const created = await asUser(
      { userId: a.users.member, tenantId: a.id },
      async (db) => {
        const { rows } = await db.query(
          `insert into app_public.products (name, price) values ('Saw', 9) returning id`,
        );
        await db.query('update app_public.products set price = 10 where id = $1', [rows[0].id]);
        return rows[0].id as string;
      },
      { commit: true },
    );
    await renameProduct(b, b.productIds[0]!, 'B hammer');
    await renameProduct(a, a.productIds[0]!, 'A hammer');
    await asUser(
      { userId: a.users.admin, tenantId: a.id },
      (db) => db.query('delete from app_public.products where id = $1', [created]),
      { commit: true },
    );

    const received = (await inA.waitFor(5)).slice(1).map((r) => r.data.productChanged);
    // Insert and update in one transaction arrive as two events; the row is read after commit.
    expect(received.map((e) => e.event)).toEqual(['CREATED', 'UPDATED', 'UPDATED', 'DELETED']);
    expect(received[2].product).toMatchObject({ name: 'A hammer', tenantId: a.id });
    expect(received[3]).toMatchObject({ event: 'DELETED', product: null });
    expect(received[3].productId).toBe(received[0].productId);
    for (const event of received.filter((e) => e.product)) expect(event.product.tenantId).toBe(a.id);

    const inBReceived = (await inB.waitFor(2)).slice(1).map((r) => r.data.productChanged);
    expect(inBReceived).toEqual([
      {
        event: 'UPDATED',
        productId: expect.any(String),
        product: expect.objectContaining({ name: 'B hammer', tenantId: b.id }),
      },
    ]);
    // Nothing of A's ever reaches B: give stragglers a moment.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(inB.results).toHaveLength(2);
  });

  test('a bulk statement delivers one event per row, in order (notified 50 keys at a time)', async () => {
    const tenant = await createTenant('rt-bulk');
    const subscription = await socketAs({ userId: tenant.users.viewer, tenantId: tenant.id }).subscribe(
      'subscription { productChanged { event product { name } } }',
    );
    await asOwner((db) =>
      db.query(
        "insert into app_public.products (tenant_id, name, price) select $1, 'bulk ' || lpad(n::text, 3, '0'), 1 from generate_series(1, 120) n order by n",
        [tenant.id],
      ),
    );
    const events = (await subscription.waitFor(121)).slice(1).map((r) => r.data.productChanged);
    expect(events.every((e) => e.event === 'CREATED')).toBe(true);
    expect(events.map((e) => e.product.name)).toEqual(
      Array.from({ length: 120 }, (_, i) => `bulk ${String(i + 1).padStart(3, '0')}`),
    );
  });

  test('a token naming tenant A for a user of B subscribes to nothing', async () => {
    const subscription = await socketAs({ userId: b.users.owner, tenantId: a.id }).subscribe(PRODUCT_CHANGED);
    await subscription.ended;
    expect(subscription.results).toHaveLength(1);
    expect(subscription.results[0]!.data).toBeFalsy();
    expect(subscription.results[0]!.errors).toEqual([
      expect.objectContaining({ extensions: { code: 'TENANT_REQUIRED' } }),
    ]);
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
    const forged = tokenFor(
      { userId: a.users.owner, tenantId: a.id },
      { secret: 'not-the-secret-but-at-least-32-bytes-long' },
    );
    const socket = connectSocket(api.url, { connectionParams: { Authorization: `Bearer ${forged}` } });
    sockets.push(socket);
    expect(await socket.closed).toEqual({ code: 4401, reason: expect.stringMatching(/^UNAUTHENTICATED: /) });
  });

  test("the upgrade request's Authorization header works when connectionParams have none", async () => {
    const socket = connectSocket(api.url, {
      headers: { authorization: `Bearer ${tokenFor({ userId: a.users.viewer, tenantId: a.id })}` },
    });
    sockets.push(socket);
    const subscription = await socket.subscribe(PRODUCT_CHANGED);
    expect(subscription.results[0]?.data?.productChanged.event).toBe('SUBSCRIBED');
  });
});

describe('lifetimes', () => {
  test('a NOTIFY by hand on a tenant channel, of any shape, delivers nothing and breaks nothing', async () => {
    const tenant = await createTenant('rt-notify');
    const subscription = await socketAs({ userId: tenant.users.viewer, tenantId: tenant.id }).subscribe(
      PRODUCT_CHANGED,
    );
    for (const payload of [
      'not json',
      'null',
      '5',
      '{"table":"products","op":"insert"}',
      '{"table":"products","op":"insert","rows":[{"id":"x"}]}',
    ]) {
      await asOwner((db) =>
        db.query(`select pg_notify('tenantgraph:tenant:' || $1, $2)`, [tenant.id, payload]),
      );
    }
    await renameProduct(tenant, tenant.productIds[0]!, 'after the noise');
    const [, renamed] = await subscription.waitFor(2);
    expect(renamed!.data.productChanged).toMatchObject({
      event: 'UPDATED',
      product: { name: 'after the noise' },
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(subscription.results).toHaveLength(2);
  });

  test('a token expiring mid-subscription closes the socket with 4419', async () => {
    const short = connectSocket(api.url, {
      connectionParams: {
        Authorization: `Bearer ${tokenFor({ userId: a.users.viewer, tenantId: a.id }, { expiresIn: 2 })}`,
      },
    });
    sockets.push(short);
    const subscription = await short.subscribe(PRODUCT_CHANGED);
    expect(subscription.results[0]?.data?.productChanged.event).toBe('SUBSCRIBED');
    expect(await short.closed).toEqual({ code: 4419, reason: expect.stringMatching(/^TOKEN_EXPIRED: /) });
  });

  test('a removed membership ends the subscription before any later change is delivered', async () => {
    const tenant = await createTenant('rt-removed');
    const subscription = await socketAs({ userId: tenant.users.member, tenantId: tenant.id }).subscribe(
      PRODUCT_CHANGED,
    );
    await asOwner((db) =>
      db.query('delete from app_public.memberships where tenant_id = $1 and user_id = $2', [
        tenant.id,
        tenant.users.member,
      ]),
    );
    await renameProduct(tenant, tenant.productIds[0]!, 'after removal');
    const ended = (await subscription.ended) as Array<{ extensions?: { code?: string } }>;
    expect(ended[0]?.extensions?.code).toBe('MEMBERSHIP_ENDED');
    expect(subscription.results.map((r) => r.data?.productChanged?.event)).toEqual(['SUBSCRIBED']);
  });
});

describe('limits over the socket', () => {
  test('an operation over the socket that exceeds a limit is refused as over HTTP', async () => {
    const query = '{ products(first: 500) { nodes { id } } }';
    const token = tokenFor({ userId: a.users.viewer, tenantId: a.id });
    const overHttp = await api.post({ query }, { authorization: `Bearer ${token}` });
    const overSocket = await socketAs({ userId: a.users.viewer, tenantId: a.id }).subscribe(query);
    await overSocket.ended;
    expect(overHttp.body.errors[0].extensions.code).toBe('QUERY_TOO_COMPLEX');
    expect(overSocket.results).toEqual([
      {
        errors: [
          expect.objectContaining({
            message: overHttp.body.errors[0].message,
            extensions: { code: 'QUERY_TOO_COMPLEX' },
          }),
        ],
        extensions: { cost: expect.objectContaining({ requestedQueryCost: expect.any(Number) }) },
      },
    ]);
  });

  test('a document over the depth limit is refused with its code before it runs', async () => {
    const deep = `subscription { productChanged { product { category { products { nodes { category { products { nodes { category { products { nodes { id } } } } } } } } } } } }`;
    const subscription = await socketAs({ userId: a.users.viewer, tenantId: a.id }).subscribe(deep);
    const errors = (await subscription.ended) as Array<{ extensions?: { code?: string } }>;
    expect(errors[0]?.extensions?.code).toBe('QUERY_TOO_DEEP');
    expect(subscription.results).toEqual([]);
  });

  test('where only trusted documents run, a subscription by text is refused and one by id runs', async () => {
    const manifest = JSON.parse(
      await readFile(new URL('../trusted-documents.json', import.meta.url), 'utf8'),
    ) as Record<string, string>;
    const [id] = Object.entries(manifest).find(([, text]) => text.startsWith('subscription ProductChanged'))!;
    const params = {
      connectionParams: { Authorization: `Bearer ${tokenFor({ userId: a.users.viewer, tenantId: a.id })}` },
    };
    const byText = connectSocket(trusted.url, params);
    const byId = connectSocket(trusted.url, params);
    sockets.push(byText, byId);
    const refused = await byText.subscribe(PRODUCT_CHANGED);
    expect(((await refused.ended) as Array<{ extensions?: { code?: string } }>)[0]?.extensions?.code).toBe(
      'TRUSTED_DOCUMENT_REQUIRED',
    );
    expect(refused.results).toEqual([]);
    const running = await byId.subscribe('', undefined, { persistedQuery: { version: 1, sha256Hash: id } });
    expect(running.results[0]?.data?.productChanged.event).toBe('SUBSCRIBED');
  });

  test('where only trusted documents run, a client that never ships query text subscribes by id alone (Apollo or Relay style)', async () => {
    const manifest = JSON.parse(
      await readFile(new URL('../trusted-documents.json', import.meta.url), 'utf8'),
    ) as Record<string, string>;
    const [id] = Object.entries(manifest).find(([, text]) => text.startsWith('subscription ProductChanged'))!;
    // The protocol by hand: graphql-ws's own client always sends a query string.
    const socket = new WebSocket(`${trusted.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    const messages: Array<{ type: string; id?: string; payload?: any }> = [];
    const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    socket.on('message', (data) => messages.push(JSON.parse(String(data))));
    await new Promise((resolve) => socket.once('open', resolve));
    try {
      const next = async (type: string, operation?: string) => {
        await expect
          .poll(
            () => messages.find((m) => m.type === type && (operation === undefined || m.id === operation)),
            {
              timeout: 10_000,
            },
          )
          .toBeDefined();
        return messages.find((m) => m.type === type && (operation === undefined || m.id === operation))!;
      };
      const token = tokenFor({ userId: a.users.viewer, tenantId: a.id });
      socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${token}` } }));
      await next('connection_ack');
      socket.send(
        JSON.stringify({
          type: 'subscribe',
          id: 'apollo',
          payload: { extensions: { persistedQuery: { version: 1, sha256Hash: id } } },
        }),
      );
      socket.send(JSON.stringify({ type: 'subscribe', id: 'relay', payload: { documentId: id } }));
      socket.send(
        JSON.stringify({ type: 'subscribe', id: 'unknown', payload: { documentId: '0'.repeat(64) } }),
      );
      expect((await next('next', 'apollo')).payload.data.productChanged.event).toBe('SUBSCRIBED');
      expect((await next('next', 'relay')).payload.data.productChanged.event).toBe('SUBSCRIBED');
      expect((await next('error', 'unknown')).payload[0].extensions.code).toBe('TRUSTED_DOCUMENT_NOT_FOUND');
      // The subscription delivers, and the socket is still open.
      await renameProduct(a, a.productIds[1]!, `By id ${Date.now()}`);
      await expect
        .poll(() =>
          messages.filter((m) => m.type === 'next' && m.payload.data?.productChanged.event === 'UPDATED'),
        )
        .toHaveLength(2);
      expect(socket.readyState).toBe(WebSocket.OPEN);
    } finally {
      socket.close(1000);
      expect(await closed).toBe(1000);
    }
  });

  test('over HTTP, a subscription is refused, not held open', async () => {
    const { body } = await api.post(
      { query: PRODUCT_CHANGED },
      { authorization: `Bearer ${tokenFor({ userId: a.users.viewer, tenantId: a.id })}` },
    );
    expect(body.errors?.length).toBeGreaterThan(0);
    expect(body.data ?? null).toBeNull();
  });
});

describe('other subscriptions', () => {
  test("categoryChanged delivers the tenant's category changes only", async () => {
    const subscription = await socketAs({ userId: a.users.viewer, tenantId: a.id }).subscribe(
      'subscription { categoryChanged { event categoryId category { name tenantId } } }',
    );
    await asUser(
      { userId: b.users.member, tenantId: b.id },
      (db) => db.query(`insert into app_public.categories (name) values ('B only')`),
      { commit: true },
    );
    await asUser(
      { userId: a.users.member, tenantId: a.id },
      (db) => db.query(`insert into app_public.categories (name) values ('Garden')`),
      { commit: true },
    );
    const [, created] = await subscription.waitFor(2);
    expect(created!.data.categoryChanged).toEqual({
      event: 'CREATED',
      categoryId: expect.any(String),
      category: { name: 'Garden', tenantId: a.id },
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(subscription.results).toHaveLength(2);
  });

  test("myMembershipChanged delivers the user's own memberships, in any tenant, and nobody else's", async () => {
    const tenant = await createTenant('rt-memberships');
    const subscription = await socketAs({ userId: tenant.users.viewer }).subscribe(
      'subscription { myMembershipChanged { event membershipId membership { role tenantId userId } } }',
    );
    await asOwner(async (db) => {
      await db.query(
        `update app_public.memberships set role = 'member' where tenant_id = $1 and user_id = $2`,
        [tenant.id, tenant.users.admin],
      );
      await db.query(
        `update app_public.memberships set role = 'member' where tenant_id = $1 and user_id = $2`,
        [tenant.id, tenant.users.viewer],
      );
      await db.query(
        `insert into app_public.memberships (tenant_id, user_id, role) values ($1, $2, 'viewer')`,
        [a.id, tenant.users.viewer],
      );
    });
    const [, promoted, joined] = await subscription.waitFor(3);
    expect(promoted!.data.myMembershipChanged).toEqual({
      event: 'UPDATED',
      membershipId: expect.any(String),
      membership: { role: 'member', tenantId: tenant.id, userId: tenant.users.viewer },
    });
    expect(joined!.data.myMembershipChanged.membership).toEqual({
      role: 'viewer',
      tenantId: a.id,
      userId: tenant.users.viewer,
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(subscription.results).toHaveLength(3);
  });

  test('an API key subscribes to its tenant; once revoked, its socket is closed within the key cache period', async () => {
    const owner = { authorization: `Bearer ${tokenFor({ userId: b.users.owner, tenantId: b.id })}` };
    const { body } = await api.post(
      {
        query:
          'mutation { createApiKey(input: { name: "live", role: viewer }) { apiKey { apiKeyId secret } } }',
      },
      owner,
    );
    const { apiKeyId, secret } = body.data.createApiKey.apiKey;
    const socket = connectSocket(keyed.url, { connectionParams: { authorization: `Bearer ${secret}` } });
    sockets.push(socket);
    const subscription = await socket.subscribe(PRODUCT_CHANGED);
    await renameProduct(b, b.productIds[1]!, 'Seen by the key');
    const [, seen] = await subscription.waitFor(2);
    expect(seen!.data.productChanged.product).toMatchObject({ name: 'Seen by the key', tenantId: b.id });
    await api.post(
      {
        query: 'mutation ($id: UUID!) { revokeApiKey(input: { apiKeyId: $id }) { clientMutationId } }',
        variables: { id: apiKeyId },
      },
      owner,
    );
    expect(await socket.closed).toEqual({ code: 4419, reason: expect.stringMatching(/^INVALID_API_KEY: /) });
  });
});

describe('open subscriptions', () => {
  test('are limited per connection and per tenant, and counted for metrics', async () => {
    const tenant = await createTenant('rt-limits');
    const claims = { userId: tenant.users.viewer, tenantId: tenant.id };
    const first = connectSocket(keyed.url, {
      connectionParams: { authorization: `Bearer ${tokenFor(claims)}` },
    });
    const second = connectSocket(keyed.url, {
      connectionParams: { authorization: `Bearer ${tokenFor(claims)}` },
    });
    sockets.push(first, second);
    const open = [await first.subscribe(PRODUCT_CHANGED), await first.subscribe(PRODUCT_CHANGED)];
    const overConnection = await first.subscribe(PRODUCT_CHANGED);
    await overConnection.ended;
    expect(overConnection.results[0]!.errors![0]!.extensions!.code).toBe('SUBSCRIPTION_LIMIT');
    expect(overConnection.results[0]!.errors![0]!.message).toMatch(/MAX_SUBSCRIPTIONS_PER_CONNECTION/);
    open.push(await second.subscribe(PRODUCT_CHANGED));
    const overTenant = await second.subscribe(PRODUCT_CHANGED);
    await overTenant.ended;
    expect(overTenant.results[0]!.errors![0]!.message).toMatch(/MAX_SUBSCRIPTIONS_PER_TENANT/);
    expect(keyed.server.subscriptions.perTenant.get(tenant.id)).toBe(3);

    open[0]!.unsubscribe();
    await expect.poll(() => keyed.server.subscriptions.perTenant.get(tenant.id)).toBe(2);
    const again = await second.subscribe(PRODUCT_CHANGED);
    expect(again.results[0]!.data.productChanged.event).toBe('SUBSCRIBED');
    await first.dispose();
    await second.dispose();
    await expect.poll(() => keyed.server.subscriptions.perTenant.get(tenant.id)).toBeUndefined();
  });

  test('a socket without subscriptions is closed when idle', async () => {
    const socket = connectSocket(keyed.url, {
      connectionParams: { authorization: `Bearer ${tokenFor({ userId: a.users.viewer, tenantId: a.id })}` },
    });
    sockets.push(socket);
    expect(await socket.closed).toEqual({ code: 1000, reason: 'idle' });
  });
});

describe('clients that hang up', () => {
  const { logger, lines } = capturedLogger();
  const logged = useApi({ logger });

  /** A bare graphql-transport-ws client: acknowledged, subscribes, and closes `delayMs` later. */
  async function subscribeAndHangUp(token: string, delayMs: number): Promise<void> {
    const socket = new WebSocket(`${logged.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    const closed = new Promise((resolve) => socket.once('close', resolve));
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${token}` } }));
    await new Promise((resolve) => socket.once('message', resolve));
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: PRODUCT_CHANGED } }));
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    socket.close();
    await closed;
  }

  test("closing the socket right after subscribe is the client's business: no error in the server's log", async () => {
    const token = tokenFor({ userId: a.users.viewer, tenantId: a.id });
    // The server's answer races the close: on an idle machine 0-30 ms later hit the socket
    // while it was closing about one time in ten (6 of 60 errors before this was fixed).
    for (let i = 0; i < 60; i++) await subscribeAndHangUp(token, i % 30);
    // The server has finished with those sockets when none of their subscriptions is open.
    await expect.poll(() => logged.server.subscriptions.perTenant.get(a.id)).toBeUndefined();
    const errors = lines.map((line) => JSON.parse(line)).filter((entry) => entry.level >= 50);
    expect(errors).toEqual([]);
  });
});
