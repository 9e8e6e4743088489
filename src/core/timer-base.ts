/**
 * The timer base: where delayed works wait for their delay. A hierarchical timing wheel, as the kernel's
 * (kernel/time/timer.c before 4.8, the cascading kind: exact expiries, which "never early, 2 ms late at most" needs).
 *
 * Node's setTimeout allocates a Timeout per call; cmwq needs a million armed delayed works to cost little, and
 * arming, cancelling and re-arming (modDelayedWork, the debounce) to be O(1) with no lookup. Keys are expiry
 * milliseconds, rounded up (Math.ceil(now + delay)), and stay small integers (V8 keeps them unboxed in the
 * node's field); `cur` is the first millisecond not yet processed. A node goes, by how far its key is from cur,
 * into one of three wheels of 256 slots, or the far list:
 *
 *   wheel 0  key - cur < 2^8     slot key & 255           one millisecond per slot: all its nodes share a key
 *   wheel 1  key - cur < 2^16    slot (key >>> 8) & 255   256 ms per slot
 *   wheel 2  key - cur < 2^24    slot (key >>> 16) & 255  65 s per slot (4.6 h in all)
 *   far      beyond              one list
 *
 * The wheel owns no memory per node: a slot is a head and a tail, linked through the node's own _next/_prev, and
 * the node's level is kept in two bits of its _flags (bits 24-25, meaningful only while armed), so the slot is
 * found again from (level, key) and the node needs no pointer to its list. The caller's _list is left alone: an
 * armed delayed work's _list names where its timer will queue it (timer-list.ts). Arm: compute the slot, link
 * (O(1)). Cancel: unlink from the slot (level, key) names (O(1)). Expiry: walk cur up to now; at each 256 ms
 * boundary the wheel-1 slot that starts there is re-filed ("cascaded") into wheel 0, at each 65 s boundary the
 * wheel-2 slot into wheel 1, at each 2^24 ms boundary the far list. Empty wheels are jumped over, so an idle
 * stretch costs a few steps, not one per millisecond. Each node is cascaded at most three times.
 *
 * Sub-millisecond expiry without a fractional field per node: each wheel-0 slot keeps the latest exact due time
 * (now + delay) of the nodes filed into it (`due0`, a Float64Array: no boxing), and the slot is handed over as soon
 * as clock.now() reaches that time, possibly before its whole millisecond has begun. So a node never fires before
 * its own due time, and a lone node (or nodes armed together) fires at its exact time instead of the next whole
 * millisecond; nodes of one millisecond fire together, at the latest due time among them (under 1 ms late). A
 * node cascaded from a higher wheel counts as due at its key, the whole millisecond (its exact time is not kept).
 *
 * Expiry is incremental: one callback hands at most EXPIRE_BATCH nodes to `expire` and continues after a
 * setImmediate, so the handlers of the first fired items run (from the CPU loop's microtask) before the next
 * slice is queued, instead of a burst of 100,000 going through queueing in one synchronous batch first.
 *
 * One clock timer, armed for the next event: the earliest wheel-0 slot's due time, or the start of the earliest
 * occupied slot of a higher wheel (where its cascade happens). It is armed with the exact remaining time; the
 * real clock fires it no earlier than that (base/clock.ts), and a clock timer that fires early anyway only
 * re-arms, as a node is handed over only once now >= its slot's due time.
 *
 * Invariants: `count` is the number of armed nodes and levelCount[l] those on level l; a wheel-0 slot only holds
 * nodes whose key is that slot's next millisecond at or after cur, and due0 of a non-empty wheel-0 slot is >= the
 * due time of each node in it and <= its key (-Infinity for an empty slot); the clock timer exists iff count > 0
 * and no continuation is scheduled (so an idle base holds no handle); delays longer than Node's 2^31-1 ms limit
 * re-arm in steps. Keys pass 2^31 after 24 days of uptime or with very long delays (they are then heap numbers:
 * still exact, only larger): a slot index takes bits 0-23 of a key with >>> and &, which keep its low 32 bits
 * exactly, and expiry times are computed with division and floor, never with a shift of the whole key.
 */
import type { Clock, TimerHandle } from '../base/clock.js';
import { TIMER_MAX_MS } from '../base/clock.js';

/** What the timer base links: a node with two links, an expiry key and flag bits it may use 24-25 of. */
export interface TimerNode {
  /** @internal (as Work's own link: the wheel slot's next node while armed) */
  _next: object | null;
  /** @internal */
  _prev: object | null;
  /** @internal (as DelayedWork's own field) */
  _expires: number;
  /** @internal (as Work's own field: bits 24-25 hold the wheel level while armed) */
  _flags: number;
}

const SLOTS = 256;
const SPAN0 = 256; // 2^8 ms: wheel 0's range, and the width of a wheel-1 slot
const SPAN1 = 65536; // 2^16 ms
const SPAN2 = 16777216; // 2^24 ms
const FAR = 3;
/** Where in a node's _flags its level sits while it is armed. */
const LEVEL_SHIFT = 24;
const LEVEL_MASK = 3 << LEVEL_SHIFT;
/** The most nodes one timer callback hands over before yielding to the loop. */
export const EXPIRE_BATCH = 256;

/**
 * A slot index from a key: the 8 bits of key that name its slot on wheel `level`, `(key >>> 8 * level) & 255`. Keys are
 * doubles to V8 (Math.ceil of a fractional time), and `%` on a double compiles to a call into C (fmod), dozens of
 * instructions; a bit operation truncates to the low 32 bits first, which are exact for every integer key below
 * 2^53 (keys pass 2^31 after 24 days), so bits 0-23 read this way are always right, and inline.
 */
const SLOT_MASK = SLOTS - 1;

/** A wheel slot (or the far list): an intrusive FIFO through the nodes' own links. */
class Slot<T extends TimerNode> {
  head: T | null = null;
  tail: T | null = null;

  push(node: T): void {
    node._next = null;
    node._prev = this.tail;
    if (this.tail === null) this.head = node;
    else this.tail._next = node;
    this.tail = node;
  }

  shift(): T {
    const node = this.head!;
    this.head = node._next as T | null;
    if (this.head === null) this.tail = null;
    else this.head._prev = null;
    node._next = node._prev = null;
    return node;
  }

  remove(node: T): void {
    const prev = node._prev as T | null;
    const next = node._next as T | null;
    if (prev === null) this.head = next;
    else prev._next = next;
    if (next === null) this.tail = prev;
    else next._prev = prev;
    node._next = node._prev = null;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let n = this.head; n !== null; n = n._next as T | null) yield n;
  }
}

export class TimerBase<T extends TimerNode> {
  private readonly wheels: Slot<T>[][] = [0, 1, 2].map(() => Array.from({ length: SLOTS }, () => new Slot<T>()));
  // The same wheels by name, for the arm and cancel paths (a field load instead of an indexed one).
  private readonly wheel0 = this.wheels[0];
  private readonly wheel1 = this.wheels[1];
  private readonly wheel2 = this.wheels[2];
  private readonly far = new Slot<T>();
  /** Per wheel-0 slot: the latest exact due time of its nodes (-Infinity when empty). */
  private readonly due0 = new Float64Array(SLOTS).fill(-Infinity);
  /** Nodes per level (wheels 0-2, far). */
  private readonly levelCount = [0, 0, 0, 0];
  /** The first millisecond not processed yet. */
  private cur = 0;
  private handle: TimerHandle | null = null;
  /** The event the clock timer is armed for (Infinity when none). */
  private armedFor = Infinity;
  /** A continuation of a long expiry is scheduled (setImmediate): it re-arms when done. */
  private continuing = false;
  /** Armed nodes. */
  count = 0;

  constructor(
    private readonly clock: () => Clock,
    private readonly expire: (node: T) => void,
  ) {}

  /** Arms node to fire delayMs (> 0) from now, never earlier. node must not be armed. */
  add(node: T, delayMs: number): void {
    const now = this.clock().now();
    if (this.count === 0) this.cur = Math.floor(now);
    const due = now + delayMs;
    // Never behind cur: a delay too small to move a float time would otherwise land a lap (256 ms) later.
    const key = Math.max(Math.ceil(due), this.cur);
    node._expires = key;
    this.count++;
    const event = this.file(node, key, due);
    if (event < this.armedFor && !this.continuing) this.arm(event);
  }

  /** Disarms node, which must be armed here. */
  remove(node: T): void {
    const key = node._expires;
    const level = (node._flags & LEVEL_MASK) >>> LEVEL_SHIFT;
    this.levelCount[level]--;
    // Each level finds its slot itself, as file() does: no second dispatch on the level.
    if (level === 0) {
      const i = key & SLOT_MASK;
      const slot = this.wheel0[i];
      slot.remove(node);
      if (slot.head === null) this.due0[i] = -Infinity;
    } else if (level === 1) this.wheel1[(key >>> 8) & SLOT_MASK].remove(node);
    else if (level === 2) this.wheel2[(key >>> 16) & SLOT_MASK].remove(node);
    else this.far.remove(node);
    if (--this.count === 0) this.disarm();
  }

  /** Every armed node, in no particular order (for destroy and diagnostics). */
  *nodes(): IterableIterator<T> {
    for (const wheel of this.wheels) for (const slot of wheel) yield* slot;
    yield* this.far;
  }

  /**
   * Links node into the slot for key (relative to cur), due no earlier than due (<= key), and returns when that
   * slot's event is.
   */
  private file(node: T, key: number, due: number): number {
    const delta = key - this.cur;
    let level: number;
    let event: number;
    let slot: Slot<T>;
    // Each branch finds its slot itself: one division per level, no second dispatch on the level.
    if (delta < SPAN0) {
      level = 0;
      const i = key & SLOT_MASK;
      slot = this.wheel0[i];
      event = this.due0[i];
      if (due > event) this.due0[i] = event = due;
    } else if (delta < SPAN1) {
      level = 1;
      const b = Math.floor(key / SPAN0);
      slot = this.wheel1[(key >>> 8) & SLOT_MASK];
      event = b * SPAN0;
    } else if (delta < SPAN2) {
      level = 2;
      const b = Math.floor(key / SPAN1);
      slot = this.wheel2[(key >>> 16) & SLOT_MASK];
      event = b * SPAN1;
    } else {
      level = FAR;
      slot = this.far;
      event = (Math.floor(this.cur / SPAN2) + 1) * SPAN2;
    }
    node._flags = (node._flags & ~LEVEL_MASK) | (level << LEVEL_SHIFT);
    slot.push(node);
    this.levelCount[level]++;
    return event;
  }

  /** Re-files every node of slot, on level (a cascade: cur has reached the slot's start). */
  private cascade(slot: Slot<T>, level: number): void {
    // Detach the whole list first: a node of a later lap goes back into this very slot.
    let node = slot.head;
    slot.head = slot.tail = null;
    while (node !== null) {
      const next = node._next as T | null;
      this.levelCount[level]--;
      this.file(node, node._expires, node._expires);
      node = next;
    }
  }

  /** cur moved onto a boundary: cascade the higher slots that start here, outermost first. */
  private boundary(): void {
    const cur = this.cur;
    if ((cur & (SPAN2 - 1)) === 0 && this.levelCount[FAR] > 0) this.cascade(this.far, FAR);
    if ((cur & (SPAN1 - 1)) === 0 && this.levelCount[2] > 0) this.cascade(this.wheel2[(cur >>> 16) & SLOT_MASK], 2);
    if (this.levelCount[1] > 0) this.cascade(this.wheel1[(cur >>> 8) & SLOT_MASK], 1);
  }

  /** The next event: the earliest wheel-0 slot's due time, or the start of the earliest occupied higher slot. */
  private nextEvent(): number {
    const cur = this.cur;
    let best = Infinity;
    if (this.levelCount[0] > 0) {
      for (let k = cur; k < cur + SPAN0; k++) {
        if (this.wheel0[k & SLOT_MASK].head !== null) {
          best = this.due0[k & SLOT_MASK];
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
        if (this.wheels[level][b & SLOT_MASK].head !== null) {
          best = b * span;
          break;
        }
      }
    }
    if (this.levelCount[FAR] > 0) best = Math.min(best, (Math.floor(cur / SPAN2) + 1) * SPAN2);
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
    // The exact remaining time: the clock rounds it as its timers need, and never fires before it.
    const wait = Math.min(Math.max(event - clock.now(), 0), TIMER_MAX_MS);
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

  /**
   * Processes every millisecond up to now: cascades, and hands due nodes over, EXPIRE_BATCH at most; then the
   * slot of the millisecond now is in, if its due time has come.
   */
  private run(): void {
    const now = this.clock().now();
    const nowMs = Math.floor(now);
    let budget = EXPIRE_BATCH;
    const wheel0 = this.wheels[0];
    const due0 = this.due0;
    const counts = this.levelCount;
    while (this.count > 0) {
      const cur = this.cur;
      const i = cur & SLOT_MASK;
      const slot = wheel0[i];
      // A slot of a whole past millisecond is due entirely (due0 <= key <= now); the slot of the millisecond now
      // is in (cur = nowMs + 1) once now has reached its latest due time.
      while (slot.head !== null && due0[i] <= now) {
        if (budget-- === 0) {
          this.continuing = true;
          setImmediate(this.onContinue);
          return;
        }
        const node = slot.shift();
        if (slot.head === null) due0[i] = -Infinity;
        counts[0]--;
        this.count--;
        this.expire(node);
      }
      if (cur > nowMs) break;
      // Next millisecond; over an empty wheel 0 (and empty wheel 1) jump straight to the next boundary.
      let next = cur + 1;
      if (counts[0] === 0) {
        const span = counts[1] > 0 ? SPAN0 : counts[2] > 0 ? SPAN1 : SPAN2;
        next = (Math.floor(cur / span) + 1) * span;
        if (next > nowMs + 1) next = nowMs + 1;
      }
      this.cur = next;
      if ((next & (SPAN0 - 1)) === 0) this.boundary();
    }
    if (this.count === 0) {
      if (this.cur <= nowMs) this.cur = nowMs + 1;
      this.disarm();
      return;
    }
    this.arm(this.nextEvent());
  }
}
