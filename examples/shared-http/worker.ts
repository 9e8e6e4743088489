/**
 * A worker process of the shared-http example: a node of the 'app-jobs' shared workqueue that runs its items.
 * SIGTERM is a graceful shutdown: destroyWorkqueue() stops claiming and lets the items this node runs finish and
 * complete (the others stay in the database for the other workers), then the process exits 0.
 */
import { allocWorkqueue, destroyWorkqueue, WQ_UNBOUND } from 'cmwq';
import { postgresBackend } from 'cmwq/postgres';

const backend = await postgresBackend({ connectionString: process.argv[2]!, pollMs: 200 });
const wq = allocWorkqueue('app-jobs', WQ_UNBOUND, 4, { backend, nodeMaxActive: 2 });
process.send?.({ ready: true });

process.once('SIGTERM', async () => {
  await destroyWorkqueue(wq);
  await backend.close();
  process.stdout.write(`worker ${process.pid}: shut down\n`);
  process.exit(0);
});
