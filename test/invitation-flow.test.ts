// End to end, as people live it: an owner invites someone brand new; the job queue mails
// the link (no SMTP server: an .eml file in the mailbox); the newcomer signs in with a
// fresh token carrying their verified address, accepts with the link's secret, works in
// both of their tenants with one token by switching X-Tenant, and leaves the one they
// joined. The worker runs as in production: the secret is in the mail and nowhere else,
// not in the job queue, not in the log.
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { run, type Runner, type Task } from 'graphile-worker';
import { simpleParser, type ParsedMail } from 'mailparser';
import pino from 'pino';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { readEnv } from '../src/config.ts';
import { acceptLink, logsAcceptLinks, sendInvitationEmail } from '../src/jobs/send-invitation-email.ts';
import { workerLogger } from '../src/jobs/worker.ts';
import { createMailer } from '../src/mail/mailer.ts';
import { tokenFor, useApi } from './support/api.ts';
import { asOwner } from './support/db.ts';
import { createTenant, type TenantFixture } from './support/fixtures.ts';
import { keyedMailJobs, queuedMailPayloads, runInvitationMail } from './support/invitation-mail.ts';

const database = inject('database');
const api = useApi();
const APP_URL = 'https://app.example.test';
let mailbox: string;
let worker: Runner;
let acme: TenantFixture;
let send: Task;
/** What the worker logged, one parsed line each. */
const logLines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  acme = await createTenant('flow');
  mailbox = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-mailbox-'));
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  send = sendInvitationEmail({
    mailer: createMailer({ mailbox, from: 'tenantgraph <no-reply@example.test>' }, logger),
    appUrl: APP_URL,
    logger,
    // As npm start decides it for NODE_ENV=production (no SMTP_URL here either).
    logAcceptLinks: logsAcceptLinks({ NODE_ENV: 'production' }),
  });
  // Test files share one database and run at once: this worker takes only its own
  // tenant's mail and leaves the others' jobs queued (failed, to be retried later).
  const ours: Task = (payload, helpers) => {
    if ((payload as { tenantId?: string }).tenantId !== acme.id)
      throw new Error("not this test file's invitation");
    return send(payload, helpers);
  };
  worker = await run({
    connectionString: database.ownerUrl,
    concurrency: 1,
    noHandleSignals: true,
    crontab: '',
    pollInterval: 200,
    logger: workerLogger(logger),
    taskList: { send_invitation_email: ours },
  });
});

afterAll(async () => {
  await worker?.stop();
  if (mailbox) await rm(mailbox, { recursive: true, force: true });
});

/** The mail written for `address`, parsed as a mail client would. */
async function mailTo(address: string, timeoutMs = 10_000): Promise<ParsedMail> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const files = (await readdir(mailbox)).filter((file) => file.endsWith(`${address}.eml`));
    if (files[0]) return simpleParser(await readFile(path.join(mailbox, files[0])));
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no mail to ${address} within ${timeoutMs} ms`);
}

test('invite a brand-new person, they accept from the mail, switch between two tenants with one token, and leave', async () => {
  const owner = { authorization: `Bearer ${tokenFor({ userId: acme.users.owner, tenantId: acme.id })}` };
  const newcomer = { userId: randomUUID(), email: `new-${randomUUID().slice(0, 8)}@example.test` };

  const invited = await api.post(
    {
      query:
        'mutation ($email: String!) { inviteMember(input: { email: $email, role: member }) { invitation { rowId status } } }',
      variables: { email: newcomer.email },
    },
    owner,
  );
  expect(invited.body.data.inviteMember.invitation.status).toBe('pending');

  const mail = await mailTo(newcomer.email);
  expect(mail.to).toMatchObject({ text: newcomer.email });
  expect(mail.subject).toMatch(/^You are invited to join flow /);
  const link = /(https:\/\/app\.example\.test\/invitations\/accept\?secret=[0-9a-f]+)/.exec(
    mail.text ?? '',
  )![1]!;
  const secret = new URL(link).searchParams.get('secret')!;

  // The secret is in the mail only: not in any job's payload, not in the database (its
  // SHA-256 is), not in the log; and the log has no accept link at all.
  const atRest = await asOwner(async (db) => ({
    jobs: (
      await db.query(
        `select count(*)::int as n from graphile_worker._private_jobs where payload::text like '%' || $1 || '%'`,
        [secret],
      )
    ).rows[0].n,
    hashed: (
      await db.query(
        `select count(*)::int as n from app_private.invitation_secrets where secret_hash = sha256(convert_to($1, 'UTF8'))`,
        [secret],
      )
    ).rows[0].n,
  }));
  expect(atRest).toEqual({ jobs: 0, hashed: 1 });
  expect(logLines.some((line) => line.msg === 'invitation mail written')).toBe(true);
  expect(logLines.filter((line) => 'acceptLink' in line || JSON.stringify(line).includes(secret))).toEqual(
    [],
  );

  // Signed in for the first time: a token with the verified address, no tenant yet.
  const token = tokenFor({ userId: newcomer.userId, email: newcomer.email, emailVerified: true });
  const as = (tenant?: string) => ({
    authorization: `Bearer ${token}`,
    ...(tenant && { 'x-tenant': tenant }),
  });
  // They also start a tenant of their own.
  const ownSlug = `own-${newcomer.userId.slice(0, 8)}`;
  await api.post(
    {
      query:
        'mutation ($slug: String!) { createTenant(input: { name: "Own", slug: $slug }) { tenant { slug } } }',
      variables: { slug: ownSlug },
    },
    as(),
  );

  const accepted = await api.post(
    {
      query:
        'mutation ($secret: String!) { acceptInvitation(input: { secret: $secret }) { membership { role tenant { slug } } } }',
      variables: { secret },
    },
    as(),
  );
  expect(accepted.body.data.acceptInvitation.membership).toEqual({
    role: 'member',
    tenant: { slug: acme.slug },
  });

  const switcher =
    '{ currentTenant { slug } currentMemberships { nodes { id role tenant { slug } } } products { totalCount } }';
  const inAcme = await api.post({ query: switcher }, as(acme.slug));
  expect(inAcme.body.data.currentTenant.slug).toBe(acme.slug);
  expect(inAcme.body.data.products.totalCount).toBe(2);
  expect(inAcme.body.data.currentMemberships.nodes.map((node: any) => node.tenant.slug).sort()).toEqual(
    [acme.slug, ownSlug].sort(),
  );
  const inOwn = await api.post({ query: switcher }, as(ownSlug));
  expect([inOwn.body.data.currentTenant.slug, inOwn.body.data.products.totalCount]).toEqual([ownSlug, 0]);

  const membershipInAcme = inAcme.body.data.currentMemberships.nodes.find(
    (node: any) => node.tenant.slug === acme.slug,
  ).id;
  const left = await api.post(
    {
      query: 'mutation ($id: ID!) { deleteMembershipById(input: { id: $id }) { membership { role } } }',
      variables: { id: membershipInAcme },
    },
    as(acme.slug),
  );
  expect(left.body.errors).toBeUndefined();
  const after = await api.post({ query: switcher }, as(acme.slug));
  expect(after.body.data.currentTenant).toBeNull();
  expect(after.body.data.currentMemberships.nodes.map((node: any) => node.tenant.slug)).toEqual([ownSlug]);
});

test('accept links are logged in development only', () => {
  expect([
    logsAcceptLinks({ NODE_ENV: 'development' }),
    logsAcceptLinks({ NODE_ENV: 'production' }),
    logsAcceptLinks({ NODE_ENV: 'test' }),
  ]).toEqual([true, false, false]);
});

test('a revoked invitation mails nothing; a resend before the mail went queues one mail, not two', async () => {
  const other = await createTenant('flow-revoked');
  const admin = { authorization: `Bearer ${tokenFor({ userId: other.users.admin, tenantId: other.id })}` };
  const invite = async (email: string) =>
    (
      await api.post(
        {
          query:
            'mutation ($email: String!) { inviteMember(input: { email: $email }) { invitation { rowId } } }',
          variables: { email },
        },
        admin,
      )
    ).body.data.inviteMember.invitation.rowId as string;
  // The task, run by hand on the real database, as the worker would run it (this file's
  // worker leaves other tenants' mail alone).
  const runTask = (invitationId: string) => runInvitationMail(other.id, invitationId, send);
  const mailsTo = async (pattern: RegExp) => (await readdir(mailbox)).filter((file) => pattern.test(file));

  const revoked = await invite('revoked@example.test');
  await api.post(
    {
      query:
        'mutation ($id: UUID!) { revokeInvitation(input: { invitationId: $id }) { invitation { status } } }',
      variables: { id: revoked },
    },
    admin,
  );
  await runTask(revoked);
  expect(await mailsTo(/revoked@/)).toEqual([]);

  const resent = await invite('resent@example.test');
  await api.post(
    {
      query:
        'mutation ($id: UUID!) { resendInvitation(input: { invitationId: $id }) { invitation { status } } }',
      variables: { id: resent },
    },
    admin,
  );
  expect(await keyedMailJobs(other.id, resent)).toBe(1);
  for (const payload of await queuedMailPayloads(resent))
    expect(payload).toEqual({ tenantId: other.id, invitationId: resent });
  await runTask(resent);
  expect(await mailsTo(/resent@/)).toHaveLength(1);
});

test("the invitee sees who invited them to what before answering; a stranger holding the link learns only that it is someone else's", async () => {
  const tenant = await createTenant('flow-preview');
  await asOwner((db) =>
    db.query('update app_public.users set display_name = $2 where id = $1', [
      tenant.users.owner,
      'Olga Owner',
    ]),
  );
  const invitee = { userId: randomUUID(), email: `preview-${randomUUID().slice(0, 8)}@example.test` };
  // As invite_member stores it (this file's worker mails only its own tenant's invitations).
  const secret = randomUUID().replaceAll('-', '');
  await asOwner(async (db) => {
    const { rows } = await db.query<{ id: string }>(
      `insert into app_public.invitations (tenant_id, email, role, invited_by, expires_at)
       values ($1, $2, 'viewer', $3, now() + interval '7 days') returning id`,
      [tenant.id, invitee.email, tenant.users.owner],
    );
    await db.query(
      `insert into app_private.invitation_secrets (tenant_id, invitation_id, secret_hash) values ($1, $2, sha256(convert_to($3, 'UTF8')))`,
      [tenant.id, rows[0]!.id, secret],
    );
  });
  const preview = (headers: Record<string, string>) =>
    api.post(
      {
        query:
          'query ($secret: String!) { invitationPreview(secret: $secret) { tenantName tenantSlug inviter role email expiresAt } }',
        variables: { secret },
      },
      headers,
    );
  const bearer = (claims: Parameters<typeof tokenFor>[0]) => ({
    authorization: `Bearer ${tokenFor(claims)}`,
  });

  // Strangers: anonymous, another verified address (a member of another tenant even), an unverified claim of the right address.
  const refusals = await Promise.all([
    preview({}),
    preview(bearer({ userId: randomUUID(), email: 'someone-else@example.test', emailVerified: true })),
    preview(
      bearer({ userId: tenant.users.admin, tenantId: tenant.id, email: 'admin@x.test', emailVerified: true }),
    ),
    preview(bearer({ userId: randomUUID(), email: invitee.email, emailVerified: false })),
  ]);
  expect(refusals.map(({ body }) => body.errors?.[0]?.extensions?.code)).toEqual([
    // Anonymous requests may not run it at all (no grant to the anonymous role).
    'FORBIDDEN',
    'INVITATION_FOR_ANOTHER_EMAIL',
    'INVITATION_FOR_ANOTHER_EMAIL',
    'EMAIL_NOT_VERIFIED',
  ]);
  for (const { body } of refusals) {
    expect(body.data?.invitationPreview ?? null).toBeNull();
    expect(JSON.stringify(body)).not.toMatch(new RegExp(`${tenant.slug}|Olga|viewer`));
  }

  // The invitee, signed in with no tenant yet (the address in another case): all of it.
  const invited = bearer({ userId: invitee.userId, email: invitee.email.toUpperCase(), emailVerified: true });
  const seen = await preview(invited);
  expect(seen.body.errors).toBeUndefined();
  expect(seen.body.data.invitationPreview).toEqual({
    tenantName: `flow-preview ${tenant.slug}`,
    tenantSlug: tenant.slug,
    inviter: 'Olga Owner',
    role: 'viewer',
    email: invitee.email,
    expiresAt: expect.any(String),
  });
  // Looking answers nothing: still pending, and the invitee is in no tenant.
  const state = await asOwner((db) =>
    db.query(
      `select i.status, (select count(*)::int from app_public.memberships m where m.user_id = $2) as memberships
       from app_public.invitations i where i.tenant_id = $1 and i.email = $3`,
      [tenant.id, invitee.userId, invitee.email],
    ),
  );
  expect(state.rows).toEqual([{ status: 'pending', memberships: 0 }]);

  // Once declined, the page says so rather than showing it again; a wrong secret is not found.
  await api.post(
    {
      query:
        'mutation ($secret: String!) { declineInvitation(input: { secret: $secret }) { invitation { status } } }',
      variables: { secret },
    },
    invited,
  );
  expect((await preview(invited)).body.errors?.[0]?.extensions?.code).toBe('INVITATION_ALREADY_ANSWERED');
  const wrong = await api.post({ query: '{ invitationPreview(secret: "0000") { tenantName } }' }, invited);
  expect(wrong.body.errors?.[0]?.extensions?.code).toBe('INVITATION_NOT_FOUND');
});

test("APP_URL's default follows PORT to the example app's accept page; a path in APP_URL is kept", () => {
  expect(readEnv({}).APP_URL).toBe('http://127.0.0.1:5678/app');
  const moved = readEnv({ PORT: '6123' });
  expect(acceptLink(moved.APP_URL, 'abc')).toBe('http://127.0.0.1:6123/app/invitations/accept?secret=abc');
  expect(readEnv({ PORT: '6123', APP_URL: 'https://app.example.test' }).APP_URL).toBe(
    'https://app.example.test',
  );
  expect(acceptLink('https://example.test/portal/', 's')).toBe(
    'https://example.test/portal/invitations/accept?secret=s',
  );
  expect(acceptLink('https://app.example.test', 's')).toBe(
    'https://app.example.test/invitations/accept?secret=s',
  );
});

test('the API answers an invitation link that reached it with where the link belongs, not a bare 404', async () => {
  const response = await fetch(`${api.url}/invitations/accept?secret=abc`);
  expect(response.status).toBe(404);
  const body = (await response.json()) as {
    errors: Array<{ message: string; extensions: { code: string } }>;
  };
  expect(body.errors[0]!.extensions.code).toBe('ROUTE_NOT_FOUND');
  expect(body.errors[0]!.message).toMatch(/APP_URL/);
  expect(JSON.stringify(body)).not.toContain('abc');
});
