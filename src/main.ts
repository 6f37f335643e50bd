// Entry point of `npm start`. Grafast reads GRAPHILE_ENV when it is first imported, so
// .env is loaded and GRAPHILE_ENV set from NODE_ENV here, before anything else loads.
import { loadDotEnv } from './config.ts';

loadDotEnv();
process.env.GRAPHILE_ENV ??= process.env.NODE_ENV === 'production' ? 'production' : 'development';
await import('./start.ts');
