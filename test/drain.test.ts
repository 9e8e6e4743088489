/**
 * SPEC §3.10: drainWorkqueue.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allocWorkqueue,
  DelayedWork,
  destroyWorkqueue,
  drainWorkqueue,
  enableAndQueueWork,
  disableWork,
  modDelayedWork,
  queueDelayedWork,
  queueWork,
  queueWorkOn,
  Work,
  workPending,
  WQ_UNBOUND,
  flushWorkqueue,
} from '../src/index.js';
import { caughtCode, deferred, turn, useManualClock } from './helpers.js';

// These tests check currentWork() and the checks built on it across awaits: async context on.
const clock = useManualClock({ asyncContext: true });

test('§3.10 drainWorkqueue waits until chained work has run out', async () => {
  const wq = allocWorkqueue('dr-chain');
  const order: number[] = [];
  const works: Work<number>[] = [];
  for (let i = 0; i < 6; i++) {
    works.push(
      new Work<number>(async (self) => {
        order.push(self.data);
        await turn();
        // Chained queueing (from a handler of this workqueue, after an await) is accepted while draining.
        if (self.data + 1 < works.length) assert.equal(queueWork(wq, works[self.data + 1]), true);
      }, i),
    );
  }
  queueWork(wq, works[0]);
  await drainWorkqueue(wq);
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5]);
  await destroyWorkqueue(wq);
});

test('§3.10 a self-requeuing chain is drained to its end', async () => {
  const wq = allocWorkqueue('dr-self', WQ_UNBOUND);
  let runs = 0;
  const w: Work = new Work(() => {
    if (++runs < 100) queueWork(wq, w);
  });
  queueWork(wq, w);
  await drainWorkqueue(wq);
  assert.equal(runs, 100);
  assert.equal(workPending(w), false);
  await destroyWorkqueue(wq);
});

test('§3.10 while draining, queueing from outside throws ERR_WQ_DRAINING and leaves the work idle and reusable', async () => {
  const wq = allocWorkqueue('dr-outside');
  const other = allocWorkqueue('dr-outside-other');
  const gate = deferred();
  queueWork(wq, new Work(async () => void (await gate.promise)));
  const drained = drainWorkqueue(wq);
  let runs = 0;
  const w = new Work(() => void runs++);
  const dw = new DelayedWork(() => void runs++);
  assert.equal(
    caughtCode(() => queueWork(wq, w)),
    'ERR_WQ_DRAINING',
  );
  assert.equal(
    caughtCode(() => queueWorkOn(0, wq, w)),
    'ERR_WQ_DRAINING',
  );
  assert.equal(
    caughtCode(() => queueDelayedWork(wq, dw, 10)),
    'ERR_WQ_DRAINING',
  );
  assert.equal(
    caughtCode(() => queueDelayedWork(wq, dw, 0)),
    'ERR_WQ_DRAINING',
  );
  assert.equal(
    caughtCode(() => modDelayedWork(wq, dw, 10)),
    'ERR_WQ_DRAINING',
  );
  disableWork(w);
  assert.equal(
    caughtCode(() => enableAndQueueWork(wq, w)),
    'ERR_WQ_DRAINING',
  );
  assert.equal(
    enableAndQueueWork(other, w),
    true,
    'the failed enableAndQueueWork left the work disabled once, as before',
  );
  await flushWorkqueue(other);
  assert.equal(runs, 1);
  assert.equal(workPending(dw), false);
  assert.equal(clock.pendingTimers, 0, 'nothing armed');
  gate.resolve();
  await drained;
  // Reusable, and the workqueue accepts work again.
  assert.equal(queueWork(wq, w), true);
  assert.equal(queueDelayedWork(wq, dw, 0), true);
  await flushWorkqueue(wq);
  assert.equal(runs, 3);
  await Promise.all([destroyWorkqueue(wq), destroyWorkqueue(other)]);
});

test('§3.10 a handler of another workqueue is not chained work: it gets ERR_WQ_DRAINING', async () => {
  const wq = allocWorkqueue('dr-x');
  const other = allocWorkqueue('dr-x-other');
  const gate = deferred();
  queueWork(wq, new Work(async () => void (await gate.promise)));
  const drained = drainWorkqueue(wq);
  const codes: (string | undefined)[] = [];
  const target = new Work(() => {});
  queueWork(
    other,
    new Work(async () => {
      codes.push(caughtCode(() => queueWork(wq, target)));
      await turn();
      codes.push(caughtCode(() => queueWork(wq, target)));
    }),
  );
  await flushWorkqueue(other);
  assert.deepEqual(codes, ['ERR_WQ_DRAINING', 'ERR_WQ_DRAINING']);
  assert.equal(workPending(target), false);
  gate.resolve();
  await drained;
  await Promise.all([destroyWorkqueue(wq), destroyWorkqueue(other)]);
});

test('§3.10 draining an idle workqueue resolves at once; concurrent drains both resolve', async () => {
  const wq = allocWorkqueue('dr-idle');
  await drainWorkqueue(wq);
  let runs = 0;
  const w: Work = new Work(async () => {
    await turn();
    if (++runs < 5) queueWork(wq, w);
  });
  queueWork(wq, w);
  await Promise.all([drainWorkqueue(wq), drainWorkqueue(wq)]);
  assert.equal(runs, 5);
  // Both drains are over: outside queueing is accepted again.
  assert.equal(queueWork(wq, new Work(() => {})), true);
  await destroyWorkqueue(wq);
});

test('§3.10 §4 drainWorkqueue from a handler of the same workqueue throws ERR_WQ_DEADLOCK', async () => {
  const wq = allocWorkqueue('dr-self-deadlock');
  const codes: (string | undefined)[] = [];
  queueWork(wq, new Work(() => void codes.push(caughtCode(() => drainWorkqueue(wq)))));
  await flushWorkqueue(wq);
  assert.deepEqual(codes, ['ERR_WQ_DEADLOCK']);
  await destroyWorkqueue(wq);
});
