/**
 * SPEC §3.17: freezing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allocOrderedWorkqueue,
  allocWorkqueue,
  cancelWork,
  DelayedWork,
  destroyWorkqueue,
  type Workqueue,
  flushWorkqueue,
  freezeWorkqueues,
  freezeWorkqueuesBegin,
  freezeWorkqueuesBusy,
  queueDelayedWork,
  queueWork,
  systemFreezableWq,
  thawWorkqueues,
  Work,
  workPending,
  workqueueSetMaxActive,
  WQ_FREEZABLE,
  WQ_UNBOUND,
} from '../src/index.js';
import { settle, startGated, track, turn, useManualClock } from './helpers.js';

const clock = useManualClock();

test('§3.17 freezeWorkqueuesBegin stops activation on freezable workqueues only; nothing is dropped; thaw resumes in order', async () => {
  const frozen = allocWorkqueue('fz-a', WQ_FREEZABLE);
  const frozenUnbound = allocWorkqueue('fz-u', WQ_FREEZABLE | WQ_UNBOUND);
  const plain = allocWorkqueue('fz-plain');
  const order: string[] = [];
  try {
    freezeWorkqueuesBegin();
    assert.equal(freezeWorkqueuesBusy(), false, 'nothing freezable in flight');
    const fw = Array.from({ length: 5 }, (_, i) => new Work(() => void order.push(`f${i}`)));
    const uw = Array.from({ length: 3 }, (_, i) => new Work(() => void order.push(`u${i}`)));
    const sys = new Work(() => void order.push('sys'));
    for (const w of fw) assert.equal(queueWork(frozen, w), true, 'queueing succeeds while frozen');
    for (const w of uw) assert.equal(queueWork(frozenUnbound, w), true);
    assert.equal(queueWork(systemFreezableWq, sys), true);
    queueWork(plain, new Work(() => void order.push('plain')));
    await settle();
    assert.deepEqual(order, ['plain'], 'only the non-freezable workqueue ran');
    assert.ok(
      fw.every((w) => workPending(w)),
      'frozen items stay pending',
    );
    assert.equal(freezeWorkqueuesBusy(), false, 'inactive items are not in flight');
  } finally {
    thawWorkqueues();
  }
  await settle();
  await Promise.all([flushWorkqueue(frozen), flushWorkqueue(frozenUnbound), flushWorkqueue(systemFreezableWq)]);
  assert.deepEqual(
    order.filter((n) => n.startsWith('f')),
    ['f0', 'f1', 'f2', 'f3', 'f4'],
  );
  assert.deepEqual(
    order.filter((n) => n.startsWith('u')),
    ['u0', 'u1', 'u2'],
  );
  assert.ok(order.includes('sys'));
  assert.equal(order.length, 10);
  await Promise.all([destroyWorkqueue(frozen), destroyWorkqueue(frozenUnbound), destroyWorkqueue(plain)]);
});

test('§3.17 freezeWorkqueuesBusy is true while freezable work is in flight; freezeWorkqueues resolves when it has finished', async () => {
  const wq = allocWorkqueue('fz-busy', WQ_FREEZABLE);
  const { gate, events } = await startGated(wq);
  try {
    assert.equal(freezeWorkqueuesBusy(), false, 'false when not freezing');
    const frozen = track(freezeWorkqueues());
    assert.equal(freezeWorkqueuesBusy(), true);
    const late = new Work(() => void events.push('late'));
    queueWork(wq, late);
    await settle();
    assert.equal(frozen.done, false);
    assert.deepEqual(events, ['start']);
    gate.resolve();
    await settle();
    assert.equal(frozen.done, true);
    assert.equal(freezeWorkqueuesBusy(), false);
    assert.deepEqual(events, ['start', 'end'], 'the item queued after the freeze waits');
  } finally {
    thawWorkqueues();
  }
  await flushWorkqueue(wq);
  assert.deepEqual(events, ['start', 'end', 'late']);
  await destroyWorkqueue(wq);
});

test('§3.17 freezeWorkqueues resolves at once when nothing freezable is in flight; begin and thaw are idempotent', async () => {
  try {
    await freezeWorkqueues();
    freezeWorkqueuesBegin();
    assert.equal(freezeWorkqueuesBusy(), false);
  } finally {
    thawWorkqueues();
  }
  thawWorkqueues();
  assert.equal(freezeWorkqueuesBusy(), false);
  const wq = allocWorkqueue('fz-idem', WQ_FREEZABLE);
  let ran = 0;
  queueWork(wq, new Work(() => void ran++));
  await flushWorkqueue(wq);
  assert.equal(ran, 1, 'thawed for good');
  await destroyWorkqueue(wq);
});

test('§3.17 a flush of a frozen workqueue waits for the thaw; cancel still works on frozen items', async () => {
  const wq = allocWorkqueue('fz-flush', WQ_FREEZABLE);
  const ran: string[] = [];
  try {
    freezeWorkqueuesBegin();
    const a = new Work(() => void ran.push('a'));
    const b = new Work(() => void ran.push('b'));
    queueWork(wq, a);
    queueWork(wq, b);
    const flushed = track(flushWorkqueue(wq));
    assert.equal(cancelWork(b), true);
    await settle();
    assert.equal(flushed.done, false);
    assert.deepEqual(ran, []);
  } finally {
    thawWorkqueues();
  }
  await flushWorkqueue(wq);
  assert.deepEqual(ran, ['a']);
  await destroyWorkqueue(wq);
});

test('§3.17 delayed works that expire while frozen wait inactive and run after the thaw', async () => {
  const wq = allocWorkqueue('fz-delayed', WQ_FREEZABLE);
  let runs = 0;
  const dw = new DelayedWork(() => void runs++);
  try {
    freezeWorkqueuesBegin();
    queueDelayedWork(wq, dw, 10);
    clock.advance(20);
    await settle();
    assert.equal(runs, 0);
    assert.equal(workPending(dw), true);
  } finally {
    thawWorkqueues();
  }
  await flushWorkqueue(wq);
  assert.equal(runs, 1);
  await destroyWorkqueue(wq);
});

test('§3.17 max_active comes back after the thaw, and a limit set while frozen applies then', async () => {
  const wq = allocWorkqueue('fz-max', WQ_FREEZABLE, 2);
  const ordered = allocOrderedWorkqueue('fz-ordered', WQ_FREEZABLE);
  let inFlight = 0;
  let peak = 0;
  let orderedPeak = 0;
  let orderedInFlight = 0;
  const mk = () =>
    new Work(async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await turn();
      await turn();
      inFlight--;
    });
  const mkOrdered = () =>
    new Work(async () => {
      orderedInFlight++;
      orderedPeak = Math.max(orderedPeak, orderedInFlight);
      await turn();
      orderedInFlight--;
    });
  try {
    freezeWorkqueuesBegin();
    for (let i = 0; i < 10; i++) queueWork(wq, mk());
    for (let i = 0; i < 4; i++) queueWork(ordered, mkOrdered());
    workqueueSetMaxActive(wq, 3);
    await settle();
    assert.equal(peak, 0, 'setting max_active while frozen does not unfreeze');
  } finally {
    thawWorkqueues();
  }
  await Promise.all([flushWorkqueue(wq), flushWorkqueue(ordered)]);
  assert.equal(peak, 3);
  assert.equal(orderedPeak, 1);
  await Promise.all([destroyWorkqueue(wq), destroyWorkqueue(ordered)]);
});

test('§3.17 a freezable workqueue allocated while frozen starts frozen', async () => {
  let ran = 0;
  let wq: Workqueue | undefined;
  try {
    freezeWorkqueuesBegin();
    wq = allocWorkqueue('fz-new', WQ_FREEZABLE);
    queueWork(wq, new Work(() => void ran++));
    await settle();
    assert.equal(ran, 0);
  } finally {
    thawWorkqueues();
  }
  await flushWorkqueue(wq);
  assert.equal(ran, 1);
  await destroyWorkqueue(wq);
});
