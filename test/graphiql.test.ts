// GraphiQL (Ruru) in a real browser, as a developer uses it: the README's first query is
// there on arrival, with a note that no token is set yet; paste a token into the Headers
// tab, run a query, read the result pane. The token's tenant sees its own products
// there, and nothing of another tenant's; a subscription run there receives the shop's
// changes over the websocket.
import { readFile } from 'node:fs/promises';
import type { Locator, Page } from 'playwright-core';
import { beforeAll, expect, test } from 'vitest';
import { tokenFor, useApi } from './support/api.ts';
import { launchChromium, skipWithoutChromium } from './support/chromium.ts';
import { asOwner } from './support/db.ts';
import { createTenant, type TenantFixture } from './support/fixtures.ts';

const PRODUCTS_QUERY = '{ products(orderBy: NAME_ASC) { totalCount nodes { name tenantId } } }';

const api = useApi({ graphiql: true });

let shop: TenantFixture;
let rival: TenantFixture;

beforeAll(async () => {
  [shop, rival] = await Promise.all([createTenant('shop'), createTenant('rival')]);
  // Both fixtures sell a 'Hammer'; the rival's names must be told apart on the screen.
  await asOwner((db) =>
    db.query(`update app_public.products set name = 'Rival ' || name where tenant_id = $1`, [rival.id]),
  );
});

// Ruru's editors are Monaco; each is found by the URI of its model, which names its role.
const editor = (page: Page, role: 'operation.graphql' | 'request-headers.json' | 'response.json') =>
  page.locator(`.monaco-editor[data-uri$="-${role}"]`);

/** Replaces an editor's text as a paste would: one input, so no auto-closed brackets. */
async function replaceText(page: Page, target: Locator, text: string): Promise<void> {
  await target.click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(text);
  await target.filter({ hasText: text.slice(-20) }).waitFor();
}

/** An editor's text, line by line in the order shown (Monaco lays lines out absolutely, spaces as no-break spaces). */
async function shownText(target: Locator): Promise<string> {
  const lines = await target
    .locator('.view-line')
    .evaluateAll((elements) =>
      (elements as unknown as Array<{ style: { top: string }; textContent: string | null }>).map(
        (line) => [parseFloat(line.style.top), line.textContent ?? ''] as const,
      ),
    );
  return lines
    .sort(([a], [b]) => a - b)
    .map(([, text]) => text.replaceAll('\u00a0', ' '))
    .join('\n');
}

test.skipIf(skipWithoutChromium)(
  "GraphiQL opens on the README's first query, with a note that no token is set",
  async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const readmeQuery = /```graphql\n([\s\S]*?)```/.exec(readme)![1]!.trim();
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      page.setDefaultTimeout(15_000);
      await page.goto(`${api.url}/graphiql`);
      const operation = editor(page, 'operation.graphql');
      await operation.filter({ hasText: 'groupedAggregates' }).waitFor();
      const text = await shownText(operation);

      expect(text).toContain(readmeQuery);
      expect(text).toMatch(/^# No token yet: a request without an Authorization header is anonymous/);
    } finally {
      await browser.close();
    }
  },
  60_000,
);

test.skipIf(skipWithoutChromium)(
  "a shop's viewer sees the shop's products in GraphiQL, and none of a rival's",
  async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      page.setDefaultTimeout(15_000);
      await page.goto(`${api.url}/graphiql`);
      // The welcome text is in: Ruru will not overwrite what is typed next.
      await editor(page, 'operation.graphql').locator('.view-line').first().waitFor();

      await page.getByRole('button', { name: 'Headers', exact: true }).click();
      const token = tokenFor({ userId: shop.users.viewer, tenantId: shop.id });
      await replaceText(
        page,
        editor(page, 'request-headers.json'),
        JSON.stringify({ Authorization: `Bearer ${token}` }),
      );
      await replaceText(page, editor(page, 'operation.graphql'), PRODUCTS_QUERY);
      await page.getByRole('button', { name: /^Execute query/ }).click();

      const response = editor(page, 'response.json');
      await response.filter({ hasText: /"(data|errors)"/ }).waitFor();
      await page.screenshot({ path: '/tmp/graphiql.png' });
      // Monaco lays spaces out as no-break spaces.
      const text = (await response.innerText()).replaceAll('\u00a0', ' ');
      const result = JSON.parse(text);

      expect(result.errors).toBeUndefined();
      expect(result.data.products.totalCount).toBe(2);
      expect(result.data.products.nodes).toEqual([
        { name: 'Gift card', tenantId: shop.id },
        { name: 'Hammer', tenantId: shop.id },
      ]);
      expect(text).not.toContain('Rival');
      expect(text).not.toContain(rival.id);
    } finally {
      await browser.close();
    }
  },
  60_000,
);

test.skipIf(skipWithoutChromium)(
  'GraphiQL runs a subscription over the websocket, as the token in its Headers pane',
  async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      page.setDefaultTimeout(15_000);
      await page.goto(`${api.url}/graphiql`);
      await editor(page, 'operation.graphql').locator('.view-line').first().waitFor();

      // The operation first: GraphiQL parses it after a pause, and sends it over the
      // websocket only once it knows it is a subscription (clicked at once, it went over
      // HTTP and was refused as "Subscription not supported").
      await replaceText(
        page,
        editor(page, 'operation.graphql'),
        'subscription { productChanged { event product { name tenantId } } }',
      );
      await page.getByRole('button', { name: 'Headers', exact: true }).click();
      const token = tokenFor({ userId: shop.users.viewer, tenantId: shop.id });
      await replaceText(
        page,
        editor(page, 'request-headers.json'),
        JSON.stringify({ Authorization: `Bearer ${token}` }),
      );
      await page.getByRole('button', { name: /^Execute query/ }).click();

      const response = editor(page, 'response.json');
      // The socket's handshake verifies the token and starts LISTEN: on a loaded CI machine
      // (the heavy-tenant test runs beside this one) that took over 15 s once. What the
      // response pane showed is kept for the failure message.
      await response
        .filter({ hasText: 'SUBSCRIBED' })
        .waitFor({ timeout: 40_000 })
        .catch(async (error: unknown) => {
          throw new Error(`no SUBSCRIBED event; the response pane showed: ${await shownText(response)}`, {
            cause: error,
          });
        });
      await asOwner((db) =>
        db.query(`update app_public.products set name = 'Live hammer' where tenant_id = $1 and id = $2`, [
          shop.id,
          shop.productIds[0],
        ]),
      );
      await asOwner((db) =>
        db.query(`update app_public.products set name = 'Rival live' where tenant_id = $1`, [rival.id]),
      );
      await response.filter({ hasText: 'Live hammer' }).waitFor();
      const text = (await response.innerText()).replaceAll('\u00a0', ' ');
      expect(text).toContain('UPDATED');
      expect(text).toContain(shop.id);
      expect(text).not.toContain('Rival');
    } finally {
      await browser.close();
    }
  },
  90_000,
);
