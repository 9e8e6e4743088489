/**
 * Shared workqueues when things break: a node SIGKILLed mid-item (its item runs again elsewhere), a node frozen
 * past its lease (its late completion is refused by the fencing token), and the database server restarted
 * mid-run (calls during the outage fail with ERR_WQ_BACKEND, nothing acknowledged is lost, nodes reconnect), an
 * outage longer than the lease (a running handler's signal aborts), every node killed and the server restarted (a
 * node started afterwards runs every item), node clocks skewed both ways (delayed work keeps the database's), a
 * node's minActive floor; and
 * the tools that watch a cluster from the database alone (`cmwq top --backend`, `cmwq web --backend`); and a
 * database of the previous schema version migrated with leases in flight.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import pg from 'pg';
import { allocWorkqueue, queueWork, Work, WorkqueueError, WQ_UNBOUND, workFunc } from 'cmwq';
import { postgresBackend, type PostgresBackend } from 'cmwq/postgres';
import { migrate } from '../src/backends/postgres/schema.js';
import { runNode, startServing } from './helpers.js';
import { startPostgres, type TestPostgres } from './pg-server.js';
import { eventsOf, onQueue, pollUntil, startNode, stopNodes, type TestNode, waitFor } from './shared-nodes.js';

let server: TestPostgres;
let backend: PostgresBackend;
const nodes: TestNode[] = [];
const jobs = new URL('./fixtures/shared/jobs.js', import.meta.url);
const cli = fileURLToPath(new URL('../src/cli/cli.js', import.meta.url));

/** Runs `cmwq <args>` and resolves with its stdout once it exits 0 (what it printed, both streams, otherwise). */
async function cliOutput(args: string[], timeoutMs: number): Promise<string> {
  const run = await runNode([cli, ...args], { timeoutMs });
  assert.equal(run.code, 0, `cmwq ${args[0]} exited ${run.code ?? run.signal}:\n${run.stdout}${run.stderr}`);
  return run.stdout;
}

before(async () => {
  server = await startPostgres();
  backend = await postgresBackend({ connectionString: server.url, pollMs: 200 });
});
after(async () => {
  await stopNodes(nodes);
  await backend?.close();
  await server?.stop();
});

async function node(queue: string, init: Record<string, unknown> = {}, clockSkewMs?: number): Promise<TestNode> {
  const n = await startNode({ url: server.url, queue, leaseMs: 1000, pollMs: 200, ...init }, { clockSkewMs });
  nodes.push(n);
  return onQueue(n, queue);
}

test('SIGKILL a node mid-item: its item and the ones it had claimed run again on another node', async () => {
  const a = await node('kill', { nodeMaxActive: 4 });
  await a.call('queueSeq', { prefix: 'v', n: 4, ms: 60_000 });
  await waitFor(() => eventsOf('start').filter((e) => e.key.startsWith('v-')).length === 4, 20_000, 'a runs 4');
  await a.kill('SIGKILL');
  const b = await node('kill', { nodeMaxActive: 4 });
  const t = Date.now();
  await waitFor(
    () =>
      new Set(
        eventsOf('start')
          .filter((e) => e.key.startsWith('v-') && e.pid === b.pid)
          .map((e) => e.key),
      ).size === 4,
    20_000,
    'b runs the 4 again',
  );
  assert.ok(Date.now() - t < 15_000);
  await b.call('cancelSync', { key: 'v-0' });
});

test('a node frozen past its lease: the item runs elsewhere and the late completion is refused', async () => {
  const a = await node('fence', { nodeMaxActive: 1 });
  const b = await node('fence', { nodeMaxActive: 0 });
  await b.call('queue', { key: 'z', data: { ms: 300 } });
  await waitFor(() => eventsOf('start', 'z').length === 1, 20_000, 'a starts z');
  a.child.kill('SIGSTOP');
  const c = await node('fence', { nodeMaxActive: 1 });
  await waitFor(() => eventsOf('end', 'z').some((e) => e.pid === c.pid), 20_000, 'c runs z after the lease expired');
  a.child.kill('SIGCONT');
  await waitFor(() => eventsOf('end', 'z').some((e) => e.pid === a.pid), 20_000, 'a ends its stale instance');
  let stats: { refused: number; completed: number } = { refused: 0, completed: 0 };
  for (let i = 0; i < 100 && stats.refused === 0; i++) {
    stats = await a.call('stats');
    if (stats.refused === 0) await a.call('sleep', { ms: 50 });
  }
  assert.equal(stats.refused, 1, 'the dead lease completion was refused');
  assert.equal(stats.completed, 0);
  const rec = await backend.itemRecord('fence', 'z');
  assert.equal(rec?.runs, 1, 'only the live lease completed');
});

test('restart the database server mid-run: calls fail with ERR_WQ_BACKEND meanwhile, nothing is lost', async () => {
  const runner = await node('restart', { nodeMaxActive: 4 });
  const producer = await node('restart', { nodeMaxActive: 0 });
  const wq = allocWorkqueue('restart', WQ_UNBOUND, 8, { backend, nodeMaxActive: 0 });
  assert.equal(await producer.call('queueSeq', { prefix: 'r', n: 100, ms: 20 }), 100);
  let outageError: unknown;
  await server.restart(async () => {
    try {
      await queueWork(wq, new Work(workFunc(jobs, 'run'), {}, { key: 'during' }));
    } catch (error) {
      outageError = error;
    }
  });
  assert.ok(outageError instanceof WorkqueueError && outageError.code === 'ERR_WQ_BACKEND', String(outageError));
  assert.equal(await producer.call('queueSeq', { prefix: 's', n: 20, ms: 5 }), 20, 'queueing works again');
  await waitFor(
    () => {
      const ended = new Set(
        eventsOf('end')
          .filter((e) => /^[rs]-/.test(e.key))
          .map((e) => e.key),
      );
      return ended.size === 120;
    },
    30_000,
    'all 120 items ran',
  );
  const rows = await backend.queueStats();
  const row = rows.find((r) => r.name === 'restart')!;
  assert.equal(row.items, 120);
  assert.equal(await backend.itemRecord('restart', 'during'), null, 'the failed call queued nothing');
  await runner.call('flush');
});

test('a database outage longer than the lease: the running handler’s signal aborts, the node reconnects, nothing is lost', async () => {
  const runner = await node('outage', { nodeMaxActive: 2 });
  const producer = await node('outage', { nodeMaxActive: 0 });
  assert.equal(await producer.call('queue', { key: 'held', data: { ms: 10_000 } }), 1);
  await waitFor(() => eventsOf('start', 'held').length === 1, 20_000, 'the long item started');
  // Renewals fail while the server is down; past leaseMs (1 s here) the node gives the lease up and says so.
  await server.restart(() => waitFor(() => eventsOf('aborted', 'held').length === 1, 20_000, 'signal aborted'));
  assert.equal(eventsOf('start', 'held').length, 1, 'nothing ran it during the outage');
  // The node reconnects by itself and claims again.
  assert.equal(await producer.call('queue', { key: 'after' }), 1);
  await waitFor(() => eventsOf('end', 'after').length === 1, 30_000, 'a new item ran after the outage');
  // The aborted instance's completion counts if its lease was still the database's, else the item runs again
  // (at least once): either way it ends up run, neither pending nor running, and never lost.
  await pollUntil(
    () => backend.itemRecord('outage', 'held'),
    (record) => record !== null && !record.pending && !record.running && record.runs >= 1,
    40_000,
    'the held item to settle',
  );
  assert.ok(eventsOf('start', 'held').length <= 2);
  await runner.call('flush');
});

test('every node dies and the server restarts: a node started afterwards runs every queued item', async () => {
  const a = await node('alldie', { nodeMaxActive: 1 });
  const producer = await node('alldie', { nodeMaxActive: 0 });
  assert.equal(await producer.call('queue', { key: 'mid', data: { ms: 60_000 } }), 1);
  await waitFor(() => eventsOf('start', 'mid').length === 1, 20_000, 'the long item started');
  assert.equal(await producer.call('queueSeq', { prefix: 'dead', n: 5, ms: 0 }), 5);
  assert.equal(await producer.call('queue', { key: 'dead-late', delayed: true, delay: 300 }), 1);
  await Promise.all([a.kill('SIGKILL'), producer.kill('SIGKILL')]);
  await server.restart();
  const b = await node('alldie', { nodeMaxActive: 4 });
  const keys = ['dead-0', 'dead-1', 'dead-2', 'dead-3', 'dead-4', 'dead-late'];
  await waitFor(
    () => keys.every((k) => eventsOf('end', k).some((e) => e.pid === b.pid)),
    30_000,
    'the new node ran every item queued before the deaths',
  );
  // The mid-item one runs again once its dead holder's lease lapses (at least once).
  await waitFor(() => eventsOf('start', 'mid').some((e) => e.pid === b.pid), 30_000, 'the mid-item one ran again');
  for (const k of keys) assert.equal(eventsOf('start', k).length, 1, `${k} ran exactly once`);
  // Running, not pending: cancelWorkSync returns false once that instance has been told and has ended.
  assert.equal(await b.call('cancelSync', { key: 'mid' }), false);
  assert.ok(eventsOf('aborted', 'mid').some((e) => e.pid === b.pid));
});

test('node clocks off by ten minutes either way change nothing: delayed work runs on the database clock', async () => {
  const SKEW = 10 * 60_000;
  // The runner's clock is 10 min slow, the producer's 10 min fast; the runner's event times are put back right.
  await node('skew', { nodeMaxActive: 2 }, -SKEW);
  const producer = await node('skew', { nodeMaxActive: 0 }, SKEW);
  const startedAt = (key: string) => eventsOf('start', key).map((e) => e.t + SKEW);
  const t0 = Date.now();
  assert.equal(await producer.call('queue', { key: 'skew-late', delayed: true, delay: 400 }), 1);
  assert.equal(await producer.call('mod', { key: 'skew-deb', delay: 60_000 }), false);
  const t1 = Date.now();
  assert.equal(await producer.call('mod', { key: 'skew-deb', delay: 300 }), true, 're-armed, not queued again');
  await waitFor(() => eventsOf('end', 'skew-late').length === 1, 20_000, 'the delayed item ran');
  await waitFor(() => eventsOf('end', 'skew-deb').length === 1, 20_000, 'the re-armed item ran');
  const late = startedAt('skew-late')[0]! - t0;
  const deb = startedAt('skew-deb')[0]! - t1;
  assert.ok(late >= 400 && late < 15_000, `the delayed item started ${late} ms after queueing (400 ms delay)`);
  assert.ok(deb >= 300 && deb < 15_000, `the re-armed item started ${deb} ms after (300 ms delay)`);
  assert.equal(eventsOf('start', 'skew-deb').length, 1, 're-armed: one run');
  // The skews were in effect: each node's own clock read (an event's time, flush's return) is ~10 min off.
  assert.ok(eventsOf('start', 'skew-late')[0]!.t < Date.now() - SKEW / 2, 'the runner’s clock is slow');
  assert.ok((await producer.call<number>('flush')) > Date.now() + SKEW / 2, 'the producer’s clock is fast');
});

test('minActive is a node’s floor: it runs that many even while other nodes hold the whole max_active', async () => {
  const a = await node('floor', { maxActive: 2, nodeMaxActive: 4 });
  const producer = await node('floor', { maxActive: 2, nodeMaxActive: 0 });
  assert.equal(await producer.call('queueSeq', { prefix: 'floor', n: 2, ms: 60_000 }), 2);
  await waitFor(
    () => eventsOf('start', 'floor-0').length + eventsOf('start', 'floor-1').length === 2,
    20_000,
    'a runs 2',
  );
  assert.equal(await producer.call('queue', { key: 'floor-x' }), 1);
  // a holds max_active: the new item waits (a's claims see no room, and a's polls come every 200 ms).
  await a.call('sleep', { ms: 600 });
  assert.equal(eventsOf('start', 'floor-x').length, 0, 'max_active is reached: no node without a floor runs it');
  assert.equal((await backend.itemRecord('floor', 'floor-x'))?.pending, true);
  const b = await node('floor', { maxActive: 2, nodeMaxActive: 2, minActive: 1 });
  await waitFor(() => eventsOf('end', 'floor-x').length === 1, 20_000, 'the node with a floor ran it');
  assert.equal(eventsOf('start', 'floor-x')[0]!.pid, b.pid);
  await Promise.all(['floor-0', 'floor-1'].map((key) => producer.call('cancelSync', { key })));
});

test('cmwq demo --shared: three processes share the dedicated workqueue; the killed one’s item runs elsewhere', async () => {
  const out = await cliOutput(['demo', '--shared', '--url', server.url], 60_000);
  const summary = out.split('\n').filter((l) => l.includes(' summary '));
  const ran = summary.map((l) => /(task_\d+) ran on (node\d)/.exec(l)!.slice(1));
  assert.deepEqual(
    ran.map(([task]) => task),
    ['task_0', 'task_1', 'task_2', 'task_3', 'task_3', 'task_4', 'task_5', 'task_6', 'task_7'],
  );
  const killedLine = out.split('\n').find((l) => l.includes('SIGKILL'))!;
  const killedNode = /SIGKILL (node\d)/.exec(killedLine)![1];
  const task3 = ran.filter(([task]) => task === 'task_3').map(([, node]) => node);
  assert.equal(task3[0], killedNode);
  assert.notEqual(task3[1], killedNode, 'the killed item ran again on another process');
  assert.match(out, /flushWorkqueue: every item ran/);
});

test('cmwq top --backend <url> shows the cluster figures of every shared workqueue, attached to no process', async () => {
  const out = await cliOutput(['top', '--backend', server.url, '--json', '--count', '1'], 30_000);
  const sample = JSON.parse(out.trim()) as { queues: { name: string; items: number; runs: number; pending: number }[] };
  const restart = sample.queues.find((q) => q.name === 'restart');
  assert.ok(restart !== undefined, out);
  assert.equal(restart.items, 120);
  assert.ok(restart.runs >= 120);
  assert.equal(restart.pending, 0);
});

/** Polls the dashboard's /state.json until test() holds on it (at most ~20 s). */
async function stateUntil(url: string, test: (state: any) => boolean, what: string): Promise<any> {
  let state: any;
  for (let i = 0; i < 400; i++) {
    state = await (await fetch(`${url}state.json`)).json();
    if (test(state)) return state;
    await sleep(50);
  }
  assert.fail(`timed out waiting for ${what}: ${JSON.stringify(state)}`);
}

/** The first `hello` event of the dashboard's event stream, parsed. */
async function helloEvent(url: string): Promise<any> {
  const abort = new AbortController();
  const res = await fetch(`${url}events`, { signal: abort.signal });
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    for (;;) {
      const m = /event: hello\ndata: (.*)\n\n/.exec(text);
      if (m !== null) return JSON.parse(m[1]!);
      const { value, done } = await reader.read();
      assert.ok(!done, 'the stream ended before its hello event');
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    abort.abort();
  }
}

test('backend.clusterView() reads the figures and the running items from one snapshot: infl is the number listed', async () => {
  const a = await node('viewq', { nodeMaxActive: 4 });
  const queueing = a.call('queueSeq', { prefix: 'cv', n: 120, ms: 3 });
  let busyReads = 0;
  for (let i = 0; i < 400 && busyReads < 40; i++) {
    const { queues, running } = await backend.clusterView();
    const row = queues.find((q) => q.name === 'viewq');
    const listed = running.filter((r) => r.queue === 'viewq');
    if (row === undefined) continue; // the queue's row is made by the node's first queueing
    assert.equal(row.infl, listed.length, `one snapshot: ${JSON.stringify({ row, listed })}`);
    assert.ok(listed.every((r) => r.key.startsWith('cv-') && r.func === 'run' && r.node.includes(`:${a.pid}:`)));
    if (listed.length > 0) busyReads++;
  }
  assert.ok(busyReads > 0, 'some reads saw items running');
  assert.equal(await queueing, 120);
  await a.call('flush');
  const { queues, running } = await backend.clusterView(1);
  assert.deepEqual(
    [queues.find((q) => q.name === 'viewq')?.infl, running.filter((r) => r.queue === 'viewq').length],
    [0, 0],
  );
  assert.throws(
    () => backend.clusterView(0),
    (e: unknown) => e instanceof WorkqueueError && e.code === 'ERR_WQ_INVALID_ARG',
  );
});

test('cmwq web --backend <url> serves a cluster (state, event stream, /metrics), attached to no process', async () => {
  // the dashboard and the node start side by side (each is a process start)
  const serving = startServing([cli, 'web', '--backend', server.url, '--interval', '100']);
  serving.catch(() => undefined); // awaited below; a start failure is reported there
  const a = await node('webq', { nodeMaxActive: 2 }).catch(async (error: unknown) => {
    (await serving.catch(() => undefined))?.child.kill('SIGINT');
    throw error;
  });
  const web = await serving;
  const exited = new Promise<number | null>((resolve) => web.child.once('exit', (code) => resolve(code)));
  try {
    await a.call('queue', { key: 'w-long', data: { ms: 30_000 } });
    await a.call('queue', { key: 'w-wait', delayed: true, delay: 60_000 });
    const running = await stateUntil(
      web.url,
      (s) =>
        s.workers.some((w: any) => w.workqueue === 'webq') &&
        s.rows.some((r: any) => r.name === 'webq' && r.pending === 1),
      'a read after both queueings',
    );
    const row = running.rows.find((r: any) => r.name === 'webq');
    assert.deepEqual([row.infl, row.pending], [1, 1]);
    const worker = running.workers.find((w: any) => w.workqueue === 'webq');
    assert.equal(worker.state, 'running');
    assert.equal(worker.func, 'run');
    assert.ok(worker.name.includes(`:${a.pid}:`), `the node is named: ${worker.name}`);
    assert.ok(running.pools.some((p: any) => p.id === worker.pool && p.workers >= 1));
    const password = new URL(server.url).password;
    if (password !== '') assert.ok(!running.title.includes(password), 'the title hides the password');
    const hello = await helloEvent(web.url);
    assert.ok(hello.rows.some((r: any) => r.name === 'webq'));
    const families = parsePrometheusTextFormat(await (await fetch(`${web.url}metrics`)).text());
    const metric = (name: string) =>
      Number(families.find((f) => f.name === name)?.metrics.find((m) => m.labels?.workqueue === 'webq')?.value);
    assert.equal(metric('cmwq_workqueue_in_flight'), 1);
    assert.equal(metric('cmwq_workqueue_pending'), 1);
    // the item ends: its execution appears on the timeline, in the worker's lane
    await a.call('cancelSync', { key: 'w-long' });
    const ended = await stateUntil(
      web.url,
      (s) => s.execs.some((e: any) => e.workqueue === 'webq' && e.lane === worker.lane),
      'the execution',
    );
    assert.equal(ended.rows.find((r: any) => r.name === 'webq').infl, 0);
    await a.call('cancelSync', { key: 'w-wait', delayed: true });
  } finally {
    web.child.kill('SIGINT');
  }
  assert.equal(await exited, 0, web.stderr());
});

test('a database at schema version 4 with leases in flight migrates to 5 (twice at once) and those leases complete', async () => {
  const admin = new pg.Client(server.url);
  await admin.connect();
  await admin.query('DROP DATABASE IF EXISTS cmwq_v4 WITH (FORCE)');
  await admin.query('CREATE DATABASE cmwq_v4');
  const url = new URL(server.url);
  url.pathname = '/cmwq_v4';
  const pools = [new pg.Pool({ connectionString: url.href }), new pg.Pool({ connectionString: url.href })];
  const lost: unknown[] = [];
  for (const p of pools) p.on('error', (error) => lost.push(error));
  try {
    const [a, b] = pools as [pg.Pool, pg.Pool];
    assert.equal(await migrate(a, 4), 4);
    await a.query(`INSERT INTO cmwq.queues (name, max_active) VALUES ('up', 8)`);
    await a.query(
      `INSERT INTO cmwq.items (queue, key, func, export, pending, seq, keyless)
       SELECT 'up', 'k' || g, 'f', 'run', true, nextval('cmwq.queue_seq'), true FROM generate_series(1, 12) g`,
    );
    const round = async (done: { key: string; lease: string }[], free: number) =>
      (
        await a.query<{ kind: string; key: string | null; lease: string | null }>(
          `SELECT * FROM cmwq.complete_claim('up', 'n1', $1::text[], $2::bigint[], $3::text[], $4::text[],
             0, 1000, 60000, NULL, $5, 0, 0, 0, 30000)`,
          [done.map((d) => d.key), done.map((d) => d.lease), done.map(() => null), done.map(() => 'r'), free],
        )
      ).rows;
    // Version 4's claim leases 8 (max_active); they are in flight while two processes migrate at once.
    const claimed = (await round([], 10)).filter((r) => r.kind === 'c') as { key: string; lease: string }[];
    assert.equal(claimed.length, 8);
    assert.deepEqual(await Promise.all([migrate(a), migrate(b)]), [5, 5]);
    const { rows: versions } = await a.query<{ v: number }>('SELECT version AS v FROM cmwq.migrations ORDER BY 1');
    assert.deepEqual(
      versions.map((r) => r.v),
      [1, 2, 3, 4, 5],
    );
    // Version 5 accepts the completions of version 4's leases and claims the 4 left.
    const next = await round(claimed, 10);
    assert.equal(next.filter((r) => r.kind === 'a').length, 8);
    assert.equal(next.filter((r) => r.kind === 'c').length, 4);
    const { rows } = await a.query<{ n: number }>(`SELECT count(*)::int AS n FROM cmwq.items WHERE queue = 'up'`);
    assert.equal(rows[0]!.n, 4, 'the completed keyless rows are gone, the 4 claimed remain');
  } finally {
    await Promise.all(pools.map((p) => p.end()));
    await admin.query('DROP DATABASE IF EXISTS cmwq_v4 WITH (FORCE)');
    await admin.end();
  }
  // An idle pool client may still be cut by the forced drop; nothing else may have gone wrong on the pools.
  assert.ok(
    lost.every((e) => /terminating connection/.test(String(e))),
    String(lost),
  );
});
