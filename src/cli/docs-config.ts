// `npm run docs:config`: rewrites docs/configuration.md from the variables config.ts
// declares (src/configuration-doc.ts says how).
import { CONFIGURATION_DOC, writeConfigurationDoc } from '../configuration-doc.ts';

const changed = await writeConfigurationDoc();
process.stdout.write(changed ? `Wrote ${CONFIGURATION_DOC}\n` : `${CONFIGURATION_DOC} is up to date\n`);
