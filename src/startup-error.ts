// A start-up failure an operator fixes (an unreachable database, a missing manifest):
// logged as one clear line, without a stack. Its own module so a process that never
// builds the API (the cluster's primary) can recognise it without loading the server.
export class StartupError extends Error {
  override name = 'StartupError';
}
