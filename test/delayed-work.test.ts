/**
 * SPEC §3.5 and §3.7: delayed work, on the injectable clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allocWorkqueue,
  cancelDelayedWork,
  DelayedWork,
  delayedWorkPending,
  destroyWorkqueue,
  queueDelayedWork,
  queueDelayedWorkOn,
  scheduleDelayedWork,
  workBusy,
  workPending,
  WQ_UNBOUND,
  flushWorkqueue,
  systemWq,
} from '../src/index.js';
import { settle, turn, useManualClock } from './helpers.js';

const clock = useManualClock();

test('§3.5 queueDelayedWork with delay 0 queues synchronously, with no timer', async () => {
  const wq = allocWorkqueue('dw-zero');
  let runs = 0;
  const dw = new DelayedWork(() => void runs++);
  assert.equal(queueDelayedWork(wq, dw, 0), true);
  assert.equal(delayedWorkPending(dw), true);
  assert.equal(clock.pendingTimers, 0, 'no timer armed');
  // It is on the workqueue already: a flush waits for it (an armed work would not be waited for).
  const flushed = flushWorkqueue(wq);
  await settle();
  assert.equal(runs, 1, 'ran without the clock moving');
  await flushed;
  assert.equal(delayedWorkPending(dw), false);
  await destroyWorkqueue(wq);
});

test('§3.5 a pending delayed work is not re-armed: the call returns false and the expiry is unchanged', async () => {
  const wq = allocWorkqueue('dw-rearm');
  const ranAt: number[] = [];
  const dw = new DelayedWork(() => void ranAt.push(clock.now()));
  const t0 = clock.now();
  assert.equal(queueDelayedWork(wq, dw, 100), true);
  clock.advance(50);
  assert.equal(queueDelayedWork(wq, dw, 10), false, 'earlier expiry refused');
  assert.equal(queueDelayedWork(wq, dw, 1000), false, 'later expiry refused');
  assert.equal(queueDelayedWork(wq, dw, 0), false, 'immediate refused');
  assert.equal(scheduleDelayedWork(dw, 5), false);
  clock.advance(10);
  await settle();
  assert.deepEqual(ranAt, [], 'not moved earlier');
  clock.advance(39);
  await settle();
  assert.deepEqual(ranAt, []);
  clock.advance(1);
  await settle();
  assert.deepEqual(ranAt, [t0 + 100], 'ran at the original expiry');
  clock.advance(2000);
  await settle();
  assert.equal(ranAt.length, 1, 'ran once');
  await destroyWorkqueue(wq);
});

test('§3.7 a delayed work never runs before its delay has elapsed, and runs at its expiry', async () => {
  const wq = allocWorkqueue('dw-never-early');
  for (const delay of [1, 2, 7, 10.5, 100, 1234]) {
    const ranAt: number[] = [];
    const dw = new DelayedWork(() => void ranAt.push(clock.now()));
    const t0 = clock.now();
    queueDelayedWork(wq, dw, delay);
    assert.equal(workBusy(dw), 1, 'armed counts as pending');
    clock.advance(Math.ceil(delay) - 1);
    await settle(3);
    assert.deepEqual(ranAt, [], `delay ${delay}: not run 1 ms early`);
    clock.advance(1);
    await settle(3);
    assert.equal(ranAt.length, 1, `delay ${delay}: ran once it was due`);
    assert.ok(ranAt[0] - t0 >= delay, `delay ${delay}: ran after ${ranAt[0] - t0} ms`);
    assert.ok(
      ranAt[0] - t0 < delay + 2,
      `delay ${delay}: within 2 ms after the expiry (ran after ${ranAt[0] - t0} ms)`,
    );
  }
  await destroyWorkqueue(wq);
});

test('§3.7 a fractional delay never runs early', async () => {
  const wq = allocWorkqueue('dw-frac');
  let runs = 0;
  const dw = new DelayedWork(() => void runs++);
  queueDelayedWork(wq, dw, 0.25);
  clock.advance(0);
  await settle(3);
  assert.equal(runs, 0);
  clock.advance(1);
  await settle(3);
  assert.equal(runs, 1);
  await destroyWorkqueue(wq);
});

test('§3.7 many delayed works run in expiry order, FIFO among equal expiries, none early', async () => {
  const wq = allocWorkqueue('dw-order', WQ_UNBOUND);
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const t0 = clock.now();
  const ran: { i: number; at: number }[] = [];
  const delays: number[] = [];
  const works: DelayedWork<number>[] = [];
  for (let i = 0; i < 200; i++) {
    const delay = 1 + rnd(60);
    delays.push(delay);
    const dw = new DelayedWork<number>((self) => void ran.push({ i: self.data, at: clock.now() }), i);
    works.push(dw);
    assert.equal(queueDelayedWork(wq, dw, delay), true);
  }
  for (let t = 0; t < 70; t++) {
    clock.advance(1);
    await turn();
  }
  await settle();
  assert.equal(ran.length, 200);
  const expected = delays
    .map((d, i) => ({ i, d }))
    .sort((a, b) => a.d - b.d || a.i - b.i)
    .map((x) => x.i);
  assert.deepEqual(
    ran.map((r) => r.i),
    expected,
  );
  for (const r of ran) assert.equal(r.at - t0, delays[r.i], `work ${r.i} ran at its expiry`);
  for (const w of works) assert.equal(workPending(w), false);
  assert.equal(clock.pendingTimers, 0, 'no timer left once nothing is armed');
  await destroyWorkqueue(wq);
});

test('§3.7 cancelling an armed delayed work removes its timer; the clock holds no timer while nothing is armed', async () => {
  const wq = allocWorkqueue('dw-cancel');
  let runs = 0;
  const a = new DelayedWork(() => void runs++);
  const b = new DelayedWork(() => void runs++);
  assert.equal(clock.pendingTimers, 0);
  queueDelayedWork(wq, a, 30);
  queueDelayedWork(wq, b, 60);
  assert.equal(clock.pendingTimers, 1, 'one clock timer for the whole timer base');
  assert.equal(cancelDelayedWork(a), true);
  assert.equal(cancelDelayedWork(b), true);
  assert.equal(clock.pendingTimers, 0);
  clock.advance(100);
  await settle();
  assert.equal(runs, 0);
  await destroyWorkqueue(wq);
});

test('§3.7 scheduleDelayedWork and queueDelayedWorkOn arm like queueDelayedWork', async () => {
  const wq = allocWorkqueue('dw-on');
  const ran: string[] = [];
  const a = new DelayedWork(() => void ran.push('a'));
  const b = new DelayedWork(() => void ran.push('b'));
  assert.equal(scheduleDelayedWork(a, 20), true);
  assert.equal(queueDelayedWorkOn(0, wq, b, 10), true);
  assert.equal(queueDelayedWorkOn(-1, systemWq, b, 10), false);
  clock.advance(10);
  await settle();
  assert.deepEqual(ran, ['b']);
  clock.advance(10);
  await settle();
  assert.deepEqual(ran, ['b', 'a']);
  await destroyWorkqueue(wq);
});

test('§3.7 a delayed work rearmed from its own handler runs periodically, never early', async () => {
  const wq = allocWorkqueue('dw-periodic');
  const ranAt: number[] = [];
  const dw: DelayedWork = new DelayedWork(() => {
    ranAt.push(clock.now());
    if (ranAt.length < 5) assert.equal(queueDelayedWork(wq, dw, 25), true);
  });
  const t0 = clock.now();
  queueDelayedWork(wq, dw, 25);
  for (let i = 0; i < 30; i++) {
    clock.advance(5);
    await settle(2);
  }
  assert.deepEqual(
    ranAt.map((t) => t - t0),
    [25, 50, 75, 100, 125],
  );
  await destroyWorkqueue(wq);
});
