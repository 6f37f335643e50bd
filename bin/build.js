// `npm run build`: compiles src/ into dist/ (tsconfig.build.json), then records the hash of
// the sources it compiled, which bin/start.js compares before running dist/.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { distFolder, projectRoot, sourceHash, stampFile } from './source-hash.js';

/** Compiles; false when TypeScript is not installed (npm install --omit=dev) or the build fails. */
export function build() {
  let tsc;
  try {
    tsc = createRequire(path.join(projectRoot, 'package.json')).resolve('typescript/bin/tsc');
  } catch {
    return false;
  }
  const hash = sourceHash();
  rmSync(stampFile, { force: true });
  // Emitted by builds before src/version.ts read package.json at run time: projectRoot would find it.
  rmSync(path.join(distFolder, 'package.json'), { force: true });
  const { status } = spawnSync(process.execPath, [tsc, '-p', path.join(projectRoot, 'tsconfig.build.json')], {
    cwd: projectRoot,
    stdio: 'inherit',
  });
  if (status !== 0) return false;
  writeFileSync(stampFile, `${hash}\n`);
  return true;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (!build()) {
    process.stderr.write(
      `npm run build: compiling into ${path.relative(process.cwd(), distFolder)}/ failed (is typescript installed?)\n`,
    );
    process.exit(1);
  }
}
