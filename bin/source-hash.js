// Plain JavaScript, like everything in bin/: loading a single .ts file makes Node load its
// TypeScript stripper, about 26 MB that every API process would keep.
//
// A hash of what `npm run build` compiles. dist/ is fresh when the hash it was built from
// (dist/.source-hash) equals the hash of the files now: content, not modification times,
// so a checkout, a copy or a clock does not fool it.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = fileURLToPath(new URL('..', import.meta.url));
export const distFolder = path.join(projectRoot, 'dist');
export const stampFile = path.join(distFolder, '.source-hash');
/** What tsconfig.build.json compiles, and the settings it compiles them with. */
const SOURCES = ['src', 'bench/api-process.ts', 'tsconfig.json', 'tsconfig.build.json'];

function filesUnder(entry) {
  const full = path.join(projectRoot, entry);
  if (!existsSync(full)) return [];
  if (!statSync(full).isDirectory()) return [entry];
  return readdirSync(full, { recursive: true, withFileTypes: true })
    .filter((item) => item.isFile())
    .map((item) => path.relative(projectRoot, path.join(item.parentPath, item.name)));
}

export function sourceHash() {
  const hash = createHash('sha256');
  for (const file of SOURCES.flatMap(filesUnder).sort()) {
    hash
      .update(`${file}\0`)
      .update(readFileSync(path.join(projectRoot, file)))
      .update('\0');
  }
  return hash.digest('hex');
}

export function distIsFresh() {
  try {
    return readFileSync(stampFile, 'utf8').trim() === sourceHash();
  } catch {
    return false;
  }
}
