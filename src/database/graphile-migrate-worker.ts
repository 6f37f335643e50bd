// The worker thread that runs one graphile-migrate command for graphile-migrate.ts, then is
// terminated: its pools live and die with it (see there for why).
import { parentPort, workerData } from 'node:worker_threads';
import { Logger, migrate, reset, run, watch } from 'graphile-migrate';
import type { WorkerJob, WorkerReply } from './graphile-migrate.ts';

const job = workerData as WorkerJob;
const reply = (message: WorkerReply) => parentPort!.postMessage(message);
const settings = {
  ...job.settings,
  // Without a log of the caller's, graphile-migrate's own logger writes to the console.
  ...(job.forwardLog && { logger: new Logger(() => (level, message) => reply({ log: [level, message] })) }),
};

try {
  if (job.command === 'migrate') await migrate(settings);
  else if (job.command === 'reset') await reset(settings);
  else if (job.command === 'watch') await watch(settings, true);
  else await run(settings, job.sql, job.filename);
  reply({ done: true });
} catch (error) {
  const { code } = error as { code?: unknown };
  reply({
    failed: {
      message: (error as Error).message,
      ...(typeof code === 'string' && { code }),
      // graphile-migrate sets this once it has logged the error (with its position in the SQL).
      logged: (error as { _gmlogged?: boolean })._gmlogged === true,
    },
  });
}
