// `npm start`. In development it runs the TypeScript sources directly (Node's type
// stripping), as the tests and the CLIs do. In production (NODE_ENV=production, in the
// environment or .env) it runs the JavaScript `npm run build` wrote into dist/, as the
// Docker image does: type stripping costs every process about 26 MB (docs/production.md, "Memory").
// Nothing is compiled here: a production start without a build says so and stops.
// Plain JavaScript, like everything in bin/: loading a single .ts file makes Node load its
// TypeScript stripper.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

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

const projectRoot = fileURLToPath(new URL('..', import.meta.url));
const production = process.env.NODE_ENV === 'production';
const entry = path.join(projectRoot, production ? 'dist/src/main.js' : 'src/main.ts');
if (production && !existsSync(entry)) {
  process.stderr.write(
    `NODE_ENV=production runs the build in dist/, and there is none: run \`npm run build\` first.\n`,
  );
  process.exit(1);
}
await import(pathToFileURL(entry).href);
