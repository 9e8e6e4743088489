/**
 * The HTTP app of the shared-http example: a producer-only node (nodeMaxActive 0). POST /signup queues the
 * welcome mail inside the request's own transaction (the outbox pattern: no user without a mail, no mail without a
 * user); POST /edit debounces a per-user reindex with modDelayedWork and a key (many edits, one run, on whichever
 * worker). SIGTERM: stop accepting, detach, close, exit 0.
 */
import { createServer } from 'node:http';
import {
  allocWorkqueue,
  DelayedWork,
  destroyWorkqueue,
  modDelayedWork,
  queueWork,
  Work,
  WQ_UNBOUND,
  workFunc,
} from 'cmwq';
import { postgresBackend } from 'cmwq/postgres';
import { ms } from '../shared.js';

const backend = await postgresBackend({ connectionString: process.argv[2]! });
const wq = allocWorkqueue('app-jobs', WQ_UNBOUND, 4, { backend, nodeMaxActive: 0 });
const jobs = new URL('./jobs.js', import.meta.url);
const welcome = workFunc(jobs, 'welcome');
const reindex = workFunc(jobs, 'reindex');
const edits = new Map<string, number>();

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://app');
  const user = url.searchParams.get('user') ?? 'anonymous';
  try {
    if (url.pathname === '/signup') {
      const client = await backend.pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('INSERT INTO app_users (name) VALUES ($1)', [user]);
        await queueWork(wq, new Work(welcome, { user }, { key: `welcome:${user}` }), { tx: client });
        if (url.searchParams.has('fail')) throw new Error('the request failed after queueing');
        await client.query('COMMIT');
        res.end('created\n');
      } catch (error) {
        await client.query('ROLLBACK');
        res.statusCode = 500;
        res.end(`rolled back: ${(error as Error).message}\n`);
      } finally {
        client.release();
      }
    } else if (url.pathname === '/edit') {
      const n = (edits.get(user) ?? 0) + 1;
      edits.set(user, n);
      const dwork = new DelayedWork(reindex, { user, edits: n }, { key: `reindex:${user}` });
      const rearmed = await modDelayedWork(wq, dwork, ms(2000));
      res.end(rearmed ? 'reindex re-armed\n' : 'reindex armed\n');
    } else {
      res.statusCode = 404;
      res.end('not found\n');
    }
  } catch (error) {
    res.statusCode = 500;
    res.end(`${(error as Error).message}\n`);
  }
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.send?.({ port: typeof address === 'object' && address ? address.port : 0 });
});

process.once('SIGTERM', () => {
  server.close(async () => {
    await destroyWorkqueue(wq);
    await backend.close();
    process.stdout.write('app: shut down\n');
    process.exit(0);
  });
});
