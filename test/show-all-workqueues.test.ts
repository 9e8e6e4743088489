/**
 * SPEC §6: showAllWorkqueues() in the kernel's text format, and wqDump().
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { threadId } from 'node:worker_threads';
import {
  allocWorkqueue,
  destroyWorkqueue,
  queueWork,
  showAllWorkqueues,
  Work,
  wqDump,
  WQ_MEM_RECLAIM,
} from '../src/index.js';
import { turn } from './helpers.js';

test('§6 showAllWorkqueues lists busy workqueues with in-flight, pending (N*func) and inactive items, then busy pools', async () => {
  assert.equal(showAllWorkqueues(), 'Showing busy workqueues and worker pools:\n', 'nothing busy at first');
  const wq = allocWorkqueue('snap', 0, 1);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const a = new Work(async function alpha() {
    await gate;
  });
  const bs = Array.from({ length: 3 }, () => new Work(function beta() {}));
  const c = new Work(function gamma() {});
  queueWork(wq, a);
  for (const b of bs) queueWork(wq, b);
  queueWork(wq, c);
  await turn();
  const pool = wqDump().workqueues.find((w) => w.name === 'snap')!.pwqs[0].pool;
  assert.equal(
    showAllWorkqueues(),
    [
      'Showing busy workqueues and worker pools:',
      'workqueue snap: flags=0x0',
      `  pwq ${pool}: cpus=0 nice=0 active=1 max_active=1`,
      `    in-flight: kworker/0:0(tid ${threadId}) sleeping:alpha`,
      '    inactive: 3*beta, gamma',
      `pool ${pool}: cpus=0 nice=0 workers=1`,
      '',
    ].join('\n'),
  );
  release();
  await destroyWorkqueue(wq);
  assert.equal(showAllWorkqueues(), 'Showing busy workqueues and worker pools:\n');
});

test('§6 wqDump maps workqueues to pools and names rescuers', async () => {
  const wq = allocWorkqueue('dump-reclaim', WQ_MEM_RECLAIM, 4);
  const w = new Work(function noop() {});
  queueWork(wq, w);
  await turn();
  const dump = wqDump();
  const entry = dump.workqueues.find((x) => x.name === 'dump-reclaim')!;
  assert.equal(entry.rescuer, 'kworker/R-dump-reclaim');
  assert.equal(entry.maxActive, 4);
  assert.equal(entry.pwqs.length, 1);
  const pool = dump.pools.find((p) => p.id === entry.pwqs[0].pool)!;
  assert.equal(pool.cpu, 0);
  assert.equal(pool.unbound, false);
  assert.deepEqual(pool.threadIds, [threadId]);
  assert.ok(
    pool.workerNames.every((n) => /^kworker\/0:\d+$/.test(n)),
    pool.workerNames.join(),
  );
  await destroyWorkqueue(wq);
});
