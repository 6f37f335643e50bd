// `npm run db:explain-access`: answers "why can't I see this row?" as the identity itself,
// with the API's own settings, naming the policy and the condition that refused it.
import { describe, expect, inject, test } from 'vitest';
import { explainAccess } from '../src/dba/explain-access.ts';
import { createTenant } from './support/fixtures.ts';

const database = inject('database');
const connections = {
  ownerUrl: database.ownerUrl,
  authenticatorUrl: database.authenticatorUrl,
  roles: { visitor: database.visitor, anonymous: database.anonymous },
};

describe('explain-access', () => {
  test("another tenant's row: not visible, and the tenant comparison is what refuses it", async () => {
    const [a, b] = await Promise.all([createTenant('explain-a'), createTenant('explain-b')]);
    const lines = await explainAccess(
      { userId: b.users.owner, tenant: b.slug, table: 'products', row: a.productIds[0] },
      connections,
    );
    const text = lines.join('\n');
    expect(text).toContain(`app.current_tenant_id = ${b.id}`);
    expect(text).toContain(`current_tenant_role() = owner`);
    expect(text).toContain(
      `(tenant ${a.id}, not the tenant this request acts in): NOT visible to this identity.`,
    );
    expect(text).toContain('select: refused: select_own_tenant fails');
    expect(text).toMatch(
      /delete: refused: delete_by_admin fails because tenant_id = \( SELECT app_public.current_tenant_id\(\) AS current_tenant_id\) fails$/m,
    );
  });

  test("a viewer's own tenant's row: visible, and the role check is what refuses an update", async () => {
    const a = await createTenant('explain-viewer');
    const lines = await explainAccess(
      { userId: a.users.viewer, tenant: a.id, table: 'app_public.products', row: `id=${a.productIds[1]}` },
      connections,
    );
    const text = lines.join('\n');
    expect(text).toContain('visible to this identity.');
    expect(text).toContain('select: allowed: select_own_tenant passes');
    expect(text).toMatch(
      /update: refused: update_by_member fails because \( SELECT app_public.current_tenant_role\(\) AS current_tenant_role\) = ANY .* fails/,
    );
  });

  test("a slug that is not one of the user's tenants acts in no tenant, and anonymous has no grant", async () => {
    const [a, b] = await Promise.all([createTenant('explain-slug-a'), createTenant('explain-slug-b')]);
    const asStranger = (
      await explainAccess({ userId: b.users.viewer, tenant: a.slug, table: 'products' }, connections)
    ).join('\n');
    expect(asStranger).toContain(`X-Tenant ${a.slug}: not a slug of one of this user's tenants`);
    expect(asStranger).toMatch(/^0 of the table's \d+ rows are visible/m);
    const anonymous = (await explainAccess({ table: 'products', row: a.productIds[0] }, connections)).join(
      '\n',
    );
    expect(anonymous).toContain(`role = ${database.anonymous}`);
    expect(anonymous).toContain('select: no grant, so refused before any policy.');
  });
});
