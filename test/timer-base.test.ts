/**
 * Unit test of the timer base (src/core/timer-base.ts), the structure delayed works wait on, against a ManualClock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../src/base/clock.js';
import { EXPIRE_BATCH, TimerBase, type TimerNode } from '../src/core/timer-base.js';

interface Node extends TimerNode {
  id: number;
}

function node(id: number): Node {
  return { id, _next: null, _prev: null, _flags: 0, _expires: 0 };
}

function setup(onExpire?: (n: Node, base: TimerBase<Node>, clock: ManualClock) => void, start = 1000) {
  const clock = new ManualClock(start);
  const fired: { id: number; at: number }[] = [];
  const base: TimerBase<Node> = new TimerBase<Node>(
    () => clock,
    (n) => {
      fired.push({ id: n.id, at: clock.now() });
      onExpire?.(n, base, clock);
    },
  );
  return { clock, base, fired };
}

test('timer base: nodes fire in expiry order, FIFO within a millisecond, each at its own instant', () => {
  const { clock, base, fired } = setup();
  const delays = [50, 10, 30, 10, 50, 1, 30];
  for (const [i, d] of delays.entries()) base.add(node(i), d);
  assert.equal(base.count, 7);
  clock.advance(100);
  assert.deepEqual(
    fired.map((f) => f.id),
    [5, 1, 3, 2, 6, 0, 4],
  );
  for (const f of fired) assert.equal(f.at, 1000 + delays[f.id], `node ${f.id} fired at its expiry`);
  assert.equal(base.count, 0);
});

test('timer base: a node never fires before its delay; the nodes of one millisecond fire together', () => {
  const { clock, base, fired } = setup();
  base.add(node(1), 10);
  base.add(node(2), 0.3);
  base.add(node(3), 9.5);
  clock.advance(0);
  assert.equal(fired.length, 0);
  clock.advance(1);
  assert.deepEqual(
    fired.map((f) => f.id),
    [2],
  );
  clock.advance(8);
  assert.equal(fired.length, 1, 'nothing at 9 ms');
  clock.advance(1);
  // 9.5 ms and 10 ms share the millisecond that ends at 10 ms: they fire together, in arming order, at 10 ms.
  assert.deepEqual(fired, [
    { id: 2, at: 1001 },
    { id: 1, at: 1010 },
    { id: 3, at: 1010 },
  ]);
  // A lone fractional delay fires at its exact time, not at the end of its millisecond.
  base.add(node(4), 2.25);
  clock.advance(3);
  assert.deepEqual(fired.at(-1), { id: 4, at: 1012.25 });
});

test('timer base: one clock timer while anything is armed, none when empty', () => {
  const { clock, base } = setup();
  assert.equal(clock.pendingTimers, 0);
  const nodes = [node(1), node(2), node(3)];
  base.add(nodes[0], 100);
  base.add(nodes[1], 50);
  base.add(nodes[2], 200);
  assert.equal(clock.pendingTimers, 1);
  assert.equal(clock.refedTimers, 1, 'an armed delayed work keeps the process alive');
  base.remove(nodes[1]);
  base.remove(nodes[0]);
  assert.equal(clock.pendingTimers, 1);
  base.remove(nodes[2]);
  assert.equal(base.count, 0);
  assert.equal(clock.pendingTimers, 0, 'no handle once empty');
});

test('timer base: removing the earliest node re-arms for the next one; removed nodes never fire', () => {
  const { clock, base, fired } = setup();
  const a = node(1);
  const b = node(2);
  const c = node(3);
  base.add(a, 10);
  base.add(b, 20);
  base.add(c, 20);
  base.remove(a);
  base.remove(c);
  clock.advance(15);
  assert.equal(fired.length, 0);
  assert.equal(clock.pendingTimers, 1);
  clock.advance(5);
  assert.deepEqual(fired, [{ id: 2, at: 1020 }]);
  assert.equal(clock.pendingTimers, 0);
});

test('timer base: a removed node can be armed again, at a new expiry', () => {
  const { clock, base, fired } = setup();
  const a = node(1);
  base.add(a, 10);
  base.remove(a);
  base.add(a, 30);
  assert.equal(base.count, 1);
  clock.advance(29);
  assert.equal(fired.length, 0);
  clock.advance(1);
  assert.deepEqual(fired, [{ id: 1, at: 1030 }]);
});

test('timer base: an earlier node added after a later one re-arms the clock timer earlier', () => {
  const { clock, base, fired } = setup();
  base.add(node(1), 1000);
  base.add(node(2), 5);
  clock.advance(5);
  assert.deepEqual(fired, [{ id: 2, at: 1005 }]);
  clock.advance(995);
  assert.deepEqual(
    fired.map((f) => f.id),
    [2, 1],
  );
});

test('timer base: delays beyond the 2^31-1 ms Node limit fire at the right time', () => {
  const { clock, base, fired } = setup();
  const long = 2 ** 32 + 123;
  base.add(node(1), long);
  clock.advance(2 ** 31);
  assert.equal(fired.length, 0);
  assert.equal(base.count, 1);
  assert.equal(clock.pendingTimers, 1);
  clock.advance(long - 2 ** 31 - 1);
  assert.equal(fired.length, 0);
  clock.advance(1);
  assert.deepEqual(fired, [{ id: 1, at: 1000 + long }]);
  assert.equal(clock.pendingTimers, 0);
});

test('timer base: an expiry callback may arm new nodes and remove nodes due at the same instant', () => {
  const others: Node[] = [node(10), node(11)];
  const { clock, base, fired } = setup((n, b) => {
    if (n.id === 1) {
      b.remove(others[0]); // due at the same instant, not fired yet
      b.add(node(2), 5);
    }
  });
  base.add(node(1), 10);
  base.add(others[0], 10);
  base.add(others[1], 12);
  clock.advance(10);
  assert.deepEqual(
    fired.map((f) => f.id),
    [1],
  );
  clock.advance(10);
  assert.deepEqual(fired, [
    { id: 1, at: 1010 },
    { id: 11, at: 1012 },
    { id: 2, at: 1015 },
  ]);
  assert.equal(base.count, 0);
  assert.equal(clock.pendingTimers, 0);
});

test('timer base: nodes() lists exactly the armed nodes', () => {
  const { base } = setup();
  const ns = [node(1), node(2), node(3), node(4)];
  for (const [i, n] of ns.entries()) base.add(n, 10 * (i % 2) + 5);
  base.remove(ns[2]);
  assert.deepEqual([...base.nodes()].map((n) => n.id).sort(), [1, 2, 4]);
});

test('timer base: random adds, removes and advances match a reference model', () => {
  let seed = 2024;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const { clock, base, fired } = setup();
  const nodes = Array.from({ length: 200 }, (_, i) => node(i));
  const armed = new Map<number, { due: number; key: number }>(); // id → exact due time and whole-ms key
  const expected: { id: number; due: number; key: number }[] = [];
  let armSeq = 0;
  const seqOf = new Map<number, number>();
  for (let step = 0; step < 20_000; step++) {
    const op = rnd(10);
    const n = nodes[rnd(nodes.length)];
    if (op < 5) {
      if (!armed.has(n.id)) {
        const delay = rnd(100) + (rnd(4) === 0 ? 0.5 : 1); // the timer base is never given 0 (that queues at once)
        base.add(n, delay);
        armed.set(n.id, { due: clock.now() + delay, key: Math.ceil(clock.now() + delay) });
        seqOf.set(n.id, armSeq++);
      }
    } else if (op < 7) {
      if (armed.has(n.id)) {
        base.remove(n);
        armed.delete(n.id);
      }
    } else {
      const to = clock.now() + rnd(20);
      // Every node of a millisecond is due by its end; in key order, FIFO within one.
      const due = [...armed.entries()]
        .filter(([, { key }]) => key <= to)
        .sort((x, y) => x[1].key - y[1].key || seqOf.get(x[0])! - seqOf.get(y[0])!);
      for (const [id, at] of due) {
        expected.push({ id, ...at });
        armed.delete(id);
      }
      clock.advance(to - clock.now());
    }
    assert.equal(base.count, armed.size, `step ${step}: count`);
    assert.equal(clock.pendingTimers, armed.size > 0 ? 1 : 0, `step ${step}: one clock timer iff armed`);
  }
  assert.deepEqual(
    fired.map((f) => f.id),
    expected.map((e) => e.id),
  );
  // Never before its own due time, never after its whole millisecond.
  for (const [i, f] of fired.entries()) {
    assert.ok(f.at >= expected[i].due && f.at <= expected[i].key, `node ${f.id} at ${f.at}: ${expected[i].due}`);
  }
});

test('timer base: a node cancelled and re-armed for the same millisecond fires once, in its new arming position', () => {
  const { clock, base, fired } = setup();
  const a = node(1);
  const b = node(2);
  base.add(a, 10);
  base.add(b, 10);
  base.remove(a);
  base.add(a, 10);
  assert.equal(base.count, 2);
  clock.advance(10);
  assert.deepEqual(
    fired.map((f) => f.id),
    [2, 1],
  );
  assert.equal(base.count, 0);
});

test('timer base: after many cancels in one bucket the survivors fire in order', () => {
  const { clock, base, fired } = setup();
  const nodes = Array.from({ length: 1000 }, (_, i) => node(i));
  for (const n of nodes) base.add(n, 20);
  for (const n of nodes) if (n.id % 100 !== 0) base.remove(n);
  assert.equal(base.count, 10);
  assert.equal([...base.nodes()].length, 10);
  clock.advance(20);
  assert.deepEqual(
    fired.map((f) => f.id),
    [0, 100, 200, 300, 400, 500, 600, 700, 800, 900],
  );
});

test('timer base: an expiry callback may cancel or re-arm a later node of the same millisecond', () => {
  const later = node(3);
  const rearmed = node(2);
  const { clock, base, fired } = setup((n, b) => {
    if (n.id === 1) {
      b.remove(later);
      b.remove(rearmed);
      b.add(rearmed, 5);
    }
  });
  base.add(node(1), 10);
  base.add(rearmed, 10);
  base.add(later, 10);
  clock.advance(10);
  assert.deepEqual(
    fired.map((f) => f.id),
    [1],
  );
  clock.advance(5);
  assert.deepEqual(
    fired.map((f) => [f.id, f.at]),
    [
      [1, 1010],
      [2, 1015],
    ],
  );
  assert.equal(base.count, 0);
});

test('timer wheel: nodes on every level (1 ms .. 5 h) fire exactly at their expiry, with one clock timer', () => {
  const { clock, base, fired } = setup();
  const delays = [3, 255, 256, 257, 1000, 65_535, 65_536, 70_001, 1_000_000, 16_777_215, 16_777_216, 18_000_000];
  for (const [i, d] of delays.entries()) base.add(node(i), d);
  for (let t = 0; t < 19_000_000; t += 250_000) {
    clock.advance(250_000);
    assert.equal(clock.pendingTimers, base.count > 0 ? 1 : 0, 'one clock timer iff armed');
  }
  assert.deepEqual(
    fired.map((f) => [f.id, f.at]),
    delays.map((d, i) => [i, 1000 + d]),
  );
});

test('timer wheel: a burst due at one instant is handed over in slices, in arming order, none early', async () => {
  const { clock, base, fired } = setup();
  const n = EXPIRE_BATCH * 3 + 17;
  for (let i = 0; i < n; i++) base.add(node(i), 40);
  clock.advance(40);
  assert.equal(fired.length, EXPIRE_BATCH, 'one slice per callback');
  assert.equal(base.count, n - EXPIRE_BATCH);
  // A node armed meanwhile for later still fires at its own time.
  base.add(node(n), 5);
  for (let i = 0; i < 10 && base.count > 1; i++) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(fired.length, n, 'the rest follow from the loop, not in one batch');
  assert.deepEqual(
    fired.map((f) => f.id),
    Array.from({ length: n }, (_, i) => i),
  );
  for (const f of fired) assert.ok(f.at >= 1040, 'never early');
  assert.equal(clock.pendingTimers, 1, 'the clock timer is back for the node armed meanwhile');
  clock.advance(5);
  assert.equal(fired.at(-1)!.id, n);
  assert.equal(fired.at(-1)!.at, 1045);
  assert.equal(clock.pendingTimers, 0);
});

/** Random adds (1 ms .. 5.5 h), removes and clock jumps from start, against a model of exact expiries. */
function randomLongRun(start: number): void {
  let seed = 77;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const { clock, base, fired } = setup(undefined, start);
  const nodes = Array.from({ length: 300 }, (_, i) => node(i));
  const armed = new Map<number, number>();
  const seqOf = new Map<number, number>();
  const expected: { id: number; at: number }[] = [];
  let armSeq = 0;
  const scales = [10, 300, 70_000, 20_000_000];
  for (let step = 0; step < 6000; step++) {
    const op = rnd(10);
    const n = nodes[rnd(nodes.length)];
    if (op < 5) {
      if (!armed.has(n.id)) {
        const delay = 1 + rnd(scales[rnd(scales.length)]);
        base.add(n, delay);
        armed.set(n.id, Math.ceil(clock.now() + delay));
        seqOf.set(n.id, armSeq++);
      }
    } else if (op < 7) {
      if (armed.has(n.id)) {
        base.remove(n);
        armed.delete(n.id);
      }
    } else {
      const to = clock.now() + rnd(scales[rnd(scales.length)]);
      const due = [...armed.entries()]
        .filter(([, at]) => at <= to)
        .sort((x, y) => x[1] - y[1] || seqOf.get(x[0])! - seqOf.get(y[0])!);
      assert.ok(due.length <= EXPIRE_BATCH, 'the model stays within one slice per instant');
      for (const [id, at] of due) {
        expected.push({ id, at });
        armed.delete(id);
      }
      clock.advance(to - clock.now());
    }
    assert.equal(base.count, armed.size, `step ${step}: count`);
  }
  assert.deepEqual(fired, expected);
}

test('timer wheel: random long delays, cancels and jumps match a reference model', () => {
  randomLongRun(1000);
});

test('timer wheel: slots are found right for keys past 2^31 and 2^32 (days of uptime) and near 2^52', () => {
  // Slot indices are bits of the key read with >>> and &, which keep its low 32 bits: exact for any integer key.
  randomLongRun(2 ** 31 - 3_000_000);
  randomLongRun(2 ** 32 - 3_000_000);
  randomLongRun(2 ** 52);
});
