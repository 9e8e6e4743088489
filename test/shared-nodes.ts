/**
 * Test helper for shared workqueues: forks node processes (fixtures/shared/node.js), sends them commands and
 * collects the events their handlers report (start, end, aborted, error), in arrival order.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

/** One reported event. */
export interface NodeEvent {
  ev: string;
  key: string;
  data: any;
  pid: number;
  t: number;
  [k: string]: unknown;
}

/** A forked node. */
export interface TestNode {
  readonly pid: number;
  readonly child: ChildProcess;
  call<T = unknown>(cmd: string, args?: Record<string, unknown>): Promise<T>;
  kill(signal: NodeJS.Signals): Promise<void>;
}

const NODE = new URL('./fixtures/shared/node.js', import.meta.url);
const SKEW = new URL('./fixtures/shared/skew.js', import.meta.url);

/** Every event of every node of this test file. */
export const events: NodeEvent[] = [];
const waiters: { test: () => boolean; resolve: () => void }[] = [];

/** Resolves when test() holds on the events (checked on each new one); rejects after timeoutMs. */
export function waitFor(test: () => boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  if (test()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const w = {
      test,
      resolve: () => {
        clearTimeout(t);
        resolve();
      },
    };
    const t = setTimeout(() => {
      waiters.splice(waiters.indexOf(w), 1);
      reject(new Error(`timed out waiting for ${what}`));
    }, timeoutMs);
    waiters.push(w);
  });
}

/**
 * Reads read() every 50 ms until done() holds for what it read, and resolves with that value; rejects after
 * timeoutMs with the last value (for state only a query shows, such as an item's record in the database).
 */
export async function pollUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() >= deadline) throw new Error(`timed out waiting for ${what}: last ${JSON.stringify(value)}`);
    await sleep(50);
  }
}

/**
 * Forks a node; with init, attaches it to a shared workqueue (url, queue, maxActive, nodeMaxActive, ...), as
 * node.call('init', init) does later (a node may be attached to several queues).
 */
export async function startNode(
  init?: Record<string, unknown>,
  options: { clockSkewMs?: number } = {},
): Promise<TestNode> {
  const skewed = options.clockSkewMs !== undefined;
  const child = fork(NODE, [], {
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    // A node whose wall clock is off: its Date reads the real time plus the skew (fixtures/shared/skew.ts).
    execArgv: skewed ? [...process.execArgv, '--import', SKEW.href] : process.execArgv,
    env: skewed ? { ...process.env, CMWQ_TEST_CLOCK_SKEW_MS: String(options.clockSkewMs) } : process.env,
  });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += String(d);
  });
  let next = 1;
  const replies = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  child.on('message', (m: any) => {
    if (m.reply !== undefined) {
      const r = replies.get(m.reply);
      replies.delete(m.reply);
      if (m.error !== undefined) r?.reject(Object.assign(new Error(m.error), { code: m.code }));
      else r?.resolve(m.value);
      return;
    }
    events.push(m);
    for (const w of [...waiters]) {
      if (w.test()) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', (code, signal) => {
    for (const r of replies.values()) r.reject(new Error(`node exited (${code ?? signal}): ${stderr}`));
    replies.clear();
  });
  const node: TestNode = {
    pid: child.pid!,
    child,
    call<T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
      const id = next++;
      return new Promise<T>((resolve, reject) => {
        replies.set(id, { resolve, reject });
        child.send({ id, cmd, ...args });
      });
    },
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
  if (init !== undefined) await node.call('init', init);
  else await node.call('sleep', { ms: 0 });
  return node;
}

/** node with its call() acting on queue: the `queue` argument of every command filled in (a call may override it). */
export function onQueue(node: TestNode, queue: unknown): TestNode {
  return {
    ...node,
    call: <T>(cmd: string, args: Record<string, unknown> = {}) => node.call<T>(cmd, { queue, ...args }),
  };
}

/** Ends every node given: a clean exit when it answers, SIGKILL otherwise. */
export async function stopNodes(nodes: TestNode[]): Promise<void> {
  await Promise.all(
    nodes.map(async (n) => {
      if (n.child.exitCode !== null || n.child.signalCode !== null) return;
      const t = setTimeout(() => n.child.kill('SIGKILL'), 5000);
      await n.call('exit').catch(() => undefined);
      await n.kill('SIGKILL').catch(() => undefined);
      clearTimeout(t);
    }),
  );
}

/** Events of kind ev (and key, when given). */
export function eventsOf(ev: string, key?: string): NodeEvent[] {
  return events.filter((e) => e.ev === ev && (key === undefined || e.key === key));
}
