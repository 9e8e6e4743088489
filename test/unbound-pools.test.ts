/**
 * SPEC §3.15: unbound workqueues with equal attributes share one pool; different attributes, different pools.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  workqueueInit,
  allocOrderedWorkqueue,
  allocWorkqueue,
  applyWorkqueueAttrs,
  currentWork,
  destroyWorkqueue,
  flushWorkqueue,
  queueWork,
  systemUnboundWq,
  Work,
  wqDump,
  WQ_HIGHPRI,
  WQ_UNBOUND,
  type Workqueue,
} from '../src/index.js';
import { runNode, turn } from './helpers.js';

// currentWork() across awaits is what some of these tests check: async context on.
workqueueInit({ asyncContext: true });

/** Queues a no-op on wq (pool workqueues are made on first use), flushes, and returns wq's pool ids. */
async function poolsOf(wq: Workqueue): Promise<number[]> {
  queueWork(wq, new Work(() => {}));
  await flushWorkqueue(wq);
  const row = wqDump().workqueues.find((w) => w.name === wq.name);
  assert.ok(row, `wqDump lists ${wq.name}`);
  return row.pwqs.map((p) => p.pool);
}

function poolById(id: number) {
  const pool = wqDump().pools.find((p) => p.id === id);
  assert.ok(pool, `wqDump lists pool ${id}`);
  return pool;
}

test('§3.15 unbound workqueues with equal attributes share one unbound pool', async () => {
  const a = allocWorkqueue('ub-a', WQ_UNBOUND);
  const b = allocWorkqueue('ub-b', WQ_UNBOUND, 4);
  const [pa] = await poolsOf(a);
  const [pb] = await poolsOf(b);
  assert.equal(pa, pb, 'max_active is not a pool attribute');
  const [ps] = await poolsOf(systemUnboundWq);
  assert.equal(pa, ps, 'the system unbound workqueue has default attributes too');
  const pool = poolById(pa);
  assert.equal(pool.unbound, true);
  assert.equal(pool.cpu, -1);
  await Promise.all([destroyWorkqueue(a), destroyWorkqueue(b)]);
});

test('§3.15 different pool attributes get different pools; attribute order does not matter; onError is not hashed', async () => {
  const base = allocWorkqueue('ub-base', WQ_UNBOUND);
  const w2 = allocWorkqueue('ub-w2', WQ_UNBOUND, 0, { maxWorkers: 2 });
  const w2b = allocWorkqueue('ub-w2b', WQ_UNBOUND, 0, { maxWorkers: 2, onError: () => {} });
  const w3 = allocWorkqueue('ub-w3', WQ_UNBOUND, 0, { maxWorkers: 3 });
  const t1 = allocWorkqueue('ub-t1', WQ_UNBOUND, 0, { maxWorkers: 2, idleTimeoutMs: 100 });
  const t2 = allocWorkqueue('ub-t2', WQ_UNBOUND, 0, { idleTimeoutMs: 100, maxWorkers: 2 });
  const hi = allocWorkqueue('ub-hi', WQ_UNBOUND | WQ_HIGHPRI);
  const onErr = allocWorkqueue('ub-onerr', WQ_UNBOUND, 0, { onError: () => {} });
  const [pBase] = await poolsOf(base);
  const [p2] = await poolsOf(w2);
  const [p2b] = await poolsOf(w2b);
  const [p3] = await poolsOf(w3);
  const [pt1] = await poolsOf(t1);
  const [pt2] = await poolsOf(t2);
  const [pHi] = await poolsOf(hi);
  const [pOnErr] = await poolsOf(onErr);
  assert.equal(p2, p2b, 'onError is per workqueue, never part of the pool hash');
  assert.equal(pBase, pOnErr);
  assert.equal(pt1, pt2, 'key order does not matter');
  assert.equal(new Set([pBase, p2, p3, pt1, pHi]).size, 5, 'five distinct attribute sets, five pools');
  assert.equal(poolById(pHi).highpri, true);
  assert.equal(poolById(pBase).highpri, false);
  await Promise.all([base, w2, w2b, w3, t1, t2, hi, onErr].map((wq) => destroyWorkqueue(wq)));
});

test('§3.15 per-CPU and unbound workqueues use different pools', async () => {
  const percpu = allocWorkqueue('ub-percpu');
  const unbound = allocWorkqueue('ub-unbound', WQ_UNBOUND);
  const [pc] = await poolsOf(percpu);
  const [pu] = await poolsOf(unbound);
  assert.notEqual(pc, pu);
  assert.equal(poolById(pc).unbound, false);
  assert.equal(poolById(pc).cpu, 0);
  await Promise.all([destroyWorkqueue(percpu), destroyWorkqueue(unbound)]);
});

test('§3.15 an ordered workqueue uses the unbound pool for its attributes', async () => {
  const ordered = allocOrderedWorkqueue('ub-ordered');
  const plain = allocWorkqueue('ub-plain', WQ_UNBOUND);
  const [po] = await poolsOf(ordered);
  const [pp] = await poolsOf(plain);
  assert.equal(po, pp);
  await Promise.all([destroyWorkqueue(ordered), destroyWorkqueue(plain)]);
});

test('§3.15 applyWorkqueueAttrs moves a workqueue to the pool for its new attributes', async () => {
  const a = allocWorkqueue('ub-move-a', WQ_UNBOUND);
  const b = allocWorkqueue('ub-move-b', WQ_UNBOUND, 0, { maxWorkers: 5 });
  const [pa] = await poolsOf(a);
  const [pb] = await poolsOf(b);
  assert.notEqual(pa, pb);
  applyWorkqueueAttrs(a, { maxWorkers: 5 });
  assert.deepEqual(await poolsOf(a), [pb]);
  applyWorkqueueAttrs(a, { onError: () => {} });
  assert.deepEqual(await poolsOf(a), [pa], 'back on the default pool');
  await Promise.all([destroyWorkqueue(a), destroyWorkqueue(b)]);
});

test('§3.15 a function work on an unbound workqueue runs on this thread with its workqueue semantics', async () => {
  const wq = allocWorkqueue('ub-run', WQ_UNBOUND, 2);
  let inFlight = 0;
  let peak = 0;
  const seen: boolean[] = [];
  const works = Array.from(
    { length: 6 },
    () =>
      new Work(async (self) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await turn();
        seen.push(currentWork() === self);
        inFlight--;
      }),
  );
  for (const w of works) queueWork(wq, w);
  await flushWorkqueue(wq);
  assert.equal(peak, 2);
  assert.deepEqual(seen, Array(6).fill(true));
  await destroyWorkqueue(wq);
});

test('§3.15 applyWorkqueueAttrs from a handler, releasing the pool it runs on, loses no other pool', async () => {
  // Run in a child: if a pool is lost, its items never run and every flush of it hangs.
  const indexUrl = new URL('../src/index.js', import.meta.url).href;
  const source = `
    import(${JSON.stringify(indexUrl)}).then(async ({ allocWorkqueue, queueWork, Work, flushWorkqueue, applyWorkqueueAttrs, WQ_UNBOUND }) => {
      const n = allocWorkqueue('n');
      const live = [n];
      // Every live workqueue must still run work.
      async function allRun(what) {
        let ran = 0;
        for (const wq of live) queueWork(wq, new Work(() => { ran++; }));
        const deadline = Date.now() + 1000;
        while (ran < live.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
        if (ran < live.length) {
          console.log('LOST ' + what + ': only ' + ran + ' of ' + live.length + ' workqueues ran their item');
          process.exit(0);
        }
      }
      await allRun('at the start');
      // The handler releasing its pool may be the one after which the run loop's budget runs out: try every
      // position in the first batch.
      for (let before = 0; before < 40; before++) {
        const u = allocWorkqueue('u' + before, WQ_UNBOUND, 0, { maxWorkers: 100 + before });
        live.push(u);
        queueWork(u, new Work(() => {}));
        await flushWorkqueue(u);
        for (let i = 0; i < before; i++) queueWork(u, new Work(() => {}));
        queueWork(u, new Work(function mover() {
          const end = performance.now() + 3;
          while (performance.now() < end);
          applyWorkqueueAttrs(u, { maxWorkers: 1000 + before });
        }));
        await flushWorkqueue(u);
        await allRun('after a mover with ' + before + ' items before it');
      }
      console.log('all ran');
    });
  `;
  const { stdout } = await runNode(['-e', source], { timeoutMs: 20_000 });
  assert.equal(stdout.trim(), 'all ran');
});
