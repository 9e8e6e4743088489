/**
 * The timer base: where delayed works wait for their delay. A hierarchical timing wheel, as the kernel's
 * (kernel/time/timer.c before 4.8, the cascading kind: exact expiries, which "never early, 2 ms late at most" needs).
 *
 * Node's setTimeout allocates a Timeout per call; cmwq needs a million armed delayed works to cost little, and
 * arming, cancelling and re-arming (modDelayedWork, the debounce) to be O(1) with no lookup. Keys are expiry
 * milliseconds, rounded up (Math.ceil(now + delay)); `cur` is the first millisecond not yet processed. A node
 * goes, by how far its key is from cur, into one of three wheels of 256 slots, or the far list:
 *
 *   wheel 0  key - cur < 2^8     slot key % 256           one millisecond per slot: all its nodes share a key
 *   wheel 1  key - cur < 2^16    slot (key >> 8) % 256    256 ms per slot
 *   wheel 2  key - cur < 2^24    slot (key >> 16) % 256   65 s per slot (4.6 h in all)
 *   far      beyond              one list
 *
 * Slots are intrusive lists (worklist.ts): the links are the node's own, so arming allocates nothing. Arm: compute
 * the slot, link (O(1)). Cancel: unlink from node._list (O(1)). Expiry: walk cur up to now; at each 256 ms
 * boundary the wheel-1 slot that starts there is re-filed ("cascaded") into wheel 0, at each 65 s boundary the
 * wheel-2 slot into wheel 1, at each 2^24 ms boundary the far list. Empty wheels are jumped over, so an idle
 * stretch costs a few steps, not one per millisecond. Each node is cascaded at most three times.
 *
 * Expiry is incremental: one callback hands at most EXPIRE_BATCH nodes to `expire` and continues after a
 * setImmediate, so the handlers of the first fired items run (from the CPU loop's microtask) before the next
 * slice is queued, instead of a burst of 100,000 going through queueing in one synchronous batch first.
 *
 * One Node timer, armed for the next event: the earliest key in wheel 0, or the start of the earliest occupied
 * slot of a higher wheel (where its cascade happens). Keys are compared with floor(now), so a node is never handed
 * over before clock.now() >= its key >= arm time + delay.
 *
 * Invariants: `count` is the number of armed nodes; the Node timer exists iff count > 0 and no continuation is
 * scheduled (so an idle base holds no handle); a wheel-0 slot only holds nodes whose key is that slot's next
 * millisecond at or after cur; delays longer than Node's 2^31-1 ms limit re-arm in steps. All arithmetic on keys is
 * division and remainder, not bit operations: keys pass 2^31 after 24 days of uptime or with very long delays.
 */
import type { Clock, TimerHandle } from '../base/clock.js';
import { TIMER_MAX_MS } from '../base/clock.js';
import { type ListNode, ListKind, WorkList } from './worklist.js';

export interface TimerNode extends ListNode {
  /** @internal (as DelayedWork's own field) */
  _expires: number;
}

const SLOTS = 256;
const SPAN0 = 256; // 2^8 ms: wheel 0's range, and the width of a wheel-1 slot
const SPAN1 = 65536; // 2^16 ms
const SPAN2 = 16777216; // 2^24 ms
/** The most nodes one timer callback hands over before yielding to the loop. */
export const EXPIRE_BATCH = 256;

/** A wheel slot (or the far list): which level it is on, for the per-level counts. */
class Slot<T extends TimerNode> extends WorkList<T> {
  constructor(readonly level: number) {
    super(ListKind.Timer);
  }
}

export class TimerBase<T extends TimerNode> {
  private readonly wheels: Slot<T>[][] = [0, 1, 2].map((level) =>
    Array.from({ length: SLOTS }, () => new Slot<T>(level)),
  );
  private readonly far = new Slot<T>(3);
  /** Nodes per level (wheels 0-2, far). */
  private readonly levelCount = [0, 0, 0, 0];
  /** The first millisecond not processed yet. */
  private cur = 0;
  private handle: TimerHandle | null = null;
  /** The event the Node timer is armed for (Infinity when none). */
  private armedFor = Infinity;
  /** A continuation of a long expiry is scheduled (setImmediate): it re-arms when done. */
  private continuing = false;
  /** Armed nodes. */
  count = 0;

  constructor(
    private readonly clock: () => Clock,
    private readonly expire: (node: T) => void,
  ) {}

  /** Arms node to fire delayMs from now. node must not be on any list. */
  add(node: T, delayMs: number): void {
    const now = this.clock().now();
    if (this.count === 0) this.cur = Math.floor(now);
    const key = Math.ceil(now + delayMs);
    node._expires = key;
    this.count++;
    const event = this.file(node, key);
    if (event < this.armedFor && !this.continuing) this.arm(event);
  }

  /** Disarms node, which must be armed here. */
  remove(node: T): void {
    const slot = node._list as Slot<T>;
    slot.remove(node);
    this.levelCount[slot.level]--;
    if (--this.count === 0) this.disarm();
  }

  /** Every armed node, in no particular order (for destroy and diagnostics). */
  *nodes(): IterableIterator<T> {
    for (const wheel of this.wheels) for (const slot of wheel) yield* slot;
    yield* this.far;
  }

  /** Links node into the slot for key (relative to cur) and returns when that slot's event is. */
  private file(node: T, key: number): number {
    const delta = key - this.cur;
    let slot: Slot<T>;
    let event: number;
    if (delta < SPAN0) {
      slot = this.wheels[0][key % SLOTS];
      event = key;
    } else if (delta < SPAN1) {
      const block = Math.floor(key / SPAN0);
      slot = this.wheels[1][block % SLOTS];
      event = block * SPAN0;
    } else if (delta < SPAN2) {
      const block = Math.floor(key / SPAN1);
      slot = this.wheels[2][block % SLOTS];
      event = block * SPAN1;
    } else {
      slot = this.far;
      event = (Math.floor(this.cur / SPAN2) + 1) * SPAN2;
    }
    slot.push(node);
    this.levelCount[slot.level]++;
    return event;
  }

  /** Re-files every node of slot (a cascade: cur has reached the slot's start). */
  private cascade(slot: Slot<T>): void {
    // Detach the whole list first: a node of a later lap goes back into this very slot.
    let node = slot.head;
    this.levelCount[slot.level] -= slot.length;
    slot.head = slot.tail = null;
    slot.length = 0;
    while (node !== null) {
      const next = node._next as T | null;
      node._next = node._prev = null;
      node._list = null;
      this.file(node, node._expires);
      node = next;
    }
  }

  /** cur moved onto a boundary: cascade the higher slots that start here, outermost first. */
  private boundary(): void {
    const cur = this.cur;
    if (cur % SPAN2 === 0 && this.levelCount[3] > 0) this.cascade(this.far);
    if (cur % SPAN1 === 0 && this.levelCount[2] > 0) this.cascade(this.wheels[2][Math.floor(cur / SPAN1) % SLOTS]);
    if (this.levelCount[1] > 0) this.cascade(this.wheels[1][Math.floor(cur / SPAN0) % SLOTS]);
  }

  /** The next event: the earliest wheel-0 key, or the start of the earliest occupied higher slot. */
  private nextEvent(): number {
    const cur = this.cur;
    let best = Infinity;
    if (this.levelCount[0] > 0) {
      for (let k = cur; k < cur + SPAN0; k++) {
        if (this.wheels[0][k % SLOTS].length > 0) {
          best = k;
          break;
        }
      }
    }
    const spans = [SPAN0, SPAN1];
    for (let level = 1; level <= 2; level++) {
      if (this.levelCount[level] === 0) continue;
      const span = spans[level - 1];
      const first = Math.floor(cur / span) + 1;
      for (let b = first; b < first + SLOTS; b++) {
        if (b * span >= best) break;
        if (this.wheels[level][b % SLOTS].length > 0) {
          best = b * span;
          break;
        }
      }
    }
    if (this.levelCount[3] > 0) best = Math.min(best, (Math.floor(cur / SPAN2) + 1) * SPAN2);
    return best;
  }

  private disarm(): void {
    if (this.handle !== null) this.clock().clearTimer(this.handle);
    this.handle = null;
    this.armedFor = Infinity;
  }

  private arm(event: number): void {
    const clock = this.clock();
    if (this.handle !== null) clock.clearTimer(this.handle);
    this.armedFor = event;
    // Whole milliseconds, rounded up: Node's timers count in them, and a timer that fires early costs a re-arm.
    const wait = Math.min(Math.max(Math.ceil(event - clock.now()), 1), TIMER_MAX_MS);
    this.handle = clock.setTimer(this.onTimer, wait, true);
  }

  private readonly onTimer = (): void => {
    this.handle = null;
    this.armedFor = Infinity;
    this.run();
  };

  private readonly onContinue = (): void => {
    this.continuing = false;
    this.run();
  };

  /** Processes every millisecond up to now: cascades, and hands due nodes over, EXPIRE_BATCH at most. */
  private run(): void {
    const now = Math.floor(this.clock().now());
    let budget = EXPIRE_BATCH;
    const wheel0 = this.wheels[0];
    const counts = this.levelCount;
    while (this.cur <= now && this.count > 0) {
      const slot = wheel0[this.cur % SLOTS];
      while (slot.length > 0) {
        if (budget-- === 0) {
          this.continuing = true;
          setImmediate(this.onContinue);
          return;
        }
        const node = slot.shift()!;
        counts[0]--;
        this.count--;
        this.expire(node);
      }
      // Next millisecond; over an empty wheel 0 (and empty wheel 1) jump straight to the next boundary.
      let next = this.cur + 1;
      if (counts[0] === 0) {
        const span = counts[1] > 0 ? SPAN0 : counts[2] > 0 ? SPAN1 : SPAN2;
        next = (Math.floor(this.cur / span) + 1) * span;
        if (next > now + 1) next = now + 1;
      }
      this.cur = next;
      if (next % SPAN0 === 0) this.boundary();
    }
    if (this.count === 0) {
      this.cur = now + 1;
      this.disarm();
      return;
    }
    this.arm(this.nextEvent());
  }
}
