/**
 * workOnWorkqueue(wq, fn, arg): a result back from a work item. A module function on an unbound workqueue runs on
 * the pool's threads and resolves with its (cloned) result; any function on a bound workqueue runs on this loop;
 * a failure rejects the caller's promise and is not a handler failure; bad input throws where it is made.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { threadId } from 'node:worker_threads';
import {
  allocWorkqueue,
  destroyWorkqueue,
  WQ_UNBOUND,
  workFunc,
  workOnWorkqueue,
  WorkqueueError,
  wqMonitor,
} from '../src/index.js';

const jobs = new URL('../../test/fixtures/first-contact/consumer/jobs.mjs', import.meta.url);

test('a module function on an unbound workqueue resolves with its result, computed on a pool thread', async () => {
  const wq = allocWorkqueue('wow-unbound', WQ_UNBOUND, 4, { maxWorkers: 2 });
  const square = workFunc(jobs, 'square');
  const results = (await Promise.all([2, 3, 4].map((n) => workOnWorkqueue(wq, square, n)))) as {
    square: number;
    threadId: number;
  }[];
  assert.deepEqual(
    results.map((r) => r.square),
    [4, 9, 16],
  );
  for (const r of results) assert.notEqual(r.threadId, threadId);
  assert.equal(wqMonitor().find((r) => r.name === 'wow-unbound')?.total, 3, 'counted as the workqueue items');
  await destroyWorkqueue(wq);
});

test('a function on a bound workqueue runs here; its failure rejects the call and is no handler failure', async () => {
  const wq = allocWorkqueue('wow-bound');
  assert.equal(await workOnWorkqueue(wq, async (n: number) => n + 1, 41), 42);
  await assert.rejects(
    workOnWorkqueue(
      wq,
      () => {
        throw new Error('nope');
      },
      0,
    ),
    /nope/,
  );
  assert.equal(wqMonitor().find((r) => r.name === 'wow-bound')?.failed, 0);
  await destroyWorkqueue(wq);
});

test('bad input throws at the call: not a function, a destroyed workqueue', async () => {
  const wq = allocWorkqueue('wow-bad');
  assert.throws(
    () => workOnWorkqueue(wq, 42 as never, 0),
    (e: unknown) => e instanceof WorkqueueError && e.code === 'ERR_WQ_INVALID_ARG',
  );
  await destroyWorkqueue(wq);
  assert.throws(
    () => workOnWorkqueue(wq, () => 1, 0),
    (e: unknown) => e instanceof WorkqueueError && e.code === 'ERR_WQ_DESTROYED',
  );
});
