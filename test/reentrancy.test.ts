/**
 * SPEC §3.3: a work item never executes concurrently with itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allocOrderedWorkqueue,
  allocWorkqueue,
  destroyWorkqueue,
  flushWork,
  queueWork,
  systemHighpriWq,
  systemUnboundWq,
  systemWq,
  Work,
  workBusy,
  WQ_HIGHPRI,
  WQ_UNBOUND,
} from '../src/index.js';
import { deferred, gatedWork, settle, startGated, turn } from './helpers.js';

test('§3.3 a work requeued while it sleeps runs again only after the running instance ends (same workqueue)', async () => {
  const wq = allocWorkqueue('re-same');
  const gates = [deferred(), deferred()];
  const events: string[] = [];
  let active = 0;
  let maxActive = 0;
  let runs = 0;
  const w = new Work(async () => {
    const n = runs++;
    active++;
    maxActive = Math.max(maxActive, active);
    events.push(`start${n}`);
    await gates[n].promise;
    events.push(`end${n}`);
    active--;
  });
  queueWork(wq, w);
  await settle();
  assert.deepEqual(events, ['start0']);
  assert.equal(queueWork(wq, w), true, 'requeue while running succeeds');
  await settle();
  assert.deepEqual(events, ['start0'], 'the requeued instance does not start while the first sleeps');
  gates[0].resolve();
  await settle();
  assert.deepEqual(events, ['start0', 'end0', 'start1']);
  gates[1].resolve();
  await settle();
  assert.deepEqual(events, ['start0', 'end0', 'start1', 'end1']);
  assert.equal(maxActive, 1);
  await destroyWorkqueue(wq);
});

test('§3.3 a work requeued on other workqueues and pools while it sleeps never overlaps itself', async () => {
  const a = allocWorkqueue('re-a');
  const hi = allocWorkqueue('re-hi', WQ_HIGHPRI);
  const ub = allocWorkqueue('re-ub', WQ_UNBOUND);
  const ord = allocOrderedWorkqueue('re-ord');
  const targets = [hi, ub, ord, systemWq, systemHighpriWq, systemUnboundWq, a];
  let active = 0;
  let maxActive = 0;
  let runs = 0;
  const w = new Work(async () => {
    runs++;
    active++;
    maxActive = Math.max(maxActive, active);
    await turn();
    await turn();
    active--;
  });
  queueWork(a, w);
  for (const wq of targets) {
    // Requeue on a different workqueue each time the previous instance is running (busy = RUNNING only).
    for (let i = 0; i < 100 && workBusy(w) !== 2; i++) await turn();
    assert.equal(workBusy(w), 2);
    assert.equal(queueWork(wq, w), true);
    assert.equal(workBusy(w), 3);
  }
  await settle(30);
  assert.equal(runs, targets.length + 1);
  assert.equal(maxActive, 1, 'never two instances at once');
  await Promise.all([a, hi, ub, ord].map((wq) => destroyWorkqueue(wq)));
});

test('§3.3 other works keep running while one sleeps (concurrency management), but the sleeper is never doubled', async () => {
  const wq = allocWorkqueue('re-cm');
  const { work: sleeper, gate, events } = gatedWork({ label: 'sleeper' });
  const others = Array.from({ length: 3 }, (_, i) => new Work(() => void events.push(`other${i}`)));
  queueWork(wq, sleeper);
  for (const o of others) queueWork(wq, o);
  await settle();
  assert.deepEqual(events, ['sleeper-start', 'other0', 'other1', 'other2']);
  assert.equal(queueWork(wq, sleeper), true);
  queueWork(wq, others[0]);
  await settle();
  assert.deepEqual(events.slice(4), ['other0'], 'the other work ran, the requeued sleeper waits');
  gate.resolve();
  await flushWork(sleeper);
  assert.deepEqual(events.slice(5), ['sleeper-end', 'sleeper-start', 'sleeper-end']);
  await destroyWorkqueue(wq);
});

test('§3.3 a requeued running work runs again after the running instance ends, and exactly once', async () => {
  const wq = allocWorkqueue('re-many');
  let runs = 0;
  const { work: w, gate } = await startGated(wq, { numbered: true, onStart: () => void runs++ });
  // Many requeue attempts while running: only the first succeeds.
  const results = Array.from({ length: 10 }, () => queueWork(wq, w));
  assert.deepEqual(results, [true, ...Array(9).fill(false)]);
  assert.equal(workBusy(w), 3);
  gate.resolve();
  await settle();
  assert.equal(runs, 2);
  assert.equal(workBusy(w), 0);
  await destroyWorkqueue(wq);
});

test('§3.3 many works with random sleeps, requeued at random, never overlap themselves', async () => {
  const wqs = [allocWorkqueue('re-r1'), allocWorkqueue('re-r2', WQ_HIGHPRI), allocWorkqueue('re-r3', WQ_UNBOUND, 2)];
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const active = new Map<Work<number>, number>();
  let violations = 0;
  let runs = 0;
  const works = Array.from(
    { length: 6 },
    (_, i) =>
      new Work<number>(async (self) => {
        runs++;
        const now = (active.get(self) ?? 0) + 1;
        active.set(self, now);
        if (now > 1) violations++;
        for (let k = rnd(4); k > 0; k--) await turn();
        active.set(self, active.get(self)! - 1);
      }, i),
  );
  for (let step = 0; step < 400; step++) {
    queueWork(wqs[rnd(3)], works[rnd(works.length)]);
    if (rnd(3) === 0) await turn();
  }
  await settle(50);
  assert.equal(violations, 0);
  assert.ok(runs > 20, `ran ${runs}`);
  for (const w of works) assert.equal(workBusy(w), 0);
  await Promise.all(wqs.map((wq) => destroyWorkqueue(wq)));
});
