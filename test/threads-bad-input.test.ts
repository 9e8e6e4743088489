/**
 * Module works and threads, the mistakes (SPEC §2, §5): invalid module references, data that cannot cross
 * threads (ERR_WQ_DATA_CLONE at queue time, nothing queued), function works sent to another CPU
 * (ERR_WQ_NOT_PORTABLE), and modules or exports that are not there (ERR_WQ_MODULE, reported as a handler failure).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { threadId as mainThreadId } from 'node:worker_threads';
import {
  allocWorkqueue,
  DelayedWork,
  delayedWorkPending,
  destroyWorkqueue,
  flushDelayedWork,
  flushWork,
  flushWorkqueue,
  modDelayedWork,
  queueDelayedWork,
  queueDelayedWorkOn,
  queueWork,
  queueWorkOn,
  Work,
  workBusy,
  workFunc,
  workOnCpu,
  workPending,
  workqueueInit,
  wqMonitor,
  WQ_UNBOUND,
  WorkqueueError,
  type Workqueue,
} from '../src/index.js';
import { caughtCode, withWarnings } from './helpers.js';

workqueueInit({ nrCpus: 3 });

const fixture = new URL('../../test/fixtures/threads/sem.mjs', import.meta.url);
const fn = (name: string) => workFunc(fixture, name);
const missingModule = new URL('../../test/fixtures/threads/does-not-exist.mjs', import.meta.url);
const notAFunction = new URL('../../test/fixtures/threads/not-a-function.mjs', import.meta.url);
const throwsOnLoad = new URL('../../test/fixtures/threads/throws-on-load.mjs', import.meta.url);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function shared(bytes = 64): { sab: SharedArrayBuffer; i32: Int32Array } {
  const sab = new SharedArrayBuffer(bytes);
  return { sab, i32: new Int32Array(sab) };
}

let uniq = 0;
function unboundWq(name: string, attrs: Parameters<typeof allocWorkqueue>[3] = {}): Workqueue {
  return allocWorkqueue(name, WQ_UNBOUND, 0, { maxWorkers: 2, idleTimeoutMs: 70_000 + uniq++, ...attrs });
}

function monitorRow(wq: Workqueue) {
  const row = wqMonitor().find((r) => r.name === wq.name);
  assert.ok(row, `wqMonitor lists ${wq.name}`);
  return row;
}

test('workFunc rejects relative specifiers and invalid arguments with ERR_WQ_INVALID_ARG', () => {
  for (const spec of ['./jobs.mjs', '../jobs.mjs', '', 42, null, undefined, {}, ['x']]) {
    assert.equal(
      caughtCode(() => workFunc(spec as any, 'x')),
      'ERR_WQ_INVALID_ARG',
      `specifier ${String(spec)}`,
    );
  }
  for (const name of ['', 5, null, {}]) {
    assert.equal(
      caughtCode(() => workFunc(fixture, name as any)),
      'ERR_WQ_INVALID_ARG',
      `export name ${String(name)}`,
    );
  }
  // A relative specifier is refused at once, not when a thread tries to import it.
  assert.throws(
    () => workFunc('./sem.mjs'),
    (e: unknown) => e instanceof WorkqueueError && e.code === 'ERR_WQ_INVALID_ARG',
  );
});

test('§5 data that cannot be cloned: queueWork throws ERR_WQ_DATA_CLONE, nothing is queued, and the work stays reusable', async () => {
  const wq = unboundWq('thr-bad-clone');
  const uncloneable: [string, unknown][] = [
    ['a function', () => 1],
    ['an object with a method', { f() {} }],
    ['a symbol inside an object', { s: Symbol('x') }],
    ['a symbol', Symbol('y')],
    ['a WeakMap', new WeakMap()],
    ['a promise inside an array', [Promise.resolve(1)]],
  ];
  for (const [what, data] of uncloneable) {
    const w = new Work<any>(fn('sleeper'), data);
    assert.equal(
      caughtCode(() => queueWork(wq, w)),
      'ERR_WQ_DATA_CLONE',
      what,
    );
    assert.equal(workPending(w), false, `${what}: not pending`);
    assert.equal(workBusy(w), 0, `${what}: idle`);
    assert.equal(monitorRow(wq).pending, 0, `${what}: nothing queued`);
    // Reusable: with data that can cross, it queues and runs.
    const { sab, i32 } = shared();
    w.data = { sab, ms: 1 };
    assert.equal(queueWork(wq, w), true, `${what}: queues once fixed`);
    assert.equal(await flushWork(w), true);
    assert.equal(Atomics.load(i32, 0), 1, `${what}: ran once fixed`);
  }
  await flushWorkqueue(wq);
  const row = monitorRow(wq);
  assert.equal(row.total, uncloneable.length, 'only the good queueings ran');
  assert.equal(row.failed, 0);
  await destroyWorkqueue(wq);
});

test('§5 an invalid transfer list is ERR_WQ_DATA_CLONE at queue time too; the buffer is left alone', async () => {
  const wq = unboundWq('thr-bad-transfer');
  const buf = new ArrayBuffer(8);
  const w = new Work<any>(fn('sleeper'), { buf, ms: 1 });
  w.transfer = [{} as any];
  assert.equal(
    caughtCode(() => queueWork(wq, w)),
    'ERR_WQ_DATA_CLONE',
  );
  assert.equal(workPending(w), false);
  assert.equal(buf.byteLength, 8);
  await destroyWorkqueue(wq);
});

test('§5 ERR_WQ_DATA_CLONE on every path that sends data to another thread: queueWorkOn, delayed work, workOnCpu', async () => {
  const pc = allocWorkqueue('thr-bad-clone-percpu', 0, 0);
  const ub = unboundWq('thr-bad-clone-delayed');
  const w = new Work<any>(fn('noop'), { f: () => 1 });
  assert.equal(
    caughtCode(() => queueWorkOn(1, pc, w)),
    'ERR_WQ_DATA_CLONE',
  );
  assert.equal(workPending(w), false);
  const dw = new DelayedWork<any>(fn('noop'), { s: Symbol('z') });
  assert.equal(
    caughtCode(() => queueDelayedWork(ub, dw, 20)),
    'ERR_WQ_DATA_CLONE',
    'checked when armed, not when the timer fires',
  );
  assert.equal(delayedWorkPending(dw), false);
  assert.equal(
    caughtCode(() => queueDelayedWorkOn(2, pc, dw, 0)),
    'ERR_WQ_DATA_CLONE',
  );
  assert.equal(
    caughtCode(() => modDelayedWork(ub, dw, 5)),
    'ERR_WQ_DATA_CLONE',
  );
  assert.equal(delayedWorkPending(dw), false);
  assert.equal(await flushDelayedWork(dw), false, 'no timer was armed');
  assert.equal(
    caughtCode(() => workOnCpu(1, fn('whoAmI'), () => 1)),
    'ERR_WQ_DATA_CLONE',
    'workOnCpu throws synchronously',
  );
  // Nothing was queued anywhere.
  assert.equal(monitorRow(pc).pending, 0);
  assert.equal(monitorRow(ub).pending, 0);
  await Promise.all([destroyWorkqueue(pc), destroyWorkqueue(ub)]);
});

test('§5 function works cannot go to another CPU: ERR_WQ_NOT_PORTABLE, nothing queued; on this CPU or an unbound workqueue they run here', async () => {
  const pc = allocWorkqueue('thr-bad-portable', 0, 0);
  const ub = unboundWq('thr-bad-portable-ub');
  let ranOn = -1;
  const w = new Work(() => {
    ranOn = mainThreadId;
  });
  for (const cpu of [1, 2]) {
    assert.equal(
      caughtCode(() => queueWorkOn(cpu, pc, w)),
      'ERR_WQ_NOT_PORTABLE',
      `CPU ${cpu}`,
    );
    assert.equal(workPending(w), false);
  }
  const dw = new DelayedWork(() => {});
  assert.equal(
    caughtCode(() => queueDelayedWorkOn(1, pc, dw, 10)),
    'ERR_WQ_NOT_PORTABLE',
  );
  assert.equal(delayedWorkPending(dw), false);
  assert.equal(
    caughtCode(() => workOnCpu(1, (x: number) => x, 1)),
    'ERR_WQ_NOT_PORTABLE',
    'workOnCpu throws synchronously',
  );
  assert.equal(
    caughtCode(() => workOnCpu(2, async function named() {}, 1)),
    'ERR_WQ_NOT_PORTABLE',
  );
  // The same work runs on CPU 0 (this thread) and on an unbound workqueue (here too: functions do not cross).
  assert.equal(queueWorkOn(0, pc, w), true);
  await flushWork(w);
  assert.equal(ranOn, mainThreadId);
  ranOn = -1;
  assert.equal(queueWork(ub, w), true);
  await flushWork(w);
  assert.equal(ranOn, mainThreadId);
  await Promise.all([destroyWorkqueue(pc), destroyWorkqueue(ub)]);
});

test('CPU numbers and workOnCpu arguments are validated: ERR_WQ_INVALID_ARG', () => {
  const w = new Work(fn('noop'));
  const pcName = 'thr-bad-cpu';
  const pc = allocWorkqueue(pcName, 0, 0);
  for (const cpu of [3, 4, -2, 1.5, NaN]) {
    assert.equal(
      caughtCode(() => queueWorkOn(cpu, pc, w)),
      'ERR_WQ_INVALID_ARG',
      `queueWorkOn CPU ${cpu}`,
    );
    assert.equal(
      caughtCode(() => workOnCpu(cpu, fn('whoAmI'), 0)),
      'ERR_WQ_INVALID_ARG',
      `workOnCpu CPU ${cpu}`,
    );
  }
  assert.equal(workPending(w), false);
  assert.equal(
    caughtCode(() => workOnCpu(1, 'whoAmI' as any, 0)),
    'ERR_WQ_INVALID_ARG',
  );
  return destroyWorkqueue(pc);
});

test('§5 a module or export that is not there fails the item with ERR_WQ_MODULE, reported to onError and counted', async () => {
  const reports: [unknown, Work][] = [];
  const wq = unboundWq('thr-bad-module', { onError: (e, w) => reports.push([e, w]) });
  const cases: [string, Work][] = [
    ['a missing module', new Work(workFunc(missingModule, 'anything'))],
    ['a missing export', new Work(workFunc(fixture, 'noSuchExport'))],
    ['an export that is not a function', new Work(workFunc(notAFunction, 'notFn'))],
    ['a module that throws while loading', new Work(workFunc(throwsOnLoad, 'never'))],
    ['a missing package', new Work(workFunc('cmwq-no-such-package-for-tests', 'x'))],
  ];
  for (const [, w] of cases) assert.equal(queueWork(wq, w), true, 'queueing does not load the module');
  await flushWorkqueue(wq);
  assert.equal(reports.length, cases.length);
  for (const [what, w] of cases) {
    const found = reports.find(([, rw]) => rw === w);
    assert.ok(found, `${what}: reported, with the owner's work`);
    const error = found[0];
    assert.ok(error instanceof WorkqueueError, `${what}: a WorkqueueError`);
    assert.equal(error.code, 'ERR_WQ_MODULE', what);
    assert.equal(workBusy(w), 0);
  }
  const row = monitorRow(wq);
  assert.equal(row.failed, cases.length);
  assert.equal(row.total, cases.length);
  // The pool keeps working, and the same module's good exports run.
  const { sab, i32 } = shared();
  const good = new Work(fn('sleeper'), { sab, ms: 1 });
  queueWork(wq, good);
  const fine = new Work(workFunc(notAFunction, 'fine'));
  queueWork(wq, fine);
  await flushWorkqueue(wq);
  assert.equal(Atomics.load(i32, 0), 1);
  assert.equal(monitorRow(wq).failed, cases.length);
  assert.equal(monitorRow(wq).total, cases.length + 2);
  await destroyWorkqueue(wq);
});

test('§5 ERR_WQ_MODULE on CPU k’s thread and on CPU 0 (loaded here), and from workOnCpu as a rejection', async () => {
  const reports: [unknown, Work][] = [];
  const pc = allocWorkqueue('thr-bad-module-percpu', 0, 0, { onError: (e, w) => reports.push([e, w]) });
  const remote = new Work(workFunc(missingModule, 'remote'));
  const local = new Work(workFunc(missingModule, 'local'));
  queueWorkOn(1, pc, remote);
  queueWorkOn(0, pc, local);
  await flushWorkqueue(pc);
  for (const w of [remote, local]) {
    const found = reports.find(([, rw]) => rw === w);
    assert.ok(found, `${w.funcName}: reported`);
    assert.ok(found[0] instanceof WorkqueueError);
    assert.equal(found[0].code, 'ERR_WQ_MODULE');
  }
  assert.equal(monitorRow(pc).failed, 2);
  await assert.rejects(workOnCpu(1, workFunc(missingModule, 'call'), 0), (e: unknown) => {
    assert.ok(e instanceof WorkqueueError);
    assert.equal(e.code, 'ERR_WQ_MODULE');
    return true;
  });
  await assert.rejects(workOnCpu(2, workFunc(fixture, 'noSuchCallExport'), 0), { code: 'ERR_WQ_MODULE' });
  await assert.rejects(workOnCpu(0, workFunc(notAFunction, 'notFn'), 0), { code: 'ERR_WQ_MODULE' });
  // CPU 1 still works.
  const ok: any = await workOnCpu(1, fn('whoAmI'), 'still');
  assert.equal(ok.arg, 'still');
  await destroyWorkqueue(pc);
});

test('§5 without onError, ERR_WQ_MODULE is a CmwqWarning naming the workqueue', async () => {
  const wq = unboundWq('thr-bad-module-warn');
  await withWarnings(async (warnings) => {
    queueWork(wq, new Work(workFunc(missingModule, 'warned')));
    await flushWorkqueue(wq);
    await sleep(10);
    const ours = warnings.filter((w) => w.name === 'CmwqWarning' && w.message.includes('thr-bad-module-warn'));
    assert.equal(ours.length, 1);
    assert.match(ours[0].message, /warned/);
    assert.match(ours[0].message, /does-not-exist/);
  });
  assert.equal(monitorRow(wq).failed, 1);
  await destroyWorkqueue(wq);
});

test('results and errors that cannot cross back: a rejected workOnCpu, a reported failure; a work’s return value is not sent', async () => {
  await assert.rejects(workOnCpu(1, fn('returnsFunction'), 0), (e: unknown) => {
    assert.ok(e instanceof WorkqueueError);
    assert.equal(e.code, 'ERR_WQ_DATA_CLONE');
    return true;
  });
  const reports: unknown[] = [];
  const wq = unboundWq('thr-bad-uncloneable-error', { onError: (e) => reports.push(e) });
  const thrower = new Work(fn('throwUncloneable'));
  queueWork(wq, thrower);
  const { sab, i32 } = shared();
  const returner = new Work(fn('returnsFunctionWork'), { sab });
  queueWork(wq, returner);
  assert.equal(await flushWork(thrower), true, 'the flush is not broken');
  await flushWorkqueue(wq);
  assert.equal(reports.length, 1, 'the failure is reported, never silent');
  assert.ok(reports[0] !== undefined && reports[0] !== null);
  assert.equal(Atomics.load(i32, 0), 1);
  const row = monitorRow(wq);
  assert.equal(row.failed, 1, 'only the thrower failed: a work function’s return value is ignored');
  assert.equal(row.total, 2);
  // CPU 1 still answers.
  assert.equal(((await workOnCpu(1, fn('whoAmI'), 'ok')) as any).arg, 'ok');
  await destroyWorkqueue(wq);
});
