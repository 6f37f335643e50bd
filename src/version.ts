// The project's version, from package.json: what our PostGraphile plugins declare as
// theirs (Graphile's own plugins take theirs from their package the same way). Read at
// run time rather than imported: an imported package.json would be copied by the build
// into dist/, where projectRoot would then find it and look for .gmrc and the migrations.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from './project-root.ts';

const packageJson = JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as {
  version: string;
};

export const version: string = packageJson.version;
