/**
 * Unbound pools' threads: growth (SPEC §1 "the pool adds a thread when every thread is busy running (not sleeping)
 * and work is pending, up to maxWorkers"), idle retirement (idleTimeoutMs), and shutdown (SPEC §3.21: idle threads
 * never keep the process alive; destroyWorkqueue leaves no thread behind; SPEC §1: module works run in an app
 * started with node -e).
 *
 * Thread starts go through an injected startThread that records every thread (name, exit), so the tests count
 * the threads a pool really started, not only those that happened to run an item.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Worker as NodeThread, type WorkerOptions } from 'node:worker_threads';
import {
  WQ_UNBOUND,
  Work,
  allocWorkqueue,
  destroyWorkqueue,
  flushWorkqueue,
  queueWork,
  workFunc,
  workqueueInit,
  wqDump,
  wqMonitor,
  type Workqueue,
} from '../src/index.js';
import { startThread as defaultStartThread } from '../src/base/exec-argv.js';
import { runNode, withWarnings, type NodeRun } from './helpers.js';

const jobs = new URL('../../test/fixtures/threads-faults/jobs.mjs', import.meta.url);
const job = workFunc(jobs, 'job');

const threads: { name: string; node: NodeThread; exitedAt: number }[] = [];
/** While set, threads start this much later (as on a loaded machine): the thread waits before loading cmwq. */
let slowStartMs = 0;
workqueueInit({
  startThread(url: URL, options: WorkerOptions): NodeThread {
    const node =
      slowStartMs > 0
        ? new NodeThread(`setTimeout(() => import(${JSON.stringify(url.href)}), ${slowStartMs});`, {
            ...options,
            eval: true,
          })
        : defaultStartThread(url, options);
    const entry = { name: options.name ?? '', node, exitedAt: -1 };
    threads.push(entry);
    node.once('exit', () => (entry.exitedAt = Date.now()));
    return node;
  },
});

const allocated: Workqueue[] = [];
function alloc(name: string, attrs: Parameters<typeof allocWorkqueue>[3]): Workqueue {
  const wq = allocWorkqueue(name, WQ_UNBOUND, 0, attrs);
  allocated.push(wq);
  return wq;
}
after(async () => {
  for (const wq of allocated) if (wqMonitor().some((r) => r.name === wq.name)) await destroyWorkqueue(wq);
});

/** The unbound pool wq runs on (its pool workqueue is made when the first item is queued). */
function poolOf(wq: Workqueue): number {
  const dump = wqDump().workqueues.find((w) => w.name === wq.name);
  assert.ok(dump !== undefined && dump.pwqs.length === 1, `${wq.name} has one pool`);
  return dump.pwqs[0].pool;
}

/** The threads cmwq started for unbound pool id (named kworker/u<id>:<i>). */
function threadsOf(pool: number) {
  return threads.filter((t) => t.name.startsWith(`kworker/u${pool}:`));
}

function dumpedThreadIds(pool: number): number[] {
  const p = wqDump().pools.find((x) => x.id === pool);
  assert.ok(p !== undefined, `pool ${pool} is in wqDump`);
  return p.threadIds;
}

async function waitFor(cond: () => boolean, what: () => string, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Shared {
  runs: Int32Array;
  tids: Int32Array;
  done: Int32Array;
}
function shared(n: number): Shared {
  const sab = (k: number) => new Int32Array(new SharedArrayBuffer(4 * k));
  return { runs: sab(n), tids: sab(n), done: sab(n + 1) };
}
function assertRanOnce(s: Shared, n: number): void {
  const wrong: string[] = [];
  for (let i = 0; i < n; i++) if (s.runs[i] !== 1) wrong.push(`#${i} ran ${s.runs[i]}x`);
  assert.deepEqual(wrong, [], 'every item runs exactly once');
}

test("growth: 8 threads' worth of CPU hogs plus sleepers on one unbound workqueue all finish, on at most maxWorkers threads, sleepers not stuck behind hogs", {
  timeout: 25_000,
}, async () => {
  const wq = alloc('tp-mixed', { maxWorkers: 8, idleTimeoutMs: 60_000 });
  const HOGS = 8;
  const SLEEPERS_PER_HOG = 5;
  const N = HOGS * (1 + SLEEPERS_PER_HOG);
  const s = shared(N);
  const isHog = (i: number) => i % (1 + SLEEPERS_PER_HOG) === 0;
  // Interleaved: hog, 5 sleepers, hog, 5 sleepers, ...
  for (let i = 0; i < N; i++) {
    const mode = isHog(i) ? { mode: 'spin', ms: 150 } : { mode: 'sleep', ms: 5 };
    assert.equal(queueWork(wq, new Work(job, { runs: s.runs, tids: s.tids, done: s.done, i, ...mode })), true);
  }
  const pool = poolOf(wq);
  let maxListed = 0;
  const sampler = setInterval(() => (maxListed = Math.max(maxListed, dumpedThreadIds(pool).length)), 5);
  try {
    await flushWorkqueue(wq);
  } finally {
    clearInterval(sampler);
  }
  assertRanOnce(s, N);
  const r = wqMonitor().find((x) => x.name === wq.name)!;
  assert.equal(r.total, N);
  assert.equal(r.failed, 0);

  const started = threadsOf(pool);
  const ran = new Set(Array.from(s.tids));
  assert.ok(started.length <= 8, `the pool started ${started.length} threads; maxWorkers is 8`);
  assert.ok(maxListed <= 8, `wqDump listed ${maxListed} threads at once`);
  assert.ok(ran.size > 1, `hogs made the pool grow: items ran on ${ran.size} thread(s)`);
  assert.ok(ran.size <= 8, `items ran on ${ran.size} threads`);
  for (const tid of ran)
    assert.ok(
      started.some((t) => t.node.threadId === tid),
      `thread ${tid} is one of the pool's`,
    );

  // Finishing order: sleepers interleaved with hogs are not all held until the hogs are over.
  const order = (i: number) => s.done[1 + i];
  const lastHog = Math.max(
    ...Array.from({ length: N }, (_, i) => i)
      .filter(isHog)
      .map(order),
  );
  const sleepersBeforeLastHog = Array.from({ length: N }, (_, i) => i).filter(
    (i) => !isHog(i) && order(i) < lastHog,
  ).length;
  assert.ok(
    sleepersBeforeLastHog >= SLEEPERS_PER_HOG,
    `${sleepersBeforeLastHog} sleepers finished before the last hog`,
  );
});

test('growth: 2,000 tiny synchronous items on a fresh pool with maxWorkers 8 never need more than a couple of threads', {
  timeout: 25_000,
}, async () => {
  const wq = alloc('tp-tiny', { maxWorkers: 8, idleTimeoutMs: 60_001 });
  const N = 2_000;
  const s = shared(N);
  for (let i = 0; i < N; i++) queueWork(wq, new Work(job, { runs: s.runs, tids: s.tids, i }));
  const pool = poolOf(wq);
  assert.equal(threadsOf(pool).length, 0, 'a fresh pool');
  await flushWorkqueue(wq);
  assertRanOnce(s, N);
  const ran = new Set(Array.from(s.tids));
  const started = threadsOf(pool);
  // The manager adds a thread only when every thread is in a synchronous segment longer than 1 ms: microsecond
  // items never are, short of the OS descheduling a thread in the middle of one (hence 2, not 1).
  assert.ok(started.length <= 2, `the pool started ${started.length} threads for tiny items`);
  assert.ok(ran.size <= 2, `tiny items ran on ${ran.size} threads`);
});

test("idle retirement: with idleTimeoutMs 200 a pool's threads end after the work, wqDump lists none, new work starts a new thread", {
  timeout: 25_000,
}, async () => {
  const wq = alloc('tp-idle', { maxWorkers: 4, idleTimeoutMs: 200 });
  const N = 20;
  const s = shared(N);
  const queuedAt = Date.now();
  // A few 30 ms hogs, so that the pool has more than one thread to retire.
  for (let i = 0; i < N; i++)
    queueWork(wq, new Work(job, { runs: s.runs, tids: s.tids, i, ...(i < 4 ? { mode: 'spin', ms: 30 } : {}) }));
  const pool = poolOf(wq);
  await flushWorkqueue(wq);
  assertRanOnce(s, N);
  const first = threadsOf(pool);
  assert.ok(first.length >= 1);

  await waitFor(
    () => dumpedThreadIds(pool).length === 0 && first.every((t) => t.exitedAt >= 0),
    () =>
      `idle threads to retire (wqDump lists ${dumpedThreadIds(pool).join(',') || 'none'}; not exited: ${first
        .filter((t) => t.exitedAt < 0)
        .map((t) => t.name)
        .join(', ')})`,
    5_000,
  );
  // None retired before it had been idle idleTimeoutMs (its idle time began after the work was queued).
  for (const t of first)
    assert.ok(t.exitedAt - queuedAt >= 200, `${t.name} retired ${t.exitedAt - queuedAt} ms after the work was queued`);
  const p = wqDump().pools.find((x) => x.id === pool)!;
  assert.equal(p.worklist, 0);

  // The pool is still usable: a new item starts a new thread.
  const s2 = shared(1);
  queueWork(wq, new Work(job, { runs: s2.runs, tids: s2.tids, i: 0 }));
  await flushWorkqueue(wq);
  assert.equal(s2.runs[0], 1);
  assert.ok(!first.some((t) => t.node.threadId === s2.tids[0]), 'it ran on a new thread');
  assert.deepEqual(dumpedThreadIds(pool), [s2.tids[0]]);
});

test("§3.21 destroyWorkqueue ends the pool's threads", { timeout: 25_000 }, async () => {
  const wq = allocWorkqueue('tp-destroy', WQ_UNBOUND, 0, { maxWorkers: 3, idleTimeoutMs: 60_002 });
  const N = 12;
  const s = shared(N);
  for (let i = 0; i < N; i++)
    queueWork(wq, new Work(job, { runs: s.runs, tids: s.tids, i, ...(i < 3 ? { mode: 'spin', ms: 30 } : {}) }));
  const pool = poolOf(wq);
  await destroyWorkqueue(wq);
  assertRanOnce(s, N);
  const mine = threadsOf(pool);
  assert.ok(mine.length >= 1);
  await waitFor(
    () => mine.every((t) => t.exitedAt >= 0),
    () =>
      `the destroyed pool's threads to exit (${mine
        .filter((t) => t.exitedAt < 0)
        .map((t) => t.name)
        .join(', ')})`,
    5_000,
  );
  assert.ok(!wqDump().pools.some((p) => p.id === pool), 'the pool is freed');
});

test('§3.21 destroyWorkqueue while the manager is still starting a thread: that thread ends too, and no start failure is reported', {
  timeout: 25_000,
}, async () => {
  slowStartMs = 400;
  try {
    await withWarnings(async (warnings) => {
      const wq = allocWorkqueue('tp-destroy-starting', WQ_UNBOUND, 0, { maxWorkers: 3, idleTimeoutMs: 60_003 });
      const N = 10;
      const s = shared(N);
      // A 150 ms hog with items waiting behind it: every thread is busy running, so the manager starts another,
      // which takes 400 ms to come up; the hog and the items behind it are over long before.
      for (let i = 0; i < N; i++)
        queueWork(wq, new Work(job, { runs: s.runs, tids: s.tids, i, ...(i === 0 ? { mode: 'spin', ms: 150 } : {}) }));
      const pool = poolOf(wq);
      await destroyWorkqueue(wq);
      assertRanOnce(s, N);
      const mine = threadsOf(pool);
      assert.ok(
        mine.length >= 2,
        `the manager started a second thread during the hog (started: ${mine.map((t) => t.name).join(', ')})`,
      );
      assert.ok(!wqDump().pools.some((p) => p.id === pool), 'the pool is freed');
      await waitFor(
        () => mine.every((t) => t.exitedAt >= 0),
        () =>
          `the destroyed pool's threads to exit (${mine
            .filter((t) => t.exitedAt < 0)
            .map((t) => t.name)
            .join(', ')})`,
        5_000,
      );
      await new Promise((r) => setImmediate(r));
      const cmwqWarnings = warnings.filter((w) => w.name === 'CmwqWarning').map((w) => w.message);
      assert.deepEqual(cmwqWarnings, [], 'a thread ended by destroyWorkqueue is not a failed start');
    });
  } finally {
    slowStartMs = 0;
  }
});

// Child processes: each must exit by itself (killed after KILL_AFTER_MS otherwise). Unbound pools keep their
// default idleTimeoutMs (30 s) there, so an exit within a few seconds means idle threads did not hold the process.
const indexUrl = new URL('../src/index.js', import.meta.url).href;
const execArgvUrl = new URL('../src/base/exec-argv.js', import.meta.url).href;
const KILL_AFTER_MS = 12_000;

/** Module works on an unbound, a WQ_MEM_RECLAIM and a per-CPU workqueue (CPU 1); flushed, nothing destroyed. */
const idleBody = `
  cmwq.workqueueInit({ nrCpus: 2 });
  const job = cmwq.workFunc(${JSON.stringify(jobs.href)}, 'job');
  const N = 30;
  const runs = new Int32Array(new SharedArrayBuffer(4 * 3 * N));
  const tids = new Int32Array(new SharedArrayBuffer(4 * 3 * N));
  const unbound = cmwq.allocWorkqueue('idle-unbound', cmwq.WQ_UNBOUND, 0, { maxWorkers: 4 });
  const reclaim = cmwq.allocWorkqueue('idle-reclaim', cmwq.WQ_UNBOUND | cmwq.WQ_MEM_RECLAIM, 0, { maxWorkers: 3 });
  const percpu = cmwq.allocWorkqueue('idle-percpu');
  for (let i = 0; i < N; i++) {
    cmwq.queueWork(unbound, new cmwq.Work(job, { runs, tids, i, ...(i < 3 ? { mode: 'spin', ms: 20 } : {}) }));
    cmwq.queueWork(reclaim, new cmwq.Work(job, { runs, tids, i: N + i }));
    cmwq.queueWorkOn(1, percpu, new cmwq.Work(job, { runs, tids, i: 2 * N + i, ...(i % 2 ? { mode: 'sleep', ms: 2 } : {}) }));
  }
  await Promise.all([unbound, reclaim, percpu].map((wq) => cmwq.flushWorkqueue(wq)));
  const threadIds = new Set(tids);
  console.log('RUNS ' + runs.join(','));
  console.log('MAIN RAN ' + threadIds.has(0) + ' THREADS ' + threadIds.size);
  console.log('POOL THREADS ' + cmwq.wqDump().pools.reduce((n, p) => n + (p.unbound ? p.threadIds.length : 0), 0));
  console.log('FLUSHED');
`;

/** Unbound and WQ_MEM_RECLAIM workqueues destroyed: every thread cmwq started (recorded by startThread) exits. */
const destroyBody = `
  const { startThread } = await import(${JSON.stringify(execArgvUrl)});
  const started = [];
  cmwq.workqueueInit({ nrCpus: 1, startThread(url, options) {
    const node = startThread(url, options);
    const t = { name: options.name, exited: false };
    started.push(t);
    node.once('exit', () => (t.exited = true));
    return node;
  } });
  const job = cmwq.workFunc(${JSON.stringify(jobs.href)}, 'job');
  const N = 20;
  const runs = new Int32Array(new SharedArrayBuffer(4 * 2 * N));
  const a = cmwq.allocWorkqueue('gone-unbound', cmwq.WQ_UNBOUND, 0, { maxWorkers: 3 });
  const b = cmwq.allocWorkqueue('gone-reclaim', cmwq.WQ_UNBOUND | cmwq.WQ_MEM_RECLAIM, 0, { maxWorkers: 2 });
  for (let i = 0; i < N; i++) {
    cmwq.queueWork(a, new cmwq.Work(job, { runs, i, ...(i < 3 ? { mode: 'spin', ms: 20 } : {}) }));
    cmwq.queueWork(b, new cmwq.Work(job, { runs, i: N + i, ...(i % 2 ? { mode: 'sleep', ms: 2 } : {}) }));
  }
  await cmwq.destroyWorkqueue(a);
  await cmwq.destroyWorkqueue(b);
  console.log('RUNS ' + runs.join(','));
  console.log('STARTED ' + started.map((t) => t.name).join(' '));
  const deadline = Date.now() + 3000;
  while (started.some((t) => !t.exited) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  console.log('STILL UP ' + started.filter((t) => !t.exited).map((t) => t.name).join(' ') + '.');
  console.log('DESTROYED');
`;

function commonJsEval(body: string): string[] {
  return [
    '-e',
    `import(${JSON.stringify(indexUrl)}).then(async (cmwq) => {\n${body}\n}).catch((e) => { console.error(e); process.exitCode = 1; });`,
  ];
}

function assertExitedByItself(r: NodeRun, marker: string): void {
  assert.equal(
    r.killed,
    false,
    `the child did not exit by itself within ${KILL_AFTER_MS} ms; stdout: ${r.stdout}\nstderr: ${r.stderr.slice(0, 800)}`,
  );
  assert.equal(r.code, 0, `exit code ${r.code}; stderr: ${r.stderr.slice(0, 800)}`);
  assert.ok(
    r.stdout.includes(marker),
    `the child got to the end (${marker}); stdout: ${r.stdout}\nstderr: ${r.stderr.slice(0, 800)}`,
  );
  assert.ok(
    r.elapsedMs < 8_000,
    `exited ${r.elapsedMs} ms after it started: something held it (idle threads live 30 s)`,
  );
}

function assertAllRanOnce(r: NodeRun, n: number): void {
  const m = /RUNS ([\d,]+)/.exec(r.stdout);
  assert.ok(m !== null, `RUNS printed; stdout: ${r.stdout}`);
  assert.deepEqual(m[1].split(',').map(Number), new Array(n).fill(1), 'every module work ran once');
}

const idleVariants: [string, string[]][] = [
  ['node -e (CommonJS)', commonJsEval(idleBody)],
  [
    'node --input-type=module -e',
    ['--input-type=module', '-e', `import * as cmwq from ${JSON.stringify(indexUrl)};\n${idleBody}`],
  ],
  ['node -p', ['-p', `import(${JSON.stringify(indexUrl)}).then(async (cmwq) => {\n${idleBody}\n}), 'started'`]],
];

test('§3.21 §1 idle threads (unbound pool, rescuer, CPU 1) never keep the process alive; module works run in apps started with node -e / -p', {
  timeout: 25_000,
}, async () => {
  const results = await Promise.all(idleVariants.map(([, args]) => runNode(args, { timeoutMs: KILL_AFTER_MS })));
  results.forEach((r, i) => {
    const what = idleVariants[i][0];
    try {
      assertExitedByItself(r, 'FLUSHED');
      assertAllRanOnce(r, 90);
      assert.match(r.stdout, /MAIN RAN false THREADS [2-9]/, 'module works ran on threads, not on the main thread');
      assert.match(r.stdout, /POOL THREADS [1-9]/, 'threads were up, idle, when the program ended');
    } catch (error) {
      (error as Error).message = `${what}: ${(error as Error).message}`;
      throw error;
    }
  });
});

test('§3.21 after await destroyWorkqueue no thread is left behind, and the process exits by itself', {
  timeout: 25_000,
}, async () => {
  const r = await runNode(commonJsEval(destroyBody), { timeoutMs: KILL_AFTER_MS });
  assertExitedByItself(r, 'DESTROYED');
  assertAllRanOnce(r, 40);
  assert.match(r.stdout, /STARTED .*kworker\/u\d+:0/, 'pool threads were started');
  assert.match(r.stdout, /STARTED .*kworker\/R-gone-reclaim/, 'the rescuer was started');
  assert.match(r.stdout, /STILL UP \./, 'every thread exited after destroyWorkqueue');
});
