// GraphiQL (Ruru) in a real browser, as a developer uses it: paste a token into the
// Headers tab, run a query, read the result pane. The token's tenant sees its own
// products there, and nothing of another tenant's.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { beforeAll, expect, test } from 'vitest';
import { tokenFor, useApi } from './support/api.ts';
import { asOwner } from './support/db.ts';
import { createTenant, type TenantFixture } from './support/fixtures.ts';
import { missing } from './support/system-tools.ts';

// Debian's chromium, never a downloaded one; CI installs it with .ci/install-chromium.
const CHROMIUM = '/usr/bin/chromium';
const PRODUCTS_QUERY = '{ products(orderBy: NAME_ASC) { totalCount nodes { name tenantId } } }';

const api = useApi({ graphiql: true });

let shop: TenantFixture;
let rival: TenantFixture;

beforeAll(async () => {
  [shop, rival] = await Promise.all([createTenant('shop'), createTenant('rival')]);
  // Both fixtures sell a 'Hammer'; the rival's names must be told apart on the screen.
  await asOwner((db) => db.query(`update app_public.products set name = 'Rival ' || name where tenant_id = $1`, [rival.id]));
});

const skip = missing('chromium', existsSync(CHROMIUM), 'Debian: apt-get install chromium, or .ci/install-chromium');

/** Debian's chromium, headless. */
async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic', '--disable-dev-shm-usage'],
  });
}

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

test.skipIf(skip)("a shop's viewer sees the shop's products in GraphiQL, and none of a rival's", async () => {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(15_000);
    await page.goto(`${api.url}/graphiql`);
    // The welcome text is in: Ruru will not overwrite what is typed next.
    await editor(page, 'operation.graphql').locator('.view-line').first().waitFor();

    await page.getByRole('button', { name: 'Headers', exact: true }).click();
    const token = tokenFor({ userId: shop.users.viewer, tenantId: shop.id });
    await replaceText(page, editor(page, 'request-headers.json'), JSON.stringify({ Authorization: `Bearer ${token}` }));
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
}, 60_000);
