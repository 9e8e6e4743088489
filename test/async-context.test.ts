/**
 * Async context is opt-in where it is not cheap: by default (Node 20) no handler runs inside AsyncLocalStorage, so
 * Node's process-wide promise hooks are never turned on; currentWork() is exact in the synchronous part anyway.
 * workqueueInit({ asyncContext: true }) makes it hold across awaits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allocWorkqueue,
  currentWork,
  destroyWorkqueue,
  flushWorkqueue,
  queueWork,
  Work,
  workqueueInit,
} from '../src/index.js';
import { hasAsyncContextFrame } from '../src/base/init.js';
import { workContext } from '../src/core/current.js';

let runs = 0;
const run = workContext.run.bind(workContext);
workContext.run = ((store: Work, fn: (...a: unknown[]) => unknown, ...args: unknown[]) => {
  runs++;
  return run(store, fn, ...args);
}) as typeof workContext.run;

test('by default async context is on only where the runtime has AsyncContextFrame; the synchronous part is always exact', async () => {
  const wq = allocWorkqueue('ctx-default');
  const seen: [Work | null, Work | null][] = [];
  const work = new Work(async function handler(w) {
    const before = currentWork();
    await new Promise((resolve) => setImmediate(resolve));
    seen.push([before, currentWork()]);
    assert.equal(w, before);
  });
  queueWork(wq, work);
  await flushWorkqueue(wq);
  assert.equal(seen[0][0], work, 'currentWork() in the synchronous part');
  if (hasAsyncContextFrame) {
    assert.equal(runs, 1, 'AsyncContextFrame: on by default');
    assert.equal(seen[0][1], work, 'and it holds across the await');
  } else {
    assert.equal(runs, 0, 'no AsyncLocalStorage.run(): the promise hooks stay off');
    assert.equal(seen[0][1], null, 'after an await it is not tracked');
  }
  await destroyWorkqueue(wq);
});

test('workqueueInit({ asyncContext: true }) makes currentWork() hold across awaits, handlers interleaved', async () => {
  workqueueInit({ asyncContext: true });
  try {
    const wq = allocWorkqueue('ctx-on');
    const mismatches: string[] = [];
    const works = Array.from(
      { length: 4 },
      (_, i) =>
        new Work(async function interleaved(w) {
          for (let k = 0; k < 3; k++) {
            await new Promise((resolve) => setTimeout(resolve, (i * 3 + k) % 4));
            if (currentWork() !== w) mismatches.push(`work ${i} step ${k}`);
          }
        }),
    );
    runs = 0;
    for (const w of works) queueWork(wq, w);
    await flushWorkqueue(wq);
    assert.equal(runs, 4, 'each async handler ran inside the store');
    assert.deepEqual(mismatches, []);
    await destroyWorkqueue(wq);
  } finally {
    workqueueInit({ asyncContext: hasAsyncContextFrame });
  }
});
