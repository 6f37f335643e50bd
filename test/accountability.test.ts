// Accountability: the audit trail records who changed what, by person or key, joined to
// the request log by request id; nobody can read another tenant's trail or touch their
// own; API keys act in their tenant with their role, cannot escalate, stop working when
// revoked or expired, and never reach a log.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, test } from 'vitest';
import { deleteOldAuditEvents } from '../src/jobs/delete-old-audit-events.ts';
import { tokenFor, useApi } from './support/api.ts';
import { asAnonymous, asOwner, asUser, pgError, withAuthenticator } from './support/db.ts';
import { capturedLogger } from './support/log-capture.ts';
import { createTenant, snapshot, type TenantFixture } from './support/fixtures.ts';

const { logger, lines } = capturedLogger();
const api = useApi({ apiKeyCacheSeconds: 1, logger });

let a: TenantFixture;
let b: TenantFixture;
beforeAll(async () => {
  [a, b] = await Promise.all([createTenant('audit-a'), createTenant('audit-b')]);
});
const as = (
  tenant: TenantFixture,
  role: keyof TenantFixture['users'],
  extra: Record<string, string> = {},
) => ({
  authorization: `Bearer ${tokenFor({ userId: tenant.users[role], tenantId: tenant.id })}`,
  ...extra,
});
const withKey = (key: string, extra: Record<string, string> = {}) => ({
  authorization: `Bearer ${key}`,
  ...extra,
});

async function createKey(
  tenant: TenantFixture,
  role: string,
  by: keyof TenantFixture['users'] = 'owner',
  expiresAt?: string,
) {
  const { body } = await api.post(
    {
      query:
        'mutation ($name: String!, $role: MembershipRole, $expiresAt: Datetime) { createApiKey(input: { name: $name, role: $role, expiresAt: $expiresAt }) { apiKey { apiKeyId prefix role secret } } }',
      variables: { name: `${role} key`, role, expiresAt },
    },
    as(tenant, by),
  );
  return body;
}

const eventsOf = (tenantId: string) =>
  asOwner(
    async (db) =>
      (await db.query('select * from app_public.audit_events where tenant_id = $1 order by id', [tenantId]))
        .rows,
  );

describe('API keys', () => {
  test('an owner creates a key: the secret is shown once, with a recognisable prefix, and never listed', async () => {
    const body = await createKey(a, 'member');
    const key = body.data.createApiKey.apiKey;
    expect(key.secret).toMatch(/^tgk_[0-9a-f]{64}$/);
    expect(key.prefix).toBe(key.secret.slice(0, 12));
    const listed = await api.post(
      { query: '{ apiKeys { nodes { name role prefix lastUsedAt } } }' },
      as(a, 'admin'),
    );
    expect(JSON.stringify(listed.body)).not.toContain(key.secret.slice(12));
    const stored = await asOwner(
      async (db) =>
        (await db.query('select * from app_private.api_key_secrets where api_key_id = $1', [key.apiKeyId]))
          .rows,
    );
    expect(stored[0].secret_hash.toString('hex')).not.toContain(key.secret.slice(4));
  });

  test('a key acts in its own tenant with its role; X-Tenant does not move it', async () => {
    const member = (await createKey(a, 'member')).data.createApiKey.apiKey.secret;
    const viewer = (await createKey(a, 'viewer')).data.createApiKey.apiKey.secret;
    const created = await api.post(
      { query: 'mutation { createProduct(input: { name: "By key", price: "3" }) { product { tenantId } } }' },
      withKey(member),
    );
    expect(created.body.data.createProduct.product.tenantId).toBe(a.id);
    const refused = await api.post(
      {
        query:
          'mutation { createProduct(input: { name: "By viewer key", price: "3" }) { product { tenantId } } }',
      },
      withKey(viewer),
    );
    expect(refused.body.errors[0].extensions.code).toBe('FORBIDDEN');
    const elsewhere = await api.post(
      { query: '{ currentTenant { slug } products { totalCount } }' },
      withKey(member, { 'x-tenant': b.slug }),
    );
    expect(elsewhere.body.data.currentTenant.slug).toBe(a.slug);
    // Charged to the tenant like any member.
    expect(elsewhere.body.extensions.cost.throttleStatus.maximumAvailable).toBe(10_000);
    const used = await asOwner(
      async (db) =>
        (
          await db.query('select last_used_at from app_public.api_keys where prefix = $1', [
            member.slice(0, 12),
          ])
        ).rows[0],
    );
    expect(used.last_used_at).not.toBeNull();
  });

  test('nobody creates a key above their role, nor an owner key; members and keys create none', async () => {
    expect((await createKey(a, 'owner')).errors[0].extensions.code).toBe('ROLE_NOT_ALLOWED');
    expect((await createKey(a, 'member', 'member')).errors[0].extensions.code).toBe('FORBIDDEN');
    expect((await createKey(a, 'admin', 'admin')).data.createApiKey.apiKey.role).toBe('admin');
    const admin = (await createKey(a, 'admin')).data.createApiKey.apiKey.secret;
    const byKey = await api.post(
      { query: 'mutation { createApiKey(input: { name: "spawn", role: viewer }) { apiKey { secret } } }' },
      withKey(admin),
    );
    expect(byKey.body.errors[0].extensions.code).toBe('FORBIDDEN');
  });

  test("another tenant's key reads nothing of ours, and cannot revoke ours", async () => {
    const ours = (await createKey(a, 'viewer')).data.createApiKey.apiKey;
    const theirs = (await createKey(b, 'admin')).data.createApiKey.apiKey.secret;
    const read = await api.post(
      { query: '{ products { totalCount } apiKeys { totalCount } }' },
      withKey(theirs),
    );
    expect(read.body.data.products.totalCount).toBe(2);
    expect(read.body.data.apiKeys.totalCount).toBe(1);
    const revoke = await api.post(
      {
        query: 'mutation ($id: UUID!) { revokeApiKey(input: { apiKeyId: $id }) { apiKey { revokedAt } } }',
        variables: { id: ours.apiKeyId },
      },
      as(b, 'owner'),
    );
    expect(revoke.body.errors[0].extensions.code).toBe('NOT_FOUND');
  });

  test('revoked, expired and unknown keys: the same 401 INVALID_API_KEY; a revocation counts within API_KEY_CACHE_SECONDS', async () => {
    const revoked = (await createKey(a, 'viewer')).data.createApiKey.apiKey;
    expect((await api.post({ query: '{ currentTenant { slug } }' }, withKey(revoked.secret))).status).toBe(
      200,
    );
    await api.post(
      {
        query: 'mutation ($id: UUID!) { revokeApiKey(input: { apiKeyId: $id }) { apiKey { revokedAt } } }',
        variables: { id: revoked.apiKeyId },
      },
      as(a, 'owner'),
    );
    // Even while its verdict is still cached, the database refuses a revoked key's data.
    const cachedMeanwhile = await api.post({ query: '{ products { totalCount } }' }, withKey(revoked.secret));
    expect(cachedMeanwhile.body.data?.products?.totalCount ?? 0).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 1_100));

    const expired = (await createKey(a, 'viewer', 'owner', new Date(Date.now() + 60_000).toISOString())).data
      .createApiKey.apiKey;
    await asOwner((db) =>
      db.query("update app_public.api_keys set expires_at = now() - interval '1 second' where id = $1", [
        expired.apiKeyId,
      ]),
    );
    const unknown = `tgk_${'0'.repeat(64)}`;
    const answers = [];
    for (const key of [revoked.secret, expired.secret, unknown]) {
      const { status, body, headers } = await api.post({ query: '{ currentTenant { slug } }' }, withKey(key));
      answers.push({ status, body, authenticate: headers.get('www-authenticate') });
    }
    expect(answers[0]).toEqual({
      status: 401,
      body: {
        errors: [
          {
            message: 'This API key is unknown, revoked or expired.',
            extensions: { code: 'INVALID_API_KEY' },
          },
        ],
      },
      authenticate: expect.any(String),
    });
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
  });

  // Keys belong to the tenant but were seen by one person: they end when that person's
  // place in the tenant does (docs/people.md, "Accountability").
  describe('a key ends with its creator: removed, leaving, demoted, or deleted', () => {
    const membershipOf = async (t: TenantFixture, userId: string) => {
      const { body } = await api.post({ query: '{ memberships { nodes { id userId } } }' }, as(t, 'owner'));
      return body.data.memberships.nodes.find((m: { userId: string }) => m.userId === userId).id as string;
    };
    const keysAsOwner = async (t: TenantFixture) =>
      (
        await api.post(
          { query: '{ apiKeys { nodes { apiKeyId: rowId createdBy role revokedAt } } }' },
          as(t, 'owner'),
        )
      ).body.data.apiKeys.nodes as Array<{
        apiKeyId: string;
        createdBy: string | null;
        role: string;
        revokedAt: string | null;
      }>;
    const createProduct = (key: string) =>
      api.post(
        { query: 'mutation { createProduct(input: { name: "By key", price: "1" }) { product { id } } }' },
        withKey(key),
      );
    const inviteAdmin = (key: string) =>
      api.post(
        {
          query:
            'mutation { inviteMember(input: { email: "accomplice@example.test", role: admin }) { invitation { rowId } } }',
        },
        withKey(key),
      );
    /** The key's answers once its creator is gone: nothing at once, 401 after the cache period; the tenant unchanged. */
    async function expectDead(
      t: TenantFixture,
      secret: string,
      before: Awaited<ReturnType<typeof snapshot>>,
    ) {
      // While the API still trusts its cached verdict, the database refuses the key...
      expect((await createProduct(secret)).body.data?.createProduct ?? null).toBeNull();
      expect((await inviteAdmin(secret)).body.data?.inviteMember ?? null).toBeNull();
      // ...and once the cache period (1 s here) is over, the API does too.
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const later = await api.post({ query: '{ currentTenant { slug } }' }, withKey(secret));
      expect([later.status, later.body.errors?.[0]?.extensions?.code]).toEqual([401, 'INVALID_API_KEY']);
      expect(await snapshot(t.id)).toEqual(before);
    }

    // Not on Citus yet: Citus refuses PostGraphile's `… returning role::text` on memberships
    // (enum output is not IMMUTABLE: "non-IMMUTABLE functions are not allowed in the
    // RETURNING clause"), so the mutation answers INTERNAL_SERVER_ERROR and changes nothing
    // (as api-people's last-owner test; docs/citus.md "What is left").
    test.skipIf(process.env.TEST_CITUS_URL)(
      'an admin removed from the tenant: their admin key stops, and the owner sees whose it was and when it ended',
      async () => {
        const t = await createTenant('keys-removed');
        const key = (await createKey(t, 'admin', 'admin')).data.createApiKey.apiKey;
        expect((await createProduct(key.secret)).body.data.createProduct.product.id).toBeTruthy();
        const removed = await api.post(
          {
            query: 'mutation ($id: ID!) { deleteMembershipById(input: { id: $id }) { membership { role } } }',
            variables: { id: await membershipOf(t, t.users.admin) },
          },
          as(t, 'owner'),
        );
        expect(removed.body.data.deleteMembershipById.membership.role).toBe('admin');
        await expectDead(t, key.secret, await snapshot(t.id));
        expect((await keysAsOwner(t)).find((k) => k.apiKeyId === key.apiKeyId)).toEqual({
          apiKeyId: key.apiKeyId,
          createdBy: t.users.admin,
          role: 'admin',
          revokedAt: expect.any(String),
        });
        // The revocation is in the trail, done by the owner's request that removed the admin.
        const revocations = (await eventsOf(t.id)).filter(
          (e) => e.table_name === 'api_keys' && e.operation === 'update' && e.row_key.id === key.apiKeyId,
        );
        expect(revocations).toEqual([expect.objectContaining({ actor_user_id: t.users.owner })]);
      },
    );

    // Not on Citus yet: Citus refuses PostGraphile's `… returning role::text` on memberships
    // (enum output is not IMMUTABLE: "non-IMMUTABLE functions are not allowed in the
    // RETURNING clause"), so the mutation answers INTERNAL_SERVER_ERROR and changes nothing
    // (as api-people's last-owner test; docs/citus.md "What is left").
    test.skipIf(process.env.TEST_CITUS_URL)(
      "an admin who leaves on their own: their key stops too; the owner's key is untouched",
      async () => {
        const t = await createTenant('keys-left');
        const ownerKey = (await createKey(t, 'admin', 'owner')).data.createApiKey.apiKey;
        const key = (await createKey(t, 'viewer', 'admin')).data.createApiKey.apiKey;
        const mine = await api.post({ query: '{ currentMemberships { nodes { id } } }' }, as(t, 'admin'));
        const left = await api.post(
          {
            query: 'mutation ($id: ID!) { deleteMembershipById(input: { id: $id }) { membership { role } } }',
            variables: { id: mine.body.data.currentMemberships.nodes[0].id },
          },
          as(t, 'admin'),
        );
        expect(left.body.errors).toBeUndefined();
        await expectDead(t, key.secret, await snapshot(t.id));
        expect((await createProduct(ownerKey.secret)).body.data.createProduct.product.id).toBeTruthy();
      },
    );

    // Not on Citus yet: Citus refuses PostGraphile's `… returning role::text` on memberships
    // (enum output is not IMMUTABLE: "non-IMMUTABLE functions are not allowed in the
    // RETURNING clause"), so the mutation answers INTERNAL_SERVER_ERROR and changes nothing
    // (as api-people's last-owner test; docs/citus.md "What is left").
    test.skipIf(process.env.TEST_CITUS_URL)(
      'an admin demoted to member: their admin key acts as a member from then on',
      async () => {
        const t = await createTenant('keys-demoted');
        const key = (await createKey(t, 'admin', 'admin')).data.createApiKey.apiKey;
        const demoted = await api.post(
          {
            query:
              'mutation ($id: ID!) { updateMembershipById(input: { id: $id, patch: { role: member } }) { membership { role } } }',
            variables: { id: await membershipOf(t, t.users.admin) },
          },
          as(t, 'owner'),
        );
        expect(demoted.body.data.updateMembershipById.membership.role).toBe('member');
        expect((await inviteAdmin(key.secret)).body.errors[0].extensions.code).toBe('FORBIDDEN');
        expect((await createProduct(key.secret)).body.data.createProduct.product.id).toBeTruthy();
        expect((await keysAsOwner(t)).find((k) => k.apiKeyId === key.apiKeyId)).toMatchObject({
          role: 'member',
          revokedAt: null,
        });
      },
    );

    test("a creator's deleted account: their keys are revoked", async () => {
      const t = await createTenant('keys-deleted');
      const key = (await createKey(t, 'admin', 'admin')).data.createApiKey.apiKey;
      const deleted = await api.post(
        { query: 'mutation { deleteCurrentUser(input: {}) { deleted } }' },
        as(t, 'admin'),
      );
      expect(deleted.body.data.deleteCurrentUser.deleted).toBe(true);
      await expectDead(t, key.secret, await snapshot(t.id));
      expect((await keysAsOwner(t)).find((k) => k.apiKeyId === key.apiKeyId)).toMatchObject({
        createdBy: null,
        revokedAt: expect.any(String),
      });
    });
  });

  test('keys never appear in the logs', async () => {
    const key = (await createKey(a, 'viewer')).data.createApiKey.apiKey.secret;
    await api.post({ query: '{ currentTenant { slug } }' }, withKey(key));
    await api.post({ query: '{ currentTenant { slug } }' }, withKey(`${key.slice(0, -1)}0`));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const log = lines.join('\n');
    expect(log).toContain('apiKeyId');
    expect(log).not.toContain(key.slice(12));
  });
});

describe('the audit trail', () => {
  test('a sequence of changes by a person and by a key leaves exactly these events, joined to the request log by request id', async () => {
    const t = await createTenant('audit-story');
    await asOwner((db) => db.query('delete from app_public.audit_events where tenant_id = $1', [t.id]));
    const key = (await createKey(t, 'admin')).data.createApiKey.apiKey;
    const requestId = `story-${randomUUID().slice(0, 8)}`;
    const created = await api.post(
      { query: 'mutation { createProduct(input: { name: "Saw", price: "20" }) { product { id rowId } } }' },
      as(t, 'member', { 'x-request-id': requestId }),
    );
    const product = created.body.data.createProduct.product;
    await api.post(
      {
        query:
          'mutation ($id: ID!) { updateProductById(input: { id: $id, patch: { price: "25.00" } }) { product { price } } }',
        variables: { id: product.id },
      },
      as(t, 'member'),
    );
    await api.post(
      {
        query: 'mutation ($id: ID!) { deleteProductById(input: { id: $id }) { deletedProductId } }',
        variables: { id: product.id },
      },
      withKey(key.secret),
    );

    const events = (await eventsOf(t.id)).map((event) => ({
      table: event.table_name,
      operation: event.operation,
      actor: event.actor_kind,
      user: event.actor_user_id,
      key: event.actor_api_key_id,
      row: event.row_key,
      changes: event.changes,
      requestId: event.request_id,
    }));
    expect(events.map(({ table, operation, actor }) => `${actor} ${operation} ${table}`)).toEqual([
      'user insert api_keys',
      'user insert products',
      'user update products',
      'api_key delete products',
    ]);
    expect(events[1]).toMatchObject({
      user: t.users.member,
      row: { tenant_id: t.id, id: product.rowId },
      requestId,
      changes: { name: { new: 'Saw' }, price: { new: 20 } },
    });
    expect(events[2]!.changes).toEqual({
      price: { old: 20, new: 25 },
      updated_at: { old: expect.any(String), new: expect.any(String) },
    });
    expect(events[3]).toMatchObject({ key: key.apiKeyId, user: null, changes: { name: { old: 'Saw' } } });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const logged = lines.map((line) => JSON.parse(line)).find((entry) => entry.req?.id === requestId);
    expect(logged).toMatchObject({ tenantId: t.id, userId: t.users.member });
  });

  // Not on Citus yet: after the request role wrote the tenant's shards (memberships and
  // their audit events), the audit trigger of the coordinator's copy of tenants (SECURITY
  // DEFINER, the owner) writes audit_events there: "cannot perform query on placements
  // that were modified in this transaction by a different user" (docs/citus.md).
  test.skipIf(process.env.TEST_CITUS_URL)(
    'people and settings are audited too: members, roles, invitations, tenant settings, key revocation',
    async () => {
      const t = await createTenant('audit-people');
      const key = (await createKey(t, 'viewer')).data.createApiKey.apiKey;
      await api.post(
        {
          query: 'mutation ($id: UUID!) { revokeApiKey(input: { apiKeyId: $id }) { apiKey { revokedAt } } }',
          variables: { id: key.apiKeyId },
        },
        as(t, 'owner'),
      );
      await api.post(
        {
          query:
            'mutation { inviteMember(input: { email: "someone@example.test", role: viewer }) { invitation { status } } }',
        },
        as(t, 'owner'),
      );
      await asUser(
        { userId: t.users.owner, tenantId: t.id },
        async (db) => {
          await db.query("update app_public.memberships set role = 'member' where user_id = $1", [
            t.users.viewer,
          ]);
          await db.query(`update app_public.tenants set settings = '{"theme": "dark"}'`);
          await db.query('delete from app_public.memberships where user_id = $1', [t.users.member]);
        },
        { commit: true },
      );
      const seen = (await eventsOf(t.id)).map((event) => `${event.operation} ${event.table_name}`);
      expect(seen).toEqual(
        expect.arrayContaining([
          'update api_keys',
          'insert invitations',
          'update memberships',
          'update tenants',
          'delete memberships',
        ]),
      );
    },
  );

  test("owners and admins read their tenant's events; members, viewers and other tenants read none", async () => {
    await api.post(
      {
        query: 'mutation { createCategory(input: { category: { name: "Audited" } }) { category { name } } }',
      },
      as(a, 'member'),
    );
    const count = async (headers: Record<string, string>) =>
      (await api.post({ query: '{ auditEvents { totalCount } }' }, headers)).body.data.auditEvents.totalCount;
    expect(await count(as(a, 'owner'))).toBeGreaterThan(0);
    expect(await count(as(a, 'admin'))).toBe(await count(as(a, 'owner')));
    expect([await count(as(a, 'member')), await count(as(a, 'viewer'))]).toEqual([0, 0]);
    const bAdmin = await count(as(b, 'admin'));
    expect(bAdmin).toBe((await eventsOf(b.id)).length);
    expect(await count(as(b, 'owner', { 'x-tenant': a.id }))).toBe(0);
  });

  test('nobody forges, changes or deletes an event: no mutation exists, and every request role is refused in SQL', async () => {
    const mutations = Object.keys(api.server.schema.getMutationType()!.getFields()).filter((name) =>
      /audit/i.test(name),
    );
    expect(mutations).toEqual([]);
    const before = await eventsOf(a.id);
    const attempts = [
      "insert into app_public.audit_events (tenant_id, actor_kind, operation, table_name, row_key, changes) values ($1, 'system', 'delete', 'products', '{}', '{}')",
      "update app_public.audit_events set changes = '{}' where tenant_id = $1",
      'delete from app_public.audit_events where tenant_id = $1',
    ];
    for (const sql of attempts) {
      expect(
        (await pgError(asUser({ userId: a.users.owner, tenantId: a.id }, (db) => db.query(sql, [a.id]))))
          .code,
      ).toBe('42501');
      expect((await pgError(asAnonymous((db) => db.query(sql, [a.id])))).code).toBe('42501');
      expect((await pgError(withAuthenticator((db) => db.query(sql, [a.id])))).code).toBe('42501');
    }
    expect(await eventsOf(a.id)).toEqual(before);
    expect(await snapshot(a.id)).toBeDefined();
  });

  // Not on Citus yet: this table stays local on the coordinator (tenant tables there are
  // distributed, which the guard checks), and its audit trigger's insert fails there with
  // "invalid input syntax for type uuid: "1"" (cause not found yet; docs/citus.md).
  test.skipIf(process.env.TEST_CITUS_URL)("a table's secret columns are kept out of its trail", async () => {
    const table = `audit_secret_${randomUUID().slice(0, 8)}`;
    const tenant = randomUUID();
    const rows = await asOwner(async (db) => {
      await db.query(
        `create table app_private.${table} (tenant_id uuid, id int primary key, token text, note text)`,
      );
      await db.query(
        `create trigger _900_audit after insert on app_private.${table} for each row execute function app_private.tg__audit('token')`,
      );
      await db.query(`insert into app_private.${table} values ($1, 1, 'sesame', 'hello')`, [tenant]);
      const events = (
        await db.query('select changes from app_public.audit_events where tenant_id = $1', [tenant])
      ).rows;
      await db.query(`drop table app_private.${table}`);
      await db.query('delete from app_public.audit_events where tenant_id = $1', [tenant]);
      return events;
    });
    expect(rows[0].changes).toEqual({
      tenant_id: { new: tenant },
      id: { new: 1 },
      token: { hidden: true },
      note: { new: 'hello' },
    });
  });

  test('the retention job deletes events past AUDIT_RETENTION_DAYS and keeps the rest', async () => {
    const tenant = randomUUID();
    await asOwner((db) =>
      db.query(
        `insert into app_public.audit_events (tenant_id, occurred_at, actor_kind, operation, table_name, row_key, changes)
         values ($1, now() - interval '30 days', 'system', 'insert', 'old', '{}', '{}'), ($1, now() - interval '2 days', 'system', 'insert', 'recent', '{}', '{}')`,
        [tenant],
      ),
    );
    const others = [await eventsOf(a.id), await eventsOf(b.id)];
    await asOwner(
      (db) =>
        deleteOldAuditEvents(10)({}, {
          query: (sql: string, values: unknown[]) => db.query(sql, values),
          logger: { info() {} },
        } as never) as Promise<void>,
    );
    const left = await asOwner(
      async (db) =>
        (await db.query('select table_name from app_public.audit_events where tenant_id = $1', [tenant]))
          .rows,
    );
    expect(left).toEqual([{ table_name: 'recent' }]);
    // Other tenants' recent events too (on Citus, a batch by ctid would have hit every shard's row at that ctid).
    expect([await eventsOf(a.id), await eventsOf(b.id)]).toEqual(others);
  });
});
