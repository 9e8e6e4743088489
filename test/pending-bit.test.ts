/**
 * SPEC §3.1 and §3.2: the pending bit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allocWorkqueue,
  allocOrderedWorkqueue,
  DelayedWork,
  destroyWorkqueue,
  enableAndQueueWork,
  queueDelayedWork,
  queueWork,
  queueWorkOn,
  scheduleDelayedWork,
  scheduleWork,
  systemWq,
  Work,
  workPending,
  WQ_HIGHPRI,
  WQ_UNBOUND,
  disableWork,
} from '../src/index.js';
import { settle, turn, useManualClock } from './helpers.js';

const clock = useManualClock();

test('§3.1 queueWork on an idle work returns true, sets pending, and any further queue call returns false until it runs once', async () => {
  const wq = allocWorkqueue('pb-a');
  const other = allocWorkqueue('pb-b', WQ_HIGHPRI);
  const unbound = allocWorkqueue('pb-u', WQ_UNBOUND);
  const ordered = allocOrderedWorkqueue('pb-o');
  let runs = 0;
  const w = new DelayedWork(() => {
    runs++;
  });
  assert.equal(workPending(w), false);
  assert.equal(queueWork(wq, w), true);
  assert.equal(workPending(w), true);
  // Every further queue call, on any workqueue, delayed or not, fails while pending.
  assert.equal(queueWork(wq, w), false);
  assert.equal(queueWork(other, w), false);
  assert.equal(queueWork(unbound, w), false);
  assert.equal(queueWork(ordered, w), false);
  assert.equal(queueWorkOn(0, wq, w), false);
  assert.equal(queueWorkOn(-1, other, w), false);
  assert.equal(queueDelayedWork(wq, w, 0), false);
  assert.equal(queueDelayedWork(other, w, 50), false);
  assert.equal(scheduleWork(w), false);
  assert.equal(scheduleDelayedWork(w, 5), false);
  // Queueing never runs the handler synchronously.
  assert.equal(runs, 0);
  assert.equal(clock.pendingTimers, 0, 'a refused queueDelayedWork arms no timer');
  await settle();
  clock.advance(100);
  await settle();
  assert.equal(runs, 1, 'the work executes exactly once');
  assert.equal(workPending(w), false);
  // Idle again: queueable again.
  assert.equal(queueWork(other, w), true);
  await settle();
  assert.equal(runs, 2);
  await Promise.all([
    destroyWorkqueue(wq),
    destroyWorkqueue(other),
    destroyWorkqueue(unbound),
    destroyWorkqueue(ordered),
  ]);
});

test('§3.1 an armed delayed work is pending: queueWork returns false and it still runs once, at its expiry', async () => {
  const wq = allocWorkqueue('pb-armed');
  let runs = 0;
  const dw = new DelayedWork(() => {
    runs++;
  });
  assert.equal(queueDelayedWork(wq, dw, 100), true);
  assert.equal(workPending(dw), true);
  assert.equal(queueWork(wq, dw), false);
  assert.equal(scheduleWork(dw), false);
  await settle();
  assert.equal(runs, 0, 'queueWork on an armed work did not queue it early');
  clock.advance(99);
  await settle();
  assert.equal(runs, 0);
  clock.advance(1);
  await settle();
  assert.equal(runs, 1);
  clock.advance(1000);
  await settle();
  assert.equal(runs, 1);
  await destroyWorkqueue(wq);
});

test('§3.1 many works queued in one go each run exactly once, in queueing order', async () => {
  const wq = allocWorkqueue('pb-many');
  const order: number[] = [];
  const works = Array.from({ length: 50 }, (_, i) => new Work(() => void order.push(i)));
  for (const w of works) assert.equal(queueWork(wq, w), true);
  for (const w of works) assert.equal(queueWork(wq, w), false);
  await settle();
  assert.deepEqual(
    order,
    Array.from({ length: 50 }, (_, i) => i),
  );
  await destroyWorkqueue(wq);
});

test('§3.2 pending is cleared before the handler runs; requeue from inside returns true and runs once more, after this run returns', async () => {
  const wq = allocWorkqueue('pb-self');
  const events: string[] = [];
  let runs = 0;
  const w = new Work((self) => {
    runs++;
    events.push(`start${runs}`);
    assert.equal(workPending(self), false, 'pending is clear inside the handler');
    if (runs === 1) {
      assert.equal(queueWork(wq, self), true, 'requeue from inside succeeds');
      assert.equal(workPending(self), true);
      assert.equal(queueWork(wq, self), false, 'a second requeue is refused: it is pending again');
    }
    events.push(`end${runs}`);
  });
  assert.equal(queueWork(wq, w), true);
  await settle();
  assert.deepEqual(events, ['start1', 'end1', 'start2', 'end2']);
  assert.equal(runs, 2);
  assert.equal(workPending(w), false);
  await destroyWorkqueue(wq);
});

test('§3.2 an async handler that requeues itself runs once more, only after its promise settles', async () => {
  const wq = allocWorkqueue('pb-self-async');
  const events: string[] = [];
  let runs = 0;
  const w = new Work(async (self) => {
    const n = ++runs;
    events.push(`start${n}`);
    assert.equal(workPending(self), false);
    if (n === 1) assert.equal(queueWork(wq, self), true);
    await turn();
    await turn();
    if (n === 1) assert.equal(queueWork(wq, self), false, 'still pending after awaits');
    events.push(`end${n}`);
  });
  queueWork(wq, w);
  await settle(20);
  assert.deepEqual(events, ['start1', 'end1', 'start2', 'end2']);
  await destroyWorkqueue(wq);
});

test('§3.2 a handler requeueing itself onto another workqueue runs once more, after it returns', async () => {
  const wq = allocWorkqueue('pb-x1');
  const hi = allocWorkqueue('pb-x2', WQ_HIGHPRI);
  const events: string[] = [];
  let runs = 0;
  const w: Work = new Work(() => {
    const n = ++runs;
    events.push(`start${n}`);
    if (n === 1) assert.equal(queueWork(hi, w), true);
    events.push(`end${n}`);
  });
  queueWork(wq, w);
  await settle();
  assert.deepEqual(events, ['start1', 'end1', 'start2', 'end2']);
  await Promise.all([destroyWorkqueue(wq), destroyWorkqueue(hi)]);
});

test('§3.1 a disabled work is not queued and is not pending; enableAndQueueWork queues it once', async () => {
  const wq = allocWorkqueue('pb-dis');
  let runs = 0;
  const w = new Work(() => void runs++);
  disableWork(w);
  assert.equal(queueWork(wq, w), false);
  assert.equal(workPending(w), false);
  assert.equal(enableAndQueueWork(wq, w), true);
  assert.equal(workPending(w), true);
  assert.equal(queueWork(systemWq, w), false);
  await settle();
  assert.equal(runs, 1);
  await destroyWorkqueue(wq);
});
