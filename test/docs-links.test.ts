// The READMEs (the project's, the example app's, the bench's) and the pages of docs/ point
// at each other, at the code and at the npm scripts; each of those pointers goes stale
// silently when a page, a heading, a file or a script is renamed. These fail instead: every relative link reaches its file (and its
// heading, by GitHub's anchor for it), every file path named in code exists, and every
// `npm run` script named is one package.json has.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect, test } from 'vitest';

const root = path.join(import.meta.dirname, '..');
const pages = [
  'README.md',
  ...(await readdir(path.join(root, 'docs')))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];
const texts = new Map(
  await Promise.all(
    pages.map(async (page) => [page, await readFile(path.join(root, page), 'utf8')] as const),
  ),
);

/** The page without its fenced code blocks, whose contents are not Markdown. */
const prose = (text: string) => text.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '');

/** The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const [, heading] of prose(text).matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const slug = heading!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** Every relative link and image of a page: `[text](target)`, outside code. */
function linksOf(text: string): string[] {
  const outsideCode = prose(text).replace(/`[^`\n]*`/g, '');
  return [...outsideCode.matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)]
    .map((match) => match[1]!)
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

/** What is wrong with one link of `page`; undefined when it reaches its file and heading. */
async function brokenLink(page: string, target: string): Promise<string | undefined> {
  const [file = '', anchor] = target.split('#');
  const resolved = file ? path.join(path.dirname(page), decodeURI(file)) : page;
  if (!existsSync(path.join(root, resolved))) return `${page}: ${target}: no file ${resolved}`;
  if (anchor === undefined || !resolved.endsWith('.md')) return undefined;
  const text = texts.get(resolved) ?? (await readFile(path.join(root, resolved), 'utf8'));
  return anchorsOf(text).has(anchor) ? undefined : `${page}: ${target}: no heading #${anchor} in ${resolved}`;
}

test('the anchors are the ones GitHub makes', () => {
  expect([
    ...anchorsOf(
      '# Errors\n## The two commands\n### `rls_disabled`\n## [Limits, budgets and prices](limits.md)\n## Accountability: the audit trail and API keys\n## Memory\n## Memory\n```sh\n# not a heading\n```',
    ),
  ]).toEqual([
    'errors',
    'the-two-commands',
    'rls_disabled',
    'limits-budgets-and-prices',
    'accountability-the-audit-trail-and-api-keys',
    'memory',
    'memory-1',
  ]);
});

test('the check itself catches a missing file and a missing heading', async () => {
  expect(await brokenLink('README.md', 'docs/limits.md#limits')).toBeUndefined();
  expect(await brokenLink('README.md', 'docs/no-such-page.md')).toMatch(/no file docs\/no-such-page\.md/);
  expect(await brokenLink('README.md', 'docs/limits.md#no-such-heading')).toMatch(/no heading/);
  expect(await brokenLink('docs/limits.md', '#priced-by-the-rows-read')).toBeUndefined();
});

test('every relative link of the READMEs and docs/ reaches its file and heading', async () => {
  const links = pages.flatMap((page) => linksOf(texts.get(page)!).map((target) => [page, target] as const));
  expect(links.length).toBeGreaterThan(50);
  const broken = (await Promise.all(links.map(([page, target]) => brokenLink(page, target)))).filter(Boolean);
  expect(broken).toEqual([]);
});

test('every file path the READMEs and docs/ name in code exists', () => {
  const missing: string[] = [];
  let named = 0;
  for (const page of pages) {
    const text = texts.get(page)!;
    const files: string[] = [];
    // Code spans such as `src/limits/cost.ts` or `examples/web/src/gql/`, without placeholders or globs.
    for (const [, span] of text.matchAll(
      /`((?:src|test|bench|docs|bin|examples|migrations|data|\.ci)\/[\w./-]*)`/g,
    ))
      if (!span!.includes('*')) files.push(span!);
    // The first column of a layout block: `src/auth/   credential verification …`.
    for (const [, block] of text.matchAll(/^## Layout\n[\s\S]*?^```\n([\s\S]*?)^```$/gm))
      for (const [, file] of block!.matchAll(/^([\w.-]+(?:\/[\w.-]*)*)\s/gm)) files.push(file!);
    // From the project root, or (examples/web/README.md's `src/…`) from the page's own folder.
    const exists = (file: string) =>
      existsSync(path.join(root, file)) || existsSync(path.join(root, path.dirname(page), file));
    named += files.length;
    missing.push(...files.filter((file) => !exists(file)).map((file) => `${page}: ${file}`));
  }
  expect(named).toBeGreaterThan(40);
  expect(missing.sort()).toEqual([]);
});

test('every `npm run` script the READMEs and docs/ name is in package.json', async () => {
  const { scripts } = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const named = new Set(
    pages.flatMap((page) => [...texts.get(page)!.matchAll(/npm run ([a-z][\w:-]*)/g)].map((m) => m[1]!)),
  );
  expect(named.size).toBeGreaterThan(15);
  // `npm run db:*` and `npm run tenant:*` name families, not scripts.
  expect([...named].filter((name) => !(name in scripts) && !name.endsWith(':')).sort()).toEqual([]);
});
