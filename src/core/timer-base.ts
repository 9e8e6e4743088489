/**
 * The timer base: where delayed works wait for their delay.
 *
 * Node's setTimeout allocates a Timeout object per call and keeps per-duration lists; cmwq needs a million armed
 * delayed works to cost little, and arming, cancelling and re-arming (modDelayedWork, the debounce) to be O(1).
 * So delayed works are filed by expiry, at millisecond resolution:
 *
 *   buckets: Map<expiry ms, WorkList>   the works that fall due at that millisecond, linked through the works'
 *                                       own list links (an armed work is on no other list), so arming allocates
 *                                       nothing but, at most, one bucket per distinct millisecond;
 *   heap:    number[]                   a binary min-heap of the bucket keys;
 *   one Node timer, armed for heap[0].
 *
 * Arm: find or make the bucket (O(1); a new bucket is a heap push, O(log buckets)), link the work. Cancel: unlink
 * the work (O(1)); an emptied bucket stays until its time comes or the base empties. Expiry: pop due buckets in
 * key order and hand their works, in arming order, to the callback. Works sharing a millisecond keep FIFO order.
 *
 * Invariants: a work is never handed over before clock.now() >= its key >= arm time + delay (keys round up);
 * `count` is the number of armed works; the Node timer exists iff count > 0 (so an idle base holds no handle);
 * delays longer than Node's 2^31-1 ms limit re-arm in steps.
 */
import type { Clock, TimerHandle } from '../base/clock.js';
import { TIMER_MAX_MS } from '../base/clock.js';
import { ListKind, WorkList, type ListNode } from './worklist.js';

export interface TimerNode extends ListNode {
  /** @internal (as DelayedWork's own field) */
  _expires: number;
}

export class TimerBase<T extends TimerNode> {
  private buckets = new Map<number, WorkList<T>>();
  private heap: number[] = [];
  private handle: TimerHandle | null = null;
  /** The key the Node timer is armed for (Infinity when none). */
  private armedFor = Infinity;
  /** Armed works. */
  count = 0;

  constructor(
    private readonly clock: () => Clock,
    private readonly expire: (node: T) => void,
  ) {}

  /** Arms node to fire delayMs from now. node must not be on any list. */
  add(node: T, delayMs: number): void {
    const key = Math.ceil(this.clock().now() + delayMs);
    node._expires = key;
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = new WorkList<T>(ListKind.Timer);
      this.buckets.set(key, bucket);
      this.heapPush(key);
    }
    bucket.push(node);
    this.count++;
    if (key < this.armedFor) this.arm(key);
  }

  /** Disarms node, which must be armed here. */
  remove(node: T): void {
    (node._list as WorkList<T>).remove(node);
    if (--this.count === 0) this.reset();
  }

  /** Every armed node, in no particular order (for destroy and diagnostics). */
  *nodes(): IterableIterator<T> {
    for (const bucket of this.buckets.values()) yield* bucket;
  }

  private reset(): void {
    this.buckets.clear();
    this.heap.length = 0;
    this.disarm();
  }

  private disarm(): void {
    if (this.handle !== null) this.clock().clearTimer(this.handle);
    this.handle = null;
    this.armedFor = Infinity;
  }

  private arm(key: number): void {
    const clock = this.clock();
    if (this.handle !== null) clock.clearTimer(this.handle);
    this.armedFor = key;
    // Whole milliseconds, rounded up: Node's timers count in them, and a timer that fires early costs a re-arm.
    const wait = Math.min(Math.max(Math.ceil(key - clock.now()), 1), TIMER_MAX_MS);
    this.handle = clock.setTimer(this.onTimer, wait, true);
  }

  private readonly onTimer = (): void => {
    this.handle = null;
    this.armedFor = Infinity;
    const now = this.clock().now();
    const heap = this.heap;
    while (heap.length > 0 && heap[0] <= now) {
      const key = this.heapPop();
      const bucket = this.buckets.get(key)!;
      this.buckets.delete(key);
      for (let node = bucket.shift(); node !== null; node = bucket.shift()) {
        this.count--;
        this.expire(node);
      }
    }
    if (this.count === 0) this.reset();
    else {
      // Skip buckets emptied by cancel so that the timer is armed for a real expiry.
      while (this.buckets.get(heap[0])!.length === 0) this.buckets.delete(this.heapPop());
      this.arm(heap[0]);
    }
  };

  private heapPush(key: number): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(key);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent] <= key) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = key;
  }

  private heapPop(): number {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop()!;
    const n = heap.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && heap[child + 1] < heap[child]) child++;
        if (heap[child] >= last) break;
        heap[i] = heap[child];
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }
}
