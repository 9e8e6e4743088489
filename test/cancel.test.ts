/**
 * SPEC §3.11: cancelWork and cancelWorkSync (and their delayed forms).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allocWorkqueue,
  cancelDelayedWork,
  cancelDelayedWorkSync,
  cancelWork,
  cancelWorkSync,
  DelayedWork,
  destroyWorkqueue,
  disableWorkSync,
  flushWork,
  flushWorkqueue,
  modDelayedWork,
  queueDelayedWork,
  queueWork,
  Work,
  workBusy,
  workPending,
  WQ_HIGHPRI,
  enableWork,
} from '../src/index.js';
import { caughtCode, deferred, gatedWork, settle, startGated, track, turn, useManualClock } from './helpers.js';

// These tests check currentWork() and the checks built on it across awaits: async context on.
const clock = useManualClock({ asyncContext: true });

test('§3.11 cancelWork removes a pending instance and returns true; false when idle', async () => {
  const wq = allocWorkqueue('cw-pending');
  let runs = 0;
  const w = new Work(() => void runs++);
  assert.equal(cancelWork(w), false);
  queueWork(wq, w);
  assert.equal(cancelWork(w), true);
  assert.equal(workPending(w), false);
  assert.equal(cancelWork(w), false);
  await settle();
  assert.equal(runs, 0);
  assert.equal(queueWork(wq, w), true, 'queueable again');
  await settle();
  assert.equal(runs, 1);
  await destroyWorkqueue(wq);
});

test('§3.11 cancelWork removes an armed timer', async () => {
  const wq = allocWorkqueue('cw-timer');
  let runs = 0;
  const dw = new DelayedWork(() => void runs++);
  queueDelayedWork(wq, dw, 50);
  assert.equal(cancelWork(dw), true);
  assert.equal(clock.pendingTimers, 0);
  clock.advance(100);
  await settle();
  assert.equal(runs, 0);
  queueDelayedWork(wq, dw, 50);
  assert.equal(cancelDelayedWork(dw), true);
  assert.equal(cancelDelayedWork(dw), false);
  clock.advance(100);
  await settle();
  assert.equal(runs, 0);
  await destroyWorkqueue(wq);
});

test('§3.11 cancelWork never waits: on a running work it returns false at once and the handler goes on', async () => {
  const wq = allocWorkqueue('cw-running');
  const { work: w, gate, events } = await startGated(wq);
  const result = cancelWork(w);
  assert.equal(typeof result, 'boolean');
  assert.equal(result, false);
  assert.equal(workBusy(w), 2);
  gate.resolve();
  await settle();
  assert.deepEqual(events, ['start', 'end']);
  await destroyWorkqueue(wq);
});

test('§3.11 cancelWork of a requeued running work removes only the pending instance', async () => {
  const wq = allocWorkqueue('cw-requeued');
  let runs = 0;
  const { work: w, gate } = await startGated(wq, { onStart: () => void runs++ });
  queueWork(wq, w);
  assert.equal(workBusy(w), 3);
  assert.equal(cancelWork(w), true);
  assert.equal(workBusy(w), 2);
  gate.resolve();
  await settle();
  assert.equal(runs, 1);
  await destroyWorkqueue(wq);
});

test('§3.11 cancelWork of an inactive item (over max_active) takes it out and keeps the rest in order', async () => {
  const wq = allocWorkqueue('cw-inactive', 0, 1);
  const gate = deferred();
  const order: string[] = [];
  const head = new Work(async () => {
    order.push('head');
    await gate.promise;
  });
  const items = ['a', 'b', 'c', 'd'].map((name) => new Work(() => void order.push(name)));
  queueWork(wq, head);
  for (const w of items) queueWork(wq, w);
  await settle();
  assert.equal(cancelWork(items[1]), true);
  assert.equal(cancelWork(items[3]), true);
  gate.resolve();
  await flushWorkqueue(wq);
  assert.deepEqual(order, ['head', 'a', 'c']);
  await destroyWorkqueue(wq);
});

test('§3.11 cancelWorkSync of an idle work resolves false; of a pending work resolves true and it never runs', async () => {
  const wq = allocWorkqueue('cws-basic');
  let runs = 0;
  const w = new Work(() => void runs++);
  assert.equal(await cancelWorkSync(w), false);
  queueWork(wq, w);
  const p = cancelWorkSync(w);
  assert.equal(workPending(w), false, 'the pending instance is gone synchronously');
  assert.equal(await p, true);
  await settle();
  assert.equal(runs, 0);
  assert.equal(queueWork(wq, w), true);
  await settle();
  assert.equal(runs, 1);
  await destroyWorkqueue(wq);
});

test('§3.11 cancelWorkSync waits for the running instance; meanwhile requeueing fails; afterwards the work is idle and reusable', async () => {
  const wq = allocWorkqueue('cws-running');
  const other = allocWorkqueue('cws-other', WQ_HIGHPRI);
  const { work: w, gate, events } = await startGated(wq, { numbered: true, kind: DelayedWork });
  const state = track(cancelWorkSync(w));
  await settle();
  assert.equal(state.done, false, 'waits for the running handler');
  assert.equal(queueWork(wq, w), false, 'requeue during the wait fails');
  assert.equal(queueWork(other, w), false);
  assert.equal(queueDelayedWork(wq, w, 0), false);
  assert.equal(queueDelayedWork(wq, w, 10), false);
  assert.equal(modDelayedWork(wq, w, 10), false);
  assert.equal(workPending(w), false);
  assert.equal(clock.pendingTimers, 0);
  gate.resolve();
  await settle();
  assert.equal(state.done, true);
  assert.equal(state.value, false, 'it was not pending');
  assert.equal(workBusy(w), 0, 'neither pending nor running');
  assert.deepEqual(events, ['start0', 'end0']);
  assert.equal(queueWork(wq, w), true, 'can be queued again');
  await settle();
  assert.deepEqual(events, ['start0', 'end0', 'start1', 'end1']);
  await Promise.all([destroyWorkqueue(wq), destroyWorkqueue(other)]);
});

test('§3.11 cancelWorkSync of a running and requeued work resolves true, after the run, and the requeued instance never runs', async () => {
  const wq = allocWorkqueue('cws-both');
  let runs = 0;
  const { work: w, gate } = await startGated(wq, { onStart: () => void runs++ });
  queueWork(wq, w);
  const p = cancelWorkSync(w);
  const state = track(p);
  await settle();
  assert.equal(state.done, false);
  gate.resolve();
  assert.equal(await p, true);
  assert.equal(workBusy(w), 0);
  await settle();
  assert.equal(runs, 1);
  await destroyWorkqueue(wq);
});

test('§3.11 a sequence that awaits cancelWorkSync can queue the work right after it resolves', async () => {
  const wq = allocWorkqueue('cws-after');
  let runs = 0;
  const { work: w, gate } = await startGated(wq, { numbered: true, onStart: () => void runs++ });
  const waiting = (async () => {
    await cancelWorkSync(w);
    return queueWork(wq, w);
  })();
  await settle();
  gate.resolve();
  assert.equal(await waiting, true);
  await flushWork(w);
  assert.equal(runs, 2);
  await destroyWorkqueue(wq);
});

test('§3.11 concurrent cancelWorkSync calls all resolve, with the pending state each saw', async () => {
  const wq = allocWorkqueue('cws-concurrent');
  const gate = deferred();
  const w = new Work(async () => void (await gate.promise));
  queueWork(wq, w);
  await settle();
  queueWork(wq, w);
  const first = cancelWorkSync(w);
  const second = cancelWorkSync(w);
  gate.resolve();
  assert.deepEqual(await Promise.all([first, second]), [true, false]);
  assert.equal(queueWork(wq, w), true, 'enabled again after both');
  await flushWork(w);
  await destroyWorkqueue(wq);
});

test('§3.11 cancelDelayedWorkSync cancels an armed delayed work and resolves true', async () => {
  const wq = allocWorkqueue('cdws');
  let runs = 0;
  const dw = new DelayedWork(() => void runs++);
  queueDelayedWork(wq, dw, 100);
  assert.equal(await cancelDelayedWorkSync(dw), true);
  assert.equal(clock.pendingTimers, 0);
  clock.advance(200);
  await settle();
  assert.equal(runs, 0);
  await destroyWorkqueue(wq);
});

test('§3.11 a flush waiting for a pending instance is released when cancelWorkSync takes it', async () => {
  const wq = allocWorkqueue('cws-flush');
  const w = new Work(() => {});
  queueWork(wq, w);
  const f = track(flushWork(w));
  await cancelWorkSync(w);
  await settle(1);
  assert.equal(f.done, true);
  await destroyWorkqueue(wq);
});

test('§3.11 §4 cancelWorkSync/cancelDelayedWorkSync/disableWorkSync of the running work from its own handler throw ERR_WQ_DEADLOCK', async () => {
  const wq = allocWorkqueue('cws-self');
  const codes: (string | undefined)[] = [];
  let cancelResult: boolean | undefined;
  const w: Work = new Work(async () => {
    codes.push(caughtCode(() => cancelWorkSync(w)));
    await turn();
    codes.push(caughtCode(() => cancelWorkSync(w)));
    codes.push(caughtCode(() => disableWorkSync(w)));
    // The non-waiting cancel is fine from inside: it takes back a requeue.
    queueWork(wq, w);
    cancelResult = cancelWork(w);
  });
  const dw: DelayedWork = new DelayedWork(() => {
    codes.push(caughtCode(() => cancelDelayedWorkSync(dw)));
  });
  queueWork(wq, w);
  queueWork(wq, dw);
  await flushWorkqueue(wq);
  assert.deepEqual(codes, ['ERR_WQ_DEADLOCK', 'ERR_WQ_DEADLOCK', 'ERR_WQ_DEADLOCK', 'ERR_WQ_DEADLOCK']);
  assert.equal(cancelResult, true);
  // The failed calls changed nothing: the work is not disabled.
  assert.equal(queueWork(wq, w), true);
  assert.equal(await cancelWorkSync(w), true);
  assert.equal(
    caughtCode(() => enableWork(w)),
    'ERR_WQ_INVALID_ARG',
    'not disabled',
  );
  await destroyWorkqueue(wq);
});

test('§3.11 cancelWorkSync of another work from inside a handler waits for it', async () => {
  const wq = allocWorkqueue('cws-other');
  const { work: b, gate, events } = gatedWork({ label: 'b' });
  const a = new Work(async () => {
    events.push('a-cancel');
    const r = await cancelWorkSync(b);
    events.push(`a-cancelled-${r}`);
  });
  queueWork(wq, b);
  queueWork(wq, a);
  await settle();
  gate.resolve();
  await flushWork(a);
  assert.deepEqual(events, ['b-start', 'a-cancel', 'b-end', 'a-cancelled-false']);
  await destroyWorkqueue(wq);
});
