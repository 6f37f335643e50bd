// The API's graphile preset, where graphile's own tooling looks for it: PostGraphile's
// with the API's plugins (src/plugins/preset.ts), and the environment's options
// (presetFromEnv, src/config.ts: the `tenantgraph` scope, src/options.ts, beside
// grafserv's). `npm start` runs this same preset (src/server.ts extends the configured
// one with TenantgraphPreset), adding what only a running server has: its pool as
// `pgServices`, and the services the limits share with the routes.
import { loadDotEnv, presetFromEnv, readEnv } from './src/config.ts';
import { TenantgraphPreset } from './src/plugins/preset.ts';

loadDotEnv();

const preset: GraphileConfig.Preset = {
  extends: [TenantgraphPreset, presetFromEnv(readEnv())],
};

export default preset;
