/**
 * SPEC §3.12: disableWork / enableWork / enableAndQueueWork.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allocWorkqueue,
  DelayedWork,
  delayedWorkPending,
  destroyWorkqueue,
  disableDelayedWork,
  disableDelayedWorkSync,
  disableWork,
  disableWorkSync,
  enableAndQueueWork,
  enableDelayedWork,
  enableWork,
  flushWork,
  modDelayedWork,
  queueDelayedWork,
  queueDelayedWorkOn,
  queueWork,
  queueWorkOn,
  scheduleDelayedWork,
  scheduleWork,
  systemHighpriWq,
  Work,
  workBusy,
  workPending,
} from '../src/index.js';
import { caughtCode, settle, startGated, useManualClock } from './helpers.js';

const clock = useManualClock();

test('§3.12 while disabled every queue call returns false and nothing is queued or armed', async () => {
  const wq = allocWorkqueue('de-all');
  let runs = 0;
  const dw = new DelayedWork(() => void runs++);
  assert.equal(disableWork(dw), false, 'it was not pending');
  assert.deepEqual(
    [
      queueWork(wq, dw),
      queueWorkOn(0, wq, dw),
      queueWorkOn(-1, systemHighpriWq, dw),
      queueDelayedWork(wq, dw, 0),
      queueDelayedWork(wq, dw, 10),
      queueDelayedWorkOn(0, wq, dw, 10),
      modDelayedWork(wq, dw, 10),
      modDelayedWork(wq, dw, 0),
      scheduleWork(dw),
      scheduleDelayedWork(dw, 5),
    ],
    Array(10).fill(false),
  );
  assert.equal(workPending(dw), false);
  assert.equal(clock.pendingTimers, 0);
  clock.advance(50);
  await settle();
  assert.equal(runs, 0);
  assert.equal(enableWork(dw), true);
  assert.equal(queueWork(wq, dw), true);
  await settle();
  assert.equal(runs, 1);
  await destroyWorkqueue(wq);
});

test('§3.12 disableWork cancels a pending instance (queued or armed) and returns true', async () => {
  const wq = allocWorkqueue('de-pending');
  let runs = 0;
  const w = new Work(() => void runs++);
  const dw = new DelayedWork(() => void runs++);
  queueWork(wq, w);
  queueDelayedWork(wq, dw, 30);
  assert.equal(disableWork(w), true);
  assert.equal(disableDelayedWork(dw), true);
  assert.equal(workPending(w), false);
  assert.equal(delayedWorkPending(dw), false);
  assert.equal(clock.pendingTimers, 0);
  clock.advance(50);
  await settle();
  assert.equal(runs, 0);
  assert.equal(enableWork(w), true);
  assert.equal(enableDelayedWork(dw), true);
  await destroyWorkqueue(wq);
});

test('§3.12 disable nests; enableWork returns true only when the depth reaches 0', async () => {
  const wq = allocWorkqueue('de-nest');
  const w = new Work(() => {});
  disableWork(w);
  disableWork(w);
  disableWork(w);
  assert.equal(enableWork(w), false);
  assert.equal(queueWork(wq, w), false, 'still disabled at depth 2');
  assert.equal(enableWork(w), false);
  assert.equal(queueWork(wq, w), false, 'still disabled at depth 1');
  assert.equal(enableWork(w), true);
  assert.equal(queueWork(wq, w), true);
  await flushWork(w);
  await destroyWorkqueue(wq);
});

test('§3.12 enableAndQueueWork queues only when the depth reaches 0', async () => {
  const wq = allocWorkqueue('de-eq');
  let runs = 0;
  const w = new Work(() => void runs++);
  disableWork(w);
  disableWork(w);
  assert.equal(enableAndQueueWork(wq, w), false);
  assert.equal(workPending(w), false);
  await settle();
  assert.equal(runs, 0);
  assert.equal(enableAndQueueWork(wq, w), true);
  assert.equal(workPending(w), true);
  await settle();
  assert.equal(runs, 1);
  await destroyWorkqueue(wq);
});

test('§3.12 disable depth goes up to 65535; one more throws ERR_WQ_INVALID_ARG and changes nothing', async () => {
  const wq = allocWorkqueue('de-max');
  const w = new Work(() => {});
  for (let i = 0; i < 65535; i++) disableWork(w);
  assert.equal(
    caughtCode(() => disableWork(w)),
    'ERR_WQ_INVALID_ARG',
  );
  let enabledAt = -1;
  for (let i = 1; i <= 65535; i++) {
    if (enableWork(w)) {
      enabledAt = i;
      break;
    }
  }
  assert.equal(enabledAt, 65535, 'exactly 65535 enables undo 65535 disables');
  assert.equal(queueWork(wq, w), true);
  await flushWork(w);
  await destroyWorkqueue(wq);
});

test('§3.12 disableWorkSync waits for the running instance and leaves the work disabled', async () => {
  const wq = allocWorkqueue('de-sync');
  const { work: w, gate, events } = await startGated(wq);
  queueWork(wq, w);
  let done = false;
  const p = disableWorkSync(w).then((v) => {
    done = true;
    return v;
  });
  await settle();
  assert.equal(done, false);
  gate.resolve();
  assert.equal(await p, true, 'it was pending');
  assert.deepEqual(events, ['start', 'end']);
  assert.equal(workBusy(w), 0);
  assert.equal(queueWork(wq, w), false, 'still disabled');
  assert.equal(enableWork(w), true);
  assert.equal(queueWork(wq, w), true);
  await flushWork(w);
  await destroyWorkqueue(wq);
});

test('§3.12 disableDelayedWorkSync on an armed work resolves true and disarms it', async () => {
  const wq = allocWorkqueue('de-dsync');
  let runs = 0;
  const dw = new DelayedWork(() => void runs++);
  queueDelayedWork(wq, dw, 20);
  assert.equal(await disableDelayedWorkSync(dw), true);
  clock.advance(50);
  await settle();
  assert.equal(runs, 0);
  assert.equal(queueDelayedWork(wq, dw, 0), false);
  assert.equal(enableDelayedWork(dw), true);
  await destroyWorkqueue(wq);
});

test('§3.12 disabling from inside the running handler stops its own requeue', async () => {
  const wq = allocWorkqueue('de-inside');
  let runs = 0;
  const w: Work = new Work(() => {
    runs++;
    assert.equal(queueWork(wq, w), true);
    assert.equal(disableWork(w), true, 'takes the requeue back');
    assert.equal(queueWork(wq, w), false);
  });
  queueWork(wq, w);
  await settle();
  assert.equal(runs, 1);
  assert.equal(workPending(w), false);
  assert.equal(enableWork(w), true);
  await destroyWorkqueue(wq);
});
