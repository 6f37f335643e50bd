// People, at the SQL level, as the API's roles: nobody is enrolled without their own
// action, invitations open only for the verified address they were sent to, once, and a
// tenant never loses its last owner.
import { createHash, randomUUID } from 'node:crypto';
import pino from 'pino';
import { beforeEach, describe, expect, test } from 'vitest';
import { sendInvitationEmail } from '../src/jobs/send-invitation-email.ts';
import { asOwner, asUser, pgError } from './support/db.ts';
import { createTenant, snapshot, type Role, type TenantFixture } from './support/fixtures.ts';
import {
  keyedMailJobs,
  mailedSecret,
  queuedMailPayloads,
  runInvitationMail,
  TEST_APP_URL,
} from './support/invitation-mail.ts';

let t: TenantFixture;
beforeEach(async () => {
  t = await createTenant('people');
});
const as = (role: Role) => ({ userId: t.users[role], tenantId: t.id });

async function queuedMails(): Promise<number> {
  return asOwner(
    async (db) =>
      (
        await db.query(
          "select count(*)::int as n from graphile_worker.jobs where task_identifier = 'send_invitation_email'",
        )
      ).rows[0].n,
  );
}

/** Invites `email` as the tenant's `by`, committed; the invitation, its queued mail jobs' payloads, and the secret of its mail, sent now. */
async function invite(email: string, role = 'member', by: Role = 'owner') {
  const invitation = await asUser(
    as(by),
    async (db) => (await db.query('select * from app_public.invite_member($1, $2)', [email, role])).rows[0],
    { commit: true },
  );
  const payloads = await queuedMailPayloads(invitation.id);
  return { invitation, payloads, secret: await mailedSecret(t.id, invitation.id) };
}

/** A person with no account yet, signed in with a verified address. */
const newcomer = (email: string) => ({ userId: randomUUID(), email });

const accept = (identity: { userId: string; email?: string; tenantId?: string }, secret: string) =>
  asUser(
    identity,
    async (db) => (await db.query('select * from app_public.accept_invitation($1)', [secret])).rows[0],
    { commit: true },
  );

const membershipsOf = (userId: string) =>
  asOwner(
    async (db) =>
      (
        await db.query(
          'select tenant_id, role from app_public.memberships where user_id = $1 order by tenant_id',
          [userId],
        )
      ).rows,
  );

describe('no membership without the member', () => {
  test('an owner cannot add an existing user to their tenant, not even as owner', async () => {
    const victim = await createTenant('people-victim');
    for (const role of ['viewer', 'owner']) {
      const error = await pgError(
        asUser(as('owner'), (db) =>
          db.query('insert into app_public.memberships (tenant_id, user_id, role) values ($1, $2, $3)', [
            t.id,
            victim.users.owner,
            role,
          ]),
        ),
      );
      expect(error.code).toBe('42501');
    }
    expect(await membershipsOf(victim.users.owner)).toEqual([{ tenant_id: victim.id, role: 'owner' }]);
  });

  test('a member leaves on their own; a viewer cannot remove anyone else', async () => {
    const removed = await asUser(
      as('viewer'),
      async (db) =>
        (await db.query('delete from app_public.memberships where user_id = $1', [t.users.member])).rowCount,
      { commit: true },
    );
    expect(removed).toBe(0);
    const left = await asUser(
      as('member'),
      async (db) =>
        (await db.query('delete from app_public.memberships where user_id = $1', [t.users.member])).rowCount,
      { commit: true },
    );
    expect(left).toBe(1);
    expect(await membershipsOf(t.users.member)).toEqual([]);
  });
});

describe('invitations', () => {
  test('an owner invites: a pending invitation, its mail queued in the same transaction with no secret, which the mail job makes and stores only hashed', async () => {
    const { invitation, secret, payloads } = await invite('new.person@example.test', 'admin');
    expect(invitation).toMatchObject({
      tenant_id: t.id,
      email: 'new.person@example.test',
      role: 'admin',
      status: 'pending',
      invited_by: t.users.owner,
    });
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    // The queue holds the invitation's ids, nothing else: no secret rests there.
    expect(payloads).toEqual([{ tenantId: t.id, invitationId: invitation.id }]);
    const anywhere = await asOwner(
      async (db) =>
        (
          await db.query(
            `select count(*)::int as n from graphile_worker._private_jobs where payload::text like '%' || $1 || '%'`,
            [secret],
          )
        ).rows[0].n,
    );
    expect(anywhere).toBe(0);
    const stored = await asOwner(
      async (db) =>
        (
          await db.query('select secret_hash from app_private.invitation_secrets where invitation_id = $1', [
            invitation.id,
          ])
        ).rows,
    );
    expect(stored).toHaveLength(1);
    expect(stored[0].secret_hash.toString('hex')).toBe(createHash('sha256').update(secret).digest('hex'));
  });

  test('a failed invitation queues no mail', async () => {
    const before = await queuedMails();
    await pgError(
      asUser(as('owner'), (db) => db.query("select app_public.invite_member('not an address', 'member')"), {
        commit: true,
      }),
    );
    expect(await queuedMails()).toBe(before);
  });

  test('nobody invites above their own role: an admin cannot invite an owner; members and viewers cannot invite at all', async () => {
    expect(
      (
        await pgError(
          asUser(as('admin'), (db) => db.query("select app_public.invite_member('x@example.test', 'owner')")),
        )
      ).code,
    ).toBe('TGR01');
    expect(
      (
        await pgError(
          asUser(as('member'), (db) =>
            db.query("select app_public.invite_member('x@example.test', 'viewer')"),
          ),
        )
      ).code,
    ).toBe('TG403');
    expect(
      (
        await pgError(
          asUser(as('viewer'), (db) =>
            db.query("select app_public.invite_member('x@example.test', 'viewer')"),
          ),
        )
      ).code,
    ).toBe('TG403');
    // Nor can a stranger, naming the tenant in their token.
    expect(
      (
        await pgError(
          asUser({ userId: randomUUID(), tenantId: t.id }, (db) =>
            db.query("select app_public.invite_member('x@example.test')"),
          ),
        )
      ).code,
    ).toBe('TG403');
  });

  test("only the tenant's owners and admins list its invitations", async () => {
    const { invitation } = await invite('listed@example.test');
    const other = await createTenant('people-other');
    const seen = async (identity: { userId: string; tenantId: string }) =>
      asUser(
        identity,
        async (db) =>
          (await db.query('select id from app_public.invitations where id = $1', [invitation.id])).rowCount,
      );
    expect([
      await seen(as('owner')),
      await seen(as('admin')),
      await seen(as('member')),
      await seen(as('viewer')),
    ]).toEqual([1, 1, 0, 0]);
    expect(await seen({ userId: other.users.owner, tenantId: other.id })).toBe(0);
    expect(await seen({ userId: other.users.owner, tenantId: t.id })).toBe(0);
  });

  test('inviting an address that belongs to an existing user looks exactly like inviting a new one', async () => {
    const existing = await createTenant('people-existing');
    const known = await asOwner(
      async (db) =>
        (await db.query('select email from app_public.users where id = $1', [existing.users.viewer])).rows[0]
          .email,
    );
    const a = await invite(known);
    const b = await invite(`nobody-${randomUUID()}@example.test`);
    expect(Object.keys(a.invitation)).toEqual(Object.keys(b.invitation));
    expect([a.invitation.status, b.invitation.status, a.payloads.length, b.payloads.length]).toEqual([
      'pending',
      'pending',
      1,
      1,
    ]);
  });

  test('the invitee accepts with the secret and a verified address: their account and membership are made, once', async () => {
    const person = newcomer(`accept-${randomUUID()}@example.test`);
    const { invitation, secret } = await invite(person.email, 'viewer');
    const membership = await accept(person, secret);
    expect(membership).toMatchObject({ tenant_id: t.id, user_id: person.userId, role: 'viewer' });
    const user = await asOwner(
      async (db) =>
        (await db.query('select email from app_public.users where id = $1', [person.userId])).rows[0],
    );
    expect(user.email).toBe(person.email);
    const status = await asOwner(
      async (db) =>
        (await db.query('select status from app_public.invitations where id = $1', [invitation.id])).rows[0]
          .status,
    );
    expect(status).toBe('accepted');
    // The same secret again, by the same person: refused, and nothing changes.
    expect((await pgError(accept(person, secret))).code).toBe('TGI03');
    expect(await membershipsOf(person.userId)).toEqual([{ tenant_id: t.id, role: 'viewer' }]);
  });

  test("someone else's invitation cannot be accepted, even with its secret", async () => {
    const { secret } = await invite('intended@example.test');
    const thief = newcomer('thief@example.test');
    expect((await pgError(accept(thief, secret))).code).toBe('TGI06');
    expect(await membershipsOf(thief.userId)).toEqual([]);
    // A member of another tenant holding the link: the same.
    const other = await createTenant('people-thief');
    expect(
      (
        await pgError(
          accept({ userId: other.users.owner, tenantId: other.id, email: 'owner@other.test' }, secret),
        )
      ).code,
    ).toBe('TGI06');
  });

  test('an unverified address accepts nothing (the API sets the email setting only for verified claims)', async () => {
    const person = newcomer(`unverified-${randomUUID()}@example.test`);
    const { secret } = await invite(person.email);
    expect((await pgError(accept({ userId: person.userId }, secret))).code).toBe('TGI05');
    expect(await membershipsOf(person.userId)).toEqual([]);
  });

  test('expired, revoked, declined and unknown secrets: each its own refusal, and nothing created', async () => {
    const person = newcomer(`refused-${randomUUID()}@example.test`);
    const expired = await invite(person.email);
    await asOwner((db) =>
      db.query("update app_public.invitations set expires_at = now() - interval '1 minute' where id = $1", [
        expired.invitation.id,
      ]),
    );
    expect((await pgError(accept(person, expired.secret))).code).toBe('TGI04');

    const other = await createTenant('people-refused');
    const revoked = await asUser(
      { userId: other.users.admin, tenantId: other.id },
      async (db) => (await db.query('select * from app_public.invite_member($1)', [person.email])).rows[0],
      { commit: true },
    );
    const revokedSecret = await mailedSecret(other.id, revoked.id);
    await asUser(
      { userId: other.users.admin, tenantId: other.id },
      (db) => db.query('select app_public.revoke_invitation($1)', [revoked.id]),
      { commit: true },
    );
    expect((await pgError(accept(person, revokedSecret))).code).toBe('TGI02');

    const third = await createTenant('people-declined');
    const declined = await asUser(
      { userId: third.users.owner, tenantId: third.id },
      async (db) => (await db.query('select * from app_public.invite_member($1)', [person.email])).rows[0],
      { commit: true },
    );
    const declinedSecret = await mailedSecret(third.id, declined.id);
    const answer = await asUser(
      person,
      async (db) =>
        (await db.query('select status from app_public.decline_invitation($1)', [declinedSecret])).rows[0],
      { commit: true },
    );
    expect(answer.status).toBe('declined');
    expect((await pgError(accept(person, declinedSecret))).code).toBe('TGI03');

    expect((await pgError(accept(person, 'f'.repeat(64)))).code).toBe('TGI01');
    expect(await membershipsOf(person.userId)).toEqual([]);
    expect(
      await asOwner(
        async (db) =>
          (await db.query('select count(*)::int as n from app_public.users where id = $1', [person.userId]))
            .rows[0].n,
      ),
    ).toBe(0);
  });

  test('a resend withdraws the secret at once (the old link stops working before the new mail goes), one mail queued, whose link works', async () => {
    const person = newcomer(`resend-${randomUUID()}@example.test`);
    const first = await invite(person.email);
    await asUser(
      as('admin'),
      (db) => db.query('select app_public.resend_invitation($1)', [first.invitation.id]),
      { commit: true },
    );
    expect((await pgError(accept(person, first.secret))).code).toBe('TGI01');
    // The job the invitation queued (not run by a worker here) is replaced, not doubled.
    expect(await keyedMailJobs(t.id, first.invitation.id)).toBe(1);
    expect(await queuedMailPayloads(first.invitation.id)).toContainEqual({
      tenantId: t.id,
      invitationId: first.invitation.id,
    });
    const second = await mailedSecret(t.id, first.invitation.id);
    expect(second).not.toBe(first.secret);
    expect((await pgError(accept(person, first.secret))).code).toBe('TGI01');
    expect(await accept(person, second)).toMatchObject({ tenant_id: t.id, user_id: person.userId });
  });

  test("a retried mail job makes a new secret: only the newest mail's link works", async () => {
    const person = newcomer(`retry-${randomUUID()}@example.test`);
    const first = await invite(person.email);
    const again = await mailedSecret(t.id, first.invitation.id);
    expect((await pgError(accept(person, first.secret))).code).toBe('TGI01');
    expect(await accept(person, again)).toMatchObject({ tenant_id: t.id, user_id: person.userId });
  });

  test('a mail that fails to send stores no secret, and the job fails (graphile-worker retries it)', async () => {
    const { invitation } = await invite(`fails-${randomUUID()}@example.test`);
    await asOwner((db) =>
      db.query('delete from app_private.invitation_secrets where invitation_id = $1', [invitation.id]),
    );
    const failing = sendInvitationEmail({
      mailer: { send: () => Promise.reject(new Error('SMTP down')), close: () => {} },
      appUrl: TEST_APP_URL,
      logger: pino({ level: 'silent' }),
    });
    await expect(runInvitationMail(t.id, invitation.id, failing)).rejects.toThrow('SMTP down');
    const stored = await asOwner(
      async (db) =>
        (
          await db.query('select 1 from app_private.invitation_secrets where invitation_id = $1', [
            invitation.id,
          ])
        ).rowCount,
    );
    expect(stored).toBe(0);
  });

  test('an admin cannot revoke or resend an invitation to owner; another tenant cannot touch ours', async () => {
    const { invitation } = await invite('future.owner@example.test', 'owner');
    expect(
      (
        await pgError(
          asUser(as('admin'), (db) => db.query('select app_public.revoke_invitation($1)', [invitation.id])),
        )
      ).code,
    ).toBe('TG404');
    const other = await createTenant('people-meddler');
    expect(
      (
        await pgError(
          asUser({ userId: other.users.owner, tenantId: other.id }, (db) =>
            db.query('select app_public.revoke_invitation($1)', [invitation.id]),
          ),
        )
      ).code,
    ).toBe('TG404');
    const status = await asOwner(
      async (db) =>
        (await db.query('select status from app_public.invitations where id = $1', [invitation.id])).rows[0]
          .status,
    );
    expect(status).toBe('pending');
  });

  test('a member accepting a second invitation to the same tenant is told so, and keeps their role', async () => {
    const email = await asOwner(
      async (db) =>
        (await db.query('select email from app_public.users where id = $1', [t.users.viewer])).rows[0].email,
    );
    const { secret } = await invite(email, 'admin');
    expect((await pgError(accept({ userId: t.users.viewer, email }, secret))).code).toBe('TGI07');
    expect(await membershipsOf(t.users.viewer)).toEqual([{ tenant_id: t.id, role: 'viewer' }]);
  });

  test('two acceptances of one invitation at once: one membership', async () => {
    const person = newcomer(`race-${randomUUID()}@example.test`);
    const { secret } = await invite(person.email);
    const outcomes = await Promise.allSettled([accept(person, secret), accept(person, secret)]);
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    expect(await membershipsOf(person.userId)).toHaveLength(1);
  });
});

describe('ownership', () => {
  test('the last owner cannot demote themselves, leave, or be removed: LAST_OWNER (TGO01), and nothing changes', async () => {
    const before = await snapshot(t.id);
    const demote = await pgError(
      asUser(
        as('owner'),
        (db) =>
          db.query("update app_public.memberships set role = 'admin' where user_id = $1", [t.users.owner]),
        { commit: true },
      ),
    );
    const leave = await pgError(
      asUser(
        as('owner'),
        (db) => db.query('delete from app_public.memberships where user_id = $1', [t.users.owner]),
        { commit: true },
      ),
    );
    expect([demote.code, leave.code]).toEqual(['TGO01', 'TGO01']);
    expect(await snapshot(t.id)).toEqual(before);
  });

  test('with a second owner, one may step down; two owners stepping down at once leave one owner', async () => {
    await asUser(
      as('owner'),
      (db) =>
        db.query("update app_public.memberships set role = 'owner' where user_id = $1", [t.users.admin]),
      { commit: true },
    );
    const stepDown = (userId: string) =>
      asUser(
        { userId, tenantId: t.id },
        (db) => db.query("update app_public.memberships set role = 'member' where user_id = $1", [userId]),
        { commit: true },
      );
    const outcomes = await Promise.allSettled([stepDown(t.users.owner), stepDown(t.users.admin)]);
    expect(outcomes.map((outcome) => outcome.status).sort()).toEqual(['fulfilled', 'rejected']);
    const owners = await asOwner(
      async (db) =>
        (
          await db.query(
            "select count(*)::int as n from app_public.memberships where tenant_id = $1 and role = 'owner'",
            [t.id],
          )
        ).rows[0].n,
    );
    expect(owners).toBe(1);
  });

  test('ownership is handed over in one step; only to a member', async () => {
    const moved = await asUser(
      as('owner'),
      async (db) =>
        (await db.query('select * from app_public.transfer_ownership($1)', [t.users.viewer])).rows[0],
      { commit: true },
    );
    expect(moved).toMatchObject({ user_id: t.users.viewer, role: 'owner' });
    expect(await membershipsOf(t.users.owner)).toEqual([{ tenant_id: t.id, role: 'admin' }]);
    const stranger = await pgError(
      asUser({ userId: t.users.viewer, tenantId: t.id }, (db) =>
        db.query('select app_public.transfer_ownership($1)', [randomUUID()]),
      ),
    );
    expect(stranger.code).toBe('TG404');
    const notOwner = await pgError(
      asUser(as('admin'), (db) => db.query('select app_public.transfer_ownership($1)', [t.users.admin])),
    );
    expect(notOwner.code).toBe('TG403');
  });

  test('the owner can still delete the tenant, memberships and all', async () => {
    const deleted = await asUser(
      as('owner'),
      async (db) => (await db.query('delete from app_public.tenants where id = $1', [t.id])).rowCount,
      { commit: true },
    );
    expect(deleted).toBe(1);
    expect(await snapshot(t.id)).toMatchObject({ memberships: [], tenant: [] });
  });
});

describe('email addresses', () => {
  test('create_tenant records a verified address, and says nothing when another account holds it already', async () => {
    const holder = await createTenant('people-holder');
    const taken = await asOwner(
      async (db) =>
        (await db.query('select email from app_public.users where id = $1', [holder.users.owner])).rows[0]
          .email,
    );
    const squatter = randomUUID();
    const tenant = await asUser(
      { userId: squatter, email: taken },
      async (db) =>
        (
          await db.query('select * from app_public.create_tenant($1, $2)', [
            'Squat',
            `squat-${squatter.slice(0, 8)}`,
          ])
        ).rows[0],
      {
        commit: true,
      },
    );
    expect(tenant.name).toBe('Squat');
    const users = await asOwner(
      async (db) =>
        (
          await db.query(
            'select id, email from app_public.users where email = $1 or id = $2 order by email nulls last',
            [taken, squatter],
          )
        ).rows,
    );
    expect(users).toEqual([
      { id: holder.users.owner, email: taken },
      { id: squatter, email: null },
    ]);
  });
});
