// The project's version, from package.json: what our PostGraphile plugins declare as
// theirs (Graphile's own plugins take theirs from their package the same way).
import packageJson from '../package.json' with { type: 'json' };

export const version: string = packageJson.version;
