// `npm run build`: compiles src/ into dist/ (tsconfig.build.json), the JavaScript that
// production runs (bin/start.js with NODE_ENV=production, the Docker image).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = fileURLToPath(new URL('..', import.meta.url));
let tsc;
try {
  tsc = createRequire(path.join(projectRoot, 'package.json')).resolve('typescript/bin/tsc');
} catch {
  process.stderr.write('npm run build: TypeScript is not installed (npm install without --omit=dev)\n');
  process.exit(1);
}
const { status } = spawnSync(process.execPath, [tsc, '-p', path.join(projectRoot, 'tsconfig.build.json')], {
  cwd: projectRoot,
  stdio: 'inherit',
});
process.exit(status ?? 1);
