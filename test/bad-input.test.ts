/**
 * SPEC §4 and §5: bad input throws a WorkqueueError with a stable code, synchronously, and changes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allocOrderedWorkqueue,
  allocWorkqueue,
  applyWorkqueueAttrs,
  cancelDelayedWork,
  cancelDelayedWorkSync,
  cancelWork,
  cancelWorkSync,
  DelayedWork,
  delayedWorkPending,
  destroyWorkqueue,
  disableWork,
  drainWorkqueue,
  enableAndQueueWork,
  enableWork,
  flushDelayedWork,
  flushWork,
  flushWorkqueue,
  ManualClock,
  modDelayedWork,
  modDelayedWorkOn,
  queueDelayedWork,
  queueDelayedWorkOn,
  queueWork,
  queueWorkOn,
  scheduleDelayedWork,
  scheduleWork,
  systemWq,
  Work,
  workBusy,
  workOnCpu,
  WorkqueueError,
  workPending,
  workqueueCongested,
  workqueueInit,
  workqueueSetMaxActive,
  wqDump,
  WQ_BH,
  WQ_HIGHPRI,
  WQ_POWER_EFFICIENT,
  WQ_UNBOUND,
  WQ_FREEZABLE,
} from '../src/index.js';
import { settle, turn, useManualClock } from './helpers.js';

const clock = useManualClock({ nrCpus: 2 });

/** Asserts fn throws a WorkqueueError with code, synchronously. */
function expectCode(code: string, fn: () => unknown, what = ''): void {
  let caught: unknown;
  let threw = false;
  try {
    fn();
  } catch (error) {
    threw = true;
    caught = error;
  }
  assert.ok(threw, `${what}: expected ${code}, but nothing was thrown`);
  assert.ok(caught instanceof WorkqueueError, `${what}: expected a WorkqueueError, got ${String(caught)}`);
  assert.equal(caught.code, code, `${what}: ${caught.message}`);
  assert.ok(caught instanceof Error);
}

// Values that are not what a parameter expects.
const notWorks: unknown[] = [undefined, null, 0, 'work', {}, [], () => {}, { func: () => {} }];
const badDelays: unknown[] = [NaN, -1, -0.5, Infinity, -Infinity, '10', null, undefined, {}, 10n];

let runs = 0;
const counted = () => void runs++;

/** Asserts that none of works is pending, no timer is armed, and nothing runs when time passes: runs stays at before. */
async function assertNothingQueued(works: Work[], before: number): Promise<void> {
  for (const w of works) assert.equal(workPending(w), false);
  assert.equal(clock.pendingTimers, 0);
  clock.advance(100);
  await settle();
  assert.equal(runs, before);
}

test('§5 WorkqueueError is an Error with a stable code', () => {
  const e = new WorkqueueError('ERR_WQ_INVALID_ARG', 'x');
  assert.ok(e instanceof Error);
  assert.equal(e.code, 'ERR_WQ_INVALID_ARG');
  assert.equal(e.name, 'WorkqueueError');
});

test('§5 new Work / new DelayedWork with a non-function throws ERR_WQ_INVALID_ARG', () => {
  for (const func of [undefined, null, 1, 'f', {}, [], Symbol('f')]) {
    expectCode('ERR_WQ_INVALID_ARG', () => new Work(func as never), `new Work(${String(func)})`);
    expectCode('ERR_WQ_INVALID_ARG', () => new DelayedWork(func as never), `new DelayedWork(${String(func)})`);
  }
});

test('§5 queueing something that is not a Work throws ERR_WQ_INVALID_ARG', () => {
  const wq = allocWorkqueue('bad-notwork');
  for (const w of notWorks) {
    expectCode('ERR_WQ_INVALID_ARG', () => queueWork(wq, w as never), `queueWork(${String(w)})`);
    expectCode('ERR_WQ_INVALID_ARG', () => queueWorkOn(0, wq, w as never));
    expectCode('ERR_WQ_INVALID_ARG', () => scheduleWork(w as never));
    expectCode('ERR_WQ_INVALID_ARG', () => queueDelayedWork(wq, w as never, 1));
    expectCode('ERR_WQ_INVALID_ARG', () => modDelayedWork(wq, w as never, 1));
    expectCode('ERR_WQ_INVALID_ARG', () => workPending(w as never));
    expectCode('ERR_WQ_INVALID_ARG', () => workBusy(w as never));
    expectCode('ERR_WQ_INVALID_ARG', () => flushWork(w as never));
    expectCode('ERR_WQ_INVALID_ARG', () => cancelWork(w as never));
    expectCode('ERR_WQ_INVALID_ARG', () => cancelWorkSync(w as never));
    expectCode('ERR_WQ_INVALID_ARG', () => disableWork(w as never));
    expectCode('ERR_WQ_INVALID_ARG', () => enableWork(w as never));
    expectCode('ERR_WQ_INVALID_ARG', () => enableAndQueueWork(wq, w as never));
  }
  return destroyWorkqueue(wq);
});

test('§5 a plain Work where a DelayedWork is required throws ERR_WQ_INVALID_ARG and is not queued', async () => {
  const wq = allocWorkqueue('bad-plain-as-delayed');
  const w = new Work(counted);
  const before = runs;
  expectCode('ERR_WQ_INVALID_ARG', () => queueDelayedWork(wq, w as never, 0));
  expectCode('ERR_WQ_INVALID_ARG', () => queueDelayedWork(wq, w as never, 10));
  expectCode('ERR_WQ_INVALID_ARG', () => scheduleDelayedWork(w as never, 10));
  expectCode('ERR_WQ_INVALID_ARG', () => modDelayedWork(wq, w as never, 10));
  expectCode('ERR_WQ_INVALID_ARG', () => delayedWorkPending(w as never));
  expectCode('ERR_WQ_INVALID_ARG', () => cancelDelayedWork(w as never));
  expectCode('ERR_WQ_INVALID_ARG', () => cancelDelayedWorkSync(w as never));
  expectCode('ERR_WQ_INVALID_ARG', () => flushDelayedWork(w as never));
  await assertNothingQueued([w], before);
  await destroyWorkqueue(wq);
});

test('§5 something that is not a Workqueue throws ERR_WQ_INVALID_ARG and nothing is queued', async () => {
  const w = new Work(counted);
  const dw = new DelayedWork(counted);
  const before = runs;
  for (const wq of [undefined, null, {}, 'events', 1, { name: 'x' }]) {
    expectCode('ERR_WQ_INVALID_ARG', () => queueWork(wq as never, w), `queueWork on ${String(wq)}`);
    expectCode('ERR_WQ_INVALID_ARG', () => queueWorkOn(0, wq as never, w));
    expectCode('ERR_WQ_INVALID_ARG', () => queueDelayedWork(wq as never, dw, 5));
    expectCode('ERR_WQ_INVALID_ARG', () => modDelayedWork(wq as never, dw, 5));
    expectCode('ERR_WQ_INVALID_ARG', () => flushWorkqueue(wq as never));
    expectCode('ERR_WQ_INVALID_ARG', () => drainWorkqueue(wq as never));
    expectCode('ERR_WQ_INVALID_ARG', () => destroyWorkqueue(wq as never));
    expectCode('ERR_WQ_INVALID_ARG', () => workqueueSetMaxActive(wq as never, 1));
    expectCode('ERR_WQ_INVALID_ARG', () => applyWorkqueueAttrs(wq as never, {}));
    expectCode('ERR_WQ_INVALID_ARG', () => workqueueCongested(0, wq as never));
  }
  disableWork(w);
  expectCode('ERR_WQ_INVALID_ARG', () => enableAndQueueWork({} as never, w));
  assert.equal(enableWork(w), true, 'the failed enableAndQueueWork left the disable depth alone');
  await assertNothingQueued([w, dw], before);
});

test('§5 NaN, negative, infinite and non-number delays throw ERR_WQ_INVALID_ARG and arm nothing', async () => {
  const wq = allocWorkqueue('bad-delay');
  const dw = new DelayedWork(counted);
  const before = runs;
  for (const delay of badDelays) {
    const label = typeof delay === 'bigint' ? `${delay}n` : String(delay);
    expectCode('ERR_WQ_INVALID_ARG', () => queueDelayedWork(wq, dw, delay as never), `queueDelayedWork delay ${label}`);
    expectCode(
      'ERR_WQ_INVALID_ARG',
      () => queueDelayedWorkOn(0, wq, dw, delay as never),
      `queueDelayedWorkOn delay ${label}`,
    );
    expectCode('ERR_WQ_INVALID_ARG', () => modDelayedWork(wq, dw, delay as never), `modDelayedWork delay ${label}`);
    expectCode('ERR_WQ_INVALID_ARG', () => modDelayedWorkOn(-1, wq, dw, delay as never));
    expectCode('ERR_WQ_INVALID_ARG', () => scheduleDelayedWork(dw, delay as never));
    assert.equal(delayedWorkPending(dw), false, `delay ${label}: nothing pending`);
  }
  assert.equal(clock.pendingTimers, 0);
  clock.advance(1000);
  await settle();
  assert.equal(runs, before, 'nothing ran');
  await destroyWorkqueue(wq);
});

test('§5 a bad delay on a pending delayed work leaves it armed as it was', async () => {
  const wq = allocWorkqueue('bad-delay-pending');
  const ranAt: number[] = [];
  const dw = new DelayedWork(() => void ranAt.push(clock.now()));
  const t0 = clock.now();
  queueDelayedWork(wq, dw, 50);
  for (const delay of badDelays) expectCode('ERR_WQ_INVALID_ARG', () => modDelayedWork(wq, dw, delay as never));
  assert.equal(delayedWorkPending(dw), true);
  clock.advance(49);
  await settle();
  assert.deepEqual(ranAt, []);
  clock.advance(1);
  await settle();
  assert.deepEqual(ranAt, [t0 + 50]);
  await destroyWorkqueue(wq);
});

test('§4 §5 allocWorkqueue rejects a maxActive that is not a non-negative integer', () => {
  for (const maxActive of [-1, 1.5, NaN, Infinity, '2', null, -0.1]) {
    expectCode(
      'ERR_WQ_INVALID_ARG',
      () => allocWorkqueue('bad-max', 0, maxActive as never),
      `maxActive ${String(maxActive)}`,
    );
  }
  assert.equal(
    wqDump().workqueues.some((w) => w.name === 'bad-max'),
    false,
    'no workqueue was created',
  );
});

test('§4 §5 allocWorkqueue rejects unknown flags, WQ_BH | WQ_UNBOUND and other invalid combinations', () => {
  const bad: [string, number, number][] = [
    ['unknown bit 8', 1 << 8, 0],
    ['unknown bit 20', 1 << 20, 0],
    ['internal ordered bit', 1 << 17, 0],
    ['negative', -1, 0],
    ['fractional', 1.5, 0],
    ['WQ_BH | WQ_UNBOUND', WQ_BH | WQ_UNBOUND, 0],
    ['WQ_BH | WQ_FREEZABLE', WQ_BH | WQ_FREEZABLE, 0],
    ['WQ_BH | WQ_POWER_EFFICIENT', WQ_BH | WQ_POWER_EFFICIENT, 0],
    ['WQ_BH with maxActive', WQ_BH, 4],
  ];
  for (const [what, flags, maxActive] of bad) {
    expectCode('ERR_WQ_INVALID_ARG', () => allocWorkqueue('bad-flags', flags, maxActive), what);
  }
  expectCode('ERR_WQ_INVALID_ARG', () => allocWorkqueue('bad-flags', '2' as never), 'string flags');
  expectCode('ERR_WQ_INVALID_ARG', () => allocOrderedWorkqueue('bad-flags', WQ_BH), 'ordered BH');
  expectCode('ERR_WQ_INVALID_ARG', () => allocOrderedWorkqueue('bad-flags', 1 << 9), 'ordered unknown flag');
  expectCode('ERR_WQ_INVALID_ARG', () => allocWorkqueue('', 0), 'empty name');
  expectCode('ERR_WQ_INVALID_ARG', () => allocWorkqueue(42 as never, 0), 'numeric name');
  assert.equal(
    wqDump().workqueues.some((w) => w.name === 'bad-flags'),
    false,
    'no workqueue was created',
  );
});

test('§5 bad attributes throw ERR_WQ_INVALID_ARG', () => {
  expectCode('ERR_WQ_INVALID_ARG', () => allocWorkqueue('bad-attrs', 0, 0, { bogus: 1 } as never));
  expectCode('ERR_WQ_INVALID_ARG', () => allocWorkqueue('bad-attrs', 0, 0, { onError: 'no' } as never));
  expectCode(
    'ERR_WQ_INVALID_ARG',
    () => allocWorkqueue('bad-attrs', 0, 0, { maxWorkers: 2 }),
    'pool attribute on a per-CPU workqueue',
  );
  expectCode('ERR_WQ_INVALID_ARG', () => allocWorkqueue('bad-attrs', WQ_UNBOUND, 0, { maxWorkers: 0 }));
  expectCode('ERR_WQ_INVALID_ARG', () => allocWorkqueue('bad-attrs', WQ_UNBOUND, 0, { idleTimeoutMs: -1 }));
  expectCode('ERR_WQ_INVALID_ARG', () => allocWorkqueue('bad-attrs', 0, 0, null as never));
  const wq = allocWorkqueue('bad-attrs-ok');
  expectCode('ERR_WQ_INVALID_ARG', () => applyWorkqueueAttrs(wq, { maxWorkers: 2 }));
  expectCode('ERR_WQ_INVALID_ARG', () => applyWorkqueueAttrs(wq, { onError: 5 } as never));
  return destroyWorkqueue(wq);
});

test('§5 workqueueSetMaxActive with a bad value throws and keeps the old limit', async () => {
  const wq = allocWorkqueue('bad-setmax', WQ_HIGHPRI, 3);
  for (const n of [-1, 2.5, NaN, '4', Infinity])
    expectCode('ERR_WQ_INVALID_ARG', () => workqueueSetMaxActive(wq, n as never));
  assert.equal(wqDump().workqueues.find((w) => w.name === 'bad-setmax')!.maxActive, 3);
  await destroyWorkqueue(wq);
});

test('§4 §5 queueing after destroy throws ERR_WQ_DESTROYED and leaves the work idle and reusable', async () => {
  const wq = allocWorkqueue('bad-destroyed');
  await destroyWorkqueue(wq);
  const w = new Work(counted);
  const dw = new DelayedWork(counted);
  const before = runs;
  expectCode('ERR_WQ_DESTROYED', () => queueWork(wq, w));
  expectCode('ERR_WQ_DESTROYED', () => queueWorkOn(0, wq, w));
  expectCode('ERR_WQ_DESTROYED', () => queueDelayedWork(wq, dw, 0));
  expectCode('ERR_WQ_DESTROYED', () => queueDelayedWork(wq, dw, 10));
  expectCode('ERR_WQ_DESTROYED', () => modDelayedWork(wq, dw, 10));
  expectCode('ERR_WQ_DESTROYED', () => flushWorkqueue(wq));
  expectCode('ERR_WQ_DESTROYED', () => drainWorkqueue(wq));
  expectCode('ERR_WQ_DESTROYED', () => workqueueSetMaxActive(wq, 2));
  disableWork(w);
  expectCode('ERR_WQ_DESTROYED', () => enableAndQueueWork(wq, w));
  assert.equal(enableWork(w), true);
  await assertNothingQueued([w, dw], before);
  // Reusable elsewhere.
  assert.equal(queueWork(systemWq, w), true);
  assert.equal(queueDelayedWork(systemWq, dw, 0), true);
  await flushWorkqueue(systemWq);
  assert.equal(runs, before + 2);
});

test('§5 destroying twice throws ERR_WQ_DESTROYED (while destroying and after); system workqueues cannot be destroyed', async () => {
  const wq = allocWorkqueue('bad-double');
  queueWork(wq, new Work(async () => await turn()));
  const first = destroyWorkqueue(wq);
  expectCode('ERR_WQ_DESTROYED', () => destroyWorkqueue(wq), 'while destroying');
  await first;
  expectCode('ERR_WQ_DESTROYED', () => destroyWorkqueue(wq), 'after');
  expectCode('ERR_WQ_INVALID_ARG', () => destroyWorkqueue(systemWq), 'system workqueue');
});

test('§5 queueWorkOn another CPU with a function work throws ERR_WQ_NOT_PORTABLE; nothing is queued', async () => {
  const wq = allocWorkqueue('bad-cpu');
  const w = new Work(counted);
  const dw = new DelayedWork(counted);
  const before = runs;
  expectCode('ERR_WQ_NOT_PORTABLE', () => queueWorkOn(1, wq, w));
  expectCode('ERR_WQ_NOT_PORTABLE', () => queueWorkOn(1, systemWq, w));
  expectCode('ERR_WQ_NOT_PORTABLE', () => queueDelayedWorkOn(1, wq, dw, 10));
  expectCode('ERR_WQ_NOT_PORTABLE', () => queueDelayedWorkOn(1, wq, dw, 0));
  expectCode('ERR_WQ_NOT_PORTABLE', () => modDelayedWorkOn(1, wq, dw, 10));
  expectCode('ERR_WQ_NOT_PORTABLE', () => workOnCpu(1, () => 1, undefined));
  await assertNothingQueued([w, dw], before);
  await destroyWorkqueue(wq);
});

test('§5 CPU numbers out of range or not integers throw ERR_WQ_INVALID_ARG', async () => {
  const wq = allocWorkqueue('bad-cpu-range');
  const w = new Work(counted);
  const dw = new DelayedWork(counted);
  for (const cpu of [2, 3, -2, 0.5, NaN, '0', null]) {
    expectCode('ERR_WQ_INVALID_ARG', () => queueWorkOn(cpu as never, wq, w), `cpu ${String(cpu)}`);
    expectCode('ERR_WQ_INVALID_ARG', () => queueDelayedWorkOn(cpu as never, wq, dw, 5));
    expectCode('ERR_WQ_INVALID_ARG', () => workOnCpu(cpu as never, () => 1, undefined));
  }
  expectCode('ERR_WQ_INVALID_ARG', () => workqueueCongested(-2, wq));
  expectCode('ERR_WQ_INVALID_ARG', () => workOnCpu(0, 'fn' as never, undefined));
  assert.equal(workPending(w), false);
  assert.equal(workPending(dw), false);
  await destroyWorkqueue(wq);
});

test('§5 enableWork on a work that is not disabled throws ERR_WQ_INVALID_ARG', async () => {
  const w = new Work(counted);
  expectCode('ERR_WQ_INVALID_ARG', () => enableWork(w));
  expectCode('ERR_WQ_INVALID_ARG', () => enableAndQueueWork(systemWq, w));
  assert.equal(workPending(w), false);
  assert.equal(queueWork(systemWq, w), true, 'still enabled (depth 0, not -1)');
  await flushWork(w);
});

test('§5 workqueueInit rejects bad options, and any call while work is queued or armed', async () => {
  for (const options of [
    null,
    5,
    { nrCpus: 0 },
    { nrCpus: 1.5 },
    { cpuIntensiveThreshMs: -1 },
    { cpuIntensiveThreshMs: NaN },
    { watchdogThreshS: -1 },
    { clock: {} },
  ]) {
    expectCode('ERR_WQ_INVALID_ARG', () => workqueueInit(options as never), JSON.stringify(options));
  }
  const dw = new DelayedWork(counted);
  queueDelayedWork(systemWq, dw, 10);
  expectCode('ERR_WQ_INVALID_ARG', () => workqueueInit({ clock: new ManualClock() }), 'while armed');
  assert.equal(cancelDelayedWork(dw), true);
  const w = new Work(counted);
  queueWork(systemWq, w);
  expectCode('ERR_WQ_INVALID_ARG', () => workqueueInit({ nrCpus: 2 }), 'while queued');
  await flushWork(w);
  // The failed calls changed nothing: the manual clock still drives delays, 2 CPUs still exist.
  expectCode('ERR_WQ_NOT_PORTABLE', () => queueWorkOn(1, systemWq, w));
  const ranAt: number[] = [];
  const t0 = clock.now();
  queueDelayedWork(systemWq, new DelayedWork(() => void ranAt.push(clock.now())), 5);
  clock.advance(5);
  await settle();
  assert.deepEqual(ranAt, [t0 + 5]);
});
