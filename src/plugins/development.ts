// What development adds to the preset, and what production leaves out: grafast's explain
// (plans and SQL, only for requests that ask: explain-on-request.ts) and GraphiQL's note
// on where a token comes from. Light on purpose: src/config.ts builds the preset with it.
import { ExplainOnRequestPlugin } from './explain-on-request.ts';
import { graphiqlConfig } from './graphiql.ts';

export function developmentPreset(development: boolean): GraphileConfig.Preset {
  return {
    plugins: development ? [ExplainOnRequestPlugin] : [],
    // Plans and SQL help while developing and leak internals otherwise; even then only
    // for requests that ask (explain-on-request.ts), so GraphiQL offers its explain tool.
    grafast: { explain: development },
    ruru: graphiqlConfig(development),
  };
}
