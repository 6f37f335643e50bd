// Each GraphQL request's transaction is opened by src/request/request-adaptor.ts, which
// sends `begin` and the request's settings together (pipelined) and the request's SQL only
// after both succeeded. Attacked here on a pool of one connection, so that every request
// reuses the connection the one before it had: settings never outlive their request, and
// a request whose settings fail runs none of its SQL and leaves the connection clean.
import { describe, expect, inject, test } from 'vitest';
import { tokenFor, useApi } from './support/api.ts';
import { createTenant, snapshot } from './support/fixtures.ts';

const database = inject('database');

const CREATE = `mutation ($name: String!) { createProduct(input: { name: $name, price: "1.00" }) { product { name } } }`;
const LIST = '{ currentTenant { rowId } products { totalCount nodes { tenantId } } }';

describe('one pooled connection, used by tenant after tenant', () => {
  const api = useApi({ poolSize: 1 });

  test("B's request after A's on the same connection sees only B's rows, and anonymous after both sees none", async () => {
    const [a, b] = await Promise.all([createTenant('first'), createTenant('second')]);
    const asA = { authorization: `Bearer ${tokenFor({ userId: a.users.owner, tenantId: a.id })}` };
    const asB = { authorization: `Bearer ${tokenFor({ userId: b.users.owner, tenantId: b.id })}` };
    for (let round = 0; round < 3; round++) {
      const created = await api.post({ query: CREATE, variables: { name: `A's ${round}` } }, asA);
      expect(created.body.errors).toBeUndefined();
      const listed = await api.post({ query: LIST }, asB);
      expect(listed.body.data.currentTenant.rowId).toBe(b.id);
      expect(listed.body.data.products.totalCount).toBe(2);
      expect(new Set(listed.body.data.products.nodes.map((n: { tenantId: string }) => n.tenantId))).toEqual(
        new Set([b.id]),
      );
      // Refused as the anonymous role: had B's settings stayed on the connection, B's tenant.
      const anonymous = await api.post({ query: '{ currentTenant { rowId } }' });
      expect(anonymous.body.data.currentTenant).toBeNull();
      expect(anonymous.body.errors[0].extensions.code).toBe('FORBIDDEN');
    }
    expect((await snapshot(a.id)).products).toHaveLength(5);
  });
});

describe('settings PostgreSQL refuses (a role that does not exist)', () => {
  const api = useApi({
    poolSize: 1,
    roles: { visitor: 'tenantgraph_no_such_role', anonymous: database.anonymous },
  });

  test('the request fails cleanly, none of its SQL runs, and the connection serves the next request', async () => {
    const a = await createTenant('refused');
    const before = await snapshot(a.id);
    const asA = { authorization: `Bearer ${tokenFor({ userId: a.users.owner, tenantId: a.id })}` };
    const created = await api.post({ query: CREATE, variables: { name: 'never written' } }, asA);
    expect(created.body.errors[0].message).toMatch(/role "tenantgraph_no_such_role" does not exist/);
    expect(JSON.stringify(created.body)).not.toMatch(/at .*\.(js|ts):\d+/);
    expect(created.body.data?.createProduct ?? null).toBeNull();
    expect(await snapshot(a.id)).toEqual(before);
    // The one connection was rolled back, not left in a failed transaction.
    const anonymous = await api.post({ query: '{ currentTenant { rowId } }' });
    // Answered as the anonymous role (refused as such), not 'current transaction is aborted'.
    expect(anonymous.body.errors.map((e: { extensions: { code: string } }) => e.extensions.code)).toEqual([
      'FORBIDDEN',
    ]);
  });
});
