/**
 * SPEC §3.14: ordered workqueues.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allocOrderedWorkqueue,
  allocWorkqueue,
  cancelWork,
  DelayedWork,
  destroyWorkqueue,
  flushWorkqueue,
  queueDelayedWork,
  queueWork,
  Work,
  WorkqueueError,
  workqueueSetMaxActive,
  wqDump,
  WQ_HIGHPRI,
} from '../src/index.js';
import { deferred, settle, startGated, turn, useManualClock } from './helpers.js';

const clock = useManualClock();

test('§3.14 an ordered workqueue runs one item at a time, strictly in queueing order', async () => {
  const wq = allocOrderedWorkqueue('ord-basic');
  assert.equal(wqDump().workqueues.find((w) => w.name === 'ord-basic')!.ordered, true);
  const events: string[] = [];
  let inFlight = 0;
  let peak = 0;
  const works = Array.from(
    { length: 20 },
    (_, i) =>
      new Work<number>(async (self) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        events.push(`s${self.data}`);
        // Later items sleep less, so any overlap would reorder the ends.
        for (let k = 0; k < (20 - self.data) % 4; k++) await turn();
        events.push(`e${self.data}`);
        inFlight--;
      }, i),
  );
  for (const w of works) queueWork(wq, w);
  await flushWorkqueue(wq);
  assert.equal(peak, 1);
  assert.deepEqual(
    events,
    works.flatMap((_, i) => [`s${i}`, `e${i}`]),
  );
  await destroyWorkqueue(wq);
});

test('§3.14 items queued at different times, from outside and from handlers, run in queueing order', async () => {
  const wq = allocOrderedWorkqueue('ord-mixed');
  const queued: string[] = [];
  const order: string[] = [];
  const q = (w: Work<string>) => {
    assert.equal(queueWork(wq, w), true);
    queued.push(w.data);
  };
  const mk = (name: string, body?: () => void) =>
    new Work<string>(async () => {
      order.push(name);
      body?.();
      await turn();
    }, name);
  const c = mk('c');
  const d = mk('d');
  const e = mk('e');
  const a = mk('a', () => q(c)); // queued from a handler
  const b = mk('b', () => q(d));
  q(a);
  q(b);
  await turn();
  q(e); // from outside, while a runs
  await flushWorkqueue(wq);
  await flushWorkqueue(wq);
  assert.equal(order.length, 5);
  assert.deepEqual(order, queued);
  await destroyWorkqueue(wq);
});

test('§3.14 the execution order equals the queueing order recorded at each queueWork call', async () => {
  const wq = allocOrderedWorkqueue('ord-random');
  let seed = 99;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const queued: number[] = [];
  const ran: number[] = [];
  let inFlight = 0;
  let peak = 0;
  const works: Work<number>[] = [];
  const tryQueue = (i: number) => {
    if (queueWork(wq, works[i])) queued.push(i);
  };
  for (let i = 0; i < 30; i++) {
    works.push(
      new Work<number>(async (self) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        ran.push(self.data);
        if (rnd(2) === 0) tryQueue(rnd(30));
        for (let k = rnd(3); k > 0; k--) await turn();
        inFlight--;
      }, i),
    );
  }
  for (let step = 0; step < 200; step++) {
    tryQueue(rnd(30));
    if (rnd(3) === 0) await turn();
  }
  for (let i = 0; i < 20; i++) await flushWorkqueue(wq);
  while (queued.length > ran.length) await flushWorkqueue(wq);
  assert.equal(peak, 1);
  assert.deepEqual(ran, queued);
  await destroyWorkqueue(wq);
});

test('§3.14 a work sleeping on another workqueue holds back the ordered queue behind it', async () => {
  const other = allocWorkqueue('ord-other');
  const wq = allocOrderedWorkqueue('ord-cross');
  const { work: x, gate, events: order } = await startGated(other, { label: 'x', numbered: true });
  const y = new Work(() => void order.push('y'));
  queueWork(wq, x); // must wait for x's instance on `other`
  queueWork(wq, y); // must wait for x on the ordered queue
  await settle();
  assert.deepEqual(order, ['x0-start']);
  gate.resolve();
  await flushWorkqueue(wq);
  assert.deepEqual(order, ['x0-start', 'x0-end', 'x1-start', 'x1-end', 'y']);
  await Promise.all([destroyWorkqueue(wq), destroyWorkqueue(other)]);
});

test('§3.14 cancelling a queued item keeps the order of the rest; a requeue goes to the back', async () => {
  const wq = allocOrderedWorkqueue('ord-cancel');
  const gate = deferred();
  const order: string[] = [];
  const head = new Work(async () => {
    order.push('head');
    await gate.promise;
  });
  const items = ['a', 'b', 'c', 'd'].map((n) => new Work(() => void order.push(n)));
  queueWork(wq, head);
  for (const w of items) queueWork(wq, w);
  assert.equal(cancelWork(items[1]), true);
  queueWork(wq, items[1]);
  gate.resolve();
  await flushWorkqueue(wq);
  assert.deepEqual(order, ['head', 'a', 'c', 'd', 'b']);
  await destroyWorkqueue(wq);
});

test('§3.14 delayed works on an ordered workqueue run in expiry order, one at a time', async () => {
  const wq = allocOrderedWorkqueue('ord-delayed', WQ_HIGHPRI);
  const order: number[] = [];
  let inFlight = 0;
  let peak = 0;
  const delays = [30, 10, 20, 10, 5];
  delays.forEach((d, i) => {
    queueDelayedWork(
      wq,
      new DelayedWork(async () => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        order.push(i);
        await turn();
        inFlight--;
      }),
      d,
    );
  });
  for (let t = 0; t < 35; t++) {
    clock.advance(1);
    await turn();
  }
  await flushWorkqueue(wq);
  assert.deepEqual(order, [4, 1, 3, 2, 0]);
  assert.equal(peak, 1);
  await destroyWorkqueue(wq);
});

test('§3.14 an ordered workqueue keeps max_active 1', async () => {
  const wq = allocOrderedWorkqueue('ord-max');
  assert.equal(wqDump().workqueues.find((w) => w.name === 'ord-max')!.maxActive, 1);
  let code: string | undefined;
  try {
    workqueueSetMaxActive(wq, 4);
  } catch (error) {
    assert.ok(error instanceof WorkqueueError);
    code = error.code;
  }
  assert.equal(code, 'ERR_WQ_INVALID_ARG');
  assert.equal(wqDump().workqueues.find((w) => w.name === 'ord-max')!.maxActive, 1);
  await destroyWorkqueue(wq);
});
