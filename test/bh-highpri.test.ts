/**
 * SPEC §1 / §2: the pools of one CPU are served BH highpri, BH, highpri, normal; BH work must be synchronous.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allocWorkqueue,
  destroyWorkqueue,
  flushWorkqueue,
  queueWork,
  systemBhHighpriWq,
  systemBhWq,
  systemHighpriWq,
  systemWq,
  Work,
  WorkqueueError,
  wqDump,
  wqMonitor,
  WQ_BH,
  WQ_HIGHPRI,
} from '../src/index.js';
import { settle, turn } from './helpers.js';

test('highpri workqueues are served before normal ones on the same CPU', async () => {
  const order: string[] = [];
  const hi = allocWorkqueue('bh-hi', WQ_HIGHPRI);
  const lo = allocWorkqueue('bh-lo');
  for (let i = 0; i < 3; i++) queueWork(lo, new Work(() => void order.push(`n${i}`)));
  for (let i = 0; i < 3; i++) queueWork(hi, new Work(() => void order.push(`h${i}`)));
  await settle();
  assert.deepEqual(order, ['h0', 'h1', 'h2', 'n0', 'n1', 'n2']);
  await Promise.all([destroyWorkqueue(hi), destroyWorkqueue(lo)]);
});

test('the service order is BH highpri, BH, highpri, normal', async () => {
  const order: string[] = [];
  queueWork(systemWq, new Work(() => void order.push('normal')));
  queueWork(systemHighpriWq, new Work(() => void order.push('highpri')));
  queueWork(systemBhWq, new Work(() => void order.push('bh')));
  queueWork(systemBhHighpriWq, new Work(() => void order.push('bh-highpri')));
  await settle();
  assert.deepEqual(order, ['bh-highpri', 'bh', 'highpri', 'normal']);
});

test('a highpri item queued by a normal handler runs before the next normal item (preemption between items)', async () => {
  const order: string[] = [];
  const hi = allocWorkqueue('bh-pre-hi', WQ_HIGHPRI);
  const lo = allocWorkqueue('bh-pre-lo');
  const urgent = new Work(() => void order.push('urgent'));
  queueWork(
    lo,
    new Work(() => {
      order.push('n0');
      queueWork(hi, urgent);
    }),
  );
  queueWork(lo, new Work(() => void order.push('n1')));
  queueWork(lo, new Work(() => void order.push('n2')));
  await settle();
  assert.deepEqual(order, ['n0', 'urgent', 'n1', 'n2']);
  await Promise.all([destroyWorkqueue(hi), destroyWorkqueue(lo)]);
});

test('highpri pools are marked highpri (nice -20) and their workers are named kworker/<cpu>:<id>H', async () => {
  const hi = allocWorkqueue('bh-names', WQ_HIGHPRI);
  queueWork(hi, new Work(async () => await turn()));
  await settle(1);
  const dump = wqDump();
  const poolId = dump.workqueues.find((w) => w.name === 'bh-names')!.pwqs[0].pool;
  const pool = dump.pools.find((p) => p.id === poolId)!;
  assert.equal(pool.highpri, true);
  assert.equal(pool.nice, -20);
  assert.ok(pool.workerNames.length >= 1);
  for (const name of pool.workerNames) assert.match(name, /^kworker\/0:\d+H$/);
  await flushWorkqueue(hi);
  await destroyWorkqueue(hi);
});

test('a BH workqueue may be WQ_BH | WQ_HIGHPRI and runs synchronous work', async () => {
  const bh = allocWorkqueue('bh-own', WQ_BH | WQ_HIGHPRI);
  let ran = 0;
  queueWork(bh, new Work(() => void ran++));
  await flushWorkqueue(bh);
  assert.equal(ran, 1);
  await destroyWorkqueue(bh);
});

test('a BH handler that returns a promise fails with ERR_WQ_BH_ASYNC, reported and counted; a late rejection stays handled', async () => {
  const reports: unknown[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (r: unknown) => unhandled.push(r);
  process.on('unhandledRejection', onUnhandled);
  try {
    const bh = allocWorkqueue('bh-async', WQ_BH, 0, { onError: (e) => reports.push(e) });
    queueWork(
      bh,
      new Work(async () => {
        await turn();
        throw new Error('late');
      }),
    );
    let after = 0;
    queueWork(bh, new Work(() => void after++));
    await flushWorkqueue(bh);
    await settle(5);
    assert.equal(after, 1);
    assert.equal(reports.length, 1);
    assert.ok(reports[0] instanceof WorkqueueError);
    assert.equal((reports[0] as WorkqueueError).code, 'ERR_WQ_BH_ASYNC');
    assert.equal(wqMonitor().find((r) => r.name === 'bh-async')!.failed, 1);
    assert.deepEqual(unhandled, []);
    await destroyWorkqueue(bh);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});
