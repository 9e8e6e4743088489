/**
 * SPEC §3.20: an event loop is never starved by work.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  allocWorkqueue,
  cancelWorkSync,
  destroyWorkqueue,
  flushWorkqueue,
  queueWork,
  Work,
  WQ_UNBOUND,
} from '../src/index.js';
import { spin, turn } from './helpers.js';

test('§3.20 timers, immediates and I/O keep running while a million items drain', async () => {
  const wq = allocWorkqueue('lf-million');
  const TOTAL = 1_000_000;
  const CHAINS = 8;
  let executed = 0;
  const works = Array.from(
    { length: CHAINS },
    () =>
      new Work<{ left: number }>(
        (self) => {
          executed++;
          if (--self.data.left > 0) queueWork(wq, self);
        },
        { left: TOTAL / CHAINS },
      ),
  );
  let timerTicks = 0;
  let immediateTicks = 0;
  let ioDoneAt = -1;
  let stop = false;
  const timerLoop = () => {
    if (stop) return;
    timerTicks++;
    setTimeout(timerLoop, 0);
  };
  const immediateLoop = () => {
    if (stop) return;
    immediateTicks++;
    setImmediate(immediateLoop);
  };
  for (const w of works) queueWork(wq, w);
  setTimeout(timerLoop, 0);
  setImmediate(immediateLoop);
  readFile(fileURLToPath(import.meta.url)).then(() => {
    ioDoneAt = executed;
  });
  try {
    while (executed < TOTAL) await flushWorkqueue(wq);
  } finally {
    stop = true;
  }
  assert.equal(executed, TOTAL);
  assert.ok(timerTicks >= 2, `timers ran ${timerTicks} times during the drain`);
  assert.ok(immediateTicks >= 10, `immediates ran ${immediateTicks} times during the drain`);
  assert.ok(
    ioDoneAt >= 0 && ioDoneAt < TOTAL,
    `the file read completed while items were still draining (at ${ioDoneAt})`,
  );
  await destroyWorkqueue(wq);
});

test('§3.20 a long worklist of distinct items yields: an immediate runs before the worklist is empty', async () => {
  const wq = allocWorkqueue('lf-distinct', WQ_UNBOUND);
  const N = 200_000;
  let executed = 0;
  const count = () => void executed++;
  const works = Array.from({ length: N }, () => new Work(count));
  for (const w of works) queueWork(wq, w);
  let seenAt = -1;
  setImmediate(() => (seenAt = executed));
  await flushWorkqueue(wq);
  assert.equal(executed, N);
  assert.ok(seenAt >= 0 && seenAt < N, `the immediate ran after ${seenAt} of ${N} items`);
  await destroyWorkqueue(wq);
});

test('§3.20 slow handlers back to back still let the loop run between batches', async () => {
  const wq = allocWorkqueue('lf-slow');
  let executed = 0;
  const N = 64;
  const works = Array.from(
    { length: N },
    () =>
      new Work(() => {
        spin(2);
        executed++;
      }),
  );
  for (const w of works) queueWork(wq, w);
  const seen: number[] = [];
  let stop = false;
  const tick = () => {
    if (stop) return;
    seen.push(executed);
    setImmediate(tick);
  };
  setImmediate(tick);
  await flushWorkqueue(wq);
  stop = true;
  const during = seen.filter((n) => n > 0 && n < N);
  assert.ok(
    during.length >= 2,
    `the loop got ${during.length} turns while ${N} items of 2 ms drained (${seen.join(',')})`,
  );
  await destroyWorkqueue(wq);
});

test('§3.20 a self-requeuing item on a per-CPU workqueue does not starve an unbound workqueue on the same loop', async () => {
  const busy = allocWorkqueue('lf-busy');
  const other = allocWorkqueue('lf-other', WQ_UNBOUND);
  let stop = false;
  let hogRuns = 0;
  const hog: Work = new Work(() => {
    hogRuns++;
    if (!stop) queueWork(busy, hog);
  });
  let ranAfter = -1;
  try {
    queueWork(busy, hog);
    await turn();
    queueWork(other, new Work(() => void (ranAfter = hogRuns)));
    const deadline = Date.now() + 1000;
    while (ranAfter < 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  } finally {
    stop = true;
    await cancelWorkSync(hog);
  }
  assert.ok(ranAfter >= 0, `the unbound item did not run within 1 s while the per-CPU item ran ${hogRuns} times`);
  await flushWorkqueue(other);
  await Promise.all([destroyWorkqueue(busy), destroyWorkqueue(other)]);
});

test('§3.20 a self-requeuing item on one unbound pool does not starve another unbound pool', async () => {
  const busy = allocWorkqueue('lf-busy-u', WQ_UNBOUND, 0, { maxWorkers: 3 });
  const other = allocWorkqueue('lf-other-u', WQ_UNBOUND, 0, { maxWorkers: 4 });
  // Make the second pool exist (later on the loop) before the hog starts.
  queueWork(other, new Work(() => {}));
  await flushWorkqueue(other);
  let stop = false;
  let hogRuns = 0;
  const hog: Work = new Work(() => {
    hogRuns++;
    if (!stop) queueWork(busy, hog);
  });
  let ran = false;
  try {
    queueWork(busy, hog);
    await turn();
    queueWork(other, new Work(() => void (ran = true)));
    const deadline = Date.now() + 1000;
    while (!ran && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  } finally {
    stop = true;
    await cancelWorkSync(hog);
  }
  assert.ok(ran, `the item on the second pool did not run within 1 s (the hog ran ${hogRuns} times)`);
  await flushWorkqueue(other);
  await Promise.all([destroyWorkqueue(busy), destroyWorkqueue(other)]);
});

test('§3.20 handlers that resolve at once still give the loop back: the budget is per loop turn, not per run', async () => {
  // Each settle runs the next item from a microtask, so without a per-turn budget nothing else would run until
  // the whole drain is over. Counted, not timed: macrotask turns (a setImmediate chain) and 1 ms interval ticks
  // during the drain. Any yield at all gives several; a drain without one gives zero of each.
  for (const maxActive of [1, 100]) {
    const wq = allocWorkqueue(`lf-resolved-${maxActive}`, 0, maxActive);
    const N = 200_000;
    let executed = 0;
    const handler = async (): Promise<void> => {
      executed++;
    };
    for (let i = 0; i < N; i++) queueWork(wq, new Work(handler));
    let turns = 0;
    let draining = true;
    const spinTurn = (): void => {
      turns++;
      if (draining) setImmediate(spinTurn);
    };
    setImmediate(spinTurn);
    let ticks = 0;
    const interval = setInterval(() => ticks++, 1);
    try {
      await flushWorkqueue(wq);
    } finally {
      draining = false;
      clearInterval(interval);
    }
    assert.equal(executed, N);
    assert.ok(turns >= 5, `maxActive ${maxActive}: ${turns} macrotask turns during the drain (0 would be starvation)`);
    assert.ok(ticks >= 2, `maxActive ${maxActive}: ${ticks} interval ticks during the drain`);
    await destroyWorkqueue(wq);
  }
});
