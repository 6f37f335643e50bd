// Entry point of `npm start`. Grafast reads GRAPHILE_ENV when it is first imported, so
// it is set from NODE_ENV here, before anything else loads.
process.env.GRAPHILE_ENV ??= process.env.NODE_ENV === 'production' ? 'production' : 'development';
await import('./start.ts');
