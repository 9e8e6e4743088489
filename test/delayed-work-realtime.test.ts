/**
 * SPEC §3.7 on the real clock: never early, and promptly after the expiry. This file injects no clock; the bound
 * on lateness is far wider than the SPEC's 2 ms p99 because CI machines are busy (the benchmarks measure the
 * real figure).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { allocWorkqueue, DelayedWork, destroyWorkqueue, queueDelayedWork } from '../src/index.js';

test('§3.7 on the real clock a delayed work never runs before its delay and runs soon after it', async (t) => {
  const wq = allocWorkqueue('dw-real');
  // Whole and fractional delays: the timer base fires at exact due times, and the real clock must not fire early.
  const delays = Array.from({ length: 60 }, (_, i) => 2 + ((i * 7) % 29) + (i % 4) * 0.3);
  const late: number[] = [];
  let early = 0;
  await new Promise<void>((resolve) => {
    let left = delays.length;
    for (const delay of delays) {
      const armedAt = performance.now();
      const dw = new DelayedWork(() => {
        const elapsed = performance.now() - armedAt;
        if (elapsed < delay) early++;
        late.push(elapsed - delay);
        if (--left === 0) resolve();
      });
      assert.equal(queueDelayedWork(wq, dw, delay), true);
    }
  });
  late.sort((a, b) => a - b);
  const p50 = late[Math.floor(late.length * 0.5)];
  const p99 = late[Math.min(late.length - 1, Math.floor(late.length * 0.99))];
  t.diagnostic(`lateness p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms`);
  assert.equal(early, 0, 'no delayed work ran early');
  // A sanity bound with a wide margin for a busy CI machine; lateness itself is measured by npm run bench (target:
  // p99 <= 2 ms under light load).
  assert.ok(p99 < 250, `p99 lateness ${p99.toFixed(2)} ms`);
  await destroyWorkqueue(wq);
});
