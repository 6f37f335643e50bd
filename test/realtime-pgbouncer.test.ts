// Subscriptions with the API's main pool behind PgBouncer in transaction mode: LISTEN
// runs on its own direct connection (DATABASE_LISTEN_URL), everything else (the
// subscriber's tenant check, the re-read of each changed row as the subscriber) goes
// through the pooler, over a single shared server connection.
import { createRequire } from 'node:module';
import { describe, expect, inject, test } from 'vitest';
import { asUser } from './support/db.ts';
import { createTenant } from './support/fixtures.ts';
import { pgBouncerBinary, usePgBouncer } from './support/pgbouncer.ts';
import { connectSocket, PRODUCT_CHANGED } from './support/realtime.ts';
import { missing } from './support/system-tools.ts';

// As in pgbouncer.test.ts: no named prepared statements through a transaction pooler.
if (Object.keys(createRequire(import.meta.url).cache).some((file) => file.includes('@dataplan/pg'))) {
  throw new Error('@dataplan/pg was imported before DATAPLAN_PG_PREPARED_STATEMENT_CACHE_SIZE could be set');
}
process.env.DATAPLAN_PG_PREPARED_STATEMENT_CACHE_SIZE = '0';
const { tokenFor, useApi } = await import('./support/api.ts');

const database = inject('database');
const skip = missing(
  'pgbouncer',
  Boolean(await pgBouncerBinary()),
  'Debian: apt-get install pgbouncer, or .ci/install-pgbouncer',
);
const bouncer = skip ? undefined : await usePgBouncer({ poolSize: 1, logins: [database.authenticatorUrl] });

describe.skipIf(skip)(
  'subscriptions with the main pool behind PgBouncer (transaction mode, one server connection)',
  () => {
    const api = useApi({
      authenticatorUrl: bouncer?.through(database.authenticatorUrl) ?? '',
      poolSize: 4,
      realtime: {
        listenUrl: database.authenticatorUrl,
        limits: { perConnection: 20, perTenant: 100, maxBuffered: 100, readConcurrency: 2 },
        keepaliveMs: 15_000,
        idleMs: 60_000,
      },
    });

    test('two tenants each receive only their own changes, read as themselves through the pooler', async () => {
      const [a, b] = await Promise.all([createTenant('bouncer-a'), createTenant('bouncer-b')]);
      const sockets = [a, b].map((tenant) =>
        connectSocket(api.url, {
          connectionParams: {
            authorization: `Bearer ${tokenFor({ userId: tenant.users.viewer, tenantId: tenant.id })}`,
          },
        }),
      );
      try {
        const [inA, inB] = await Promise.all(sockets.map((socket) => socket.subscribe(PRODUCT_CHANGED)));
        for (const [tenant, name] of [
          [a, 'A1'],
          [b, 'B1'],
          [a, 'A2'],
          [b, 'B2'],
        ] as const) {
          await asUser(
            { userId: tenant.users.member, tenantId: tenant.id },
            (db) =>
              db.query('update app_public.products set name = $1 where id = $2', [
                name,
                tenant.productIds[0],
              ]),
            { commit: true },
          );
        }
        const names = async (subscription: typeof inA, tenantId: string) =>
          (await subscription!.waitFor(3)).slice(1).map((result) => {
            expect(result.data.productChanged.product.tenantId).toBe(tenantId);
            return result.data.productChanged.product.name;
          });
        // The row is read when the event is rendered, so its name may already be a later
        // one: what counts is one event per change, each the subscriber's own tenant's row.
        expect(await names(inA, a.id)).toHaveLength(2);
        expect(await names(inB, b.id)).toHaveLength(2);
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect([inA!.results.length, inB!.results.length]).toEqual([3, 3]);
      } finally {
        await Promise.all(sockets.map((socket) => socket.dispose()));
      }
    });
  },
);
