/**
 * The program `npm run bench -- web` runs, once plainly and once under the dashboard's agent: N items through
 * one workqueue, queued in batches of BATCH (each batch after the previous drained a little: a steady stream,
 * as a server's requests would be), each handler busy for ITEM_US of wall time (about 100,000 items a second
 * on one loop) or, with `tiny`, doing nothing (the agent's cost per item at full speed). Writes
 * {"items":N,"ms":elapsed} to the file named by its third argument.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { allocWorkqueue, drainWorkqueue, queueWork, Work } from '../../src/index.js';

const mode = process.argv[2] ?? 'steady';
const N = Number(process.argv[3] ?? 500_000);
const ITEM_US = 8;
const BATCH = 1000;

const wq = allocWorkqueue('bench_web', 0, 0);
const busy = (): void => {
  const end = performance.now() + ITEM_US / 1000;
  while (performance.now() < end);
};
const tiny = (): void => {};
const handler = mode === 'tiny' ? tiny : busy;

const started = performance.now();
for (let queued = 0; queued < N; ) {
  for (let i = 0; i < BATCH && queued < N; i++, queued++) queueWork(wq, new Work(handler));
  await new Promise((resolve) => setImmediate(resolve));
}
await drainWorkqueue(wq);
const ms = performance.now() - started;
writeFileSync(process.argv[4], JSON.stringify({ items: N, ms }));
