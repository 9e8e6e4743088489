/**
 * SPEC §6: CPU hogs are counted, published on cmwq:workqueue_cpu_intensive, and warned about from the 4th
 * offence with the kernel's exponential back-off (4, 5, 7, 11, ... times).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import {
  allocWorkqueue,
  destroyWorkqueue,
  flushWork,
  queueWork,
  Work,
  workqueueInit,
  wqMonitor,
  type SharedWorkqueue,
} from '../src/index.js';
import { sharedByLocal } from '../src/core/shared.js';
import { captureWarnings, spin, turn } from './helpers.js';

workqueueInit({ cpuIntensiveThreshMs: 10 });

test('§6 each synchronous segment over the threshold counts; warnings at the 4th, 5th, 7th and 11th offence', async () => {
  const capture = captureWarnings();
  const hogWarnings = () =>
    capture.warnings.filter((w) => w.name === 'CmwqWarning' && w.message.includes('hogged CPU')).map((w) => w.message);
  const published: string[] = [];
  const onHog = (message: unknown) => published.push((message as { function: string }).function);
  diagnosticsChannel.subscribe('cmwq:workqueue_cpu_intensive', onHog);
  const wq = allocWorkqueue('hogs');
  try {
    // Let the watchdog thread start before the first offence.
    const warm = new Work(function warmUp() {});
    queueWork(wq, warm);
    await flushWork(warm);
    await new Promise((r) => setTimeout(r, 300));

    const hog = new Work(function hogger() {
      spin(60);
    });
    const fast = new Work(function quick() {});
    // The watchdog thread sees a segment from outside the loop: on a machine so busy that it is not scheduled for a
    // whole 60 ms segment, that segment goes uncounted. So hog until 12 offences were counted (a bounded number of
    // tries) and check what the count drives: the events, the column and the warnings' back-off.
    const counted = () => wqMonitor().find((r) => r.name === 'hogs')!.cpuIntensive;
    let hogs = 0;
    while (counted() < 12 && hogs < 40) {
      queueWork(wq, hog);
      queueWork(wq, fast);
      await flushWork(fast);
      await turn();
      hogs++;
    }
    assert.equal(counted(), 12, `12 offences counted within ${hogs} hogs`);
    assert.deepEqual(published, new Array(12).fill('hogger'), 'one event per counted offence, none for the fast one');
    const warnings = hogWarnings();
    assert.deepEqual(
      warnings.map((m) => Number(/ (\d+) times/.exec(m)![1])),
      [4, 5, 7, 11],
    );
    assert.match(warnings[0], /^workqueue: hogger hogged CPU for >10000us 4 times, consider switching to WQ_UNBOUND$/);
  } finally {
    await capture.stop();
    diagnosticsChannel.unsubscribe('cmwq:workqueue_cpu_intensive', onHog);
    await destroyWorkqueue(wq);
  }
});

test('a CPU hog on the local workqueue of a shared one gets the advice that fits a shared workqueue', async () => {
  const capture = captureWarnings();
  // What a shared workqueue's node does: its items run on a local workqueue registered in sharedByLocal.
  const wq = allocWorkqueue('shared-node');
  sharedByLocal.set(wq, { name: 'mail', stats: () => ({ pending: 0, infl: 0 }) } as unknown as SharedWorkqueue);
  try {
    const hog = new Work(function sharedHogger() {
      spin(30);
    });
    const fast = new Work(function quick() {});
    const counted = () => wqMonitor().find((r) => r.name === 'shared-node')!.cpuIntensive;
    for (let tries = 0; counted() < 4 && tries < 20; tries++) {
      queueWork(wq, hog);
      queueWork(wq, fast);
      await flushWork(fast);
      await turn();
    }
    const warning = capture.warnings.find((w) => w.message.includes('sharedHogger hogged CPU'));
    assert.ok(warning !== undefined, `a warning after ${counted()} offences`);
    assert.match(warning.message, /4 times on shared workqueue mail, which runs its items on this node's event loop/);
    assert.doesNotMatch(warning.message, /consider switching to WQ_UNBOUND/);
  } finally {
    await capture.stop();
    await destroyWorkqueue(wq);
  }
});
