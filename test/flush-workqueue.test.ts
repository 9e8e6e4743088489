/**
 * SPEC §3.9: flushWorkqueue.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allocOrderedWorkqueue,
  allocWorkqueue,
  cancelDelayedWork,
  cancelWork,
  DelayedWork,
  destroyWorkqueue,
  flushWorkqueue,
  queueDelayedWork,
  queueWork,
  Work,
  WQ_UNBOUND,
  workBusy,
  workPending,
} from '../src/index.js';
import { caughtCode, deferred, settle, track, turn, useManualClock } from './helpers.js';

// Deadlock detection after awaits is checked here: async context on.
useManualClock({ asyncContext: true });

test('§3.9 flushWorkqueue of an idle workqueue resolves at once', async () => {
  const wq = allocWorkqueue('fq-idle');
  const state = track(flushWorkqueue(wq));
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(state.done, true);
  await destroyWorkqueue(wq);
});

test('§3.9 flushWorkqueue resolves after every item queued before the call has finished, inactive ones included', async () => {
  const wq = allocWorkqueue('fq-all', 0, 2);
  let finished = 0;
  const works = Array.from(
    { length: 8 },
    () =>
      new Work(async () => {
        await turn();
        await turn();
        finished++;
      }),
  );
  for (const w of works) queueWork(wq, w);
  await flushWorkqueue(wq);
  assert.equal(finished, 8, 'every item, including the six that waited inactive, had finished');
  await destroyWorkqueue(wq);
});

test('§3.9 flushWorkqueue does not wait for items queued after the call', async () => {
  const wq = allocWorkqueue('fq-after');
  const gateA = deferred();
  const gateB = deferred();
  const a = new Work(async () => void (await gateA.promise));
  const b = new Work(async () => void (await gateB.promise));
  queueWork(wq, a);
  const state = track(flushWorkqueue(wq));
  queueWork(wq, b);
  await settle();
  assert.equal(state.done, false);
  gateA.resolve();
  await settle();
  assert.equal(state.done, true, 'resolved while b (queued after the flush) is still running');
  const state2 = track(flushWorkqueue(wq));
  await settle();
  assert.equal(state2.done, false, 'a later flush waits for b');
  gateB.resolve();
  await settle();
  assert.equal(state2.done, true);
  await destroyWorkqueue(wq);
});

test('§3.9 a self-requeuing item cannot livelock flushWorkqueue', async () => {
  const wq = allocWorkqueue('fq-self');
  let runs = 0;
  let stop = false;
  const w: Work = new Work(() => {
    runs++;
    if (!stop) queueWork(wq, w);
  });
  const asyncSelf: Work = new Work(async () => {
    runs++;
    await turn();
    if (!stop) queueWork(wq, asyncSelf);
  });
  try {
    queueWork(wq, w);
    await flushWorkqueue(wq);
    assert.ok(runs >= 1);
    assert.equal(workPending(w), true, 'the flush resolved while the item keeps requeueing itself');
    cancelWork(w);
    queueWork(wq, asyncSelf);
    await flushWorkqueue(wq);
    await flushWorkqueue(wq);
    assert.equal(workBusy(asyncSelf) !== 0, true, 'resolved while the async item keeps requeueing itself');
  } finally {
    stop = true;
    cancelWork(w);
    cancelWork(asyncSelf);
  }
  await flushWorkqueue(wq);
  await destroyWorkqueue(wq);
});

test('§3.9 overlapping flushes resolve in the order they were made', async () => {
  const wq = allocWorkqueue('fq-order');
  const gates = [deferred(), deferred(), deferred()];
  const works = gates.map((g) => new Work(async () => void (await g.promise)));
  const order: number[] = [];
  queueWork(wq, works[0]);
  flushWorkqueue(wq).then(() => order.push(1));
  queueWork(wq, works[1]);
  flushWorkqueue(wq).then(() => order.push(2));
  queueWork(wq, works[2]);
  flushWorkqueue(wq).then(() => order.push(3));
  flushWorkqueue(wq).then(() => order.push(4));
  await settle();
  // Finish the newest first: the later flushes must still wait for the earlier ones.
  gates[2].resolve();
  await settle();
  assert.deepEqual(order, []);
  gates[1].resolve();
  await settle();
  assert.deepEqual(order, []);
  gates[0].resolve();
  await settle();
  assert.deepEqual(order, [1, 2, 3, 4]);
  await destroyWorkqueue(wq);
});

test('§3.9 a flush made while an earlier one waits resolves after it even with nothing of its own', async () => {
  const wq = allocWorkqueue('fq-order2', WQ_UNBOUND);
  const gate = deferred();
  const order: string[] = [];
  queueWork(wq, new Work(async () => void (await gate.promise)));
  flushWorkqueue(wq).then(() => order.push('first'));
  flushWorkqueue(wq).then(() => order.push('second'));
  await settle();
  assert.deepEqual(order, []);
  gate.resolve();
  await settle();
  assert.deepEqual(order, ['first', 'second']);
  await destroyWorkqueue(wq);
});

test('§3.9 a cancelled item does not hold up the flush', async () => {
  const wq = allocWorkqueue('fq-cancel', 0, 1);
  const gate = deferred();
  const a = new Work(async () => void (await gate.promise));
  const b = new Work(() => {});
  queueWork(wq, a);
  queueWork(wq, b); // inactive behind a
  const state = track(flushWorkqueue(wq));
  assert.equal(cancelWork(b), true);
  gate.resolve();
  await settle();
  assert.equal(state.done, true);
  await destroyWorkqueue(wq);
});

test('§3.9 flushWorkqueue does not wait for delayed works that are still armed (they are not queued yet)', async () => {
  const wq = allocWorkqueue('fq-armed');
  let runs = 0;
  const dw = new DelayedWork(() => void runs++);
  queueDelayedWork(wq, dw, 1000);
  await flushWorkqueue(wq);
  assert.equal(runs, 0);
  assert.equal(cancelDelayedWork(dw), true);
  await destroyWorkqueue(wq);
});

test('§3.9 the flushes of different workqueues are independent', async () => {
  const a = allocWorkqueue('fq-ind-a');
  const b = allocWorkqueue('fq-ind-b');
  const gate = deferred();
  queueWork(a, new Work(async () => void (await gate.promise)));
  queueWork(b, new Work(() => {}));
  const sa = track(flushWorkqueue(a));
  await flushWorkqueue(b);
  assert.equal(sa.done, false);
  gate.resolve();
  await settle();
  assert.equal(sa.done, true);
  await Promise.all([destroyWorkqueue(a), destroyWorkqueue(b)]);
});

test('§3.9 §4 flushWorkqueue of a workqueue from one of its own handlers throws ERR_WQ_DEADLOCK (ordered or not)', async () => {
  const ordered = allocOrderedWorkqueue('fq-self-ord');
  const plain = allocWorkqueue('fq-self-plain');
  const other = allocWorkqueue('fq-other');
  const codes: (string | undefined)[] = [];
  let otherFlushed = false;
  queueWork(ordered, new Work(() => void codes.push(caughtCode(() => flushWorkqueue(ordered)))));
  queueWork(
    plain,
    new Work(async () => {
      await turn();
      codes.push(caughtCode(() => flushWorkqueue(plain)));
      // Flushing another workqueue from a handler is fine.
      await flushWorkqueue(other);
      otherFlushed = true;
    }),
  );
  queueWork(other, new Work(() => {}));
  await flushWorkqueue(ordered);
  await flushWorkqueue(plain);
  assert.deepEqual(codes, ['ERR_WQ_DEADLOCK', 'ERR_WQ_DEADLOCK']);
  assert.equal(otherFlushed, true);
  await Promise.all([destroyWorkqueue(ordered), destroyWorkqueue(plain), destroyWorkqueue(other)]);
});

test('§3.9 more overlapping flushes than an item has color bits for: each waits for what was queued before it, in order', async () => {
  // 100 items, each queued before a flush of its own, all running at once: a color per flush would need 101
  // colors alive. Items keep 6 color bits, so from the 64th color on, flushes wait on the newest one.
  const n = 100;
  const wq = allocWorkqueue('fq-many', 0, n);
  const gates = Array.from({ length: n }, () => deferred());
  const finished: number[] = [];
  const flushes: { done: boolean }[] = [];
  const resolvedOrder: number[] = [];
  for (let i = 0; i < n; i++) {
    queueWork(
      wq,
      new Work(async () => {
        await gates[i].promise;
        finished.push(i);
      }),
    );
    const state = { done: false };
    flushes.push(state);
    void flushWorkqueue(wq).then(() => {
      state.done = true;
      resolvedOrder.push(i);
    });
  }
  // Last first: items end while the colors they count in are far from the oldest one, and none may end a flush
  // before item 0 has finished.
  for (let i = n - 1; i >= 1; i--) {
    gates[i].resolve();
    await settle();
    assert.equal(finished.length, n - i);
    assert.deepEqual(resolvedOrder, [], `no flush resolved before item 0 finished (item ${i} just did)`);
  }
  gates[0].resolve();
  await settle();
  assert.deepEqual(
    resolvedOrder,
    Array.from({ length: n }, (_, i) => i),
    'every flush resolved, in call order',
  );
  // The counts are right afterwards: a flush of the idle workqueue resolves at once, and a new item is waited for.
  const idle = track(flushWorkqueue(wq));
  await settle();
  assert.equal(idle.done, true);
  const gate = deferred();
  queueWork(wq, new Work(async () => void (await gate.promise)));
  const last = track(flushWorkqueue(wq));
  await settle();
  assert.equal(last.done, false);
  gate.resolve();
  await settle();
  assert.equal(last.done, true);
  await destroyWorkqueue(wq);
});
