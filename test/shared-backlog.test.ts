/**
 * A node's claim-ahead backlog on a real PostgreSQL server: items a node has claimed (leased) but not started,
 * because its slots are busy. Cancelled before they start they never run and cancelWorkSync says they were
 * pending; a node that detaches or freezes hands them back and another node runs each exactly once; and two
 * nodes completing and claiming overlapping items for a while (many keys, re-queued while they run) end with
 * every item run and no deadlock.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  allocWorkqueue,
  cancelWork,
  cancelWorkSync,
  disableWorkSync,
  drainWorkqueue,
  enableWork,
  flushWorkqueue,
  queueWork,
  type SharedWorkqueue,
  Work,
  WQ_UNBOUND,
  workFunc,
} from 'cmwq';
import { postgresBackend, type PostgresBackend, queueWorks } from 'cmwq/postgres';
import { startPostgres, type TestPostgres } from './pg-server.js';
import { eventsOf, onQueue, startNode, stopNodes, type TestNode, waitFor } from './shared-nodes.js';

let server: TestPostgres;
let backend: PostgresBackend;
/** Node processes, started once; each test attaches some of them to its own queue. */
const pool: TestNode[] = [];
const jobs = new URL('./fixtures/shared/jobs.js', import.meta.url);
const run = workFunc(jobs, 'run');
/** max_active of every queue here: room for a backlog beyond the runners' slots. */
const MAX_ACTIVE = 64;

before(async () => {
  server = await startPostgres();
  backend = await postgresBackend({ connectionString: server.url, pollMs: 200 });
  pool.push(...(await Promise.all(Array.from({ length: 3 }, () => startNode()))));
});
after(async () => {
  await stopNodes(pool);
  await backend?.close();
  await server?.stop();
});

/** Attaches pool node `index` to queue; its call() then acts on that queue. */
async function attach(queue: string, index: number, init: Record<string, unknown>): Promise<TestNode> {
  const node = pool[index]!;
  // Leases of 10 s: nothing here waits for one to expire, and a loaded machine once stalled a node past the 2 s
  // default between a claim and its completion, so a flush saw no live lease and returned before the run ended.
  await node.call('init', { url: server.url, queue, maxActive: MAX_ACTIVE, pollMs: 200, leaseMs: 10_000, ...init });
  return onQueue(node, queue);
}

/** This process as a producer-only node of queue (it runs nothing: the forked nodes do). */
function producer(queue: string): SharedWorkqueue {
  return allocWorkqueue(queue, WQ_UNBOUND, MAX_ACTIVE, { backend, nodeMaxActive: 0 });
}

/** The keys of works that hold a live lease now. */
async function leased(queue: string, works: Work<any>[]): Promise<Set<string>> {
  const { rows } = await backend.pool.query<{ key: string }>(
    'SELECT key FROM cmwq.items WHERE queue = $1 AND key = ANY($2) AND lease IS NOT NULL AND lease_until > now()',
    [queue, works.map((w) => w.key)],
  );
  return new Set(rows.map((r) => r.key));
}

/** The cluster's pending and in-flight counts of queue. */
async function counts(queue: string): Promise<{ pending: number; infl: number }> {
  const q = (await backend.queueStats()).find((s) => s.name === queue)!;
  return { pending: q.pending, infl: q.infl };
}

/**
 * Makes `runner` (one slot) hold `works` in its backlog: a burst of quick items gives it a rate to claim ahead
 * by (the backlog is what it ran in the last 200 ms), then a long item takes its only slot and the works, queued
 * next, are claimed behind it. Resolves with the long item (running; cancel it to free the slot) once every work is
 * leased and none has started.
 */
async function holdBacklog(wq: SharedWorkqueue, runner: TestNode, works: Work<any>[]): Promise<Work<any>> {
  const prefix = `${wq.name}-w`;
  const startsBefore = works.map((w) => (w.key === undefined ? 0 : eventsOf('start', w.key).length));
  const burst = Array.from({ length: 300 }, (_, i) => new Work(run, {}, { key: `${prefix}-${i}`, workqueue: wq }));
  const long = new Work(run, { ms: 60_000 }, { key: `${wq.name}-long`, workqueue: wq });
  assert.ok((await queueWorks(wq, burst)).every(Boolean));
  assert.equal(await queueWork(wq, long), true);
  // The works are queued once the long item runs: items claimed in one round trip may start in any order.
  await waitFor(() => eventsOf('start', long.key).length === 1, 20_000, `${long.key} starts`);
  assert.ok((await queueWorks(wq, works)).every(Boolean));
  let held = new Set<string>();
  for (let i = 0; i < 100 && held.size < works.length; i++) {
    held = await leased(wq.name, works);
    if (held.size < works.length) await runner.call('sleep', { ms: 50 });
  }
  assert.equal(held.size, works.length, `the runner holds the works in its backlog (${[...held]})`);
  works.forEach((w, i) => {
    assert.equal(eventsOf('start', w.key).length, startsBefore[i], `${w.key} has not started`);
  });
  return long;
}

test('cancelWorkSync of an item in another node’s backlog: true, it never runs, the counts come back to zero', async () => {
  const queue = 'bl-cancel';
  const runner = await attach(queue, 0, { nodeMaxActive: 1 });
  const wq = producer(queue);
  // An item that ran and failed before: its counters are not zero when it waits in the backlog.
  const failedBefore = new Work<{ fail?: boolean }>(run, { fail: true }, { key: 'bl-failed', workqueue: wq });
  assert.equal(await queueWork(wq, failedBefore), true);
  await flushWorkqueue(wq);
  assert.equal((await backend.itemRecord(queue, 'bl-failed'))?.failures, 1);
  failedBefore.data = {};
  const keyed = new Work(run, {}, { key: 'bl-keyed', workqueue: wq });
  const keyless = new Work(run, { tag: 'bl-keyless' });
  const disabled = new Work(run, {}, { key: 'bl-disabled', workqueue: wq });
  const other = new Work(run, {}, { key: 'bl-other', workqueue: wq });
  const works = [keyed, failedBefore, keyless, disabled, other];
  const long = await holdBacklog(wq, runner, works);
  const claimedBefore = (await runner.call<{ claimed: number }>('stats')).claimed;

  assert.equal(await cancelWorkSync(keyed), true, 'a backlog item was pending');
  assert.equal(await cancelWorkSync(failedBefore), true, 'counters that were not zero before');
  assert.equal(await cancelWorkSync(keyless), true, 'a keyless item');
  assert.equal(await disableWorkSync(disabled), true, 'disableWorkSync says the same');
  assert.equal(await cancelWorkSync(keyed), false, 'nothing left to cancel');
  assert.equal(await backend.itemRecord(queue, keyless.key!), null, 'the keyless row went, as after a run');
  const rec = await backend.itemRecord(queue, 'bl-keyed');
  assert.deepEqual([rec?.pending, rec?.running, rec?.runs], [false, false, 0]);
  assert.equal((await backend.itemRecord(queue, 'bl-failed'))?.runs, 1, 'no run counted');

  // The running instance had started: false, and its signal was aborted.
  assert.equal(await cancelWorkSync(long), false);
  assert.equal(eventsOf('aborted', long.key).length, 1);
  await flushWorkqueue(wq);
  await waitFor(() => eventsOf('end', other.key).length === 1, 20_000, 'the rest of the backlog runs');
  for (const w of [keyed, keyless, disabled]) assert.equal(eventsOf('start', w.key).length, 0, `${w.key} never ran`);
  assert.equal(eventsOf('start', failedBefore.key).length, 1, `${failedBefore.key} ran only before`);
  assert.equal(eventsOf('start', other.key).length, 1, `${other.key} ran once`);
  assert.equal((await runner.call<{ claimed: number }>('stats')).claimed, claimedBefore, 'nothing was claimed again');
  assert.deepEqual(await counts(queue), { pending: 0, infl: 0 });

  // Cancelled is not disabled: it queues and runs again; the disabled one waits for its enable.
  assert.equal(await queueWork(wq, keyed), true);
  assert.equal(await queueWork(wq, disabled), false);
  assert.equal(await enableWork(disabled), true);
  assert.equal(await queueWork(wq, disabled), true);
  await flushWorkqueue(wq);
  await waitFor(() => eventsOf('end', disabled.key).length === 1 && eventsOf('end', keyed.key).length === 1);
  assert.equal((await backend.itemRecord(queue, 'bl-keyed'))?.runs, 1);
  assert.deepEqual(await counts(queue), { pending: 0, infl: 0 });
  await runner.call('detach');
});

test('cancelWork (which does not wait) sees a backlog item as claimed: false, and it runs once', async () => {
  const queue = 'bl-cancel-async';
  const runner = await attach(queue, 0, { nodeMaxActive: 1 });
  const wq = producer(queue);
  const item = new Work(run, {}, { key: 'bla-item', workqueue: wq });
  const long = await holdBacklog(wq, runner, [item]);
  assert.equal(await cancelWork(item), false, 'not pending in the database: claimed');
  assert.equal(await cancelWorkSync(long), false);
  await flushWorkqueue(wq);
  await waitFor(() => eventsOf('end', item.key).length === 1, 20_000, `${item.key} runs`);
  assert.equal(eventsOf('start', item.key).length, 1);
  assert.deepEqual(await counts(queue), { pending: 0, infl: 0 });
  await runner.call('detach');
});

/**
 * Holds a backlog on `runner`, makes it give the backlog up with `giveUp` (detach or freeze, which resolve once
 * its running item ended), and checks that `rescuer` runs each backlog item exactly once while the runner starts
 * nothing more.
 */
async function handedBack(queue: string, init: Record<string, unknown>, giveUp: string): Promise<void> {
  const runner = await attach(queue, 0, { nodeMaxActive: 1, ...init });
  const wq = producer(queue);
  const works = Array.from({ length: 5 }, (_, i) => new Work(run, {}, { key: `${queue}-b-${i}`, workqueue: wq }));
  const long = await holdBacklog(wq, runner, works);
  const rescuer = await attach(queue, 1, { nodeMaxActive: 2 });
  const sent = Date.now();
  const given = runner.call<number>(giveUp);
  await waitFor(
    () => works.every((w) => eventsOf('end', w.key).length > 0),
    20_000,
    'the handed-back backlog runs on the other node',
  );
  // Its running item goes on until cancelled; the detach or freeze then resolves.
  assert.equal(await cancelWorkSync(long), false);
  await given;
  await flushWorkqueue(wq);
  for (const w of works) {
    const starts = eventsOf('start', w.key);
    assert.equal(starts.length, 1, `${w.key} ran exactly once`);
    assert.equal(starts[0]!.pid, rescuer.pid, `${w.key} ran on the other node`);
  }
  const late = eventsOf('start').filter((e) => e.key.startsWith(`${queue}-`) && e.pid === runner.pid && e.t > sent);
  assert.deepEqual(late, [], 'the runner started nothing after it gave its backlog up');
  for (let i = 0; i < 300; i++) assert.equal(eventsOf('start', `${queue}-w-${i}`).length, 1, `burst item ${i}`);
  assert.deepEqual(await counts(queue), { pending: 0, infl: 0 });
  if (giveUp === 'freeze') {
    await runner.call('thaw');
    await runner.call('detach');
  }
  await rescuer.call('detach');
}

test('a node that detaches hands its backlog back: another node runs each item exactly once', async () => {
  await handedBack('bl-detach', {}, 'detach');
});

test('a WQ_FREEZABLE node that freezes hands its backlog back: another node runs each item exactly once', async () => {
  await handedBack('bl-freeze', { freezable: true }, 'freeze');
});

/** PostgreSQL's count of deadlocks detected in this database (40P01), every session's. */
async function deadlocks(): Promise<number> {
  const { rows } = await backend.pool.query<{ n: string }>(
    'SELECT deadlocks::text AS n FROM pg_stat_database WHERE datname = current_database()',
  );
  return Number(rows[0]!.n);
}

test('two nodes completing and claiming overlapping items under load: no deadlock, every item run', async () => {
  const deadlocksBefore = await deadlocks();
  const queue = 'bl-overlap';
  // Two nodes of their own: they exit at the end, so that their sessions report their statistics.
  const init = { url: server.url, queue, maxActive: MAX_ACTIVE, pollMs: 200, nodeMaxActive: 8, leaseMs: 3000 };
  const own = await Promise.all([startNode(init), startNode(init)]);
  try {
    await overlap(queue, own);
  } finally {
    await stopNodes(own);
  }
  assert.equal((await deadlocks()) - deadlocksBefore, 0, 'no deadlock was detected (40P01)');
  assert.doesNotMatch(server.log(), /deadlock detected/);
});

/** Four producers queue 200 keys again and again for 3 s while `nodes` run them; then checks every run. */
async function overlap(queue: string, nodes: TestNode[]): Promise<void> {
  const wq = producer(queue);
  const requeue = workFunc(jobs, 'requeue');
  const KEYS = 200;
  const key = (i: number) => `ov-${i}`;
  // Every fourth key re-queues itself from its handler (twice): re-queued while running, on either node.
  const work = (i: number) =>
    i % 4 === 0
      ? new Work(requeue, { left: 2, ms: 2, queue }, { key: key(i), workqueue: wq })
      : new Work(run, { ms: i % 3 }, { key: key(i), workqueue: wq });
  let trues = 0;
  const until = Date.now() + 3000;
  // Four producers queue every key again and again, in different orders, while the nodes run them.
  await Promise.all(
    [0, 1, 2, 3].map(async (p) => {
      for (let round = 0; Date.now() < until; round++) {
        const order = Array.from({ length: KEYS }, (_, i) => (i * (2 * p + 1) + round) % KEYS);
        const batch = order.slice(0, KEYS / 2).map(work);
        // (awaited first: `trues += await ...` would read trues before the await and lose the others' counts)
        const queued = (await queueWorks(wq, batch)).filter(Boolean).length;
        trues += queued;
        for (const i of order.slice(KEYS / 2, KEYS / 2 + 10)) if (await queueWork(wq, work(i))) trues++;
      }
    }),
  );
  // A drain waits for the re-queueings from the handlers too (chained work), which a flush would not.
  await drainWorkqueue(wq);
  const { rows } = await backend.pool.query<{ key: string; runs: number }>(
    'SELECT key, runs::int AS runs FROM cmwq.items WHERE queue = $1',
    [queue],
  );
  const runs = new Map(rows.map((r) => [r.key, r.runs]));
  await waitFor(
    () => [...runs].every(([k, n]) => eventsOf('end', k).length === n),
    20_000,
    'every counted run reports its end',
  );
  assert.ok(trues >= KEYS, `every key was queued (${trues} queueings took)`);
  for (let i = 0; i < KEYS; i++) {
    const n = runs.get(key(i)) ?? 0;
    assert.ok(n >= (i % 4 === 0 ? 3 : 1), `${key(i)} ran ${n} times`);
    assert.equal(eventsOf('start', key(i)).length, n, `${key(i)}: every start is a counted run`);
  }
  // Every queueing that returned true (a producer's or a handler's) is one run: none lost, none doubled.
  const chained = eventsOf('requeued').filter((e) => e.key.startsWith('ov-') && e.queued === true).length;
  assert.equal(
    [...runs.values()].reduce((a, b) => a + b, 0),
    trues + chained,
  );
  assert.deepEqual(
    eventsOf('error').filter((e) => e.key?.startsWith('ov-')),
    [],
  );
  const ranOnBoth = [...runs.keys()].filter((k) => new Set(eventsOf('start', k).map((e) => e.pid)).size === 2);
  assert.ok(ranOnBoth.length > 0, 'the nodes ran the same keys');
  assert.ok(chained > 0, 'handlers re-queued their item while it ran');
  for (const n of nodes) assert.equal((await n.call<{ refused: number }>('stats', { queue })).refused, 0);
  assert.deepEqual(await counts(queue), { pending: 0, infl: 0 });
}
