/**
 * Module works on threads (SPEC §1, §2, §3.1-4, §3.13-14, §3.16, §5, §6): where they run, what the handler sees
 * there, and the owner-side semantics that must hold across threads (pending bit, non-reentrancy, flush and
 * cancel waits, max_active, ordering, tracepoints, wqMonitor), plus concurrency management inside a thread.
 *
 * The handlers live in test/fixtures/threads/sem.mjs and report back through SharedArrayBuffers in their data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { fileURLToPath } from 'node:url';
import { threadId as mainThreadId, Worker as NodeWorker } from 'node:worker_threads';
import {
  allocOrderedWorkqueue,
  allocWorkqueue,
  cancelWork,
  cancelWorkSync,
  currentWork,
  DelayedWork,
  destroyWorkqueue,
  disableWorkSync,
  enableWork,
  flushDelayedWork,
  flushWork,
  flushWorkqueue,
  modDelayedWork,
  queueDelayedWork,
  queueWork,
  queueWorkOn,
  Work,
  WORK_BUSY_PENDING,
  WORK_BUSY_RUNNING,
  workBusy,
  workFunc,
  workOnCpu,
  workPending,
  workqueueInit,
  wqDump,
  wqMonitor,
  WQ_UNBOUND,
  type WorkEvent,
  type Workqueue,
} from '../src/index.js';
import { withWarnings } from './helpers.js';

// CPU 0 is this thread; CPUs 1 and 2 are threads cmwq starts on first use.
// currentWork() across awaits (on threads too) is checked here: async context on.
workqueueInit({ nrCpus: 3, asyncContext: true });

const fixture = new URL('../../test/fixtures/threads/sem.mjs', import.meta.url);
const fn = (name: string) => workFunc(fixture, name);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls cond every 2 ms until it holds; fails the test after timeoutMs. */
async function waitFor(cond: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** A SharedArrayBuffer of n bytes (zeroed) and its Int32 view. */
function shared(bytes = 4096): { sab: SharedArrayBuffer; i32: Int32Array } {
  const sab = new SharedArrayBuffer(bytes);
  return { sab, i32: new Int32Array(sab) };
}

/** The JSON report a fixture wrote into sab (see writeReport in sem.mjs), or null if none yet. */
function readReport(sab: SharedArrayBuffer): any {
  const head = new Int32Array(sab, 0, 2);
  if (Atomics.load(head, 1) !== 1) return null;
  return JSON.parse(new TextDecoder().decode(new Uint8Array(sab, 8, head[0]).slice()));
}

/** Allocates an unbound workqueue whose pool is its own (idleTimeoutMs makes the attributes unique). */
let uniq = 0;
function unboundWq(name: string, maxActive: number, attrs: Parameters<typeof allocWorkqueue>[3] = {}): Workqueue {
  return allocWorkqueue(name, WQ_UNBOUND, maxActive, { idleTimeoutMs: 60_000 + uniq++, ...attrs });
}

function monitorRow(wq: Workqueue) {
  const row = wqMonitor().find((r) => r.name === wq.name);
  assert.ok(row, `wqMonitor lists ${wq.name}`);
  return row;
}

function poolThreadIds(wq: Workqueue): number[] {
  const dump = wqDump();
  const entry = dump.workqueues.find((w) => w.name === wq.name);
  assert.ok(entry, `wqDump lists ${wq.name}`);
  const ids = new Set<number>();
  for (const pwq of entry.pwqs) for (const id of dump.pools.find((p) => p.id === pwq.pool)!.threadIds) ids.add(id);
  return [...ids];
}

test('workFunc: one function object per (specifier, export), whatever form the specifier takes', () => {
  const a = workFunc(fixture, 'probe');
  assert.equal(typeof a, 'function');
  assert.equal(workFunc(fixture, 'probe'), a);
  assert.equal(workFunc(fixture.href, 'probe'), a, 'the URL and its string name the same function');
  assert.equal(workFunc(fileURLToPath(fixture), 'probe'), a, 'an absolute path names the same function');
  assert.notEqual(workFunc(fixture, 'syncProbe'), a, 'another export is another function');
  assert.equal(workFunc(fixture), workFunc(fixture, 'default'), "the export name defaults to 'default'");
  assert.equal(a.name, 'probe');
  // Works made from equal references share the function.
  assert.equal(new Work(workFunc(fixture, 'probe')).func, new Work(workFunc(fixture.href, 'probe')).func);
});

test('a module work on an unbound workqueue runs on a pool thread, gets a clone of its data, and is currentWork() there across awaits', async () => {
  const wq = unboundWq('thr-sem-probe', 0, { maxWorkers: 2 });
  const { sab } = shared();
  const data = { sab, value: 42, nested: { a: [1, 2, { b: 'c' }] }, map: new Map([['k', 7]]), date: new Date(1234) };
  const w = new Work(fn('probe'), data);
  assert.equal(queueWork(wq, w), true);
  assert.equal(await flushWork(w), true);
  const r = readReport(sab);
  assert.ok(r, 'the handler ran and reported');
  assert.notEqual(r.threadId, mainThreadId, 'it ran on another thread');
  assert.ok(poolThreadIds(wq).includes(r.threadId), "the thread is one of the workqueue's pool threads");
  assert.equal(r.sync, true, 'currentWork() is the work object the handler receives');
  assert.equal(r.afterAwait, true, 'currentWork() holds after an await');
  assert.equal(r.afterTwo, true, 'currentWork() holds after several awaits');
  assert.equal(r.signalOk, true, 'work.signal is an AbortSignal, not aborted');
  assert.equal(r.value, 42);
  assert.deepEqual(r.nested, { a: [1, 2, { b: 'c' }] });
  assert.equal(r.mapIsMap, true, 'structured clone keeps a Map');
  assert.equal(r.mapGet, 7);
  assert.equal(r.dateIsDate, true, 'structured clone keeps a Date');
  assert.equal(r.dateMs, 1234);
  assert.equal(workBusy(w), 0);

  // A plain (sync) export sees itself as currentWork() too; the default export is 'default'.
  const s = shared();
  const ws = new Work(fn('syncProbe'), { sab: s.sab, value: 'x' });
  queueWork(wq, ws);
  const d = shared();
  const wd = new Work(workFunc(fixture), { sab: d.sab });
  queueWork(wq, wd);
  await flushWorkqueue(wq);
  const rs = readReport(s.sab);
  assert.equal(rs.sync, true);
  assert.equal(rs.value, 'x');
  assert.notEqual(rs.threadId, mainThreadId);
  assert.equal(readReport(d.sab).which, 'default');
  assert.equal(currentWork(), null, 'outside any handler');
  await destroyWorkqueue(wq);
});

test('data is cloned at queue time: later changes to work.data or to its objects do not reach the thread', async () => {
  const wq = unboundWq('thr-sem-clone', 0, { maxWorkers: 1 });
  const first = shared();
  const data = { sab: first.sab, value: 1, nested: { a: 1 } };
  const w = new Work<any>(fn('syncProbe'), data);
  assert.equal(queueWork(wq, w), true);
  data.value = 2;
  data.nested.a = 99;
  const second = shared();
  w.data = { sab: second.sab, value: 3, nested: { a: 3 } };
  await flushWork(w);
  const r = readReport(first.sab);
  assert.ok(r, 'the instance used the data it was queued with (and its SharedArrayBuffer)');
  assert.equal(r.value, 1);
  assert.deepEqual(r.nested, { a: 1 });
  assert.equal(readReport(second.sab), null, 'the replaced data never reached the thread');
  // The next queueing clones the data as it is then.
  assert.equal(queueWork(wq, w), true);
  await flushWork(w);
  assert.equal(readReport(second.sab).value, 3);
  await destroyWorkqueue(wq);
});

test('delayed module works: data is cloned when armed; modDelayedWork keeps the pending instance’s data; they run on the thread', async () => {
  const wq = unboundWq('thr-sem-delayed', 0, { maxWorkers: 1 });
  const first = shared();
  const second = shared();
  const dw = new DelayedWork<any>(fn('syncProbe'), { sab: first.sab, value: 'armed' });
  assert.equal(queueDelayedWork(wq, dw, 10_000), true);
  dw.data = { sab: second.sab, value: 'changed' };
  assert.equal(modDelayedWork(wq, dw, 5), true, 'it was pending');
  assert.equal(await flushDelayedWork(dw), true);
  const r = readReport(first.sab);
  assert.ok(r, 'the instance ran with the data it was armed with');
  assert.equal(r.value, 'armed');
  assert.notEqual(r.threadId, mainThreadId);
  assert.equal(readReport(second.sab), null);
  // Idle again: the next arming clones the data as it is now.
  assert.equal(queueDelayedWork(wq, dw, 1), true);
  await flushDelayedWork(dw);
  assert.equal(readReport(second.sab).value, 'changed');
  await destroyWorkqueue(wq);
});

test('work.transfer moves buffers to the thread: detached here at queue time, whole there; without it they are copied', async () => {
  const wq = unboundWq('thr-sem-transfer', 0, { maxWorkers: 1 });
  const moved = shared();
  const buf = new Uint8Array([1, 2, 3, 4]).buffer;
  const w = new Work<any>(fn('syncProbe'), { sab: moved.sab, buf });
  w.transfer = [buf];
  assert.equal(queueWork(wq, w), true);
  assert.equal(buf.byteLength, 0, 'the buffer is detached from the caller at queue time');
  assert.equal(w.transfer, undefined, 'the transfer list is used up by the queueing');
  await flushWork(w);
  const r = readReport(moved.sab);
  assert.equal(r.bufLen, 4);
  assert.equal(r.bufSum, 10);

  const copied = shared();
  const buf2 = new Uint8Array([5, 6, 7]).buffer;
  const w2 = new Work(fn('syncProbe'), { sab: copied.sab, buf: buf2 });
  queueWork(wq, w2);
  assert.equal(buf2.byteLength, 3, 'without transfer the buffer is copied, the caller keeps it');
  await flushWork(w2);
  assert.equal(readReport(copied.sab).bufSum, 18);
  await destroyWorkqueue(wq);
});

test('§3.1/§3.2/§3.4 pending bit and workBusy hold for an item running on a thread; a re-queue runs once, after', async () => {
  const wq = unboundWq('thr-sem-pending', 0, { maxWorkers: 2 });
  const other = unboundWq('thr-sem-pending2', 0, { maxWorkers: 2 });
  const { sab, i32 } = shared(64);
  const w = new Work(fn('gated'), { sab });
  assert.equal(workBusy(w), 0);
  assert.equal(queueWork(wq, w), true);
  assert.equal(workPending(w), true);
  assert.equal(workBusy(w), WORK_BUSY_PENDING);
  assert.equal(queueWork(wq, w), false, 'a pending item is not queued again');
  assert.equal(queueWork(other, w), false, 'nor on another workqueue');
  await waitFor(() => Atomics.load(i32, 0) === 1, 'the handler to start on its thread');
  assert.equal(workBusy(w), WORK_BUSY_RUNNING, 'running on a thread is RUNNING for the owner');
  assert.equal(workPending(w), false);
  assert.equal(queueWork(wq, w), true, 'a running item can be queued again');
  assert.equal(workBusy(w), WORK_BUSY_PENDING | WORK_BUSY_RUNNING);
  assert.equal(queueWork(wq, w), false);
  await sleep(60);
  assert.equal(Atomics.load(i32, 0), 1, 'the re-queued instance does not start while the first runs');
  assert.equal(workBusy(w), 3);
  Atomics.store(i32, 1, 1); // open the gate
  assert.equal(await flushWork(w), true);
  assert.equal(Atomics.load(i32, 0), 2, 'the re-queued instance ran exactly once more');
  assert.equal(Atomics.load(i32, 2), 2);
  assert.equal(workBusy(w), 0);
  assert.equal(await flushWork(w), false, 'an idle item: nothing to flush');
  await Promise.all([destroyWorkqueue(wq), destroyWorkqueue(other)]);
});

for (const mode of ['spin', 'sleep'] as const) {
  test(`§3.3 a re-queued running item never runs concurrently with itself, with 3 threads available (${mode})`, async () => {
    const wq = unboundWq(`thr-sem-reentrant-${mode}`, 0, { maxWorkers: 3 });
    const { sab, i32 } = shared(4096);
    const f64 = new Float64Array(sab, 64);
    const self = new Work(fn('selfCheck'), { sab, ms: 12, mode });
    // Fillers keep threads busy so that the pool runs several threads meanwhile.
    const fill = shared();
    const fillers = Array.from(
      { length: 6 },
      (_, id) => new Work(fn('counter'), { sab: fill.sab, ms: 15, mode: 'spin', id }),
    );
    // At least 500 ms, and until the item has run a few times (a busy machine may need longer; 10 s at most).
    const end = Date.now() + 500;
    const giveUp = Date.now() + 10_000;
    let queued = 0;
    while (Date.now() < giveUp && (Date.now() < end || Atomics.load(i32, 2) < 3)) {
      if (queueWork(wq, self)) queued++;
      for (const f of fillers) queueWork(wq, f);
      await sleep(1);
    }
    // flushWork may find the item idle already (a busy machine can sleep far longer than 1 ms): the counts below
    // are what must hold.
    await flushWork(self);
    await flushWorkqueue(wq);
    const runs = Atomics.load(i32, 2);
    assert.ok(runs >= 3, `the item ran several times (${runs})`);
    assert.equal(runs, queued, 'every successful queueing ran exactly once');
    assert.equal(Atomics.load(i32, 1), 0, 'no run started while another was inside');
    for (let i = 0; i + 1 < Math.min(runs, 100); i++) {
      assert.ok(f64[2 * (i + 1)] >= f64[2 * i + 1], `run ${i + 1} started after run ${i} ended`);
    }
    assert.ok(poolThreadIds(wq).length >= 2, 'the pool had several threads to choose from');
    await destroyWorkqueue(wq);
  });
}

test('§3.8/§3.9/§3.11 flushWork, flushWorkqueue and cancelWorkSync wait for the thread; the running handler sees work.signal abort', async () => {
  const wq = unboundWq('thr-sem-waits', 0, { maxWorkers: 2 });
  // flushWork
  const one = shared(64);
  const w = new Work(fn('sleeper'), { sab: one.sab, ms: 60 });
  queueWork(wq, w);
  assert.equal(await flushWork(w), true);
  assert.equal(Atomics.load(one.i32, 0), 1, 'flushWork resolved after the handler ended on its thread');

  // flushWorkqueue
  const many = shared(64);
  for (let slot = 0; slot < 6; slot++)
    queueWork(wq, new Work(fn('sleeper'), { sab: many.sab, ms: 20 + 10 * slot, slot }));
  await flushWorkqueue(wq);
  assert.deepEqual([...many.i32.slice(0, 6)], [1, 1, 1, 1, 1, 1], 'flushWorkqueue waited for every item');

  // cancelWorkSync on a running item
  const ab = shared(64);
  const a = new Work(fn('abortable'), { sab: ab.sab });
  queueWork(wq, a);
  await waitFor(() => Atomics.load(ab.i32, 0) === 1, 'the abortable handler to start');
  assert.equal(workBusy(a), WORK_BUSY_RUNNING);
  const cancelled = cancelWorkSync(a);
  assert.equal(queueWork(wq, a), false, 'queueing fails while cancelWorkSync waits');
  assert.equal(await cancelled, false, 'it was running, not pending');
  assert.equal(Atomics.load(ab.i32, 2), 1, 'cancelWorkSync resolved after the handler ended');
  assert.equal(Atomics.load(ab.i32, 1), 1, 'the handler saw work.signal abort');
  assert.equal(workBusy(a), 0);
  // It can be queued again; cancelWork takes a pending instance back before it runs.
  ab.i32.fill(0);
  assert.equal(queueWork(wq, a), true);
  assert.equal(cancelWork(a), true);
  assert.equal(workPending(a), false);
  await sleep(50);
  assert.equal(Atomics.load(ab.i32, 0), 0, 'the cancelled instance never ran');

  // disableWorkSync on a running item
  queueWork(wq, a);
  await waitFor(() => Atomics.load(ab.i32, 0) === 1, 'the abortable handler to start again');
  assert.equal(await disableWorkSync(a), false);
  assert.equal(Atomics.load(ab.i32, 2), 1, 'disableWorkSync resolved after the handler ended');
  assert.equal(Atomics.load(ab.i32, 1), 1, 'the handler saw work.signal abort');
  assert.equal(queueWork(wq, a), false, 'a disabled item is not queued');
  assert.equal(enableWork(a), true);
  assert.equal(workBusy(a), 0);

  // destroyWorkqueue drains: it waits for what runs on the threads.
  const last = shared(64);
  queueWork(wq, new Work(fn('sleeper'), { sab: last.sab, ms: 80 }));
  await destroyWorkqueue(wq);
  assert.equal(Atomics.load(last.i32, 0), 1, 'destroyWorkqueue resolved after the handler ended on its thread');
});

test('§3.11 cancelWorkSync of an item waiting inactive behind max_active returns true and it never runs', async () => {
  const wq = unboundWq('thr-sem-cancel-inactive', 1, { maxWorkers: 2 });
  const g = shared(64);
  const gate = new Work(fn('gated'), { sab: g.sab });
  const s = shared(64);
  const waiting = new Work(fn('sleeper'), { sab: s.sab, ms: 1 });
  queueWork(wq, gate);
  queueWork(wq, waiting);
  await waitFor(() => Atomics.load(g.i32, 0) === 1, 'the gated handler to start');
  assert.equal(monitorRow(wq).pending, 1, 'the second item waits inactive');
  assert.equal(await cancelWorkSync(waiting), true);
  Atomics.store(g.i32, 1, 1);
  await flushWorkqueue(wq);
  assert.equal(Atomics.load(s.i32, 0), 0, 'the cancelled item never ran');
  assert.equal(monitorRow(wq).total, 1);
  await destroyWorkqueue(wq);
});

test('§3.13 max_active on an unbound workqueue is process-wide: maxActive 2 with 3 threads runs at most 2 at once', async () => {
  const wq = unboundWq('thr-sem-maxactive', 2, { maxWorkers: 3 });
  // Sleepers: many can be in flight on one thread, so only max_active limits them.
  const sl = shared();
  for (let id = 0; id < 10; id++) queueWork(wq, new Work(fn('counter'), { sab: sl.sab, ms: 30, mode: 'sleep', id }));
  await flushWorkqueue(wq);
  assert.equal(Atomics.load(sl.i32, 2), 10);
  assert.equal(Atomics.load(sl.i32, 1), 2, 'exactly max_active sleepers were in flight at once, never more');
  // CPU hogs: each thread can run one, so the pool would run 3 at once without the limit.
  const sp = shared();
  for (let id = 0; id < 8; id++)
    queueWork(wq, new Work(fn('counter'), { sab: sp.sab, ms: 25, mode: id % 2 === 0 ? 'spin' : 'mixed', id }));
  await flushWorkqueue(wq);
  assert.equal(Atomics.load(sp.i32, 2), 8);
  assert.ok(Atomics.load(sp.i32, 1) <= 2, `at most 2 in flight at once (saw ${Atomics.load(sp.i32, 1)})`);
  assert.equal(Atomics.load(sp.i32, 0), 0);
  await destroyWorkqueue(wq);
});

test('§3.14 an ordered workqueue runs one item at a time, strictly in queueing order, across threads and with function works mixed in', async () => {
  const wq = allocOrderedWorkqueue('thr-sem-ordered', 0, { maxWorkers: 3, idleTimeoutMs: 61_000 });
  const { sab, i32 } = shared();
  const N = 24;
  const modes = ['spin', 'sleep', 'mixed'] as const;
  for (let id = 0; id < N; id++) {
    if (id % 4 === 3) {
      // A function work runs on this thread, in the same order.
      queueWork(
        wq,
        new Work(async () => {
          const inside = Atomics.add(i32, 0, 1) + 1;
          if (inside > Atomics.load(i32, 1)) Atomics.store(i32, 1, inside);
          Atomics.add(i32, 2, 1);
          const pos = Atomics.add(i32, 3, 1);
          i32[4 + pos] = id;
          i32[64 + pos] = mainThreadId;
          await sleep(2);
          Atomics.sub(i32, 0, 1);
        }),
      );
    } else {
      queueWork(wq, new Work(fn('counter'), { sab, ms: 2 + (id % 5), mode: modes[id % 3], id }));
    }
  }
  await flushWorkqueue(wq);
  assert.equal(Atomics.load(i32, 2), N);
  assert.deepEqual(
    [...i32.slice(4, 4 + N)],
    Array.from({ length: N }, (_, i) => i),
    'items ran in queueing order',
  );
  assert.equal(Atomics.load(i32, 1), 1, 'never two items in flight at once');
  const threads = new Set(i32.slice(64, 64 + N));
  assert.ok(threads.has(mainThreadId), 'function works ran here');
  assert.ok(
    [...threads].some((t) => t !== mainThreadId),
    'module works ran on pool threads',
  );
  await destroyWorkqueue(wq);
});

test('§6 tracepoints fire for items run on threads: queue → start → end, cpu -1 on an unbound pool, k on CPU k, the error on end', async () => {
  const ub = unboundWq('thr-sem-trace-ub', 0, { maxWorkers: 1, onError: () => {} });
  const pc = allocWorkqueue('thr-sem-trace-pc', 0, 0);
  const names = [ub.name, pc.name];
  const events: [string, WorkEvent][] = [];
  const channels = ['queue_work', 'activate_work', 'execute_start', 'execute_end'];
  const subs = channels.map((kind) => {
    const onMessage = (message: unknown) => {
      const e = message as WorkEvent;
      if (names.includes(e.workqueue)) events.push([kind, e]);
    };
    diagnosticsChannel.subscribe(`cmwq:workqueue_${kind}`, onMessage);
    return () => diagnosticsChannel.unsubscribe(`cmwq:workqueue_${kind}`, onMessage);
  });
  try {
    const ok = new Work(fn('noop'));
    const bad = new Work(fn('fail'), { message: 'traced' });
    const onCpu1 = new Work(fn('noop'));
    queueWork(ub, ok);
    queueWork(ub, bad);
    queueWorkOn(1, pc, onCpu1);
    await Promise.all([flushWorkqueue(ub), flushWorkqueue(pc)]);
    const of = (work: Work) => events.filter(([, e]) => e.work === work);
    for (const work of [ok, bad, onCpu1]) {
      const kinds = of(work).map(([k]) => k);
      assert.deepEqual(
        kinds,
        ['queue_work', 'activate_work', 'execute_start', 'execute_end'],
        `one of each, in order, for ${work.funcName}`,
      );
    }
    for (const [kind, e] of of(ok)) {
      assert.equal(e.workqueue, ub.name);
      assert.equal(e.function, 'noop');
      if (kind === 'execute_start' || kind === 'execute_end')
        assert.equal(e.cpu, -1, `${kind}: cpu -1 for an unbound pool`);
    }
    const okEnd = of(ok).find(([k]) => k === 'execute_end')![1];
    assert.equal(okEnd.error, undefined);
    const badEnd = of(bad).find(([k]) => k === 'execute_end')![1];
    assert.ok(badEnd.error instanceof Error);
    assert.match((badEnd.error as Error).message, /sync failure: traced/);
    for (const [kind, e] of of(onCpu1)) {
      if (kind === 'execute_start' || kind === 'execute_end') assert.equal(e.cpu, 1, `${kind}: cpu 1 for CPU 1's pool`);
    }
  } finally {
    for (const unsub of subs) unsub();
  }
  await Promise.all([destroyWorkqueue(ub), destroyWorkqueue(pc)]);
});

test('§6 wqMonitor counts items run on threads: total, failed, cpuIntensive, cpuTime', async () => {
  const errors: unknown[] = [];
  const wq = unboundWq('thr-sem-monitor', 0, { maxWorkers: 2, onError: (e) => errors.push(e) });
  for (let i = 0; i < 3; i++) queueWork(wq, new Work(fn('noop')));
  queueWork(wq, new Work(fn('spinFor'), { ms: 30 }));
  queueWork(wq, new Work(fn('fail'), { message: 'counted' }));
  await flushWorkqueue(wq);
  const row = monitorRow(wq);
  assert.equal(row.total, 5);
  assert.equal(row.failed, 1);
  assert.equal(errors.length, 1);
  assert.ok(row.cpuIntensive >= 1, `the 30 ms synchronous segment counts as CPU intensive (${row.cpuIntensive})`);
  assert.ok(row.cpuIntensive <= 5);
  assert.ok(row.cpuTime >= 29, `cpuTime includes the 30 ms segment (${row.cpuTime})`);
  assert.equal(row.infl, 0);
  assert.equal(row.pending, 0);
  await destroyWorkqueue(wq);
});

test('concurrency management inside a thread: with maxWorkers 1, sleeping handlers overlap on the one thread', async () => {
  const wq = unboundWq('thr-sem-cm', 0, { maxWorkers: 1 });
  // Warm up: the thread is started and the module loaded.
  const warm = shared();
  queueWork(wq, new Work(fn('counter'), { sab: warm.sab, ms: 1, mode: 'sleep', id: 0 }));
  await flushWorkqueue(wq);
  const { sab, i32 } = shared();
  const t0 = performance.now();
  for (let id = 0; id < 8; id++) queueWork(wq, new Work(fn('counter'), { sab, ms: 50, mode: 'sleep', id }));
  await flushWorkqueue(wq);
  const elapsed = performance.now() - t0;
  assert.equal(Atomics.load(i32, 2), 8);
  assert.ok(elapsed < 300, `8 x 50 ms sleepers overlapped (${elapsed.toFixed(0)} ms, 400 ms if serial)`);
  assert.ok(Atomics.load(i32, 1) >= 2, `several were in flight at once (${Atomics.load(i32, 1)})`);
  const threads = new Set(i32.slice(64, 72));
  assert.equal(threads.size, 1, 'all on the one thread');
  assert.ok(!threads.has(mainThreadId));
  await destroyWorkqueue(wq);
});

test('concurrency management inside a thread: handlers with a few ms of synchronous work before their await still overlap', async () => {
  // A handler is "running" only during its synchronous segment (SPEC §1): once it awaits, the thread's loop is
  // free and the next item must start there (or on another thread). 3 ms of synchronous work per item does not
  // change that.
  const wq = unboundWq('thr-sem-cm-sync-prefix', 0, { maxWorkers: 1 });
  const warm = shared();
  queueWork(wq, new Work(fn('counter'), { sab: warm.sab, ms: 1, spinMs: 3, mode: 'mixed', id: 0 }));
  await flushWorkqueue(wq);
  const { sab, i32 } = shared();
  const t0 = performance.now();
  for (let id = 0; id < 8; id++) queueWork(wq, new Work(fn('counter'), { sab, ms: 150, spinMs: 3, mode: 'mixed', id }));
  await flushWorkqueue(wq);
  const elapsed = performance.now() - t0;
  assert.equal(Atomics.load(i32, 2), 8);
  assert.ok(
    Atomics.load(i32, 1) >= 2,
    `several were in flight at once on the thread (most at once: ${Atomics.load(i32, 1)})`,
  );
  assert.ok(
    elapsed < 700,
    `8 x (3 ms + 150 ms await) overlapped: ${elapsed.toFixed(0)} ms (~175 ms if they overlap, ~1220 ms if serial)`,
  );
  await destroyWorkqueue(wq);
});

test('a thread running a synchronous CPU hog does not hold the next items: another thread takes them meanwhile', async () => {
  const wq = unboundWq('thr-sem-hog', 0, { maxWorkers: 3 });
  const h = shared(64);
  const q = shared(1024);
  const hogWork = new Work(fn('hog'), { sab: h.sab, ms: 2000 });
  queueWork(wq, hogWork);
  await waitFor(() => Atomics.load(h.i32, 0) !== 0, 'the hog to start');
  for (let i = 0; i < 4; i++) queueWork(wq, new Work(fn('quick'), { sab: q.sab, i }));
  await waitFor(
    () => Atomics.load(q.i32, 0) === 4 || Atomics.load(h.i32, 1) === 1,
    'the quick items or the hog to finish',
  );
  assert.equal(Atomics.load(q.i32, 0), 4, 'the quick items finished');
  assert.equal(Atomics.load(h.i32, 1), 0, 'while the hog was still running');
  const hogThread = Atomics.load(h.i32, 0);
  for (let i = 0; i < 4; i++) assert.notEqual(q.i32[2 + i], hogThread, `quick item ${i} ran on another thread`);
  await flushWorkqueue(wq);
  assert.equal(Atomics.load(h.i32, 1), 1);
  await destroyWorkqueue(wq);
});

test('per-CPU workqueue: queueWorkOn(k) runs a module work on CPU k’s thread, always the same; CPU 0 runs it here', async () => {
  const wq = allocWorkqueue('thr-sem-percpu', 0, 0);
  const run = async (cpu: number): Promise<any> => {
    const { sab } = shared();
    const w = new Work(fn('syncProbe'), { sab, value: cpu });
    assert.equal(queueWorkOn(cpu, wq, w), true);
    await flushWork(w);
    return readReport(sab);
  };
  const a = await run(1);
  const b = await run(1);
  const c = await run(2);
  const d = await run(0);
  assert.notEqual(a.threadId, mainThreadId);
  assert.equal(b.threadId, a.threadId, 'CPU 1 is one thread');
  assert.notEqual(c.threadId, a.threadId, 'CPU 2 is another thread');
  assert.notEqual(c.threadId, mainThreadId);
  assert.equal(d.threadId, mainThreadId, 'CPU 0 is this thread');
  for (const r of [a, b, c, d]) assert.equal(r.sync, true, 'currentWork() is the handler’s work');
  assert.deepEqual([a.value, b.value, c.value, d.value], [1, 1, 2, 0]);

  // queueWork on a per-CPU workqueue is this CPU: CPU 0, here.
  const local = shared();
  const w0 = new Work(fn('syncProbe'), { sab: local.sab, value: 'local' });
  assert.equal(queueWork(wq, w0), true);
  await flushWork(w0);
  assert.equal(readReport(local.sab).threadId, mainThreadId);
  assert.equal(readReport(local.sab).sync, true);

  // workBusy sees RUNNING for an item running on CPU 1's thread.
  const g = shared(64);
  const gw = new Work(fn('gated'), { sab: g.sab });
  queueWorkOn(1, wq, gw);
  await waitFor(() => Atomics.load(g.i32, 0) === 1, 'the gated handler to start on CPU 1');
  assert.equal(Atomics.load(g.i32, 3), a.threadId);
  assert.equal(workBusy(gw), WORK_BUSY_RUNNING);
  assert.equal(queueWorkOn(1, wq, gw), true);
  assert.equal(workBusy(gw), WORK_BUSY_PENDING | WORK_BUSY_RUNNING);
  Atomics.store(g.i32, 1, 1);
  await flushWork(gw);
  assert.equal(Atomics.load(g.i32, 2), 2);
  await destroyWorkqueue(wq);
});

test('workOnCpu: resolves with the cloned result of fn(arg) on that CPU, rejects with its error; CPU 0 runs here', async () => {
  const r1: any = await workOnCpu(1, fn('double'), { n: 21 });
  assert.equal(r1.n, 42);
  assert.ok(r1.map instanceof Map, 'the result is structured-cloned');
  assert.equal(r1.map.get('k'), 21);
  assert.notEqual(r1.threadId, mainThreadId);
  const r2: any = await workOnCpu(2, fn('whoAmI'), 'x');
  assert.equal(r2.arg, 'x', 'fn is called with the argument');
  assert.notEqual(r2.threadId, mainThreadId);
  assert.notEqual(r2.threadId, r1.threadId, 'CPU 2 is not CPU 1');
  assert.equal(((await workOnCpu(1, fn('whoAmI'), 0)) as any).threadId, r1.threadId);
  await assert.rejects(workOnCpu(1, fn('throwsFor'), 7), (e: Error) => {
    assert.ok(e instanceof Error);
    assert.equal(e.name, 'RangeError');
    assert.equal(e.message, 'bad 7');
    return true;
  });
  await assert.rejects(workOnCpu(2, fn('rejectsFor'), 8), { message: 'rejected 8' });
  const r0: any = await workOnCpu(0, fn('whoAmI'), 'here');
  assert.equal(r0.threadId, mainThreadId, 'a module function on the caller’s CPU runs locally');
  assert.equal(r0.arg, 'here');
  assert.equal(await workOnCpu(0, (x: number) => x + 1, 1), 2, 'a plain function on the caller’s CPU');
});

test('function works queued by a handler on CPU k run on CPU k’s thread', async () => {
  const r1: any = await workOnCpu(1, fn('queueLocal'), 'a');
  assert.notEqual(r1.handlerThread, mainThreadId);
  assert.equal(r1.queued, true);
  assert.equal(r1.flushed, true);
  assert.equal(r1.inner, r1.handlerThread, 'the function work ran on the thread that queued it');
  assert.equal(r1.innerCurrent, true, 'currentWork() there is the function work');

  const wq = allocWorkqueue('thr-sem-local-queue', 0, 0);
  const { sab } = shared();
  const w = new Work(fn('queueLocalFromWork'), { sab });
  queueWorkOn(2, wq, w);
  await flushWork(w);
  const r2 = readReport(sab);
  assert.notEqual(r2.handlerThread, mainThreadId);
  assert.notEqual(r2.handlerThread, r1.handlerThread, 'CPU 2, not CPU 1');
  assert.equal(r2.inner, r2.handlerThread);

  const r0: any = await workOnCpu(0, fn('queueLocal'), 'z');
  assert.equal(r0.handlerThread, mainThreadId);
  assert.equal(r0.inner, mainThreadId);
  await destroyWorkqueue(wq);
});

test('§3.16/§5 handler failures on a thread reach onError with the original message and the owner’s work; the pool keeps going', async () => {
  const reports: [unknown, Work][] = [];
  const wq = unboundWq('thr-sem-errors', 0, { maxWorkers: 2, onError: (e, w) => reports.push([e, w]) });
  const sync = new Work(fn('fail'), { message: 'one' });
  const async_ = new Work(fn('rejectAsync'), { message: 'two' });
  const str = new Work(fn('throwString'));
  const coded = new Work(fn('throwWithCode'));
  for (const w of [sync, async_, str, coded]) queueWork(wq, w);
  assert.equal(await flushWork(async_), true, 'flushWork of a failing item resolves');
  await flushWorkqueue(wq);
  assert.equal(reports.length, 4);
  const errorOf = (w: Work) => {
    const found = reports.find(([, rw]) => rw === w);
    assert.ok(found, `onError received the owner’s work object for ${w.funcName}`);
    return found[0];
  };
  const e1 = errorOf(sync) as Error;
  assert.ok(e1 instanceof Error);
  assert.equal(e1.message, 'sync failure: one');
  const e2 = errorOf(async_) as Error;
  assert.ok(e2 instanceof Error);
  assert.equal(e2.message, 'async failure: two');
  assert.equal(e2.name, 'TypeError');
  assert.equal(errorOf(str), 'boom-string', 'a thrown non-Error is reported as it is');
  assert.equal((errorOf(coded) as Error).message, 'coded failure');
  assert.equal(monitorRow(wq).failed, 4);
  // The pool still runs work.
  const ok = shared(64);
  const after = new Work(fn('sleeper'), { sab: ok.sab, ms: 1 });
  queueWork(wq, after);
  await flushWork(after);
  assert.equal(Atomics.load(ok.i32, 0), 1);
  assert.equal(monitorRow(wq).failed, 4);
  assert.equal(monitorRow(wq).total, 5);
  await destroyWorkqueue(wq);
});

test('§5 without onError, a failure on a thread is a CmwqWarning naming the workqueue, the function and the error', async () => {
  const wq = unboundWq('thr-sem-warn', 0, { maxWorkers: 1 });
  await withWarnings(async (warnings) => {
    queueWork(wq, new Work(fn('fail'), { message: 'warned' }));
    await flushWorkqueue(wq);
    await sleep(10);
    const ours = warnings.filter((w) => w.name === 'CmwqWarning' && w.message.includes('thr-sem-warn'));
    assert.equal(ours.length, 1);
    assert.match(ours[0].message, /fail/);
    assert.match(ours[0].message, /sync failure: warned/);
  });
  assert.equal(monitorRow(wq).failed, 1);
  await destroyWorkqueue(wq);
});

test('destroying a workqueue while its pool is still starting a thread is not reported as a failed thread start', async () => {
  // Threads start slowly here (as on a very busy machine). A CPU hog makes the pool start a second thread; the
  // workqueue drains and is destroyed before that thread is up, and the pool ends it. Nothing failed: no warning.
  // (Last in the file: it changes how threads start.)
  const slowStart = new URL('../../test/fixtures/threads/slow-start.mjs', import.meta.url);
  workqueueInit({
    startThread: (url, options) =>
      new NodeWorker(slowStart, {
        ...options,
        workerData: { ...options.workerData, slowStart: { target: url.href, delayMs: 800 } },
      }),
  });
  const wq = unboundWq('thr-sem-destroy-starting', 0, { maxWorkers: 2 });
  await withWarnings(async (warnings) => {
    queueWork(wq, new Work(fn('spinFor'), { ms: 300 }));
    for (let i = 0; i < 4; i++) queueWork(wq, new Work(fn('noop')));
    await flushWorkqueue(wq);
    assert.equal(poolThreadIds(wq).length, 2, 'a second thread was starting when the workqueue drained');
    await destroyWorkqueue(wq);
    await sleep(1200);
    const starts = warnings.filter((w) => /failed to start a thread/.test(w.message));
    assert.deepEqual(
      starts.map((w) => w.message),
      [],
      'a thread the pool ended itself did not fail to start',
    );
  });
});
