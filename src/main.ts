// Entry point of `npm start`. Grafast reads GRAPHILE_ENV when it is first imported, so
// .env is loaded and GRAPHILE_ENV set from NODE_ENV here, before anything else loads.
// Tracing, when an exporter is configured, starts here too: http, express and pg must
// load after its hooks (src/observability/tracing.ts).
import { loadDotEnv } from './config.ts';
import { tracingRequested } from './observability/tracing-config.ts';

loadDotEnv();
process.env.GRAPHILE_ENV ??= process.env.NODE_ENV === 'production' ? 'production' : 'development';
if (tracingRequested(process.env)) await (await import('./observability/tracing.ts')).startTracing();
await import('./start.ts');
