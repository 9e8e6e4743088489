/**
 * Volume on a shared workqueue: items queued by 2 producer processes (in batches, queueWorks) and run by 3 nodes:
 * each runs exactly once (every item's run count in the database is 1) and none is lost. The suite runs 20,000
 * items to stay in its time budget on a busy 2-core machine; CMWQ_SHARED_VOLUME_ITEMS=100000 runs the full count.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startPostgres, type TestPostgres } from './pg-server.js';
import { startNode, stopNodes, type TestNode } from './shared-nodes.js';

let server: TestPostgres;
const nodes: TestNode[] = [];
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await stopNodes(nodes);
  await server?.stop();
});

const ITEMS = Number(process.env.CMWQ_SHARED_VOLUME_ITEMS ?? 20_000);
const HALF = Math.floor(ITEMS / 2);

test(`${ITEMS} items by 2 producers run by 3 nodes: each exactly once, none lost`, async () => {
  const init = { url: server.url, queue: 'volume', maxActive: 256, leaseMs: 30_000 };
  const producers = await Promise.all([0, 1].map(() => startNode({ ...init, nodeMaxActive: 0 })));
  const runners = await Promise.all([0, 1, 2].map(() => startNode({ ...init, nodeMaxActive: 64 })));
  nodes.push(...producers, ...runners);
  const queued = await Promise.all(
    producers.map((p, i) =>
      p.call<number>('queueBatches', {
        queue: 'volume',
        prefix: `p${i}`,
        n: HALF,
        batch: 500,
        parallel: 4,
        fn: 'quiet',
      }),
    ),
  );
  assert.deepEqual(queued, [HALF, HALF]);
  await producers[0]!.call('flush', { queue: 'volume' });
  const [row] = await producers[0]!.call<{ items: number; once: number; pending: number }[]>('sql', {
    text: `SELECT count(*)::int AS items, count(*) FILTER (WHERE runs = 1)::int AS once,
             count(*) FILTER (WHERE pending OR lease IS NOT NULL)::int AS pending
           FROM cmwq.items WHERE queue = 'volume'`,
  });
  assert.deepEqual(row, { items: 2 * HALF, once: 2 * HALF, pending: 0 });
  const stats = await Promise.all(
    runners.map((r) => r.call<{ completed: number; refused: number }>('stats', { queue: 'volume' })),
  );
  assert.equal(
    stats.reduce((a, s) => a + s.completed, 0),
    2 * HALF,
  );
  assert.ok(stats.every((s) => s.refused === 0));
  assert.ok(stats.filter((s) => s.completed > 0).length >= 2, 'the nodes shared the load');
});
