// The project's folder, with a trailing slash: the folder of package.json, above src/ and
// also above dist/src/ when compiled (the build emits no package.json of its own: see
// version.ts). Kept apart from migrations.ts so that reading it loads nothing else.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = (() => {
  let folder = fileURLToPath(new URL('.', import.meta.url));
  while (!existsSync(path.join(folder, 'package.json')) && folder !== path.dirname(folder))
    folder = path.dirname(folder);
  return `${path.resolve(folder)}${path.sep}`;
})();
