/**
 * SPEC §6: tracepoints on node:diagnostics_channel, in the order queue → activate → start → end per item.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import {
  allocWorkqueue,
  DelayedWork,
  destroyWorkqueue,
  flushDelayedWork,
  flushWorkqueue,
  queueDelayedWork,
  queueWork,
  queueWorkOn,
  Work,
  WQ_UNBOUND,
  type WorkEvent,
} from '../src/index.js';
import { deferred, settle, useManualClock } from './helpers.js';

const clock = useManualClock();

const CHANNELS = {
  queue: 'cmwq:workqueue_queue_work',
  activate: 'cmwq:workqueue_activate_work',
  start: 'cmwq:workqueue_execute_start',
  end: 'cmwq:workqueue_execute_end',
} as const;

/** Records every per-item event of the named workqueues while fn runs. */
async function recording(
  names: string[],
  fn: (events: [keyof typeof CHANNELS, WorkEvent][]) => Promise<void>,
): Promise<void> {
  const events: [keyof typeof CHANNELS, WorkEvent][] = [];
  const subs = (Object.keys(CHANNELS) as (keyof typeof CHANNELS)[]).map((kind) => {
    const onMessage = (message: unknown) => {
      const e = message as WorkEvent;
      if (names.includes(e.workqueue)) events.push([kind, e]);
    };
    diagnosticsChannel.subscribe(CHANNELS[kind], onMessage);
    return [CHANNELS[kind], onMessage] as const;
  });
  try {
    await fn(events);
  } finally {
    for (const [name, onMessage] of subs) diagnosticsChannel.unsubscribe(name, onMessage);
  }
}

test('§6 each item publishes queue → activate → start → end with work, function, workqueue, req_cpu and cpu', async () => {
  const wq = allocWorkqueue('tp-basic');
  await recording(['tp-basic'], async (events) => {
    const w = new Work(function tracedHandler() {});
    queueWork(wq, w);
    await flushWorkqueue(wq);
    assert.deepEqual(
      events.map(([k]) => k),
      ['queue', 'activate', 'start', 'end'],
    );
    for (const [, e] of events) {
      assert.equal(e.work, w);
      assert.equal(e.function, 'tracedHandler');
      assert.equal(e.workqueue, 'tp-basic');
      assert.equal(e.cpu, 0, 'a per-CPU pool of CPU 0');
    }
    assert.equal(events[0][1].req_cpu, -1, 'queueWork asks for no particular CPU');
  });
  await destroyWorkqueue(wq);
});

test('§6 req_cpu is the CPU asked for; cpu is -1 on unbound pools', async () => {
  const percpu = allocWorkqueue('tp-cpu');
  const unbound = allocWorkqueue('tp-unbound', WQ_UNBOUND);
  await recording(['tp-cpu', 'tp-unbound'], async (events) => {
    queueWorkOn(0, percpu, new Work(() => {}));
    queueWork(unbound, new Work(() => {}));
    await Promise.all([flushWorkqueue(percpu), flushWorkqueue(unbound)]);
    const q = events.filter(([k]) => k === 'queue').map(([, e]) => e);
    assert.equal(q.length, 2);
    const p = q.find((e) => e.workqueue === 'tp-cpu')!;
    const u = q.find((e) => e.workqueue === 'tp-unbound')!;
    assert.equal(p.req_cpu, 0);
    assert.equal(p.cpu, 0);
    assert.equal(u.cpu, -1);
    for (const [, e] of events.filter(([, e]) => e.workqueue === 'tp-unbound')) assert.equal(e.cpu, -1);
  });
  await Promise.all([destroyWorkqueue(percpu), destroyWorkqueue(unbound)]);
});

test('§6 an item over max_active is activated only when a slot frees; the order per item holds', async () => {
  const wq = allocWorkqueue('tp-inactive', 0, 1);
  await recording(['tp-inactive'], async (events) => {
    const gate = deferred();
    const a = new Work(async function first() {
      await gate.promise;
    });
    const b = new Work(function second() {});
    queueWork(wq, a);
    queueWork(wq, b);
    await settle();
    assert.deepEqual(
      events.map(([k, e]) => `${k}:${e.function}`),
      ['queue:first', 'activate:first', 'queue:second', 'start:first'],
    );
    gate.resolve();
    await flushWorkqueue(wq);
    assert.deepEqual(
      events.map(([k, e]) => `${k}:${e.function}`),
      [
        'queue:first',
        'activate:first',
        'queue:second',
        'start:first',
        'end:first',
        'activate:second',
        'start:second',
        'end:second',
      ],
    );
  });
  await destroyWorkqueue(wq);
});

test('§6 a delayed work is traced as queued when its timer fires (or is flushed), not when it is armed', async () => {
  const wq = allocWorkqueue('tp-delayed');
  await recording(['tp-delayed'], async (events) => {
    const a = new DelayedWork(function timed() {});
    const b = new DelayedWork(function flushed() {});
    queueDelayedWork(wq, a, 20);
    queueDelayedWork(wq, b, 1000);
    assert.equal(events.length, 0, 'arming publishes nothing');
    clock.advance(20);
    assert.deepEqual(
      events.map(([k, e]) => `${k}:${e.function}`),
      ['queue:timed', 'activate:timed'],
    );
    await flushDelayedWork(b);
    await flushWorkqueue(wq);
    assert.deepEqual(events.map(([k, e]) => `${k}:${e.function}`).sort(), [
      'activate:flushed',
      'activate:timed',
      'end:flushed',
      'end:timed',
      'queue:flushed',
      'queue:timed',
      'start:flushed',
      'start:timed',
    ]);
  });
  await destroyWorkqueue(wq);
});

test('§6 execute_end carries the error of a failing handler, and an anonymous handler is named <anonymous>', async () => {
  const wq = allocWorkqueue('tp-error', 0, 0, { onError: () => {} });
  await recording(['tp-error'], async (events) => {
    const err = new Error('traced failure');
    const works = [
      new Work(() => {
        throw err;
      }),
    ];
    queueWork(wq, works[0]);
    await flushWorkqueue(wq);
    const end = events.find(([k]) => k === 'end')![1];
    assert.equal(end.error, err);
    assert.equal(end.function, '<anonymous>');
  });
  await destroyWorkqueue(wq);
});

test('§6 with no subscriber nothing is recorded and work runs normally', async () => {
  const wq = allocWorkqueue('tp-none');
  let ran = 0;
  assert.equal(diagnosticsChannel.channel(CHANNELS.queue).hasSubscribers, false);
  queueWork(wq, new Work(() => void ran++));
  await flushWorkqueue(wq);
  assert.equal(ran, 1);
  await destroyWorkqueue(wq);
});
