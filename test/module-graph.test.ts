// No module imports itself back, not even for a type: a cycle ties its modules into one
// room that cannot be read, tested or moved alone (issue 23). The graph is read with the
// TypeScript compiler's parser, so every relative import counts: `import type`, `export
// … from`, `import()` and `import('…').Type` alike.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { cyclesOf, moduleGraph } from './support/module-graph.ts';

// bench/ joins these once its type cycle around bench/lib/results.ts is gone.
const ROOTS = ['src', 'test', 'bin', 'examples/web/src'];
const projectRoot = fileURLToPath(new URL('..', import.meta.url));

const relative = (files: string[]) => files.map((file) => path.relative(projectRoot, file)).join(' -> ');

describe('the module graph', () => {
  test(`has no import cycle in ${ROOTS.join(', ')}`, () => {
    const graph = moduleGraph(ROOTS.map((root) => path.join(projectRoot, root)));
    // The walk saw the repository, not an empty folder.
    expect(graph.size).toBeGreaterThan(100);
    expect(cyclesOf(graph).map(relative)).toEqual([]);
  });

  const planted = mkdtempSync(path.join(tmpdir(), 'module-graph-'));
  afterAll(() => rmSync(planted, { recursive: true, force: true }));

  test.each([
    ['an import type', `import type { B } from './b.ts';\nexport type A = B;`],
    ['an export from', `export { b } from './b.ts';`],
    ['a dynamic import', `export const load = () => import('./b.ts');`],
    ['a type-position import', `export type A = import('./b.ts').B;`],
  ])('finds a cycle closed by %s', (_, source) => {
    const folder = mkdtempSync(path.join(planted, 'cycle-'));
    writeFileSync(path.join(folder, 'a.ts'), source);
    writeFileSync(
      path.join(folder, 'b.ts'),
      `import { a } from './a.ts';\nexport const b = a;\nexport type B = 1;`,
    );
    writeFileSync(path.join(folder, 'c.ts'), `import { b } from './b.ts';\nexport const c = b;`);
    const cycles = cyclesOf(moduleGraph([folder])).map((cycle) => cycle.map((file) => path.basename(file)));
    expect(cycles).toHaveLength(1);
    expect(cycles[0]!.toSorted()).toEqual(['a.ts', 'a.ts', 'b.ts'].sort());
  });
});
