/**
 * Shared workqueues across real processes on a real PostgreSQL server: the pending bit, non-reentrancy,
 * cluster-wide max_active, ordered workqueues, delayed work on the database clock, flush/drain/cancelSync
 * across nodes, queueing inside a transaction, failure records and retry, and bad input.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import {
  allocWorkqueue,
  applyWorkqueueAttrs,
  cancelWorkSync,
  DelayedWork,
  flushWork,
  flushWorkqueue,
  queueFunc,
  queueWork,
  Work,
  WorkqueueError,
  WQ_UNBOUND,
  workFunc,
  workOnWorkqueue,
  workqueueCongested,
  workqueueSetMaxActive,
  wqMonitor,
} from 'cmwq';
import { type PgSharedWorkqueue, postgresBackend, type PostgresBackend, queueWorks } from 'cmwq/postgres';
import { startPostgres, type TestPostgres } from './pg-server.js';
import {
  eventsOf,
  type NodeEvent,
  onQueue,
  pollUntil,
  startNode,
  stopNodes,
  type TestNode,
  waitFor,
} from './shared-nodes.js';

let server: TestPostgres;
let backend: PostgresBackend;
/** Four node processes, started once; each test attaches them to its own queue. */
const pool: TestNode[] = [];
const jobs = new URL('./fixtures/shared/jobs.js', import.meta.url);

before(async () => {
  server = await startPostgres();
  backend = await postgresBackend({ connectionString: server.url });
  pool.push(...(await Promise.all(Array.from({ length: 4 }, () => startNode()))));
});
after(async () => {
  await stopNodes(pool);
  await backend?.close();
  await server?.stop();
});

/** Attaches n pool nodes (from offset) to init.queue; their call() then acts on that queue. */
async function start(init: Record<string, unknown>, n = 1, offset = 0): Promise<TestNode[]> {
  const picked = pool.slice(offset, offset + n);
  await Promise.all(picked.map((node) => node.call('init', { url: server.url, ...init })));
  return picked.map((node) => onQueue(node, init.queue));
}

/** The most handlers of `keys` running at once, from the start/end events' timestamps. */
function maxConcurrent(match: (e: NodeEvent) => boolean): number {
  const marks = [...eventsOf('start'), ...eventsOf('end')].filter(match);
  marks.sort((a, b) => a.t - b.t || (a.ev === 'end' ? -1 : 1));
  let now = 0;
  let most = 0;
  for (const m of marks) {
    now += m.ev === 'start' ? 1 : -1;
    most = Math.max(most, now);
  }
  return most;
}

test('pending bit: 3 processes queue one key 1,000 times each at once: exactly one true, one run', async () => {
  const producers = await start({ queue: 'pending1', maxActive: 4, nodeMaxActive: 0 }, 3);
  const trues = await Promise.all(producers.map((p) => p.call<number>('queue', { key: 'k', n: 1000 })));
  assert.equal(
    trues.reduce((a, b) => a + b, 0),
    1,
  );
  const [runner] = await start({ queue: 'pending1', maxActive: 4, nodeMaxActive: 4 }, 1, 3);
  await waitFor(() => eventsOf('end', 'k').length >= 1, 20_000, 'the run');
  await runner!.call('flush');
  assert.equal(eventsOf('start', 'k').length, 1);
});

test('pending bit while nodes run: every true is one run, never two at once', async () => {
  const init = { queue: 'pending2', maxActive: 8, nodeMaxActive: 4 };
  const ns = await start(init, 3);
  const trues = await Promise.all(ns.map((p) => p.call<number>('queue', { key: 'busy', n: 1000, data: { ms: 20 } })));
  await ns[0]!.call('flush');
  const total = trues.reduce((a, b) => a + b, 0);
  assert.ok(total >= 1);
  assert.equal(eventsOf('end', 'busy').length, total);
  assert.equal(
    maxConcurrent((e) => e.key === 'busy'),
    1,
  );
});

test('queueing while it runs makes exactly one more run, after the running one', async () => {
  const [runner, producer] = [
    ...(await start({ queue: 'pending3', nodeMaxActive: 2 })),
    ...(await start({ queue: 'pending3', nodeMaxActive: 0 }, 1, 1)),
  ];
  assert.equal(await producer!.call('queue', { key: 'again', data: { ms: 400 } }), 1);
  await waitFor(() => eventsOf('start', 'again').length === 1, 20_000, 'first start');
  assert.equal(await producer!.call('queue', { key: 'again', n: 5, data: { ms: 10 } }), 1);
  await runner!.call('flush');
  const starts = eventsOf('start', 'again');
  const ends = eventsOf('end', 'again');
  assert.equal(starts.length, 2);
  assert.ok(starts[1]!.t >= ends[0]!.t, 'the second run starts after the first ends');
  assert.equal(starts[1]!.data.ms, 10, 'the second run has the data of the queueing that returned true');
});

test('non-reentrancy: a handler re-queueing itself is never concurrent with itself', async () => {
  const ns = await start({ queue: 'reent', maxActive: 8, nodeMaxActive: 4 }, 2);
  await ns[0]!.call('queue', { key: 'self', fn: 'requeue', data: { left: 12, ms: 15, queue: 'reent' } });
  await waitFor(() => eventsOf('end', 'self').length >= 13, 20_000, '13 runs');
  await ns[1]!.call('flush');
  assert.equal(eventsOf('end', 'self').length, 13);
  assert.equal(
    maxConcurrent((e) => e.key === 'self'),
    1,
  );
  assert.ok(eventsOf('requeued', 'self').every((e) => e.queued === true));
});

test('max_active is never exceeded cluster-wide', async () => {
  const ns = await start({ queue: 'maxact', maxActive: 3, nodeMaxActive: 4 }, 3);
  await ns[0]!.call('queueSeq', { prefix: 'm', n: 30, ms: 40 });
  await ns[1]!.call('flush');
  assert.equal(eventsOf('end').filter((e) => e.key.startsWith('m-')).length, 30);
  const most = maxConcurrent((e) => e.key.startsWith('m-'));
  assert.ok(most <= 3, `${most} ran at once`);
  assert.ok(most >= 2, 'the nodes did run in parallel');
});

test('claims racing for the last slots: an observer never sees more than max_active live leases, none is lost', async () => {
  // Three nodes of 8 slots share max_active 10: each node's count before it claims sees room for most of its
  // slots, so the claims overlap, and the exact count each makes last, under the queue's lock, hands back the
  // excess (pending again) for a later claim.
  const ns = await start({ queue: 'race', maxActive: 10, nodeMaxActive: 8, pollMs: 100 }, 3);
  const wq = allocWorkqueue('race', WQ_UNBOUND, 10, { backend, nodeMaxActive: 0 });
  const run = workFunc(jobs, 'run');
  const works = Array.from({ length: 300 }, (_, i) => new Work(run, { ms: 3 }, { key: `race-${i}`, workqueue: wq }));
  const observer = new pg.Client(server.url);
  await observer.connect();
  let most = 0;
  let looks = 0;
  let watching = true;
  const watch = (async () => {
    while (watching) {
      const { rows } = await observer.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM cmwq.items WHERE queue = 'race' AND lease IS NOT NULL AND lease_until > now()`,
      );
      most = Math.max(most, rows[0]!.n);
      looks++;
    }
  })();
  try {
    for (let i = 0; i < works.length; i += 50) assert.ok((await queueWorks(wq, works.slice(i, i + 50))).every(Boolean));
    await flushWorkqueue(wq);
  } finally {
    watching = false;
    await watch;
    await observer.end();
  }
  for (const w of works) assert.equal(eventsOf('start', w.key).length, 1, `${w.key} ran once`);
  assert.ok(looks > 10, `the observer looked ${looks} times`);
  assert.ok(most <= 10 && most >= 2, `${most} live leases at once`);
  const ran = maxConcurrent((e) => e.key.startsWith('race-'));
  assert.ok(ran <= 10, `${ran} ran at once`);
  for (const n of ns) assert.equal((await n.call<{ refused: number }>('stats')).refused, 0);
});

test('an ordered shared workqueue runs one at a time, in queueing order, whichever nodes queued', async () => {
  const ns = await start({ queue: 'ordered', ordered: true, nodeMaxActive: 2 }, 3);
  await ns[0]!.call('queueSeq', { prefix: 'oa', n: 8, ms: 5 });
  await ns[1]!.call('queueSeq', { prefix: 'ob', n: 8, ms: 5 });
  await ns[2]!.call('flush');
  const order = eventsOf('start')
    .filter((e) => /^o[ab]-/.test(e.key))
    .sort((a, b) => a.t - b.t)
    .map((e) => e.key);
  const expected = [
    ...Array.from({ length: 8 }, (_, i) => `oa-${i}`),
    ...Array.from({ length: 8 }, (_, i) => `ob-${i}`),
  ];
  assert.deepEqual(order, expected);
  assert.equal(
    maxConcurrent((e) => /^o[ab]-/.test(e.key)),
    1,
  );
  assert.ok(
    new Set(
      eventsOf('start')
        .filter((e) => /^o[ab]-/.test(e.key))
        .map((e) => e.pid),
    ).size >= 2,
  );
});

test('delayed work never runs early; modDelayedWork re-arms a pending item and queues an idle one', async () => {
  const [runner, producer] = [
    ...(await start({ queue: 'delayed', nodeMaxActive: 2 })),
    ...(await start({ queue: 'delayed', nodeMaxActive: 0 }, 1, 1)),
  ];
  const t0 = Date.now();
  assert.equal(await producer!.call('queue', { key: 'late', delayed: true, delay: 400 }), 1);
  await waitFor(() => eventsOf('start', 'late').length === 1, 20_000, 'delayed start');
  assert.ok(eventsOf('start', 'late')[0]!.t - t0 >= 400, 'not before its delay');
  // idle: false, queued; then re-armed earlier: true; runs once, at the new expiry
  assert.equal(await producer!.call('mod', { key: 'deb', delay: 60_000 }), false);
  const t1 = Date.now();
  assert.equal(await producer!.call('mod', { key: 'deb', delay: 300 }), true);
  await waitFor(() => eventsOf('end', 'deb').length === 1, 20_000, 're-armed run');
  assert.ok(eventsOf('start', 'deb')[0]!.t - t1 >= 300);
  await runner!.call('sleep', { ms: 300 });
  assert.equal(eventsOf('start', 'deb').length, 1);
});

test('flushWorkqueue, drainWorkqueue and cancelWorkSync across nodes', async () => {
  const [runner, producer] = [
    ...(await start({ queue: 'flush', nodeMaxActive: 4 })),
    ...(await start({ queue: 'flush', nodeMaxActive: 0 }, 1, 1)),
  ];
  await producer!.call('queueSeq', { prefix: 'f', n: 8, ms: 60 });
  const flushed = await producer!.call<number>('flush');
  const ends = eventsOf('end').filter((e) => e.key.startsWith('f-'));
  assert.equal(ends.length, 8, 'every item queued before the flush ended');
  assert.ok(ends.every((e) => e.t <= flushed));
  await producer!.call('queueSeq', { prefix: 'g', n: 6, ms: 30 });
  await producer!.call('drain');
  assert.equal(eventsOf('end').filter((e) => e.key.startsWith('g-')).length, 6);
  // cancelWorkSync waits for the instance running on the other node, whose work.signal aborts
  await producer!.call('queue', { key: 'long', data: { ms: 30_000 } });
  await waitFor(() => eventsOf('start', 'long').length === 1, 20_000, 'long start');
  const t = Date.now();
  assert.equal(await producer!.call('cancelSync', { key: 'long' }), false);
  assert.equal(eventsOf('aborted', 'long').length, 1);
  assert.equal(eventsOf('end', 'long').length, 1);
  assert.ok(Date.now() - t < 20_000);
  assert.equal(eventsOf('start', 'long')[0]!.pid, runner!.pid);
});

test('flushWorkqueue waits for an item queued just before it, in the same millisecond too', async () => {
  // The flush's mark time goes back to the database as text, to the microsecond: a JS Date keeps milliseconds,
  // and an item queued earlier in the same millisecond would look queued after a truncated mark. Each round has
  // the queue to itself: the item, then the flush (which must wait: nothing runs the queue), then a cancel.
  const wq = allocWorkqueue('flushms', WQ_UNBOUND, 16, { backend, nodeMaxActive: 0 });
  const run = workFunc(jobs, 'run');
  for (let i = 0; i < 12; i++) {
    const work = new Work(run, {}, { key: `fm-${i}`, workqueue: wq });
    assert.equal(await queueWork(wq, work), true);
    const flush = flushWorkqueue(wq);
    const first = await Promise.race([flush.then(() => 'returned'), sleep(20).then(() => 'waiting')]);
    assert.equal(first, 'waiting', `flush ${i} waits: nothing runs the queue`);
    assert.equal(await cancelWorkSync(work), true);
    await flush; // nothing is pending any more
  }
  assert.equal(eventsOf('start').filter((e) => e.key.startsWith('fm-')).length, 0);
});

test('drainWorkqueue is cluster-wide: other nodes are refused, chained work on any node is not', async () => {
  const [runner, drainer, outsider] = [
    ...(await start({ queue: 'drain2', nodeMaxActive: 2 })),
    ...(await start({ queue: 'drain2', nodeMaxActive: 0 }, 2, 1)),
  ];
  // a handler on the runner re-queues itself 3 times: chained work, which the drain lets in and waits for
  await outsider!.call('queue', { key: 'chain', fn: 'requeue', data: { left: 3, ms: 120, queue: 'drain2' } });
  await waitFor(() => eventsOf('start', 'chain').length === 1, 20_000, 'chain starts');
  const drained = drainer!.call<number>('drain');
  // The outsider is refused as soon as the drainer holds its lock; a queueing before that is one more item the
  // drain waits for.
  let refused: unknown;
  const early: string[] = [];
  for (let i = 0; i < 200 && refused === undefined; i++) {
    const key = `early-${i}`;
    const result = await outsider!.call('queue', { key, data: { ms: 1 } }).then(
      () => early.push(key),
      (e: unknown) => e,
    );
    if (typeof result !== 'number') refused = result;
  }
  assert.equal((refused as { code?: string }).code, 'ERR_WQ_DRAINING', String(refused));
  const at = await drained;
  // The nodes' reports come over their own channel, maybe after the drain's answer: wait for them, then compare
  // the times the runner took (every end at or before the drain resolved).
  await waitFor(
    () => eventsOf('end', 'chain').length >= 4 && early.every((key) => eventsOf('end', key).length > 0),
    20_000,
    `the runs report their ends (errors: ${JSON.stringify(eventsOf('error'))})`,
  );
  const ends = eventsOf('end', 'chain');
  assert.equal(ends.length, 4, 'the drain waited for the chained runs');
  assert.ok(ends.every((e) => e.t <= at));
  assert.ok(eventsOf('requeued', 'chain').every((e) => e.queued === true));
  for (const key of early) assert.ok(eventsOf('end', key)[0]!.t <= at, `the drain waited for ${key}`);
  const refusedKey = `early-${early.length}`;
  assert.equal(eventsOf('start', refusedKey).length, 0, 'the refused queueing queued nothing');
  assert.equal(await outsider!.call('queue', { key: refusedKey, data: { ms: 1 } }), 1, 'accepted after the drain');
  await runner!.call('flush');
});

test('disableWorkSync, enableWork and enableAndQueueWork act on the cluster item', async () => {
  const [, producer] = [
    ...(await start({ queue: 'disable', nodeMaxActive: 2 })),
    ...(await start({ queue: 'disable', nodeMaxActive: 0 }, 1, 1)),
  ];
  await producer!.call('queue', { key: 'd', data: { ms: 30_000 } });
  await waitFor(() => eventsOf('start', 'd').length === 1, 20_000, 'd starts');
  assert.equal(await producer!.call('disableSync', { key: 'd' }), false, 'nothing was pending');
  assert.equal(eventsOf('aborted', 'd').length, 1, 'the running instance was told');
  assert.equal(eventsOf('end', 'd').length, 1, 'and had ended when disableWorkSync resolved');
  assert.equal(await producer!.call('queue', { key: 'd' }), 0, 'disabled: queueing does nothing');
  assert.equal(await producer!.call('disable', { key: 'd' }), false, 'two deep');
  assert.equal(await producer!.call('enable', { key: 'd' }), false, 'still one deep');
  assert.equal(await producer!.call('enableAndQueue', { key: 'd', data: { ms: 1 } }), true);
  await waitFor(() => eventsOf('end', 'd').length === 2, 20_000, 'd runs again');
  assert.equal(eventsOf('start', 'd')[1]!.data.ms, 1);
  await assert.rejects(
    producer!.call('enable', { key: 'd' }),
    (e: { code?: string }) => e.code === 'ERR_WQ_INVALID_ARG',
  );
});

test('workqueueSetMaxActive changes max_active for the whole cluster', async () => {
  const ns = await start({ queue: 'setmax', maxActive: 1, nodeMaxActive: 4 }, 3);
  await ns[0]!.call('queueSeq', { prefix: 'sm1', n: 4, ms: 40 });
  await ns[1]!.call('flush');
  assert.equal(
    maxConcurrent((e) => e.key.startsWith('sm1-')),
    1,
  );
  assert.equal(await ns[2]!.call('setMaxActive', { maxActive: 3 }), 3);
  assert.equal((await backend.queueStats()).find((q) => q.name === 'setmax')?.maxActive, 3);
  await ns[0]!.call('queueSeq', { prefix: 'sm3', n: 12, ms: 60 });
  await ns[1]!.call('flush');
  const most = maxConcurrent((e) => e.key.startsWith('sm3-'));
  assert.ok(most >= 2 && most <= 3, `${most} ran at once`);
});

test('WQ_FREEZABLE: freezing a node waits for its running item and stops its claims; thawing resumes', async () => {
  const [runner, producer] = [
    ...(await start({ queue: 'freeze', freezable: true, nodeMaxActive: 2 })),
    ...(await start({ queue: 'freeze', nodeMaxActive: 0 }, 1, 1)),
  ];
  await producer!.call('queue', { key: 'fz-long', data: { ms: 200 } });
  await waitFor(() => eventsOf('start', 'fz-long').length === 1, 20_000, 'fz-long starts');
  const frozenAt = await runner!.call<number>('freeze');
  assert.ok(eventsOf('end', 'fz-long')[0]!.t <= frozenAt, 'freezeWorkqueues waited for the running item');
  await producer!.call('queueSeq', { prefix: 'fz', n: 3, ms: 1 });
  await runner!.call('sleep', { ms: 400 }); // several claim chances (NOTIFY and the 500 ms poll) pass unused
  assert.equal(eventsOf('start').filter((e) => e.key.startsWith('fz-') && e.key !== 'fz-long').length, 0);
  assert.equal((await backend.queueStats()).find((q) => q.name === 'freeze')?.pending, 3);
  await runner!.call('thaw');
  await waitFor(() => eventsOf('end').filter((e) => /^fz-\d$/.test(e.key)).length === 3, 20_000, 'thawed runs');
});

test('WQ_FREEZABLE: a freezing node hands its claimed-ahead backlog back; another node runs it meanwhile', async () => {
  const [runner, producer] = [
    ...(await start({ queue: 'fzback', freezable: true, maxActive: 64, nodeMaxActive: 1 })),
    ...(await start({ queue: 'fzback', nodeMaxActive: 0 }, 1, 1)),
  ];
  // A burst of quick items gives the runner a rate to claim ahead by; the long item then holds its only slot
  // while the next batch is claimed into its backlog.
  // (the backlog is sized to what ran in the last 200 ms, so the burst lasts longer than that).
  await producer!.call('queueBatches', { prefix: 'fzb-w', n: 200, batch: 200, parallel: 1 });
  await producer!.call('queue', { key: 'fzb-long', data: { ms: 600 } });
  await producer!.call('queueBatches', { prefix: 'fzb-b', n: 8, batch: 8, parallel: 1 });
  await waitFor(() => eventsOf('start', 'fzb-long').length === 1, 20_000, 'fzb-long starts');
  const started = eventsOf('start').filter((e) => e.key.startsWith('fzb-') && e.pid === runner!.pid).length;
  let claimed = 0;
  for (let i = 0; i < 10 && claimed <= started; i++) {
    ({ claimed } = await runner!.call<{ claimed: number }>('stats'));
    if (claimed <= started) await runner!.call('sleep', { ms: 40 });
  }
  assert.ok(claimed > started, `the runner holds a backlog (claimed ${claimed}, started ${started})`);
  const freezeSent = Date.now();
  const frozenAt = await runner!.call<number>('freeze');
  assert.ok(eventsOf('end', 'fzb-long')[0]!.t <= frozenAt, 'freezeWorkqueues waited for the running item');
  // The handed-back items are pending again: a node attached now runs them while the runner stays frozen.
  const [rescuer] = await start({ queue: 'fzback', nodeMaxActive: 2 }, 1, 2);
  const ended = () => eventsOf('end').filter((e) => e.key.startsWith('fzb-'));
  await waitFor(() => ended().length === 209, 20_000, 'the backlog runs elsewhere');
  const late = eventsOf('start').filter((e) => e.key.startsWith('fzb-') && e.pid === runner!.pid && e.t > freezeSent);
  assert.deepEqual(late, [], 'the frozen runner started nothing');
  const rescued = ended().filter((e) => e.pid === rescuer!.pid).length;
  assert.ok(rescued >= claimed - started, `its backlog ran elsewhere (${rescued} of ${claimed - started})`);
  await runner!.call('thaw');
});

test('queueWork(..., { tx }): the item exists iff the transaction commits', async () => {
  const wq = allocWorkqueue('outbox', WQ_UNBOUND, 4, { backend, nodeMaxActive: 0 });
  const client = new pg.Client(server.url);
  await client.connect();
  try {
    await client.query('BEGIN');
    assert.equal(await queueWork(wq, new Work(workFunc(jobs, 'run'), {}, { key: 'rolled' }), { tx: client }), true);
    await client.query('ROLLBACK');
    assert.equal(await backend.itemRecord('outbox', 'rolled'), null);
    await client.query('BEGIN');
    assert.equal(await queueWork(wq, new Work(workFunc(jobs, 'run'), {}, { key: 'kept' }), { tx: client }), true);
    assert.equal(await backend.itemRecord('outbox', 'kept'), null, 'invisible before the commit');
    await client.query('COMMIT');
    assert.equal((await backend.itemRecord('outbox', 'kept'))?.pending, true);
    // wqMonitor() shows the shared workqueue with the cluster's figures
    await (wq as PgSharedWorkqueue).refreshStats();
    const row = wqMonitor().find((r) => r.name === 'outbox');
    assert.equal(row?.pending, 1);
    assert.equal(row?.infl, 0);
  } finally {
    await client.end();
  }
});

test('failures are recorded on the item and reported; retried only with the retry attribute', async () => {
  const [once] = await start({ queue: 'fail1', nodeMaxActive: 2 });
  await once!.call('queue', { key: 'bad', data: { fail: true } });
  await once!.call('flush');
  const rec = await backend.itemRecord('fail1', 'bad');
  assert.equal(rec?.runs, 1);
  assert.equal(rec?.failures, 1);
  assert.match(rec?.lastError ?? '', /planned failure of bad/);
  assert.equal(eventsOf('error', 'bad').length, 1);
  const [retrying] = await start({ queue: 'fail3', nodeMaxActive: 2, retry: { attempts: 3, delayMs: 50 } }, 1, 1);
  await retrying!.call('queue', { key: 'flaky', data: { fail: true } });
  await waitFor(() => eventsOf('error', 'flaky').length === 3, 20_000, 'three attempts');
  // the third failure is recorded by the node's next round trip, after the error event: wait for the record
  const rec3 = await pollUntil(
    () => backend.itemRecord('fail3', 'flaky'),
    (record) => (record?.failures ?? 0) >= 3,
    20_000,
    'the third failure recorded',
  );
  assert.equal(rec3?.runs, 3);
  assert.equal(rec3?.failures, 3);
  assert.equal(rec3?.pending, false, 'no fourth attempt');
  assert.equal(eventsOf('start', 'flaky').length, 3);
});

test('keyless items leave no row once run; a handle queued again gets one; keyed and failed items keep theirs', async () => {
  await start({ queue: 'keyless', maxActive: 64, nodeMaxActive: 16 }, 1, 2);
  const wq = allocWorkqueue('keyless', WQ_UNBOUND, 64, { backend, nodeMaxActive: 0 });
  const rows = async (): Promise<number> =>
    (await backend.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM cmwq.items WHERE queue = 'keyless'"))
      .rows[0]!.n;
  const run = workFunc(jobs, 'run');
  for (let round = 0; round < 2; round++) {
    const works = Array.from({ length: 150 }, (_, i) => new Work(run, { tag: `k${round}-${i}` }));
    assert.ok((await queueWorks(wq, works)).every(Boolean));
    await flushWorkqueue(wq);
    assert.equal(await rows(), 0, `round ${round}: every row went once its item ran`);
  }
  assert.equal(eventsOf('end').filter((e) => /^k\d-/.test(String(e.data?.tag))).length, 300);
  const again = new Work(run, { tag: 'again' });
  assert.equal(await queueWork(wq, again), true);
  await flushWorkqueue(wq);
  assert.equal(await rows(), 0);
  assert.equal(await flushWork(again), false, 'nothing left to flush');
  assert.equal(await queueWork(wq, again), true, 'the handle queues again: a fresh row');
  await flushWorkqueue(wq);
  assert.equal(eventsOf('end', again.key).length, 2);
  assert.equal(await queueWork(wq, new Work(run, {}, { key: 'named' })), true);
  const failing = new Work(run, { fail: true });
  assert.equal(await queueWork(wq, failing), true);
  await flushWorkqueue(wq);
  assert.equal(await rows(), 2, 'the keyed item and the failed one (its failure record) keep their rows');
  assert.equal((await backend.itemRecord('keyless', failing.key!))?.failures, 1);
});

test('bad input throws a WorkqueueError where it is made and queues nothing', async () => {
  const wq = allocWorkqueue('badin', WQ_UNBOUND, 4, { backend, nodeMaxActive: 0 });
  const code = (code: string) => (e: unknown) => e instanceof WorkqueueError && e.code === code;
  assert.throws(() => queueWork(wq, new Work(() => {}, {}, { key: 'fn' })), code('ERR_WQ_NOT_PORTABLE'));
  const run = workFunc(jobs, 'run');
  assert.throws(() => queueWork(wq, new Work(run, { f: () => 1 }, { key: 'd1' })), code('ERR_WQ_DATA_CLONE'));
  assert.throws(() => queueWork(wq, new Work(run, { n: 1n }, { key: 'd2' })), code('ERR_WQ_DATA_CLONE'));
  assert.throws(() => queueWork(wq, new Work(run, { m: new Map() }, { key: 'd3' })), code('ERR_WQ_DATA_CLONE'));
  assert.throws(() => queueWork(wq, new Work(run, { x: Number.NaN }, { key: 'd4' })), code('ERR_WQ_DATA_CLONE'));
  assert.throws(() => new Work(run, {}, { key: '' }), code('ERR_WQ_INVALID_ARG'));
  assert.throws(() => allocWorkqueue('x', 0, 1, { backend }), code('ERR_WQ_INVALID_ARG'));
  assert.throws(() => allocWorkqueue('x', WQ_UNBOUND, 1, { backend, leaseMs: -1 }), code('ERR_WQ_INVALID_ARG'));
  assert.throws(() => allocWorkqueue('x', WQ_UNBOUND, 1, { backend, bogus: 1 } as never), code('ERR_WQ_INVALID_ARG'));
  await assert.rejects(queueWork(wq, new DelayedWork(run, {}, { key: 'tx' }), { tx: {} }), code('ERR_WQ_INVALID_ARG'));
  // calls with no cluster-wide meaning say so
  const unsupported = code('ERR_WQ_SHARED_UNSUPPORTED');
  assert.throws(() => queueFunc(wq as never, () => {}), unsupported);
  assert.throws(() => applyWorkqueueAttrs(wq as never, {}), unsupported);
  assert.throws(() => workqueueCongested(-1, wq as never), unsupported);
  assert.throws(() => workOnWorkqueue(wq as never, run, {}), unsupported);
  assert.throws(() => workqueueSetMaxActive(wq, -1), code('ERR_WQ_INVALID_ARG'));
  await flushWorkqueue(wq); // waits for the queue's row, written in the background since allocWorkqueue
  const { items } = (await backend.queueStats()).find((q) => q.name === 'badin')!;
  assert.equal(items, 0, 'nothing queued');
});

test("import 'cmwq' loads no database client; 'cmwq/postgres' loads pg", () => {
  const script = `
    import Module from 'node:module';
    const pgModules = () => Object.keys(Module._cache).filter((k) => k.includes('/node_modules/pg')).length;
    await import('cmwq');
    const core = pgModules();
    await import('cmwq/postgres');
    console.log(JSON.stringify([core, pgModules() > 0]));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: fileURLToPath(new URL('../', import.meta.url)),
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), [0, true]);
});
