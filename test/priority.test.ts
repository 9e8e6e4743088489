/**
 * Work priority (cmwq's WorkOptions.priority): higher first within a pool's worklist, FIFO among equals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allocWorkqueue,
  cancelWork,
  destroyWorkqueue,
  flushWorkqueue,
  queueWork,
  Work,
  WorkqueueError,
  WQ_HIGHPRI,
} from '../src/index.js';

test('items of higher priority run first; FIFO among equal priorities; default priority is 0', async () => {
  const wq = allocWorkqueue('prio-basic');
  const order: string[] = [];
  const spec: [string, number | undefined][] = [
    ['a0', undefined],
    ['b5', 5],
    ['c10', 10],
    ['d0', 0],
    ['e5', 5],
    ['f-3', -3],
    ['g10', 10],
  ];
  const works = spec.map(
    ([name, p]) => new Work(() => void order.push(name), undefined, p === undefined ? undefined : { priority: p }),
  );
  assert.equal(works[0].priority, 0);
  for (const w of works) queueWork(wq, w);
  await flushWorkqueue(wq);
  assert.deepEqual(order, ['c10', 'g10', 'b5', 'e5', 'a0', 'd0', 'f-3']);
  await destroyWorkqueue(wq);
});

test('priority orders items across workqueues that share a pool', async () => {
  const a = allocWorkqueue('prio-a');
  const b = allocWorkqueue('prio-b');
  const order: string[] = [];
  queueWork(a, new Work(() => void order.push('a-low'), undefined, { priority: 1 }));
  queueWork(b, new Work(() => void order.push('b-high'), undefined, { priority: 9 }));
  queueWork(a, new Work(() => void order.push('a-high'), undefined, { priority: 9 }));
  await Promise.all([flushWorkqueue(a), flushWorkqueue(b)]);
  assert.deepEqual(order, ['b-high', 'a-high', 'a-low']);
  await Promise.all([destroyWorkqueue(a), destroyWorkqueue(b)]);
});

test('priority does not cross pools: a highpri workqueue still goes first', async () => {
  const hi = allocWorkqueue('prio-hi', WQ_HIGHPRI);
  const lo = allocWorkqueue('prio-lo');
  const order: string[] = [];
  queueWork(lo, new Work(() => void order.push('normal-prio-100'), undefined, { priority: 100 }));
  queueWork(hi, new Work(() => void order.push('highpri-prio-0')));
  await Promise.all([flushWorkqueue(hi), flushWorkqueue(lo)]);
  assert.deepEqual(order, ['highpri-prio-0', 'normal-prio-100']);
  await Promise.all([destroyWorkqueue(hi), destroyWorkqueue(lo)]);
});

test('changing work.priority applies to the next queueing; cancel works at any priority level', async () => {
  const wq = allocWorkqueue('prio-change');
  const order: string[] = [];
  const x = new Work(() => void order.push('x'));
  const y = new Work(() => void order.push('y'), undefined, { priority: 4 });
  const z = new Work(() => void order.push('z'), undefined, { priority: 7 });
  x.priority = 8;
  queueWork(wq, y);
  queueWork(wq, x);
  queueWork(wq, z);
  assert.equal(cancelWork(z), true);
  await flushWorkqueue(wq);
  assert.deepEqual(order, ['x', 'y']);
  await destroyWorkqueue(wq);
});

test('a non-finite priority is refused with ERR_WQ_INVALID_ARG', () => {
  for (const priority of [NaN, Infinity, -Infinity]) {
    let caught: unknown;
    try {
      new Work(() => {}, undefined, { priority });
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof WorkqueueError);
    assert.equal(caught.code, 'ERR_WQ_INVALID_ARG');
  }
});
