/**
 * SPEC §3.8: flushWork and flushDelayedWork.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allocWorkqueue,
  cancelWork,
  DelayedWork,
  destroyWorkqueue,
  flushDelayedWork,
  flushWork,
  queueDelayedWork,
  queueWork,
  Work,
  workPending,
} from '../src/index.js';
import { caughtCode, deferred, gatedWork, settle, startGated, track, turn, useManualClock } from './helpers.js';

// These tests check currentWork() and the checks built on it across awaits: async context on.
const clock = useManualClock({ asyncContext: true });

/** A work whose run i records start<i>, waits for gates[i], then records end<i> (two gates, for two runs). */
function workGatedTwice(): { w: Work; gates: ReturnType<typeof deferred>[]; events: string[] } {
  const gates = [deferred(), deferred()];
  const events: string[] = [];
  let n = 0;
  const w = new Work(async () => {
    const i = n++;
    events.push(`start${i}`);
    await gates[i].promise;
    events.push(`end${i}`);
  });
  return { w, gates, events };
}

test('§3.8 flushWork of a never-queued work resolves false at once', async () => {
  const w = new Work(() => {});
  const state = track(flushWork(w));
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(state.done, true, 'resolved within a couple of microtasks, no macrotask needed');
  assert.equal(state.value, false);
});

test('§3.8 flushWork of an idle work that ran before resolves false', async () => {
  const wq = allocWorkqueue('fw-idle');
  const w = new Work(() => {});
  queueWork(wq, w);
  await settle();
  assert.equal(await flushWork(w), false);
  await destroyWorkqueue(wq);
});

test('§3.8 flushWork of a pending work resolves true after it has run', async () => {
  const wq = allocWorkqueue('fw-pending');
  const events: string[] = [];
  const w = new Work(() => void events.push('run'));
  queueWork(wq, w);
  const result = await flushWork(w);
  events.push('flushed');
  assert.equal(result, true);
  assert.deepEqual(events, ['run', 'flushed']);
  await destroyWorkqueue(wq);
});

test('§3.8 flushWork of a running work resolves true only after the handler has finished', async () => {
  const wq = allocWorkqueue('fw-running');
  const { work: w, gate, events } = await startGated(wq);
  const state = track(flushWork(w));
  await settle();
  assert.equal(state.done, false, 'still running: the flush waits');
  gate.resolve();
  await settle();
  assert.equal(state.done, true);
  assert.equal(state.value, true);
  assert.deepEqual(events, ['start', 'end']);
  await destroyWorkqueue(wq);
});

test('§3.8 flushWork of a running and requeued work waits for the pending instance', async () => {
  const wq = allocWorkqueue('fw-requeued');
  const { w, gates, events } = workGatedTwice();
  queueWork(wq, w);
  await settle();
  queueWork(wq, w);
  const state = track(flushWork(w));
  gates[0].resolve();
  await settle();
  assert.deepEqual(events, ['start0', 'end0', 'start1']);
  assert.equal(state.done, false, 'the pending instance has not finished');
  gates[1].resolve();
  await settle();
  assert.equal(state.done, true);
  assert.equal(state.value, true);
  await destroyWorkqueue(wq);
});

test('§3.8 flushWork does not wait for an instance queued after the call', async () => {
  const wq = allocWorkqueue('fw-later');
  const { w, gates, events } = workGatedTwice();
  queueWork(wq, w);
  await settle();
  const state = track(flushWork(w));
  queueWork(wq, w); // after the flush call
  gates[0].resolve();
  await settle();
  assert.deepEqual(events, ['start0', 'end0', 'start1']);
  assert.equal(state.done, true, 'resolved when the instance running at the call ended');
  assert.equal(state.value, true);
  gates[1].resolve();
  await flushWork(w);
  await destroyWorkqueue(wq);
});

test('§3.8 flushWork of a pending work that gets cancelled still resolves', async () => {
  const wq = allocWorkqueue('fw-cancel');
  let runs = 0;
  const w = new Work(() => void runs++);
  queueWork(wq, w);
  const state = track(flushWork(w));
  assert.equal(cancelWork(w), true);
  await settle();
  assert.equal(state.done, true);
  assert.equal(runs, 0);
  await destroyWorkqueue(wq);
});

test('§3.8 several flushers of one work all resolve', async () => {
  const wq = allocWorkqueue('fw-many');
  const gate = deferred();
  const w = new Work(async () => {
    await gate.promise;
  });
  queueWork(wq, w);
  const pendingFlushers = [flushWork(w), flushWork(w)];
  await settle();
  const runningFlushers = [flushWork(w), flushWork(w)];
  gate.resolve();
  assert.deepEqual(await Promise.all([...pendingFlushers, ...runningFlushers]), [true, true, true, true]);
  await destroyWorkqueue(wq);
});

test('§3.8 flushDelayedWork fires a pending timer at once, then waits for the run', async () => {
  const wq = allocWorkqueue('fdw');
  const ranAt: number[] = [];
  const dw = new DelayedWork(() => void ranAt.push(clock.now()));
  const t0 = clock.now();
  queueDelayedWork(wq, dw, 10_000);
  const result = await flushDelayedWork(dw);
  assert.equal(result, true);
  assert.deepEqual(ranAt, [t0], 'ran without the clock moving');
  assert.equal(clock.pendingTimers, 0, 'the timer is gone');
  assert.equal(workPending(dw), false);
  clock.advance(20_000);
  await settle();
  assert.equal(ranAt.length, 1, 'and it does not fire again');
  assert.equal(await flushDelayedWork(dw), false, 'idle: false');
  await destroyWorkqueue(wq);
});

test('§3.8 flushWork of a delayed work that is only armed resolves false at once (flushDelayedWork fires it)', async () => {
  const wq = allocWorkqueue('fw-armed');
  let runs = 0;
  const dw = new DelayedWork(() => void runs++);
  queueDelayedWork(wq, dw, 100);
  const state = track(flushWork(dw));
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(state.done, true);
  assert.equal(state.value, false);
  assert.equal(runs, 0);
  assert.equal(workPending(dw), true, 'still armed');
  clock.advance(100);
  await settle();
  assert.equal(runs, 1);
  await destroyWorkqueue(wq);
});

test('§3.8 flushDelayedWork of a never-queued delayed work resolves false', async () => {
  const dw = new DelayedWork(() => {});
  assert.equal(await flushDelayedWork(dw), false);
});

test('§3.8 §4 flushWork/flushDelayedWork of a work from its own handler throw ERR_WQ_DEADLOCK', async () => {
  const wq = allocWorkqueue('fw-self');
  const codes: (string | undefined)[] = [];
  const w: Work = new Work(() => {
    codes.push(caughtCode(() => flushWork(w)));
  });
  const dw: DelayedWork = new DelayedWork(async () => {
    await turn();
    codes.push(caughtCode(() => flushDelayedWork(dw)));
    codes.push(caughtCode(() => flushWork(dw)));
  });
  queueWork(wq, w);
  queueWork(wq, dw);
  await settle();
  assert.deepEqual(codes, ['ERR_WQ_DEADLOCK', 'ERR_WQ_DEADLOCK', 'ERR_WQ_DEADLOCK']);
  assert.equal(await flushWork(w), false);
  await destroyWorkqueue(wq);
});

test('§3.8 flushWork of another work from inside a handler waits for it', async () => {
  const wq = allocWorkqueue('fw-other');
  const { work: b, gate, events } = gatedWork({ label: 'b' });
  const a = new Work(async () => {
    events.push('a-flush');
    const r = await flushWork(b);
    events.push(`a-flushed-${r}`);
  });
  queueWork(wq, b);
  queueWork(wq, a);
  await settle();
  gate.resolve();
  await flushWork(a);
  assert.deepEqual(events, ['b-start', 'a-flush', 'b-end', 'a-flushed-true']);
  await destroyWorkqueue(wq);
});
