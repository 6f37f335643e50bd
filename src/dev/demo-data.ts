// The development data set: two tenants, users in different roles (one in both tenants),
// a newcomer invited to one of them, categories and products, so a newcomer sees
// isolation in GraphiQL within a minute. Fixed ids keep printed tokens valid across
// restarts; inserting twice changes nothing.
import pg from 'pg';

export const demoTenants = {
  acme: { id: '0a000000-0000-4000-8000-000000000001', name: 'Acme Corporation' },
  globex: { id: '0b000000-0000-4000-8000-000000000002', name: 'Globex' },
} as const;

export const demoUsers = [
  {
    email: 'alice@acme.test',
    id: '1a000000-0000-4000-8000-000000000001',
    name: 'Alice',
    tenant: 'acme',
    role: 'owner',
  },
  {
    email: 'bob@acme.test',
    id: '1a000000-0000-4000-8000-000000000002',
    name: 'Bob',
    tenant: 'acme',
    role: 'viewer',
  },
  {
    email: 'carol@globex.test',
    id: '1b000000-0000-4000-8000-000000000003',
    name: 'Carol',
    tenant: 'globex',
    role: 'owner',
  },
  {
    email: 'dave@globex.test',
    id: '1b000000-0000-4000-8000-000000000004',
    name: 'Dave',
    tenant: 'globex',
    role: 'member',
    // A member of two tenants, so the app's tenant switcher has something to switch.
    alsoIn: { tenant: 'acme', role: 'viewer' },
  },
] as const;

/**
 * Someone new, invited to acme and not yet in: the invitation flow without sending a
 * mail first. The secret is fixed (and public: development data only).
 */
export const demoInvitation = {
  id: '2a000000-0000-4000-8000-000000000001',
  tenant: 'acme',
  name: 'Erin',
  email: 'erin@newcomer.test',
  role: 'member',
  inviter: demoUsers[0].id,
  userId: '1c000000-0000-4000-8000-000000000005',
  secret: 'demo-invitation-for-erin-at-acme',
} as const;

const catalogue = {
  acme: {
    Anvils: [
      ['Classic anvil', '149.00'],
      ['Portable anvil', '89.50'],
    ],
    Rockets: [
      ['Rocket skates', '299.99'],
      ['Giant slingshot', '45.00'],
    ],
  },
  globex: {
    Gadgets: [
      ['Doomsday device', '9999.00'],
      ['Hammock', '59.90'],
    ],
    Snacks: [['Lemonade', '2.50']],
  },
} as const;

/** Seeds the demo data; resolves with whether the demo invitation is still pending. */
export async function seedDemoData(ownerUrl: string): Promise<{ invitationPending: boolean }> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    await client.query('begin');
    for (const [slug, tenant] of Object.entries(demoTenants)) {
      await client.query(
        'insert into app_public.tenants (id, slug, name) values ($1, $2, $3) on conflict do nothing',
        [tenant.id, slug, tenant.name],
      );
      for (const [category, products] of Object.entries(catalogue[slug as keyof typeof catalogue])) {
        const { rows } = await client.query<{ id: string }>(
          `insert into app_public.categories (tenant_id, name) values ($1, $2)
           on conflict (tenant_id, name) do update set name = excluded.name returning id`,
          [tenant.id, category],
        );
        for (const [name, price] of products) {
          await client.query(
            `insert into app_public.products (tenant_id, category_id, name, price)
             select $1, $2, $3, $4 where not exists (select 1 from app_public.products where tenant_id = $1 and name = $3)`,
            [tenant.id, rows[0]!.id, name, price],
          );
        }
      }
    }
    for (const user of demoUsers) {
      await client.query(
        'insert into app_public.users (id, email, display_name) values ($1, $2, $3) on conflict do nothing',
        [user.id, user.email, user.name],
      );
      await client.query(
        'insert into app_public.memberships (tenant_id, user_id, role) values ($1, $2, $3) on conflict do nothing',
        [demoTenants[user.tenant].id, user.id, user.role],
      );
      if ('alsoIn' in user)
        await client.query(
          'insert into app_public.memberships (tenant_id, user_id, role) values ($1, $2, $3) on conflict do nothing',
          [demoTenants[user.alsoIn.tenant].id, user.id, user.alsoIn.role],
        );
    }
    const invitation = await client.query(
      `insert into app_public.invitations (tenant_id, id, email, role, invited_by, expires_at)
       values ($1, $2, $3, $4, $5, now() + interval '7 days') on conflict do nothing`,
      [
        demoTenants[demoInvitation.tenant].id,
        demoInvitation.id,
        demoInvitation.email,
        demoInvitation.role,
        demoInvitation.inviter,
      ],
    );
    if (invitation.rowCount === 1) {
      await client.query(
        `insert into app_private.invitation_secrets (tenant_id, invitation_id, secret_hash) values ($1, $2, sha256(convert_to($3, 'UTF8')))`,
        [demoTenants[demoInvitation.tenant].id, demoInvitation.id, demoInvitation.secret],
      );
      // No mail is queued: the mail job makes a fresh secret when it sends, which would
      // replace this fixed one. Resend the invitation to see its mail.
    }
    // Still open, it is kept open: a restart a week later still shows a working demo.
    const pending = await client.query(
      `update app_public.invitations set expires_at = greatest(expires_at, now() + interval '1 day')
       where tenant_id = $1 and id = $2 and status = 'pending'`,
      [demoTenants[demoInvitation.tenant].id, demoInvitation.id],
    );
    await client.query('commit');
    return { invitationPending: pending.rowCount === 1 };
  } catch (error) {
    await client.query('rollback');
    throw error;
  } finally {
    await client.end();
  }
}
