/**
 * Async context is opt-in where it is not cheap: by default (Node 20) no handler runs inside AsyncLocalStorage, so
 * Node's process-wide promise hooks are never turned on; currentWork() is exact in the synchronous part anyway.
 * workqueueInit({ asyncContext: true }) makes it hold across awaits. Where the runtime implements
 * AsyncLocalStorage with AsyncContextFrame (Node 24+, 22+ with a flag) it is on by default: the detection is
 * checked against the version and flags, and on Node 22+ in a child started with the flag that flips it.
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
import { config, hasAsyncContextFrame } from '../src/base/init.js';
import { asyncContextStore, workContext } from '../src/core/current.js';
import { runNode } from './helpers.js';

const INIT_URL = new URL('../src/base/init.js', import.meta.url).href;
const MAJOR = Number(process.versions.node.split('.')[0]);

/** What the Node flags say: AsyncContextFrame by default from 24, behind a flag on 22 and 23, absent before. */
function flagsSayFrame(flags: readonly string[]): boolean {
  if (MAJOR >= 24) return !flags.includes('--no-async-context-frame');
  return MAJOR >= 22 && flags.includes('--experimental-async-context-frame');
}

/** Counts AsyncLocalStorage.run() calls on cmwq's store from now on (making the store if it is not made yet). */
let runs = 0;
function countRuns(): void {
  const ctx = workContext();
  const run = ctx.run.bind(ctx);
  ctx.run = ((store: Work, fn: (...a: unknown[]) => unknown, ...args: unknown[]) => {
    runs++;
    return run(store, fn, ...args);
  }) as typeof ctx.run;
}

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
    assert.ok(asyncContextStore.store !== null, 'AsyncContextFrame: on by default');
    assert.equal(seen[0][1], work, 'and it holds across the await');
  } else {
    // Not even constructed: on Node 24 with --no-async-context-frame the constructor alone turns on promise hooks.
    assert.equal(asyncContextStore.store, null, 'no AsyncLocalStorage made, so no promise hooks');
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
    countRuns();
    for (const w of works) queueWork(wq, w);
    await flushWorkqueue(wq);
    assert.equal(runs, 4, 'each async handler ran inside the store');
    assert.deepEqual(mismatches, []);
    await destroyWorkqueue(wq);
  } finally {
    workqueueInit({ asyncContext: hasAsyncContextFrame });
  }
});

test('AsyncContextFrame is detected from the runtime (agreeing with its version and flags) and sets the default', async () => {
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  assert.equal(hasAsyncContextFrame, flagsSayFrame(flags), `Node ${process.version}, flags ${flags.join(' ')}`);
  assert.equal(config.asyncContext, hasAsyncContextFrame, 'the default follows the detection');
  if (MAJOR < 22) {
    assert.equal(hasAsyncContextFrame, false, 'Node 20 has no AsyncContextFrame: async context stays opt-in');
    return;
  }
  // Node 22+: a child with the flag that flips the implementation reports the other one.
  const flip = MAJOR >= 24 ? '--no-async-context-frame' : '--experimental-async-context-frame';
  const script = `import { config, hasAsyncContextFrame } from ${JSON.stringify(INIT_URL)};
    console.log(JSON.stringify([hasAsyncContextFrame, config.asyncContext]));`;
  const run = await runNode([flip, '--input-type=module', '-e', script], {
    timeoutMs: 30_000,
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  assert.equal(run.code, 0, run.stderr);
  const expected = flagsSayFrame([flip]);
  assert.deepEqual(JSON.parse(run.stdout), [expected, expected], `child with ${flip}`);
});
