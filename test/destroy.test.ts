/**
 * SPEC §4: destroyWorkqueue drains, fires armed delayed works at once, and refuses outside queueing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allocWorkqueue,
  DelayedWork,
  destroyWorkqueue,
  disableWork,
  enableAndQueueWork,
  enableWork,
  flushWork,
  flushWorkqueue,
  modDelayedWork,
  queueDelayedWork,
  queueWork,
  Work,
  workPending,
  wqDump,
  wqMonitor,
  WQ_UNBOUND,
  cancelWork,
} from '../src/index.js';
import { caughtCode, deferred, settle, track, turn, useManualClock } from './helpers.js';

// These tests check chained queueing and deadlock detection after awaits: async context on.
const clock = useManualClock({ asyncContext: true });

test('§4 destroyWorkqueue waits for pending, inactive and running items, then the workqueue is gone', async () => {
  const wq = allocWorkqueue('ds-drain', 0, 2);
  const gate = deferred();
  let finished = 0;
  queueWork(
    wq,
    new Work(async () => {
      await gate.promise;
      finished++;
    }),
  );
  for (let i = 0; i < 5; i++) queueWork(wq, new Work(() => void finished++));
  await settle();
  const destroyed = track(destroyWorkqueue(wq));
  await settle();
  assert.equal(destroyed.done, false);
  gate.resolve();
  await settle();
  assert.equal(destroyed.done, true);
  assert.equal(finished, 6);
  assert.equal(
    wqDump().workqueues.some((w) => w.name === 'ds-drain'),
    false,
  );
  assert.equal(
    wqMonitor().some((r) => r.name === 'ds-drain'),
    false,
  );
});

test('§4 destroyWorkqueue fires armed delayed works at once (as flushDelayedWork), then drains', async () => {
  const wq = allocWorkqueue('ds-armed');
  const other = allocWorkqueue('ds-armed-other');
  const ranAt: string[] = [];
  const t0 = clock.now();
  const a = new DelayedWork(() => void ranAt.push(`a@${clock.now() - t0}`));
  const b = new DelayedWork(async () => {
    await turn();
    ranAt.push(`b@${clock.now() - t0}`);
  });
  const elsewhere = new DelayedWork(() => void ranAt.push('elsewhere'));
  queueDelayedWork(wq, a, 10_000);
  queueDelayedWork(wq, b, 60_000);
  queueDelayedWork(other, elsewhere, 5_000);
  await destroyWorkqueue(wq);
  assert.deepEqual(ranAt.sort(), ['a@0', 'b@0'], 'both ran without the clock moving; the other workqueue is untouched');
  assert.equal(workPending(elsewhere), true);
  assert.equal(clock.pendingTimers, 1, 'only the other workqueue timer is left');
  clock.advance(10_000);
  await settle();
  assert.deepEqual(ranAt.sort(), ['a@0', 'b@0', 'elsewhere'], 'the fired works do not run again at their old expiry');
  await destroyWorkqueue(other);
});

test('§4 a delayed work moved to another workqueue with modDelayedWork is not fired by destroying the first', async () => {
  const a = allocWorkqueue('ds-mod-a');
  const b = allocWorkqueue('ds-mod-b');
  let runs = 0;
  const dw = new DelayedWork(() => void runs++);
  queueDelayedWork(a, dw, 100);
  modDelayedWork(b, dw, 100);
  await destroyWorkqueue(a);
  assert.equal(runs, 0);
  assert.equal(workPending(dw), true);
  clock.advance(100);
  await flushWorkqueue(b);
  assert.equal(runs, 1);
  await destroyWorkqueue(b);
});

test('§4 while destroying, outside queueing throws ERR_WQ_DRAINING; chained work is accepted and waited for', async () => {
  const wq = allocWorkqueue('ds-during');
  const other = allocWorkqueue('ds-during-other');
  const gate = deferred();
  const events: string[] = [];
  let chained = 0;
  const chain: DelayedWork = new DelayedWork(() => {
    chained++;
    events.push(`chain${chained}`);
    // Chained queueing from the workqueue's own handler, with a delay too: destroy fires it.
    if (chained < 3) assert.equal(queueDelayedWork(wq, chain, 5_000), true);
  });
  queueWork(
    wq,
    new Work(async () => {
      await gate.promise;
      assert.equal(queueWork(wq, chain), true);
    }),
  );
  await settle();
  const destroyed = track(destroyWorkqueue(wq));
  const w = new Work(() => void events.push('outside'));
  assert.equal(
    caughtCode(() => queueWork(wq, w)),
    'ERR_WQ_DRAINING',
  );
  assert.equal(workPending(w), false);
  // The work is idle and reusable elsewhere.
  assert.equal(queueWork(other, w), true);
  await flushWorkqueue(other);
  gate.resolve();
  await settle(20);
  assert.equal(destroyed.done, true);
  assert.deepEqual(events, ['outside', 'chain1', 'chain2', 'chain3']);
  assert.equal(clock.pendingTimers, 0);
  assert.equal(
    caughtCode(() => queueWork(wq, w)),
    'ERR_WQ_DESTROYED',
  );
  assert.equal(workPending(w), false);
  assert.equal(queueWork(other, w), true);
  await flushWorkqueue(other);
  await destroyWorkqueue(other);
});

test('§4 after destroy, queueing throws ERR_WQ_DESTROYED and the work stays idle and reusable', async () => {
  const wq = allocWorkqueue('ds-after', WQ_UNBOUND);
  const other = allocWorkqueue('ds-after-other', WQ_UNBOUND);
  let runs = 0;
  const w = new Work(() => void runs++);
  queueWork(wq, w);
  await destroyWorkqueue(wq);
  assert.equal(runs, 1);
  assert.equal(
    caughtCode(() => queueWork(wq, w)),
    'ERR_WQ_DESTROYED',
  );
  assert.equal(workPending(w), false);
  assert.equal(await flushWork(w), false);
  assert.equal(cancelWork(w), false);
  disableWork(w);
  assert.equal(
    caughtCode(() => enableAndQueueWork(wq, w)),
    'ERR_WQ_DESTROYED',
  );
  assert.equal(enableWork(w), true, 'the disable depth is back where it was');
  assert.equal(queueWork(other, w), true);
  await flushWorkqueue(other);
  assert.equal(runs, 2);
  // A new unbound workqueue with the same attributes works after the old one freed its pool reference.
  const again = allocWorkqueue('ds-after-again', WQ_UNBOUND);
  queueWork(again, w);
  await flushWorkqueue(again);
  assert.equal(runs, 3);
  await Promise.all([destroyWorkqueue(other), destroyWorkqueue(again)]);
});

test('§4 destroyWorkqueue from one of its own handlers throws ERR_WQ_DEADLOCK', async () => {
  const wq = allocWorkqueue('ds-self');
  const codes: (string | undefined)[] = [];
  queueWork(wq, new Work(() => void codes.push(caughtCode(() => destroyWorkqueue(wq)))));
  await flushWorkqueue(wq);
  assert.deepEqual(codes, ['ERR_WQ_DEADLOCK']);
  await destroyWorkqueue(wq);
});

test('§4 a destroyed workqueue name can be reused by a new workqueue', async () => {
  const first = allocWorkqueue('ds-name');
  await destroyWorkqueue(first);
  const second = allocWorkqueue('ds-name');
  let ran = 0;
  queueWork(second, new Work(() => void ran++));
  await flushWorkqueue(second);
  assert.equal(ran, 1);
  assert.equal(
    caughtCode(() => queueWork(first, new Work(() => {}))),
    'ERR_WQ_DESTROYED',
  );
  await destroyWorkqueue(second);
});
