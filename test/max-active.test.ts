/**
 * SPEC §3.13: max_active.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allocWorkqueue,
  destroyWorkqueue,
  flushWorkqueue,
  queueWork,
  queueWorkOn,
  Work,
  WQ_DFL_ACTIVE,
  WQ_DFL_MIN_ACTIVE,
  WQ_MAX_ACTIVE,
  WQ_UNBOUND,
  workqueueCongested,
  workqueueSetMaxActive,
  wqDump,
  type Workqueue,
} from '../src/index.js';
import { settle, turn, withWarnings } from './helpers.js';

/** Works that sleep until released, counting how many are in flight at once and the order they start in. */
function sleepers(n: number): {
  works: Work<number>[];
  started: number[];
  inFlight: () => number;
  peak: () => number;
  releaseAll: () => void;
  release: (count: number) => void;
} {
  let inFlight = 0;
  let peak = 0;
  const started: number[] = [];
  const waiting: (() => void)[] = [];
  let releasedAll = false;
  const works = Array.from(
    { length: n },
    (_, i) =>
      new Work<number>(async (self) => {
        started.push(self.data);
        inFlight++;
        peak = Math.max(peak, inFlight);
        if (!releasedAll) await new Promise<void>((r) => waiting.push(r));
        inFlight--;
      }, i),
  );
  return {
    works,
    started,
    inFlight: () => inFlight,
    peak: () => peak,
    releaseAll: () => {
      releasedAll = true;
      for (const r of waiting.splice(0)) r();
    },
    release: (count) => {
      for (const r of waiting.splice(0, count)) r();
    },
  };
}

function dumpOf(wq: Workqueue) {
  return wqDump().workqueues.find((w) => w.name === wq.name)!;
}

test('§3.13 the constants have the kernel values', () => {
  assert.equal(WQ_MAX_ACTIVE, 512);
  assert.equal(WQ_DFL_ACTIVE, 256);
  assert.equal(WQ_DFL_MIN_ACTIVE, 8);
});

test('§3.13 maxActive 0 means WQ_DFL_ACTIVE: at most 256 in flight per CPU', async () => {
  const wq = allocWorkqueue('ma-default', 0, 0);
  assert.equal(dumpOf(wq).maxActive, WQ_DFL_ACTIVE);
  const s = sleepers(300);
  for (const w of s.works) queueWork(wq, w);
  await settle();
  assert.equal(s.inFlight(), 256);
  assert.equal(workqueueCongested(0, wq), true);
  s.releaseAll();
  await flushWorkqueue(wq);
  assert.equal(s.peak(), 256);
  assert.equal(s.started.length, 300);
  assert.equal(workqueueCongested(0, wq), false);
  await destroyWorkqueue(wq);
});

test('§3.13 maxActive above WQ_MAX_ACTIVE clamps to 512 with a warning', async () => {
  await withWarnings(async (warnings) => {
    const wq = allocWorkqueue('ma-clamp', 0, 1000);
    await settle(2);
    assert.equal(dumpOf(wq).maxActive, WQ_MAX_ACTIVE);
    assert.ok(
      warnings.some((w) => w.name === 'CmwqWarning' && /ma-clamp/.test(w.message) && /512/.test(w.message)),
      `a CmwqWarning naming the workqueue: ${warnings.map((w) => `${w.name}: ${w.message}`).join('; ')}`,
    );
    const s = sleepers(520);
    for (const w of s.works) queueWork(wq, w);
    // Starting 512 handlers spans several run-loop budgets (more on a loaded machine): wait until they are all in.
    for (let i = 0; i < 500 && s.inFlight() < 512; i++) await turn();
    await settle();
    assert.equal(s.inFlight(), 512, 'never more than max_active');
    s.releaseAll();
    await flushWorkqueue(wq);
    assert.equal(s.peak(), 512);
    await destroyWorkqueue(wq);
  });
});

test('§3.13 items over the limit wait inactive and activate in FIFO order', async () => {
  const wq = allocWorkqueue('ma-fifo', 0, 2);
  const s = sleepers(8);
  for (const w of s.works) queueWork(wq, w);
  await settle();
  assert.deepEqual(s.started, [0, 1]);
  assert.equal(workqueueCongested(-1, wq), true);
  assert.deepEqual(
    dumpOf(wq).pwqs.map((p) => [p.active, p.inactive]),
    [[2, 6]],
  );
  for (let i = 0; i < 3; i++) {
    s.release(1);
    await settle();
    assert.equal(s.inFlight(), 2);
  }
  assert.deepEqual(s.started, [0, 1, 2, 3, 4]);
  s.releaseAll();
  await flushWorkqueue(wq);
  assert.deepEqual(s.started, [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(s.peak(), 2);
  await destroyWorkqueue(wq);
});

test('§3.13 the limit counts sleeping handlers too, whichever CPU form of queueing is used', async () => {
  const wq = allocWorkqueue('ma-cpu', 0, 3);
  const s = sleepers(9);
  s.works.forEach((w, i) => {
    if (i % 2 === 0) queueWork(wq, w);
    else queueWorkOn(0, wq, w);
  });
  await settle();
  assert.equal(s.inFlight(), 3);
  s.releaseAll();
  await flushWorkqueue(wq);
  assert.equal(s.peak(), 3);
  await destroyWorkqueue(wq);
});

test('§3.13 on an unbound workqueue the limit holds for the whole process', async () => {
  const wq = allocWorkqueue('ma-unbound', WQ_UNBOUND, 3);
  const s = sleepers(10);
  for (const w of s.works) queueWork(wq, w);
  await settle();
  assert.equal(s.inFlight(), 3);
  assert.equal(workqueueCongested(0, wq), true);
  s.releaseAll();
  await flushWorkqueue(wq);
  assert.equal(s.peak(), 3);
  assert.deepEqual(s.started, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  await destroyWorkqueue(wq);
});

test('§3.13 raising the limit activates waiting items at once', async () => {
  const wq = allocWorkqueue('ma-raise', 0, 1);
  const s = sleepers(6);
  for (const w of s.works) queueWork(wq, w);
  await settle();
  assert.equal(s.inFlight(), 1);
  workqueueSetMaxActive(wq, 4);
  assert.deepEqual(
    dumpOf(wq).pwqs.map((p) => [p.active, p.inactive]),
    [[4, 2]],
    'activated synchronously by the call',
  );
  await settle();
  assert.equal(s.inFlight(), 4);
  assert.deepEqual(s.started, [0, 1, 2, 3]);
  workqueueSetMaxActive(wq, 0);
  assert.equal(dumpOf(wq).maxActive, WQ_DFL_ACTIVE);
  await settle();
  assert.equal(s.inFlight(), 6);
  s.releaseAll();
  await flushWorkqueue(wq);
  await destroyWorkqueue(wq);
});

test('§3.13 lowering the limit lets running items finish and holds new activations under the new limit', async () => {
  const wq = allocWorkqueue('ma-lower', 0, 4);
  const s = sleepers(8);
  for (const w of s.works) queueWork(wq, w);
  await settle();
  assert.equal(s.inFlight(), 4);
  workqueueSetMaxActive(wq, 1);
  s.release(2);
  await settle();
  assert.equal(s.inFlight(), 2, 'nothing new starts while over the new limit');
  s.release(1);
  await settle();
  assert.equal(s.inFlight(), 1);
  s.release(1);
  await settle();
  assert.equal(s.inFlight(), 1, 'one at a time from now on');
  assert.deepEqual(s.started, [0, 1, 2, 3, 4]);
  s.releaseAll();
  await flushWorkqueue(wq);
  assert.equal(s.started.length, 8);
  await destroyWorkqueue(wq);
});

test('§3.13 maxActive 1 on a per-CPU workqueue serialises synchronous handlers in order', async () => {
  const wq = allocWorkqueue('ma-one', 0, 1);
  const order: number[] = [];
  for (let i = 0; i < 20; i++) queueWork(wq, new Work(() => void order.push(i)));
  await flushWorkqueue(wq);
  assert.deepEqual(
    order,
    Array.from({ length: 20 }, (_, i) => i),
  );
  await destroyWorkqueue(wq);
});
