// `npm start`. In production (NODE_ENV=production, in the environment or .env) it runs
// the compiled JavaScript in dist/, compiling it first when the sources changed since
// the last build; in development it runs the TypeScript sources directly, as the tests
// do. Why: Node's type stripping costs every process about 26 MB (docs/production.md, "Memory").
// Without TypeScript installed (npm install --omit=dev) and no fresh dist/, it runs the
// sources and says so.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { distFolder, distIsFresh, projectRoot } from './source-hash.js';

// npm's own engine warnings are hidden (.npmrc: they are about the Node that runs npm, not
// the one the scripts run on), so an older Node that does reach this point is said here,
// in one line, instead of failing later on a missing API or a .ts file it cannot read.
const NODE_MAJOR = 24;
if (Number(process.versions.node.split('.')[0]) < NODE_MAJOR) {
  process.stderr.write(
    `tenantgraph needs Node ${NODE_MAJOR} or later; this is ${process.version}. Run it as \`npm start\` ` +
      `(npm scripts use Node ${NODE_MAJOR} from the \`node\` devDependency), or install Node ${NODE_MAJOR}.\n`,
  );
  process.exit(1);
}

try {
  process.loadEnvFile(path.join(process.cwd(), '.env'));
} catch (error) {
  if (error.code !== 'ENOENT') throw error;
}

let entry = path.join(projectRoot, 'src/main.ts');
if (process.env.NODE_ENV === 'production') {
  // Cluster workers run this file too, after their primary has made dist/ fresh.
  let fresh = distIsFresh();
  if (!fresh) {
    process.stderr.write('Compiling src/ into dist/ for production (npm run build)...\n');
    const { build } = await import('./build.js');
    fresh = build();
    if (!fresh)
      process.stderr.write(
        'Could not compile (is typescript installed?): running the TypeScript sources, about 26 MB more per process.\n',
      );
  }
  if (fresh) entry = path.join(distFolder, 'src/main.js');
}
await import(pathToFileURL(entry).href);
