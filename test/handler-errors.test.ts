/**
 * SPEC §3.16 and §5: a handler that throws or rejects is counted and reported, never silent, never fatal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import {
  allocWorkqueue,
  applyWorkqueueAttrs,
  cancelWorkSync,
  destroyWorkqueue,
  drainWorkqueue,
  flushWork,
  flushWorkqueue,
  queueWork,
  Work,
  wqMonitor,
  WQ_UNBOUND,
  type WorkEvent,
  type Workqueue,
} from '../src/index.js';
import { runNode, settle, turn, withWarnings } from './helpers.js';

function failedOf(wq: Workqueue): number {
  const row = wqMonitor().find((r) => r.name === wq.name);
  assert.ok(row);
  return row.failed;
}

const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => unhandled.push(reason));

test('§3.16 a throwing handler goes to onError with the error and the work; the pool goes on', async () => {
  const reports: [unknown, Work][] = [];
  const wq = allocWorkqueue('he-sync', 0, 1, { onError: (error, work) => reports.push([error, work]) });
  const boom = new Error('boom');
  const bad = new Work(function badHandler() {
    throw boom;
  });
  let after = 0;
  const good = Array.from({ length: 3 }, () => new Work(() => void after++));
  queueWork(wq, bad);
  for (const g of good) queueWork(wq, g);
  await flushWorkqueue(wq);
  assert.equal(after, 3, 'the items after the failure ran (and max_active 1 was released)');
  assert.equal(reports.length, 1);
  assert.equal(reports[0][0], boom);
  assert.equal(reports[0][1], bad);
  assert.equal(failedOf(wq), 1);
  assert.deepEqual(unhandled, []);
  await destroyWorkqueue(wq);
});

test('§3.16 a rejecting async handler is reported, counted, and flush and cancel waits still resolve', async () => {
  const reports: unknown[] = [];
  const wq = allocWorkqueue('he-async', WQ_UNBOUND, 0, { onError: (error) => reports.push(error) });
  const rejecting = new Work(async function rejectingHandler() {
    await turn();
    throw new RangeError('late');
  });
  queueWork(wq, rejecting);
  assert.equal(await flushWork(rejecting), true);
  queueWork(wq, rejecting);
  await settle(1);
  assert.equal(await cancelWorkSync(rejecting), false, 'the wait for the failing run resolves');
  queueWork(wq, rejecting);
  await flushWorkqueue(wq);
  queueWork(wq, rejecting);
  await drainWorkqueue(wq);
  assert.equal(reports.length, 4);
  assert.ok(reports.every((e) => e instanceof RangeError && e.message === 'late'));
  assert.equal(failedOf(wq), 4);
  assert.deepEqual(unhandled, []);
  await destroyWorkqueue(wq);
});

test('§3.16 §5 without onError a failure becomes a CmwqWarning naming the workqueue, the function and the error', async () => {
  await withWarnings(async (warnings) => {
    const wq = allocWorkqueue('he-warn');
    queueWork(
      wq,
      new Work(function explodingHandler() {
        throw new Error('kaboom-123');
      }),
    );
    queueWork(
      wq,
      new Work(async function rejectingHandler() {
        throw new TypeError('async-456');
      }),
    );
    await flushWorkqueue(wq);
    await settle(3);
    const ours = warnings.filter((w) => w.name === 'CmwqWarning' && w.message.includes('he-warn'));
    assert.equal(ours.length, 2, warnings.map((w) => w.message).join('\n'));
    assert.match(ours[0].message, /explodingHandler/);
    assert.match(ours[0].message, /kaboom-123/);
    assert.match(ours[1].message, /rejectingHandler/);
    assert.match(ours[1].message, /async-456/);
    assert.equal(failedOf(wq), 2);
    await destroyWorkqueue(wq);
  });
});

test('§3.16 an onError that throws falls back to a warning and breaks nothing', async () => {
  await withWarnings(async (warnings) => {
    const wq = allocWorkqueue('he-onerror-throws', 0, 0, {
      onError: () => {
        throw new Error('onError itself failed');
      },
    });
    let ran = 0;
    queueWork(
      wq,
      new Work(function failing() {
        throw new Error('first failure');
      }),
    );
    queueWork(wq, new Work(() => void ran++));
    await flushWorkqueue(wq);
    await settle(3);
    assert.equal(ran, 1);
    assert.ok(warnings.some((w) => w.name === 'CmwqWarning' && w.message.includes('he-onerror-throws')));
    assert.equal(failedOf(wq), 1);
    await destroyWorkqueue(wq);
  });
});

test('§3.16 thrown non-Error values (string, number, undefined, null, symbol, plain object) are reported and counted', async () => {
  const reports: unknown[] = [];
  const wq = allocWorkqueue('he-values', 0, 0, { onError: (error) => reports.push(error) });
  const sym = Symbol('s');
  const obj = { reason: 'object' };
  const values: unknown[] = ['a string', 42, undefined, null, sym, obj];
  for (const v of values) {
    queueWork(
      wq,
      new Work(() => {
        throw v;
      }),
    );
    queueWork(wq, new Work(() => Promise.reject(v)));
  }
  await flushWorkqueue(wq);
  assert.equal(reports.length, values.length * 2);
  // The synchronous failures are reported as they happen, the rejections when they settle (after the run).
  assert.deepEqual(reports, [...values, ...values]);
  assert.equal(failedOf(wq), values.length * 2);
  assert.deepEqual(unhandled, []);
  await destroyWorkqueue(wq);
});

test('§3.16 §5 failures are published on cmwq:workqueue_execute_end with the error', async () => {
  const wq = allocWorkqueue('he-trace', 0, 0, { onError: () => {} });
  const ends: WorkEvent[] = [];
  const onEnd = (message: unknown) => {
    const e = message as WorkEvent;
    if (e.workqueue === 'he-trace') ends.push(e);
  };
  diagnosticsChannel.subscribe('cmwq:workqueue_execute_end', onEnd);
  try {
    const err = new Error('traced');
    const bad = new Work(() => {
      throw err;
    });
    const good = new Work(() => {});
    queueWork(wq, bad);
    queueWork(wq, good);
    await flushWorkqueue(wq);
    assert.equal(ends.length, 2);
    assert.equal(ends[0].work, bad);
    assert.equal(ends[0].error, err);
    assert.equal(ends[1].work, good);
    assert.equal('error' in ends[1] && ends[1].error !== undefined, false, 'no error on a successful end');
  } finally {
    diagnosticsChannel.unsubscribe('cmwq:workqueue_execute_end', onEnd);
  }
  await destroyWorkqueue(wq);
});

test('§3.16 onError can be set later with applyWorkqueueAttrs', async () => {
  const wq = allocWorkqueue('he-apply');
  const reports: unknown[] = [];
  applyWorkqueueAttrs(wq, { onError: (e) => reports.push(e) });
  queueWork(
    wq,
    new Work(() => {
      throw 'late-bound';
    }),
  );
  await flushWorkqueue(wq);
  assert.deepEqual(reports, ['late-bound']);
  await destroyWorkqueue(wq);
});

const indexUrl = new URL('../src/index.js', import.meta.url).href;

function edgeProgram(handlerBody: string): string {
  return `
    import { allocWorkqueue, queueWork, Work, flushWorkqueue, wqMonitor } from ${JSON.stringify(indexUrl)};
    const wq = allocWorkqueue('edge');
    const bad = new Work(function edgeHandler() { ${handlerBody} });
    let after = 0;
    queueWork(wq, bad);
    queueWork(wq, new Work(() => { after++; }));
    await flushWorkqueue(wq);
    console.log('flushed after=' + after + ' failed=' + wqMonitor().find((r) => r.name === 'edge').failed);
  `;
}

for (const [what, body] of [
  ['a null-prototype object (no onError: the warning text cannot String() it)', 'throw Object.create(null);'],
  ['a rejection with a null-prototype object', 'return Promise.reject(Object.create(null));'],
  ['an object whose toString throws', "throw { toString() { throw new Error('no string for you'); } };"],
  ['a thenable whose then() throws', "return { then() { throw new Error('bad thenable'); } };"],
  ['a thenable whose then getter throws', "return { get then() { throw new Error('bad getter'); } };"],
] as const) {
  test(`§3.16 a handler failing with ${what} is not fatal to the process`, async () => {
    const r = await runNode(['--input-type=module', '-e', edgeProgram(body)], { timeoutMs: 10_000 });
    assert.equal(
      r.code,
      0,
      `the process must survive, but it exited with code ${r.code}; stderr:\n${r.stderr.slice(0, 600)}`,
    );
    assert.match(r.stdout, /flushed after=1 failed=1/);
  });
}
