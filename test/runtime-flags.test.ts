// npm start's node flags (package.json) are production's memory settings: the Docker
// image runs with the same ones, and the benchmark measures with them.
import { readFile } from 'node:fs/promises';
import { expect, test } from 'vitest';
import { productionNodeFlags } from '../support/api-process.ts';

test("the Docker image runs node with npm start's flags", async () => {
  const flags = productionNodeFlags();
  expect(flags).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^--max-semi-space-size=\d+$/),
      expect.stringMatching(/^--max-old-space-size=\d+$/),
    ]),
  );
  const dockerfile = await readFile('Dockerfile', 'utf8');
  const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
  expect(cmd.filter((word) => word.startsWith('--'))).toEqual(flags);
});
