/**
 * SPEC §3.6: modDelayedWork.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allocWorkqueue,
  DelayedWork,
  delayedWorkPending,
  destroyWorkqueue,
  disableDelayedWork,
  enableDelayedWork,
  modDelayedWork,
  modDelayedWorkOn,
  queueDelayedWork,
  queueWork,
  workBusy,
  flushWorkqueue,
} from '../src/index.js';
import { settle, startGated, turn, useManualClock } from './helpers.js';

const clock = useManualClock();

/** Advances the clock 1 ms at a time, letting work run after each step. */
async function runFor(ms: number): Promise<void> {
  for (let i = 0; i < ms; i++) {
    clock.advance(1);
    await turn();
  }
  await settle(2);
}

test('§3.6 modDelayedWork on an idle work returns false and queues it at the given delay', async () => {
  const wq = allocWorkqueue('mod-idle');
  const ranAt: number[] = [];
  const dw = new DelayedWork(() => void ranAt.push(clock.now()));
  const t0 = clock.now();
  assert.equal(modDelayedWork(wq, dw, 40), false);
  assert.equal(delayedWorkPending(dw), true);
  await runFor(39);
  assert.deepEqual(ranAt, []);
  await runFor(1);
  assert.deepEqual(ranAt, [t0 + 40]);
  await destroyWorkqueue(wq);
});

test('§3.6 modDelayedWork on a pending work returns true and re-arms it earlier; it runs once, at the new expiry', async () => {
  const wq = allocWorkqueue('mod-earlier');
  const ranAt: number[] = [];
  const dw = new DelayedWork(() => void ranAt.push(clock.now()));
  const t0 = clock.now();
  queueDelayedWork(wq, dw, 100);
  await runFor(10);
  assert.equal(modDelayedWork(wq, dw, 20), true);
  await runFor(19);
  assert.deepEqual(ranAt, []);
  await runFor(1);
  assert.deepEqual(ranAt, [t0 + 30]);
  await runFor(100);
  assert.equal(ranAt.length, 1, 'the old expiry does not fire again');
  await destroyWorkqueue(wq);
});

test('§3.6 modDelayedWork on a pending work returns true and re-arms it later; it does not run at the old expiry', async () => {
  const wq = allocWorkqueue('mod-later');
  const ranAt: number[] = [];
  const dw = new DelayedWork(() => void ranAt.push(clock.now()));
  const t0 = clock.now();
  queueDelayedWork(wq, dw, 20);
  await runFor(10);
  assert.equal(modDelayedWork(wq, dw, 200), true);
  await runFor(199);
  assert.deepEqual(ranAt, [], 'not at the old expiry');
  await runFor(1);
  assert.deepEqual(ranAt, [t0 + 210]);
  await destroyWorkqueue(wq);
});

test('§3.6 modDelayedWork with delay 0 queues at once, with no timer', async () => {
  const wq = allocWorkqueue('mod-zero');
  let runs = 0;
  const dw = new DelayedWork(() => void runs++);
  queueDelayedWork(wq, dw, 500);
  assert.equal(modDelayedWork(wq, dw, 0), true);
  assert.equal(clock.pendingTimers, 0, 'timer removed, none armed');
  await settle();
  assert.equal(runs, 1);
  assert.equal(modDelayedWork(wq, dw, 0), false, 'idle now: false, and queued');
  await settle();
  assert.equal(runs, 2);
  await destroyWorkqueue(wq);
});

test('§3.6 modDelayedWork takes back a work that is already queued (not armed) and re-arms it', async () => {
  const wq = allocWorkqueue('mod-queued');
  const ranAt: number[] = [];
  const dw = new DelayedWork(() => void ranAt.push(clock.now()));
  const t0 = clock.now();
  assert.equal(queueWork(wq, dw), true);
  assert.equal(modDelayedWork(wq, dw, 30), true);
  await settle();
  assert.deepEqual(ranAt, [], 'not run from the worklist');
  await runFor(30);
  assert.deepEqual(ranAt, [t0 + 30]);
  await destroyWorkqueue(wq);
});

test('§3.6 debouncing: repeated modDelayedWork runs the work once, at the last expiry', async () => {
  const wq = allocWorkqueue('mod-debounce');
  const ranAt: number[] = [];
  const dw = new DelayedWork(() => void ranAt.push(clock.now()));
  const results: boolean[] = [];
  let last = 0;
  for (let i = 0; i < 50; i++) {
    results.push(modDelayedWork(wq, dw, 25));
    last = clock.now();
    await runFor(10);
  }
  assert.deepEqual(ranAt, [], 'never ran while it kept being pushed back');
  assert.deepEqual(results, [false, ...Array(49).fill(true)]);
  await runFor(20);
  assert.deepEqual(ranAt, [last + 25]);
  await destroyWorkqueue(wq);
});

test('§3.6 modDelayedWork on a running work (not pending) returns false and queues one more run after it', async () => {
  const wq = allocWorkqueue('mod-running');
  const { work: dw, gate, events } = await startGated(wq, { numbered: true, kind: DelayedWork });
  assert.equal(workBusy(dw), 2);
  assert.equal(modDelayedWork(wq, dw, 5), false);
  await runFor(10);
  assert.deepEqual(events, ['start0'], 'the re-armed instance waits for the running one');
  gate.resolve();
  await settle();
  assert.deepEqual(events, ['start0', 'end0', 'start1', 'end1']);
  await destroyWorkqueue(wq);
});

test('§3.6 modDelayedWork can move a pending work to another workqueue', async () => {
  const a = allocWorkqueue('mod-a');
  const b = allocWorkqueue('mod-b');
  let runs = 0;
  const dw = new DelayedWork(() => void runs++);
  queueDelayedWork(a, dw, 50);
  assert.equal(modDelayedWorkOn(-1, b, dw, 0), true);
  // It is queued on b now: flushing b waits for it.
  await flushWorkqueue(b);
  assert.equal(runs, 1);
  await runFor(60);
  assert.equal(runs, 1);
  await Promise.all([destroyWorkqueue(a), destroyWorkqueue(b)]);
});

test('§3.6 §3.12 modDelayedWork on a disabled work queues nothing and returns false', async () => {
  const wq = allocWorkqueue('mod-disabled');
  let runs = 0;
  const dw = new DelayedWork(() => void runs++);
  queueDelayedWork(wq, dw, 10);
  assert.equal(disableDelayedWork(dw), true);
  assert.equal(modDelayedWork(wq, dw, 5), false);
  assert.equal(delayedWorkPending(dw), false);
  await runFor(20);
  assert.equal(runs, 0);
  assert.equal(enableDelayedWork(dw), true);
  assert.equal(modDelayedWork(wq, dw, 5), false);
  await runFor(5);
  assert.equal(runs, 1);
  await destroyWorkqueue(wq);
});
