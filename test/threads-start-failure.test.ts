/**
 * A module work whose pool can start no thread at all (thread-main.js missing after bundling, a loader that
 * cannot load in a worker) and whose workqueue has no rescuer: after MAX_FAILED_STARTS starts in a row have
 * failed, the waiting items fail with ERR_WQ_THREAD_START (the cause: the last start's error), flushWorkqueue
 * resolves, items queued later fail too, and the pool works again once a start succeeds. Before, the items
 * waited forever while the pool kept warning "failed to start a thread".
 *
 * Starts go through an injected startThread that fails one way, then the other: by throwing, and by a thread that
 * exits before it comes online.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker as NodeThread, type WorkerOptions } from 'node:worker_threads';
import {
  allocWorkqueue,
  destroyWorkqueue,
  flushWorkqueue,
  queueWork,
  Work,
  WorkqueueError,
  workFunc,
  workqueueInit,
  wqMonitor,
  WQ_UNBOUND,
} from '../src/index.js';
import { startThread as defaultStartThread } from '../src/base/exec-argv.js';
import { MAX_FAILED_STARTS } from '../src/threads/thread-pool.js';
import { withWarnings } from './helpers.js';

let failing = true;
let attempts = 0;
const started: NodeThread[] = [];
workqueueInit({
  startThread(url: URL, options: WorkerOptions): NodeThread {
    if (!failing) {
      const node = defaultStartThread(url, options);
      started.push(node);
      return node;
    }
    if (attempts++ % 2 === 0) throw new Error(`injected: cannot start ${options.name}`);
    return new NodeThread('process.exit(3)', { eval: true, name: options.name });
  },
});

const job = workFunc(new URL('../../test/fixtures/first-contact/count.mjs', import.meta.url), 'count');

test('§3.18 thread starts that keep failing, no rescuer: waiting items fail with ERR_WQ_THREAD_START', {
  timeout: 20_000,
}, async () => {
  await withWarnings(async (warnings) => {
    const errors: unknown[] = [];
    const wq = allocWorkqueue('sf-no-thread', WQ_UNBOUND, 0, { maxWorkers: 2, onError: (e) => errors.push(e) });
    const counter = new Int32Array(new SharedArrayBuffer(4));
    const N = 8;
    for (let i = 0; i < N; i++) assert.equal(queueWork(wq, new Work(job, { counter })), true);
    await flushWorkqueue(wq); // the bug: this never resolved
    assert.equal(errors.length, N, 'every waiting item failed');
    for (const error of errors) {
      assert.ok(error instanceof WorkqueueError);
      assert.equal(error.code, 'ERR_WQ_THREAD_START');
      assert.match(error.message, new RegExp(`${MAX_FAILED_STARTS} starts in a row failed`));
      assert.ok(error.cause instanceof Error, 'the cause is the last start error');
    }
    assert.equal(attempts, MAX_FAILED_STARTS, 'no more starts than the limit');
    const startWarnings = warnings.filter((w) => /failed to start a thread/.test(w.message));
    assert.equal(startWarnings.length, MAX_FAILED_STARTS, 'one warning per failed start, no more');
    assert.equal(Atomics.load(counter, 0), 0, 'nothing ran');
    const row = wqMonitor().find((r) => r.name === 'sf-no-thread')!;
    assert.equal(row.failed, N);
    assert.equal(row.pending, 0);

    // Queued while the pool has given up (within the cool-down): fails at once, without another start.
    const before = attempts;
    queueWork(wq, new Work(job, { counter }));
    await flushWorkqueue(wq);
    assert.equal(errors.length, N + 1);
    assert.equal(attempts, before);

    // Starts succeed again: after the cool-down an item tries one start, runs, and the pool is back.
    failing = false;
    await new Promise((r) => setTimeout(r, 1_100));
    for (let i = 0; i < N; i++) queueWork(wq, new Work(job, { counter }));
    await flushWorkqueue(wq);
    assert.equal(Atomics.load(counter, 0), N, 'every later item ran');
    assert.equal(errors.length, N + 1, 'and none failed');
    await destroyWorkqueue(wq);
    assert.ok(started.length >= 1);
  });
});
