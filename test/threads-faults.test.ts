/**
 * Worker-thread faults. SPEC §3.19: a thread that dies (process.exit, an uncaught error, out of memory) is replaced;
 * the item it was running fails with ERR_WQ_WORKER_EXITED, items it had not started run elsewhere, no other item is
 * lost or run twice, and waits on the dead item settle. SPEC §3.18: a WQ_MEM_RECLAIM workqueue whose pool cannot
 * start a thread makes progress on its rescuer (kworker/R-<name>), counted in mayday and rescued; one without a
 * rescuer waits.
 *
 * Thread starts go through an injected startThread (workqueueInit is process-wide: node:test runs this file in a
 * process of its own), which records every thread and, while `failPoolStarts` is set, fails the unbound pools'
 * thread starts (kworker/u...) but never a rescuer's.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { Worker as NodeThread, type WorkerOptions } from 'node:worker_threads';
import {
  WQ_MEM_RECLAIM,
  WQ_UNBOUND,
  Work,
  WorkqueueError,
  allocWorkqueue,
  cancelWork,
  cancelWorkSync,
  destroyWorkqueue,
  flushWork,
  flushWorkqueue,
  queueWork,
  workFunc,
  workPending,
  workqueueInit,
  wqDump,
  wqMonitor,
  type WorkEvent,
  type Workqueue,
} from '../src/index.js';
import { startThread as defaultStartThread } from '../src/base/exec-argv.js';
import { track, withWarnings } from './helpers.js';

const jobs = new URL('../../test/fixtures/threads-faults/jobs.mjs', import.meta.url);
const job = workFunc(jobs, 'job');

/** Every thread cmwq started in this process, by name, and whether it has exited. */
const threads: { name: string; node: NodeThread; exited: boolean }[] = [];
/** Pool thread starts attempted while failing (by name). */
const failedStarts: string[] = [];
let failPoolStarts: 'throw' | 'exit' | null = null;

function remember(name: string, node: NodeThread): NodeThread {
  const entry = { name, node, exited: false };
  threads.push(entry);
  node.once('exit', () => (entry.exited = true));
  return node;
}

workqueueInit({
  nrCpus: 2,
  startThread(url: URL, options: WorkerOptions): NodeThread {
    const name = options.name ?? '';
    if (failPoolStarts !== null && name.startsWith('kworker/u')) {
      failedStarts.push(name);
      if (failPoolStarts === 'throw') throw new Error(`injected: cannot start ${name}`);
      // A thread that starts and exits at once, before it ever comes online.
      return remember(name, new NodeThread('process.exit(3)', { eval: true, name }));
    }
    return remember(name, defaultStartThread(url, options));
  },
});

interface Shared {
  runs: Int32Array;
  tids: Int32Array;
}

function shared(n: number): Shared {
  return { runs: new Int32Array(new SharedArrayBuffer(4 * n)), tids: new Int32Array(new SharedArrayBuffer(4 * n)) };
}

function items(s: Shared, n: number, mode: (i: number) => Record<string, unknown> = () => ({})): Work<unknown>[] {
  return Array.from({ length: n }, (_, i) => new Work(job, { runs: s.runs, tids: s.tids, i, ...mode(i) }));
}

/** Polls cond every 5 ms until it holds, failing after timeoutMs. */
async function waitFor(cond: () => boolean, what: string, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Resolves with p's value, failing if it takes longer than timeoutMs (a wait that never settles is the bug). */
async function within<T>(p: Promise<T>, what: string, timeoutMs = 8_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function row(wq: Workqueue) {
  const r = wqMonitor().find((x) => x.name === wq.name);
  assert.ok(r !== undefined, `wqMonitor has a row for ${wq.name}`);
  return r;
}

function assertRanOnce(s: Shared, n: number, what: string): void {
  const wrong: string[] = [];
  for (let i = 0; i < n; i++) if (s.runs[i] !== 1) wrong.push(`#${i} ran ${s.runs[i]}x`);
  assert.deepEqual(wrong, [], `${what}: every item runs exactly once`);
}

/** The failures reported, as "#index message" (the first few), for assertion messages. */
function describeFailures(errors: [unknown, Work<unknown>][], works: Work<unknown>[]): string {
  const shown = errors.slice(0, 4).map(([e, w]) => `#${works.indexOf(w)} ${(e as Error)?.message}`);
  return shown.join('; ') + (errors.length > 4 ? `; ... ${errors.length} in all` : '');
}

/** Collects execute_end events carrying an error, for the workqueues named. */
function watchFailures(): { events: WorkEvent[]; stop: () => void } {
  const events: WorkEvent[] = [];
  const onEnd = (message: unknown) => {
    const e = message as WorkEvent;
    if (e.error !== undefined) events.push(e);
  };
  diagnosticsChannel.subscribe('cmwq:workqueue_execute_end', onEnd);
  return { events, stop: () => diagnosticsChannel.unsubscribe('cmwq:workqueue_execute_end', onEnd) };
}

/** Runs n more count items on wq and checks each ran once, on a thread that is alive. */
async function poolStillWorks(wq: Workqueue, deadTids: Set<number>, n = 20): Promise<void> {
  const s = shared(n);
  const more = items(s, n);
  for (const w of more) assert.equal(queueWork(wq, w), true);
  await within(flushWorkqueue(wq), 'flushWorkqueue after the crash');
  assertRanOnce(s, n, 'work queued after the crash');
  for (let i = 0; i < n; i++)
    assert.ok(!deadTids.has(s.tids[i]), `item #${i} ran on thread ${s.tids[i]}, which had died`);
}

const allocated: Workqueue[] = [];
function alloc(name: string, flags: number, attrs: Parameters<typeof allocWorkqueue>[3]): Workqueue {
  const wq = allocWorkqueue(name, flags, 0, attrs);
  allocated.push(wq);
  return wq;
}

after(async () => {
  failPoolStarts = null;
  for (const wq of allocated) if (wqMonitor().some((r) => r.name === wq.name)) await destroyWorkqueue(wq);
});

test('§3.19 process.exit() inside a handler: that item fails with ERR_WQ_WORKER_EXITED, every other item runs exactly once, the pool goes on', {
  timeout: 20_000,
}, async () => {
  const errors: [unknown, Work<unknown>][] = [];
  const wq = alloc('tf-exit', WQ_UNBOUND, {
    maxWorkers: 2,
    idleTimeoutMs: 60_000,
    onError: (e, w) => errors.push([e, w]),
  });
  const failures = watchFailures();
  try {
    // Warm-up: the pool measures the function as tiny, so the next items go to the thread in one deep batch, and
    // the items behind the one that exits are assigned to the dying thread but not started.
    const warm = shared(20);
    for (const w of items(warm, 20)) queueWork(wq, w);
    await within(flushWorkqueue(wq), 'warm-up');
    assertRanOnce(warm, 20, 'warm-up');

    const N = 50;
    const CRASH = 25;
    const s = shared(N);
    const works = items(s, N, (i) => (i === CRASH ? { mode: 'exit' } : {}));
    for (const w of works) assert.equal(queueWork(wq, w), true);
    const flushed = track(flushWork(works[CRASH]));
    await within(flushWorkqueue(wq), 'flushWorkqueue over the crash');
    await waitFor(() => flushed.done, 'flushWork on the item whose thread exited');
    assert.equal(flushed.value, true);

    assertRanOnce(s, N, 'items around the crash (the exiting one included: it is not retried)');
    const deadTid = s.tids[CRASH];
    const unstartedOnDeadThread = works.filter((_, i) => i > CRASH && s.tids[i] !== deadTid).length;
    assert.ok(unstartedOnDeadThread > 0, 'the items behind the exiting one ran on another thread');

    assert.deepEqual(
      errors.map(([, w]) => works.indexOf(w)),
      [CRASH],
      `only the item that was running when its thread exited fails (got: ${describeFailures(errors, works)})`,
    );
    const [error] = errors[0];
    assert.ok(error instanceof WorkqueueError, `a WorkqueueError, got ${String(error)}`);
    assert.equal(error.code, 'ERR_WQ_WORKER_EXITED');
    assert.equal(workPending(works[CRASH]), false);

    const r = row(wq);
    assert.equal(r.failed, 1, 'wqMonitor counts one failure');
    assert.equal(r.total, 20 + N, 'every item started once');
    assert.equal(r.infl, 0);
    assert.equal(r.pending, 0);
    const mine = failures.events.filter((e) => e.workqueue === wq.name);
    assert.equal(mine.length, 1, 'one execute_end with an error');
    assert.equal(mine[0].work, works[CRASH]);
    assert.equal((mine[0].error as WorkqueueError).code, 'ERR_WQ_WORKER_EXITED');

    await poolStillWorks(wq, new Set([deadTid]));
  } finally {
    failures.stop();
  }
});

test('§3.19 an uncaught error thrown from a timer in a handler kills its thread: waits on the item (flushWork, cancelWorkSync) settle', {
  timeout: 20_000,
}, async () => {
  const errors: [unknown, Work<unknown>][] = [];
  const wq = alloc('tf-throw', WQ_UNBOUND, {
    maxWorkers: 3,
    idleTimeoutMs: 60_000,
    onError: (e, w) => errors.push([e, w]),
  });
  const N = 50;
  const CRASH = 10;
  const s = shared(N);
  // The crashing item sleeps 150 ms and then throws from a timer; small items keep coming meanwhile, some of them
  // assigned to its thread.
  const works = items(s, N, (i) => (i === CRASH ? { mode: 'throw-async', ms: 150 } : {}));
  for (const w of works.slice(0, CRASH + 1)) queueWork(wq, w);
  await waitFor(() => s.runs[CRASH] === 1, 'the crashing item to start');
  const flushed = track(flushWork(works[CRASH]));
  const cancelled = track(cancelWorkSync(works[CRASH]));
  for (const w of works.slice(CRASH + 1)) queueWork(wq, w);
  await waitFor(() => cancelled.done, 'cancelWorkSync on the item whose thread died');
  await waitFor(() => flushed.done, 'flushWork on the item whose thread died');
  assert.equal(cancelled.value, false, 'it was running, not pending');
  assert.equal(flushed.value, true);
  await within(flushWorkqueue(wq), 'flushWorkqueue');

  assertRanOnce(s, N, 'items around the crash');
  assert.deepEqual(
    errors.map(([, w]) => works.indexOf(w)),
    [CRASH],
    `only the crashed item fails (got: ${describeFailures(errors, works)})`,
  );
  assert.ok(errors[0][0] instanceof WorkqueueError);
  assert.equal((errors[0][0] as WorkqueueError).code, 'ERR_WQ_WORKER_EXITED');
  const r = row(wq);
  assert.equal(r.failed, 1);
  assert.equal(r.total, N);
  await poolStillWorks(wq, new Set([s.tids[CRASH]]));
});

test('§3.19 out of memory under resourceLimits: the item fails, the others run once, the replacement thread has the same limits', {
  timeout: 20_000,
}, async () => {
  const errors: [unknown, Work<unknown>][] = [];
  const wq = alloc('tf-oom', WQ_UNBOUND, {
    maxWorkers: 2,
    idleTimeoutMs: 60_000,
    resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
    onError: (e, w) => errors.push([e, w]),
  });
  const N = 30;
  const OOM = [5, 20];
  const s = shared(N);
  const works = items(s, N, (i) => (OOM.includes(i) ? { mode: 'oom' } : {}));
  for (const w of works) queueWork(wq, w);
  const flushes = OOM.map((i) => track(flushWork(works[i])));
  await within(flushWorkqueue(wq), 'flushWorkqueue over two out-of-memory deaths', 15_000);
  await waitFor(() => flushes.every((f) => f.done), 'flushWork on the items that ran out of memory');

  assertRanOnce(s, N, 'items around the out-of-memory deaths');
  assert.deepEqual(
    errors.map(([, w]) => works.indexOf(w)).sort((a, b) => a - b),
    OOM,
    `the two allocating items fail, both (the replacement thread is limited too), and nothing else (got: ${describeFailures(errors, works)})`,
  );
  for (const [e] of errors) {
    assert.ok(e instanceof WorkqueueError);
    assert.equal(e.code, 'ERR_WQ_WORKER_EXITED');
  }
  assert.equal(row(wq).failed, 2);
  await poolStillWorks(wq, new Set(OOM.map((i) => s.tids[i])));
});

for (const how of ['throw', 'exit'] as const) {
  test(`§3.18 pool thread starts fail (${how === 'throw' ? 'startThread throws' : 'the thread exits at once'}): a WQ_MEM_RECLAIM workqueue's items all run on its rescuer`, {
    timeout: 20_000,
  }, async () => {
    const mayday: WorkEvent[] = [];
    const rescued: WorkEvent[] = [];
    const onMayday = (m: unknown) => mayday.push(m as WorkEvent);
    const onRescued = (m: unknown) => rescued.push(m as WorkEvent);
    diagnosticsChannel.subscribe('cmwq:workqueue_mayday', onMayday);
    diagnosticsChannel.subscribe('cmwq:workqueue_rescued', onRescued);
    const name = `tf-reclaim-${how}`;
    const errors: unknown[] = [];
    failPoolStarts = how;
    const startsBefore = failedStarts.length;
    try {
      await withWarnings(async (warnings) => {
        const wq = alloc(name, WQ_UNBOUND | WQ_MEM_RECLAIM, {
          maxWorkers: how === 'throw' ? 4 : 5,
          onError: (e) => errors.push(e),
        });
        const rescuerTid = wqDump().workqueues.find((w) => w.name === name)?.rescuerThreadId;
        assert.ok(typeof rescuerTid === 'number', 'the rescuer thread was started at allocation');
        assert.ok(
          threads.some((t) => t.name === `kworker/R-${name}` && t.node.threadId === rescuerTid),
          `the rescuer was started as kworker/R-${name}`,
        );

        const N = 20;
        const s = shared(N);
        const works = items(s, N);
        for (const w of works) assert.equal(queueWork(wq, w), true);
        await within(
          flushWorkqueue(wq),
          'flushWorkqueue of a WQ_MEM_RECLAIM workqueue whose pool cannot start threads',
        );

        assertRanOnce(s, N, 'rescued items');
        assert.deepEqual(errors, [], 'nothing failed');
        for (let i = 0; i < N; i++) assert.equal(s.tids[i], rescuerTid, `item #${i} ran on the rescuer thread`);
        assert.ok(failedStarts.length > startsBefore, 'the pool tried to start a thread');
        assert.ok(
          failedStarts.slice(startsBefore).every((n) => n.startsWith('kworker/u')),
          'only pool threads were failed',
        );
        const r = row(wq);
        assert.ok(r.mayday >= 1, `mayday ${r.mayday} >= 1`);
        assert.equal(r.rescued, N, 'rescued counts every item');
        assert.equal(r.total, N);
        assert.equal(r.failed, 0);
        assert.ok(mayday.filter((e) => e.workqueue === name).length >= 1, 'cmwq:workqueue_mayday fired');
        const mine = rescued.filter((e) => e.workqueue === name);
        assert.equal(mine.length, N, 'cmwq:workqueue_rescued fired once per item');
        assert.deepEqual(new Set(mine.map((e) => e.work)), new Set(works));
        assert.ok(
          warnings.some((w) => w.name === 'CmwqWarning' && /failed to start a thread/.test(w.message)),
          'the failed start is reported',
        );
      });
    } finally {
      failPoolStarts = null;
      diagnosticsChannel.unsubscribe('cmwq:workqueue_mayday', onMayday);
      diagnosticsChannel.unsubscribe('cmwq:workqueue_rescued', onRescued);
    }
  });
}

test('§3.18 without WQ_MEM_RECLAIM the items wait while thread starts fail, can be cancelled, and run once a start succeeds', {
  timeout: 20_000,
}, async () => {
  const name = 'tf-no-reclaim';
  const errors: unknown[] = [];
  failPoolStarts = 'throw';
  try {
    await withWarnings(async () => {
      const wq = alloc(name, WQ_UNBOUND, { maxWorkers: 6, onError: (e) => errors.push(e) });
      assert.equal(wqDump().workqueues.find((w) => w.name === name)?.rescuerThreadId, null, 'no rescuer');
      const N = 10;
      const s = shared(N + 1);
      const works = items(s, N);
      for (const w of works) assert.equal(queueWork(wq, w), true);
      await new Promise((r) => setTimeout(r, 250));
      assert.deepEqual([...s.runs], new Array(N + 1).fill(0), 'nothing ran');
      for (const w of works) assert.equal(workPending(w), true);
      const r = row(wq);
      assert.equal(r.pending, N);
      assert.equal(r.total, 0);
      assert.equal(r.mayday, 0);
      assert.equal(r.rescued, 0);

      for (const w of works) assert.equal(cancelWork(w), true, 'cancelled while pending');
      assert.equal(row(wq).pending, 0);
      await within(flushWorkqueue(wq), 'flushWorkqueue after cancelling everything');

      // Starts work again: a new item runs (after the failed start's cool-down), the cancelled ones never.
      failPoolStarts = null;
      const late = new Work(job, { runs: s.runs, tids: s.tids, i: N });
      assert.equal(queueWork(wq, late), true);
      await within(flushWorkqueue(wq), 'flushWorkqueue once thread starts succeed again');
      assert.deepEqual([...s.runs], [...new Array(N).fill(0), 1], 'only the late item ran');
      assert.deepEqual(errors, []);
    });
  } finally {
    failPoolStarts = null;
  }
});

test('every thread this file started ends once its workqueues are destroyed', { timeout: 20_000 }, async () => {
  failPoolStarts = null;
  for (const wq of allocated.splice(0)) await destroyWorkqueue(wq);
  assert.ok(threads.length > 0);
  await waitFor(
    () => threads.every((t) => t.exited),
    `threads to exit (still up: ${threads
      .filter((t) => !t.exited)
      .map((t) => t.name)
      .join(', ')})`,
  );
  for (const pool of wqDump().pools.filter((p) => p.unbound))
    assert.deepEqual(pool.threadIds, [], `pool ${pool.id} lists no thread`);
});
