/**
 * queueFunc(): one-shot jobs without a Work handle keep every workqueue semantic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import {
  allocWorkqueue,
  allocOrderedWorkqueue,
  currentWork,
  destroyWorkqueue,
  drainWorkqueue,
  flushWorkqueue,
  freezeWorkqueuesBegin,
  queueFunc,
  queueFuncOn,
  thawWorkqueues,
  workFunc,
  workqueueSetMaxActive,
  wqMonitor,
  WQ_FREEZABLE,
} from '../src/index.js';
import { caughtCode, deferred, settle, track } from './helpers.js';

test('queueFunc runs func(data) once, never synchronously, and flushWorkqueue waits for it', async () => {
  const wq = allocWorkqueue('qf-basic');
  const seen: number[] = [];
  try {
    for (let i = 0; i < 5; i++) queueFunc(wq, (n: number) => void seen.push(n), i);
    assert.equal(seen.length, 0, 'queueing never runs a job synchronously');
    const gate = deferred();
    queueFunc(
      wq,
      async (n: number) => {
        await gate.promise;
        seen.push(n);
      },
      99,
    );
    const flushed = track(flushWorkqueue(wq));
    await settle();
    assert.deepEqual(seen, [0, 1, 2, 3, 4]);
    assert.equal(flushed.done, false, 'the flush waits for the sleeping job');
    gate.resolve();
    await settle();
    assert.equal(flushed.done, true);
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 99]);
    const row = wqMonitor().find((r) => r.name === 'qf-basic')!;
    assert.equal(row.total, 6, 'counted in wqMonitor');
  } finally {
    await destroyWorkqueue(wq);
  }
});

test('queueFunc respects max_active and ordering; carriers are recycled between jobs', async () => {
  const wq = allocWorkqueue('qf-max', 0, 2);
  const ordered = allocOrderedWorkqueue('qf-ordered');
  let inFlight = 0;
  let most = 0;
  const order: number[] = [];
  const carriers = new Set<unknown>();
  const job = async (n: number): Promise<void> => {
    carriers.add(currentWork());
    inFlight++;
    most = Math.max(most, inFlight);
    await new Promise((resolve) => setImmediate(resolve));
    inFlight--;
    order.push(n);
  };
  try {
    for (let i = 0; i < 50; i++) queueFunc(wq, job, i);
    await flushWorkqueue(wq);
    assert.equal(most, 2, 'at most max_active jobs in flight');
    assert.equal(order.length, 50);
    carriers.clear();
    for (let i = 0; i < 20; i++) {
      queueFunc(wq, job, i);
      await flushWorkqueue(wq);
    }
    assert.equal(carriers.size, 1, 'one job at a time reuses one carrier');
    order.length = 0;
    for (let i = 0; i < 20; i++) queueFunc(ordered, job, i);
    await flushWorkqueue(ordered);
    assert.deepEqual(
      order,
      Array.from({ length: 20 }, (_, i) => i),
      'an ordered workqueue runs them one at a time, in order',
    );
  } finally {
    await destroyWorkqueue(wq);
    await destroyWorkqueue(ordered);
  }
});

test('queueFunc: freezing holds jobs inactive until thaw; drain refuses outside jobs; tracepoints see each job', async () => {
  const wq = allocWorkqueue('qf-freeze', WQ_FREEZABLE);
  const ran: string[] = [];
  const events: string[] = [];
  const channels = ['queue_work', 'activate_work', 'execute_start', 'execute_end'];
  const subs = channels.map((c) => {
    const fn = (m: unknown): void => {
      if ((m as { workqueue: string }).workqueue === 'qf-freeze') events.push(c);
    };
    diagnosticsChannel.subscribe(`cmwq:workqueue_${c}`, fn);
    return [c, fn] as const;
  });
  try {
    freezeWorkqueuesBegin();
    queueFunc(wq, (s: string) => void ran.push(s), 'frozen');
    await settle();
    assert.equal(ran.length, 0, 'a frozen workqueue does not start it');
    thawWorkqueues();
    await flushWorkqueue(wq);
    assert.deepEqual(ran, ['frozen']);
    assert.deepEqual(events, channels, 'queue, activate, start, end');

    // A sleeps on the gate; B waits inactive behind it (max_active 1) and queues C from its handler, mid-drain.
    workqueueSetMaxActive(wq, 1);
    const gate = deferred();
    queueFunc(wq, () => gate.promise);
    queueFunc(wq, () => queueFunc(wq, (s: string) => void ran.push(s), 'chained'));
    await settle();
    const drained = track(drainWorkqueue(wq));
    assert.equal(
      caughtCode(() => queueFunc(wq, () => ran.push('outside'))),
      'ERR_WQ_DRAINING',
    );
    gate.resolve();
    await settle();
    assert.equal(drained.done, true);
    assert.deepEqual(ran, ['frozen', 'chained'], 'chained queueing is accepted while draining, outside is not');
  } finally {
    thawWorkqueues();
    for (const [c, fn] of subs) diagnosticsChannel.unsubscribe(`cmwq:workqueue_${c}`, fn);
    await destroyWorkqueue(wq);
  }
});

test('queueFunc: bad input throws WorkqueueError where the mistake is made, and queues nothing', async () => {
  const wq = allocWorkqueue('qf-bad');
  try {
    assert.equal(
      caughtCode(() => queueFunc(wq, 42 as never)),
      'ERR_WQ_INVALID_ARG',
    );
    assert.equal(
      caughtCode(() => queueFunc({} as never, () => {})),
      'ERR_WQ_INVALID_ARG',
    );
    assert.equal(
      caughtCode(() => queueFuncOn(1.5, wq, () => {})),
      'ERR_WQ_INVALID_ARG',
    );
    assert.equal(
      caughtCode(() => queueFunc(wq, workFunc(import.meta.url, 'nothing') as never)),
      'ERR_WQ_INVALID_ARG',
    );
    assert.equal(wqMonitor().find((r) => r.name === 'qf-bad')!.pending, 0, 'nothing queued');
    const dead = allocWorkqueue('qf-dead');
    await destroyWorkqueue(dead);
    assert.equal(
      caughtCode(() => queueFunc(dead, () => {})),
      'ERR_WQ_DESTROYED',
    );
  } finally {
    await destroyWorkqueue(wq);
  }
});

test('queueFunc: a failing job is reported to onError with its carrier and does not stop the pool', async () => {
  const failures: unknown[] = [];
  const wq = allocWorkqueue('qf-err', 0, 0, { onError: (error) => failures.push(error) });
  const ran: number[] = [];
  try {
    queueFunc(wq, () => {
      throw new Error('boom');
    });
    queueFunc(wq, async () => {
      throw new Error('async boom');
    });
    queueFunc(wq, (n: number) => void ran.push(n), 7);
    await flushWorkqueue(wq);
    assert.deepEqual(
      failures.map((e) => (e as Error).message),
      ['boom', 'async boom'],
    );
    assert.deepEqual(ran, [7]);
    assert.equal(wqMonitor().find((r) => r.name === 'qf-err')!.failed, 2);
  } finally {
    await destroyWorkqueue(wq);
  }
});
