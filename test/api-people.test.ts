// People over HTTP, as clients meet them: no mutation enrols anyone else, invitations
// answer with stable codes, X-Tenant switches tenants for one token without ever
// switching into someone else's, and budgets follow only the verified tenant.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, test } from 'vitest';
import { PRICED_BY_ESTIMATE, tokenFor, useApi } from './support/api.ts';
import { asOwner } from './support/db.ts';
import { createTenant, snapshot, type TenantFixture } from './support/fixtures.ts';
import { mailedSecret } from './support/invitation-mail.ts';

// Budgets in the estimate's exact points (database time is priced in test/work-pricing.test.ts).
const api = useApi({
  budget: { maxPoints: 200, restoreRate: 0.01 },
  throttleDelayMs: 0,
  work: PRICED_BY_ESTIMATE,
});
let a: TenantFixture;
let b: TenantFixture;
beforeAll(async () => {
  [a, b] = await Promise.all([createTenant('people-a'), createTenant('people-b')]);
});

const bearer = (claims: Parameters<typeof tokenFor>[0], headers: Record<string, string> = {}) => ({
  authorization: `Bearer ${tokenFor(claims)}`,
  ...headers,
});
const codeOf = (body: any) => body.errors?.[0]?.extensions?.code;

/** The secret of the invitation's mail, sent now by the mail job (it makes the secret when it sends). */
async function secretOf(invitationRowId: string): Promise<string> {
  const { rows } = await asOwner((db) =>
    db.query('select tenant_id from app_public.invitations where id = $1', [invitationRowId]),
  );
  return mailedSecret(rows[0].tenant_id, invitationRowId);
}

async function inviteOverHttp(
  email: string,
  role: string,
  inviter = bearer({ userId: a.users.owner, tenantId: a.id }),
) {
  return api.post(
    {
      query:
        'mutation ($email: String!, $role: MembershipRole) { inviteMember(input: { email: $email, role: $role }) { invitation { rowId email role status } } }',
      variables: { email, role },
    },
    inviter,
  );
}

describe('nobody is enrolled by someone else', () => {
  test('the API has no mutation that creates a membership for another user', () => {
    const mutations = Object.keys(api.server.schema.getMutationType()!.getFields());
    expect(mutations.filter((name) => /membership/i.test(name) && /create|insert|add/i.test(name))).toEqual(
      [],
    );
    expect(mutations).toEqual(
      expect.arrayContaining([
        'inviteMember',
        'acceptInvitation',
        'declineInvitation',
        'revokeInvitation',
        'resendInvitation',
        'transferOwnership',
      ]),
    );
  });

  test('an admin inviting an owner: ROLE_NOT_ALLOWED, and no invitation', async () => {
    const { status, body } = await inviteOverHttp(
      'boss@example.test',
      'owner',
      bearer({ userId: a.users.admin, tenantId: a.id }),
    );
    expect([status, codeOf(body)]).toEqual([200, 'ROLE_NOT_ALLOWED']);
    const { rows } = await asOwner((db) =>
      db.query("select 1 from app_public.invitations where tenant_id = $1 and email = 'boss@example.test'", [
        a.id,
      ]),
    );
    expect(rows).toHaveLength(0);
  });

  test("accepting someone else's invitation, or with an unverified address: refused with its code, nothing created", async () => {
    const invited = await inviteOverHttp('invitee@example.test', 'member');
    expect(invited.status).toBe(200);
    const secret = await secretOf(invited.body.data.inviteMember.invitation.rowId);
    const accept =
      'mutation ($secret: String!) { acceptInvitation(input: { secret: $secret }) { membership { role } } }';
    const thief = randomUUID();
    const stolen = await api.post(
      { query: accept, variables: { secret } },
      bearer({ userId: thief, email: 'thief@example.test', emailVerified: true }),
    );
    expect([stolen.status, codeOf(stolen.body)]).toEqual([200, 'INVITATION_FOR_ANOTHER_EMAIL']);
    const unverified = await api.post(
      { query: accept, variables: { secret } },
      bearer({ userId: randomUUID(), email: 'invitee@example.test', emailVerified: false }),
    );
    expect([unverified.status, codeOf(unverified.body)]).toEqual([200, 'EMAIL_NOT_VERIFIED']);
    const { rows } = await asOwner((db) =>
      db.query('select count(*)::int as n from app_public.memberships where tenant_id = $1', [a.id]),
    );
    expect(rows[0].n).toBe(4);
  });
});

describe('X-Tenant: one token, the tenant per request', () => {
  const VIEW = '{ currentTenant { slug } products { totalCount } }';
  let both: string;
  beforeAll(async () => {
    // A's viewer also joins B, by invitation.
    both = a.users.viewer;
    const email = `both-${randomUUID()}@example.test`;
    await asOwner((db) => db.query('update app_public.users set email = $2 where id = $1', [both, email]));
    const invited = await inviteOverHttp(email, 'viewer', bearer({ userId: b.users.owner, tenantId: b.id }));
    const secret = await secretOf(invited.body.data.inviteMember.invitation.rowId);
    const accepted = await api.post(
      {
        query:
          'mutation ($secret: String!) { acceptInvitation(input: { secret: $secret }) { membership { role } } }',
        variables: { secret },
      },
      bearer({ userId: both, email, emailVerified: true }),
    );
    expect(accepted.body.data.acceptInvitation.membership.role).toBe('viewer');
  });

  test('by slug or by id, the same token acts in each of its tenants; without the header, in its claim', async () => {
    const token = { userId: both, tenantId: a.id };
    expect((await api.post({ query: VIEW }, bearer(token))).body.data.currentTenant.slug).toBe(a.slug);
    expect(
      (await api.post({ query: VIEW }, bearer(token, { 'x-tenant': b.slug }))).body.data.currentTenant.slug,
    ).toBe(b.slug);
    expect(
      (await api.post({ query: VIEW }, bearer({ userId: both }, { 'x-tenant': b.id }))).body.data
        .currentTenant.slug,
    ).toBe(b.slug);
  });

  test('switching into a tenant one does not belong to selects nothing there: no data, no writes, by slug or by id', async () => {
    const victim = await createTenant('people-victim');
    const before = await snapshot(victim.id);
    for (const choice of [victim.slug, victim.id]) {
      const read = await api.post(
        { query: VIEW },
        bearer({ userId: both, tenantId: a.id }, { 'x-tenant': choice }),
      );
      expect(read.body.data).toEqual({ currentTenant: null, products: { totalCount: 0 } });
      const write = await api.post(
        { query: 'mutation { createProduct(input: { name: "planted", price: "1" }) { product { rowId } } }' },
        bearer({ userId: both }, { 'x-tenant': choice }),
      );
      expect(codeOf(write.body)).toBe('FORBIDDEN');
    }
    expect(await snapshot(victim.id)).toEqual(before);
  });

  test("a stranger switching into B spends their own budget, never B's", async () => {
    const cheap = '{ currentTenant { slug } }';
    const availableToB = async () =>
      (await api.post({ query: cheap }, bearer({ userId: b.users.owner, tenantId: b.id }))).body.extensions
        .cost.throttleStatus.currentlyAvailable;
    const stranger = randomUUID();
    const before = await availableToB();
    const spent = [];
    for (const choice of [b.id, b.slug, b.id]) {
      const { body } = await api.post(
        { query: '{ products(first: 50) { nodes { name } } }' },
        bearer({ userId: stranger }, { 'x-tenant': choice }),
      );
      spent.push(body.extensions.cost.throttleStatus.currentlyAvailable);
    }
    // B paid for its own second look only (11 points); the stranger paid for all three of theirs.
    expect(before - (await availableToB())).toBe(11);
    expect(spent).toEqual([200 - 11, 200 - 22, 200 - 33]);
  });

  test('an X-Tenant that is neither an id nor a slug: 400 INVALID_TENANT', async () => {
    const { status, body } = await api.post(
      { query: VIEW },
      bearer({ userId: both }, { 'x-tenant': "acme'; drop table x" }),
    );
    expect([status, codeOf(body)]).toEqual([400, 'INVALID_TENANT']);
  });

  test('browsers may send it: CORS allows the header', async () => {
    const response = await fetch(`${api.url}/graphql`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,x-tenant',
      },
    });
    expect(response.headers.get('access-control-allow-headers')).toMatch(/x-tenant/);
  });
});

describe('people manage themselves', () => {
  test("a user changes their own display name, and nobody else's", async () => {
    const me = await api.post(
      { query: '{ currentUser { id } }' },
      bearer({ userId: a.users.member, tenantId: a.id }),
    );
    const mine = await api.post(
      {
        query:
          'mutation ($id: ID!) { updateUserById(input: { id: $id, patch: { displayName: "Mem Ber" } }) { user { displayName } } }',
        variables: { id: me.body.data.currentUser.id },
      },
      bearer({ userId: a.users.member, tenantId: a.id }),
    );
    expect(mine.body.data.updateUserById.user.displayName).toBe('Mem Ber');
    const other = await api.post(
      {
        query:
          'mutation ($id: ID!) { updateUserById(input: { id: $id, patch: { displayName: "Hacked" } }) { user { displayName } } }',
        variables: { id: me.body.data.currentUser.id },
      },
      bearer({ userId: a.users.admin, tenantId: a.id }),
    );
    expect(other.body.data?.updateUserById?.user ?? null).toBeNull();
    const { rows } = await asOwner((db) =>
      db.query('select display_name from app_public.users where id = $1', [a.users.member]),
    );
    expect(rows[0].display_name).toBe('Mem Ber');
  });

  test('createTenant takes the email only from a verified claim', async () => {
    const userId = randomUUID();
    const slug = `unverified-${userId.slice(0, 8)}`;
    await api.post(
      {
        query:
          'mutation ($slug: String!) { createTenant(input: { name: "Unverified", slug: $slug }) { tenant { slug } } }',
        variables: { slug },
      },
      bearer({ userId, email: `${slug}@example.test` }),
    );
    const { rows } = await asOwner((db) =>
      db.query('select email from app_public.users where id = $1', [userId]),
    );
    expect(rows).toEqual([{ email: null }]);
  });

  // Not on Citus yet: Citus refuses PostGraphile's `delete … returning role::text` (enum
  // output is not IMMUTABLE) before the last-owner trigger runs, so nothing is deleted but
  // the answer is INTERNAL_SERVER_ERROR (issue 24, docs/citus.md "What is left").
  test.skipIf(process.env.TEST_CITUS_URL)('the last owner leaving: LAST_OWNER', async () => {
    const mine = await api.post(
      { query: '{ currentMemberships { nodes { id role } } }' },
      bearer({ userId: b.users.owner, tenantId: b.id }),
    );
    const id = mine.body.data.currentMemberships.nodes[0].id;
    const { status, body } = await api.post(
      {
        query: 'mutation ($id: ID!) { deleteMembershipById(input: { id: $id }) { membership { role } } }',
        variables: { id },
      },
      bearer({ userId: b.users.owner, tenantId: b.id }),
    );
    expect([status, codeOf(body)]).toEqual([200, 'LAST_OWNER']);
  });
});
