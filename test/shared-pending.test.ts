import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startPostgres, type TestPostgres } from './pg-server.js';
import { events, eventsOf, startNode, stopNodes, type TestNode, waitFor } from './shared-nodes.js';

let server: TestPostgres;
const nodes: TestNode[] = [];
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await stopNodes(nodes);
  await server.stop();
});

test('3 processes queue one key 1,000 times each at once: exactly one true, and the item runs once', async () => {
  const init = { url: server.url, queue: 'pending1', maxActive: 4, nodeMaxActive: 0 };
  const producers = await Promise.all([startNode(init), startNode(init), startNode(init)]);
  nodes.push(...producers);
  const trues = await Promise.all(producers.map((p) => p.call<number>('queue', { key: 'k', n: 1000 })));
  assert.equal(
    trues.reduce((a, b) => a + b, 0),
    1,
  );
  const runner = await startNode({ ...init, nodeMaxActive: 4 });
  nodes.push(runner);
  await waitFor(() => eventsOf('end', 'k').length >= 1, 20_000, 'the run');
  await runner.call('flush');
  assert.equal(eventsOf('start', 'k').length, 1);
});
