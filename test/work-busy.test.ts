/**
 * SPEC §3.4: workBusy() and currentWork().
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  workqueueInit,
  allocWorkqueue,
  currentWork,
  destroyWorkqueue,
  queueWork,
  Work,
  WORK_BUSY_PENDING,
  WORK_BUSY_RUNNING,
  workBusy,
  WQ_UNBOUND,
  allocOrderedWorkqueue,
  WQ_HIGHPRI,
} from '../src/index.js';
import { deferred, settle, turn } from './helpers.js';

// currentWork() across awaits is what some of these tests check: async context on.
workqueueInit({ asyncContext: true });

test('§3.4 WORK_BUSY_PENDING is 1 and WORK_BUSY_RUNNING is 2', () => {
  assert.equal(WORK_BUSY_PENDING, 1);
  assert.equal(WORK_BUSY_RUNNING, 2);
});

test('§3.4 workBusy is 0 idle, 1 queued, 2 executing, 3 requeued while executing, 0 after', async () => {
  const wq = allocWorkqueue('busy-a');
  const gate = deferred();
  const seen: number[] = [];
  let runs = 0;
  const w: Work = new Work(async () => {
    runs++;
    seen.push(workBusy(w));
    if (runs === 1) await gate.promise;
  });
  assert.equal(workBusy(w), 0);
  queueWork(wq, w);
  assert.equal(workBusy(w), 1);
  await settle();
  assert.equal(workBusy(w), 2, 'asleep in its handler counts as executing');
  queueWork(wq, w);
  assert.equal(workBusy(w), 3);
  gate.resolve();
  await settle();
  assert.equal(workBusy(w), 0);
  assert.deepEqual(seen, [2, 2], 'inside the handler: RUNNING, pending clear');
  await destroyWorkqueue(wq);
});

test('§3.4 workBusy is 3 inside a synchronous handler that requeued itself', async () => {
  const wq = allocWorkqueue('busy-sync');
  const seen: number[] = [];
  let runs = 0;
  const w: Work = new Work(() => {
    runs++;
    seen.push(workBusy(w));
    if (runs === 1) queueWork(wq, w);
    seen.push(workBusy(w));
  });
  queueWork(wq, w);
  await settle();
  assert.deepEqual(seen, [2, 3, 2, 2]);
  assert.equal(workBusy(w), 0);
  await destroyWorkqueue(wq);
});

test('§3.4 currentWork() is null outside handlers and the executing work inside a synchronous handler', async () => {
  const wq = allocWorkqueue('cur-sync');
  assert.equal(currentWork(), null);
  const seen: (Work | null)[] = [];
  const a: Work = new Work(() => void seen.push(currentWork()));
  const b: Work = new Work(() => void seen.push(currentWork()));
  queueWork(wq, a);
  queueWork(wq, b);
  assert.equal(currentWork(), null);
  await settle();
  assert.deepEqual(seen, [a, b]);
  assert.equal(currentWork(), null);
  await destroyWorkqueue(wq);
});

test('§3.4 currentWork() holds across awaits in async handlers, with many handlers interleaved', async () => {
  const wqs = [
    allocWorkqueue('cur-a'),
    allocWorkqueue('cur-u', WQ_UNBOUND),
    allocWorkqueue('cur-h', WQ_HIGHPRI),
    allocOrderedWorkqueue('cur-o'),
  ];
  let mismatches = 0;
  let checks = 0;
  const works: Work<number>[] = [];
  for (let i = 0; i < 12; i++) {
    works.push(
      new Work<number>(async (self) => {
        for (let k = 0; k < 5; k++) {
          checks++;
          if (currentWork() !== self) mismatches++;
          if (k % 2 === 0) await turn();
          else await Promise.resolve();
          checks++;
          if (currentWork() !== self) mismatches++;
          await new Promise<void>((r) => setTimeout(r, 0));
        }
      }, i),
    );
  }
  for (const [i, w] of works.entries()) queueWork(wqs[i % wqs.length], w);
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && works.some((w) => workBusy(w) !== 0)) await new Promise((r) => setTimeout(r, 1));
  assert.ok(
    works.every((w) => workBusy(w) === 0),
    'all works finished',
  );
  assert.equal(checks, 12 * 10);
  assert.equal(mismatches, 0);
  assert.equal(currentWork(), null);
  await Promise.all(wqs.map((wq) => destroyWorkqueue(wq)));
});

test('§3.4 currentWork() is null in code that runs after the handler has ended', async () => {
  const wq = allocWorkqueue('cur-after');
  let later: Work | null | undefined;
  const done = deferred();
  const w = new Work(async () => {
    await turn();
    setTimeout(() => {
      later = currentWork();
      done.resolve();
    }, 1);
  });
  queueWork(wq, w);
  await done.promise;
  assert.equal(later, null);
  await destroyWorkqueue(wq);
});

test('Work.id is a stable identity: the same on every read, distinct between items', () => {
  const a = new Work(() => {});
  const b = new Work(() => {});
  const first = a.id;
  assert.ok(Number.isInteger(first) && first > 0);
  assert.equal(a.id, first);
  assert.notEqual(b.id, first);
});
