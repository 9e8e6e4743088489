/**
 * SPEC §2: the system workqueues, scheduleWork/scheduleDelayedWork and workOnCpu.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  currentWork,
  destroyWorkqueue,
  flushWork,
  flushWorkqueue,
  scheduleWork,
  systemBhHighpriWq,
  systemBhWq,
  systemFreezablePowerEfficientWq,
  systemFreezableWq,
  systemHighpriWq,
  systemLongWq,
  systemPowerEfficientWq,
  systemUnboundWq,
  systemWq,
  Work,
  workOnCpu,
  WorkqueueError,
  wqDump,
  WQ_BH,
  WQ_FREEZABLE,
  WQ_HIGHPRI,
  WQ_POWER_EFFICIENT,
  WQ_UNBOUND,
} from '../src/index.js';

test('the system workqueues exist with the kernel names and flags', () => {
  const expected: [unknown, string, number][] = [
    [systemWq, 'events', 0],
    [systemHighpriWq, 'events_highpri', WQ_HIGHPRI],
    [systemLongWq, 'events_long', 0],
    [systemUnboundWq, 'events_unbound', WQ_UNBOUND],
    [systemFreezableWq, 'events_freezable', WQ_FREEZABLE],
    [systemPowerEfficientWq, 'events_power_efficient', WQ_POWER_EFFICIENT],
    [systemFreezablePowerEfficientWq, 'events_freezable_pwr_efficient', WQ_FREEZABLE | WQ_POWER_EFFICIENT],
    [systemBhWq, 'events_bh', WQ_BH],
    [systemBhHighpriWq, 'events_bh_highpri', WQ_BH | WQ_HIGHPRI],
  ];
  const dump = wqDump().workqueues;
  for (const [wq, name, flags] of expected) {
    assert.ok(wq, name);
    const row = dump.find((w) => w.name === name);
    assert.ok(row, `${name} is listed`);
    assert.equal(row.flags & 0xff, flags, `${name} flags`);
  }
});

test('scheduleWork queues on systemWq', async () => {
  let ran = 0;
  const w = new Work(() => void ran++);
  assert.equal(scheduleWork(w), true);
  assert.equal(scheduleWork(w), false);
  await flushWorkqueue(systemWq);
  assert.equal(ran, 1);
});

test('system workqueues cannot be destroyed', () => {
  for (const wq of [systemWq, systemUnboundWq, systemBhWq]) {
    assert.throws(
      () => destroyWorkqueue(wq),
      (e: unknown) => e instanceof WorkqueueError && e.code === 'ERR_WQ_INVALID_ARG',
    );
  }
});

test('workOnCpu runs a function on this CPU from a work item and resolves with its result', async () => {
  let inside: Work | null = null;
  const result = await workOnCpu(
    0,
    (x: number) => {
      inside = currentWork();
      return x * 2;
    },
    21,
  );
  assert.equal(result, 42);
  assert.ok(inside !== null, 'it ran inside a work item');
  assert.equal(await workOnCpu(-1, async (s: string) => s.toUpperCase(), 'abc'), 'ABC');
  await assert.rejects(
    workOnCpu(
      0,
      () => {
        throw new Error('inside');
      },
      null,
    ),
    /inside/,
  );
  await assert.rejects(
    workOnCpu(0, async () => Promise.reject(new Error('async inside')), null),
    /async inside/,
  );
  assert.equal(await flushWork(new Work(() => {})), false);
});
