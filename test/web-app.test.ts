// The example web app (examples/web) in headless Chromium, served as `npm start` serves
// it in development: Vite at /app/, the demo users from /dev/demo-users. Two demo users
// of two tenants, each in a browser context of their own, see only their own tenant's
// products; what one creates is there after a reload, only for that tenant, and can be
// edited, and appears at once for a colleague of the tenant (the app subscribes to product
// changes over a websocket), never for another tenant; a viewer's create is refused and the page names the refusal by its code, as it
// does a tenant's spent budget; a member of two tenants switches between them. Every
// request the app sends carries a trusted-document id and no query text. A production
// server (npm start with NODE_ENV=production) has neither the app nor the demo users.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { demoInvitation, demoTenants, demoUsers, seedDemoData } from '../src/dev/demo-data.ts';
import { DEMO_USERS_PATH, WEB_APP_PATH } from '../src/dev/dev-tools.ts';
import { PRICED_BY_ESTIMATE, tokenFor, useApi } from './support/api.ts';
import { startApiProcess } from './support/api-process.ts';
import { launchChromium, skipWithoutChromium } from './support/chromium.ts';
import { asOwner } from './support/db.ts';

const database = inject('database');
// The app sends trusted documents by id: the server resolves them from the manifest.
const trustedDocuments = {
  file: fileURLToPath(new URL('../trusted-documents.json', import.meta.url)),
  enforce: false,
};
// Priced by the estimate: these tests are about the app, and every test here works in the
// same demo tenants, whose buckets a loaded machine's measured database time once emptied
// (lists that never loaded). `frugal` below shows the app's answer to a spent budget.
const api = useApi({
  development: true,
  graphiql: true,
  devTools: true,
  trustedDocuments,
  work: PRICED_BY_ESTIMATE,
});
// Production's rule: trusted documents only, by id.
const enforcing = useApi({
  trustedDocuments: { ...trustedDocuments, enforce: true },
  work: PRICED_BY_ESTIMATE,
});
// Budgets so small that the app's larger queries are refused (and at once: no hold-back).
const frugal = useApi({
  development: true,
  devTools: true,
  trustedDocuments,
  budget: { maxPoints: 100, restoreRate: 1, redisUrl: undefined },
  throttleDelayMs: 0,
});

const ACME = ['Classic anvil', 'Giant slingshot', 'Portable anvil', 'Rocket skates'];
const GLOBEX = ['Doomsday device', 'Hammock', 'Lemonade'];

const manifest = JSON.parse(
  await readFile(new URL('../trusted-documents.json', import.meta.url), 'utf8'),
) as Record<string, string>;
/** The body of every request the app sent to /graphql. */
const sent: Array<{ query?: unknown; extensions?: { persistedQuery?: { sha256Hash?: string } } }> = [];
let browser: Browser;

beforeAll(async () => {
  await seedDemoData(database.ownerUrl);
  if (!skipWithoutChromium) browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

/** Records what the app sends, untouched. */
async function watchRequests(context: BrowserContext): Promise<void> {
  await context.route('**/graphql', async (route) => {
    sent.push(route.request().postDataJSON());
    return route.continue();
  });
}

/** A browser context of its own, signed in through the app's sign-in page as `name`. */
async function signedIn(name: string, server = api): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await watchRequests(context);
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  await page.goto(`${server.url}${WEB_APP_PATH}`);
  await page.getByRole('button', { name, exact: true }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  return { context, page };
}

/** The page's heading, with any error the app shows: a wait that fails then says why. */
async function headingAndAlerts(page: Page): Promise<{ heading: string; alerts: string[] }> {
  return {
    heading: await page.getByRole('heading', { level: 1 }).innerText(),
    alerts: await page.getByRole('alert').allInnerTexts(),
  };
}

/** The product names in the page's list, once it has loaded. */
async function listedNames(page: Page): Promise<string[]> {
  const products = page.getByRole('region', { name: 'Products' });
  await products.getByText(/\d+ products$/).waitFor();
  return products.locator('tbody tr td:first-child').allInnerTexts();
}

async function create(page: Page, name: string, price: string): Promise<void> {
  const form = page.getByRole('form', { name: 'New product' });
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('Price').fill(price);
  await form.getByRole('button', { name: 'Create' }).click();
}

test('the demo users endpoint lists each demo user with a token that works', async () => {
  const response = await fetch(`${api.url}${DEMO_USERS_PATH}`);
  expect(response.headers.get('cache-control')).toBe('no-store');
  const users = (await response.json()) as Array<{
    email: string;
    tenant: string | null;
    role: string | null;
    token: string;
    invitation?: string;
  }>;
  // And the newcomer, in no tenant yet, with the app's page for their invitation.
  expect(users.map(({ email, tenant, role }) => `${email} ${role} ${tenant}`)).toEqual([
    'alice@acme.test owner acme',
    'bob@acme.test viewer acme',
    'carol@globex.test owner globex',
    'dave@globex.test member globex',
    'erin@newcomer.test null null',
  ]);
  expect(users[4]!.invitation).toBe(`${WEB_APP_PATH}invitations/accept?secret=${demoInvitation.secret}`);
  const carol = users.find((user) => user.email === 'carol@globex.test')!;
  const { body } = await api.post(
    { query: '{ currentTenant { rowId } currentUser { email } }' },
    { authorization: `Bearer ${carol.token}` },
  );
  // The email is set only from a verified claim: the token says it is verified.
  expect(body.data).toEqual({
    currentTenant: { rowId: demoTenants.globex.id },
    currentUser: { email: 'carol@globex.test' },
  });
});

test.skipIf(skipWithoutChromium)(
  "two tenants' owners, side by side, each see only their own tenant's products",
  async () => {
    const alice = await signedIn('Alice');
    const carol = await signedIn('Carol');
    try {
      await expect
        .poll(() => alice.page.getByRole('heading', { level: 1 }).innerText())
        .toBe('Acme Corporation');
      await expect.poll(() => carol.page.getByRole('heading', { level: 1 }).innerText()).toBe('Globex');
      expect(await listedNames(alice.page)).toEqual(ACME);
      expect(await listedNames(carol.page)).toEqual(GLOBEX);
      // The aggregates are the tenant's own too: 149.00 + 89.50 + 299.99 + 45.00.
      await expect
        .poll(() => alice.page.getByRole('region', { name: 'Prices' }).locator('tfoot').innerText())
        .toContain('583.49');
      expect(await alice.page.content()).not.toMatch(new RegExp(GLOBEX.join('|')));
      expect(await carol.page.content()).not.toMatch(new RegExp(ACME.join('|')));
    } finally {
      await alice.context.close();
      await carol.context.close();
    }
  },
  60_000,
);

test.skipIf(skipWithoutChromium)(
  "a product the owner creates is listed after a reload, in the owner's tenant only, and can be edited",
  async () => {
    const name = `Anvil ${randomUUID().slice(0, 8)}`;
    const alice = await signedIn('Alice');
    const carol = await signedIn('Carol');
    try {
      await create(alice.page, name, '12.34');
      await alice.page
        .getByRole('status')
        .filter({ hasText: `Created ${name}.` })
        .waitFor();

      await alice.page.reload();
      await alice.page.getByLabel('Filter by name').fill(name);
      await expect.poll(() => listedNames(alice.page)).toEqual([name]);

      await carol.page.reload();
      await carol.page.getByLabel('Filter by name').fill(name);
      await expect.poll(() => listedNames(carol.page)).toEqual([]);
      const stored = await asOwner((db) =>
        db.query('select tenant_id, price::text from app_public.products where name = $1', [name]),
      );
      expect(stored.rows).toEqual([{ tenant_id: demoTenants.acme.id, price: '12.34' }]);

      await alice.page.getByRole('button', { name: `Edit ${name}` }).click();
      const form = alice.page.getByRole('form', { name: 'Edit product' });
      await form.getByLabel('Price').fill('23.45');
      await form.getByRole('button', { name: 'Save' }).click();
      await expect
        .poll(() => alice.page.getByRole('region', { name: 'Products' }).locator('tbody tr').innerText())
        .toContain('23.45');
      const edited = await asOwner((db) =>
        db.query('select price::text from app_public.products where name = $1', [name]),
      );
      expect(edited.rows).toEqual([{ price: '23.45' }]);
    } finally {
      await alice.context.close();
      await carol.context.close();
    }
  },
  60_000,
);

test.skipIf(skipWithoutChromium)(
  "a viewer's create is refused, and the page says FORBIDDEN; a negative price says INVALID_VALUE",
  async () => {
    const name = `Refused ${randomUUID().slice(0, 8)}`;
    const bob = await signedIn('Bob');
    try {
      await create(bob.page, name, '10.00');
      const refusal = bob.page.getByRole('form', { name: 'New product' }).getByRole('alert');
      await expect.poll(() => refusal.innerText()).toContain('FORBIDDEN');
      expect(await refusal.innerText()).toContain('Your role in this tenant does not allow this.');
      if (process.env.UPDATE_SCREENSHOT === '1') await bob.page.screenshot({ path: 'docs/web-app.png' });
    } finally {
      await bob.context.close();
    }
    const alice = await signedIn('Alice');
    try {
      await create(alice.page, name, '-1');
      const refusal = alice.page.getByRole('form', { name: 'New product' }).getByRole('alert');
      await expect.poll(() => refusal.innerText()).toContain('INVALID_VALUE');
    } finally {
      await alice.context.close();
    }
    const stored = await asOwner((db) =>
      db.query('select 1 from app_public.products where name = $1', [name]),
    );
    expect(stored.rowCount).toBe(0);
  },
  60_000,
);

test.skipIf(skipWithoutChromium)(
  "a member of two tenants switches between them and sees each one's products",
  async () => {
    // The demo data makes Dave a member of globex and a viewer of acme.
    const dave = demoUsers.find((user) => user.name === 'Dave')!;
    expect(dave).toMatchObject({ tenant: 'globex', alsoIn: { tenant: 'acme', role: 'viewer' } });
    const { context, page } = await signedIn('Dave');
    try {
      expect(await listedNames(page)).toEqual(GLOBEX);
      await page.getByLabel('Tenant').selectOption({ label: 'Acme Corporation' });
      await expect.poll(() => page.getByRole('heading', { level: 1 }).innerText()).toBe('Acme Corporation');
      // Acme's products (and whatever another test created there), none of Globex's.
      await expect.poll(() => listedNames(page)).toEqual(expect.arrayContaining(ACME));
      expect((await listedNames(page)).filter((name) => GLOBEX.includes(name))).toEqual([]);
      expect(await page.locator('header').innerText()).toContain('Dave, viewer');
      // The choice is kept across a reload.
      await page.reload();
      await expect.poll(() => listedNames(page)).toEqual(expect.arrayContaining(ACME));
    } finally {
      await context.close();
    }
  },
  60_000,
);

test.skipIf(skipWithoutChromium)(
  'a tenant out of budget sees RATE_LIMITED and how long to wait',
  async () => {
    const { context, page } = await signedIn('Carol', frugal);
    try {
      // The session query requests more than the whole bucket of 100 points, refilled at 1 a second.
      const refusal = page.getByRole('alert').filter({ hasText: 'RATE_LIMITED' }).first();
      await expect
        .poll(() => refusal.innerText())
        .toMatch(/RATE_LIMITED This tenant's request budget is spent for the moment\. Try again in \d+ s\./);
    } finally {
      await context.close();
    }
  },
  60_000,
);

test.skipIf(skipWithoutChromium)(
  "a colleague's new product appears without a reload, in the same tenant only; the subscription goes by id",
  async () => {
    const name = `Live ${randomUUID().slice(0, 8)}`;
    const alice = await signedIn('Alice');
    const bob = await signedIn('Bob');
    const carol = await signedIn('Carol');
    const subscribeFrames: any[] = [];
    bob.page.on('websocket', (socket) =>
      socket.on('framesent', ({ payload }) => {
        const message = JSON.parse(String(payload));
        if (message.type === 'subscribe') subscribeFrames.push(message.payload);
      }),
    );
    try {
      // Bob and Carol watch for the name before it exists.
      for (const watcher of [bob, carol]) {
        await watcher.page.getByLabel('Filter by name').fill(name);
        await expect.poll(() => listedNames(watcher.page)).toEqual([]);
      }
      // Again after a reload, so that the socket it opens is one the listener above sees.
      await bob.page.reload();
      await bob.page.getByLabel('Filter by name').fill(name);
      await expect.poll(() => listedNames(bob.page)).toEqual([]);
      await expect.poll(() => subscribeFrames.length).toBeGreaterThan(0);

      await create(alice.page, name, '7.00');
      await alice.page
        .getByRole('status')
        .filter({ hasText: `Created ${name}.` })
        .waitFor();
      await expect.poll(() => listedNames(bob.page), { timeout: 10_000 }).toEqual([name]);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await listedNames(carol.page)).toEqual([]);
      // The id only: no query text, not even an empty one.
      expect(subscribeFrames[0]).toMatchObject({
        extensions: { persistedQuery: { sha256Hash: expect.any(String) } },
      });
      expect(subscribeFrames[0]).not.toHaveProperty('query');
      expect(manifest[subscribeFrames[0].extensions.persistedQuery.sha256Hash]).toMatch(
        /^subscription ProductChanged/,
      );
    } finally {
      for (const user of [alice, bob, carol]) await user.context.close();
    }
  },
  60_000,
);

test.skipIf(skipWithoutChromium)(
  'every request of the app carries a trusted-document id and no query text',
  async () => {
    const { context, page } = await signedIn('Carol');
    try {
      await listedNames(page);
      // A mutation too: refused (negative price), so nothing is stored.
      await create(page, 'Never stored', '-5');
      await page.getByRole('form', { name: 'New product' }).getByRole('alert').waitFor();
    } finally {
      await context.close();
    }
    const operations = new Set(
      sent.map(
        (body) => /^\w+ (\w+)/.exec(manifest[body.extensions?.persistedQuery?.sha256Hash ?? ''] ?? '')?.[1],
      ),
    );
    expect([...operations]).toEqual(
      expect.arrayContaining(['Session', 'Products', 'ProductStats', 'Categories', 'CreateProduct']),
    );
    for (const body of sent) {
      expect(body.query).toBeUndefined();
      expect(Object.keys(manifest)).toContain(body.extensions?.persistedQuery?.sha256Hash);
    }
  },
  60_000,
);

test("in development an invitation link that reached the API is sent on to the app's accept page", async () => {
  const response = await fetch(`${api.url}/invitations/accept?secret=abc123`, { redirect: 'manual' });
  expect(response.status).toBe(302);
  expect(response.headers.get('location')).toBe(`${WEB_APP_PATH}invitations/accept?secret=abc123`);
});

/** A fresh browser context on `path` of the app's server, signed out. */
async function opened(path: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await watchRequests(context);
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  await page.goto(`${api.url}${path}`);
  return { context, page };
}

test.skipIf(skipWithoutChromium)(
  'the newcomer opens the invitation link, signs in, sees who invited them to what, accepts and lands in that tenant',
  async () => {
    // The link as the mail has it when APP_URL is the API itself: development redirects it to the app.
    const { context, page } = await opened(`/invitations/accept?secret=${demoInvitation.secret}`);
    try {
      expect(new URL(page.url()).pathname).toBe(`${WEB_APP_PATH}invitations/accept`);
      await page.getByText('Sign in as the person invited').waitFor();
      await page.getByRole('button', { name: 'Erin', exact: true }).click();
      const invitation = page.getByRole('region', { name: 'Invitation' });
      await expect
        .poll(() => invitation.innerText())
        .toContain('Alice invited you to join Acme Corporation as member.');
      expect(await invitation.innerText()).toContain('Sent to erin@newcomer.test.');
      if (process.env.UPDATE_SCREENSHOT === '1')
        await page.screenshot({ path: 'docs/web-app-invitation.png' });
      // Looking answered nothing.
      const before = await asOwner((db) =>
        db.query('select status from app_public.invitations where id = $1', [demoInvitation.id]),
      );
      expect(before.rows).toEqual([{ status: 'pending' }]);

      await invitation.getByRole('button', { name: 'Accept and join Acme Corporation' }).click();
      await expect.poll(() => headingAndAlerts(page)).toEqual({ heading: 'Acme Corporation', alerts: [] });
      expect(await page.locator('header').innerText()).toContain('Erin, member');
      // Acme's first page (other tests add products to acme too).
      await expect.poll(() => listedNames(page)).toEqual(expect.arrayContaining([ACME[0]]));
      expect(new URL(page.url()).pathname).toBe(WEB_APP_PATH);
      const after = await asOwner((db) =>
        db.query(
          `select i.status, m.role from app_public.invitations i
           left join app_public.memberships m on m.tenant_id = i.tenant_id and m.user_id = $2
           where i.id = $1`,
          [demoInvitation.id, demoInvitation.userId],
        ),
      );
      expect(after.rows).toEqual([{ status: 'accepted', role: 'member' }]);
    } finally {
      await context.close();
    }
  },
  60_000,
);

test.skipIf(skipWithoutChromium)(
  'someone else signed in with the link is told it is not theirs and sees nothing of it; the invitee declines it',
  async () => {
    // Carol invites Erin to globex too.
    const secret = `decline-${randomUUID()}`;
    const invitationId = randomUUID();
    await asOwner(async (db) => {
      const carol = demoUsers.find((user) => user.name === 'Carol')!;
      await db.query(
        `insert into app_public.invitations (tenant_id, id, email, role, invited_by, expires_at)
         values ($1, $2, $3, 'viewer', $4, now() + interval '1 day')`,
        [demoTenants.globex.id, invitationId, demoInvitation.email, carol.id],
      );
      await db.query(
        `insert into app_private.invitation_secrets (tenant_id, invitation_id, secret_hash) values ($1, $2, sha256(convert_to($3, 'UTF8')))`,
        [demoTenants.globex.id, invitationId, secret],
      );
    });
    const link = `${WEB_APP_PATH}invitations/accept?secret=${secret}`;

    const bob = await opened(link);
    try {
      await bob.page.getByRole('button', { name: 'Bob', exact: true }).click();
      const refusal = bob.page.getByRole('alert');
      await expect.poll(() => refusal.innerText()).toContain('INVITATION_FOR_ANOTHER_EMAIL');
      expect(await bob.page.locator('body').innerText()).not.toMatch(/Globex|Carol|viewer/);
      await bob.page.getByRole('button', { name: 'Continue to the app' }).click();
      await expect
        .poll(() => headingAndAlerts(bob.page))
        .toEqual({ heading: 'Acme Corporation', alerts: [] });
    } finally {
      await bob.context.close();
    }

    const erin = await opened(link);
    try {
      await erin.page.getByRole('button', { name: 'Erin', exact: true }).click();
      const invitation = erin.page.getByRole('region', { name: 'Invitation' });
      await expect
        .poll(() => invitation.innerText())
        .toContain('Carol invited you to join Globex as viewer.');
      await invitation.getByRole('button', { name: 'Decline' }).click();
      await expect
        .poll(() => erin.page.getByRole('status').innerText())
        .toContain('You declined the invitation to Globex.');
    } finally {
      await erin.context.close();
    }
    const stored = await asOwner((db) =>
      db.query(
        `select i.status, (select count(*)::int from app_public.memberships m where m.tenant_id = $2 and m.user_id = $3) as memberships
         from app_public.invitations i where i.tenant_id = $2 and i.id = $1`,
        [invitationId, demoTenants.globex.id, demoInvitation.userId],
      ),
    );
    expect(stored.rows).toEqual([{ status: 'declined', memberships: 0 }]);
  },
  60_000,
);

test.skipIf(skipWithoutChromium)(
  'signing up: a user creates a tenant of their own from the tenant menu, owns it and is switched to it',
  async () => {
    const name = `Initech ${randomUUID().slice(0, 8)}`;
    const slug = name.toLowerCase().replace(' ', '-');
    const { context, page } = await signedIn('Carol');
    try {
      await page.getByLabel('Tenant').selectOption({ label: 'New tenant…' });
      const form = page.getByRole('form', { name: 'New tenant' });
      await form.getByLabel('Name').fill(name);
      expect(await form.getByLabel('Slug').inputValue()).toBe(slug);
      await form.getByRole('button', { name: 'Create' }).click();
      await expect.poll(() => page.getByRole('heading', { level: 1 }).innerText()).toBe(name);
      await expect.poll(() => page.locator('header').innerText()).toContain('Carol, owner');
      expect(await listedNames(page)).toEqual([]);
      // Globex is still one switch away.
      expect(await page.getByLabel('Tenant').locator('option').allInnerTexts()).toEqual(
        expect.arrayContaining(['Globex', name]),
      );
    } finally {
      await context.close();
    }
    const carol = demoUsers.find((user) => user.name === 'Carol')!;
    const stored = await asOwner((db) =>
      db.query(
        `select t.name, m.role from app_public.tenants t join app_public.memberships m on m.tenant_id = t.id
         where t.slug = $1`,
        [slug],
      ),
    );
    expect(stored.rows).toEqual([{ name, role: 'owner' }]);
    expect(
      await asOwner((db) =>
        db.query(
          'select 1 from app_public.memberships m join app_public.tenants t on t.id = m.tenant_id where t.slug = $1 and m.user_id <> $2',
          [slug, carol.id],
        ),
      ),
    ).toMatchObject({ rowCount: 0 });
  },
  60_000,
);

test('a server that accepts only trusted documents lets a newcomer sign up by the document id alone', async () => {
  const id = Object.keys(manifest).find((key) => manifest[key]!.startsWith('mutation CreateTenant'));
  expect(id, 'trusted-documents.json has createTenant (npm run codegen)').toBeDefined();
  const slug = `signup-${randomUUID().slice(0, 8)}`;
  const newcomer = tokenFor({ userId: randomUUID(), email: `${slug}@example.test`, emailVerified: true });
  const { body } = await enforcing.post(
    {
      operationName: 'CreateTenant',
      variables: { name: 'Sign-up', slug },
      extensions: { persistedQuery: { version: 1, sha256Hash: id } },
    },
    { authorization: `Bearer ${newcomer}` },
  );
  expect(body.errors).toBeUndefined();
  expect(body.data.createTenant.tenant).toMatchObject({ slug, name: 'Sign-up' });
});

test(
  'a production server (npm start, NODE_ENV=production) has no demo users and no web app',
  { timeout: 60_000 },
  async () => {
    const api = await startApiProcess({ env: { WORKER: 'off' } });
    try {
      for (const path of [DEMO_USERS_PATH, WEB_APP_PATH, `${WEB_APP_PATH}src/main.tsx`]) {
        const response = await fetch(`${api.url}${path}`);
        expect(`${path}: ${response.status}`).toBe(`${path}: 404`);
        expect(await response.json()).toEqual({
          errors: [{ message: 'No such route.', extensions: { code: 'ROUTE_NOT_FOUND' } }],
        });
      }
    } finally {
      api.kill();
    }
  },
);
