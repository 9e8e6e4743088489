/**
 * The clock seam. Delays are measured on a Clock so that tests can drive time by hand (ManualClock) instead of
 * sleeping; the real clock is the monotonic clock performance.now() reads (read through process.hrtime(), see
 * {@link monotonicNow}) plus Node timers. Only delayed work, handler run times and idle-worker culling go through
 * it: loop-fairness budgets are real time by nature and always read performance.now().
 */

/** Whatever a {@link Clock}'s setTimer() returns; only the same clock's clearTimer() looks inside. */
export type TimerHandle = unknown;

/**
 * The time source delayed work and idle-thread culling are measured on. cmwq uses the monotonic clock (performance.now()'s,
 * read through process.hrtime()) and Node timers unless {@link workqueueInit} is given another clock, normally a
 * {@link ManualClock} in tests.
 */
export interface Clock {
  /**
   * The current time.
   *
   * @returns Milliseconds on a monotonic scale (any origin; fractions allowed).
   */
  now(): number;
  /**
   * Calls cb once after at least ms milliseconds.
   *
   * @param cb - What to call when the timer fires.
   * @param ms - The delay in milliseconds (0 or more).
   * @param ref - Whether the timer keeps the process alive; cmwq passes false when nothing else is pending.
   * @returns A handle for clearTimer().
   */
  setTimer(cb: () => void, ms: number, ref: boolean): TimerHandle;
  /**
   * Cancels a timer that has not fired; does nothing for one that has fired or been cleared.
   *
   * @param handle - What setTimer() returned.
   */
  clearTimer(handle: TimerHandle): void;
}

/** Node's own timers cannot wait longer than this; longer delays re-arm. */
export const TIMER_MAX_MS = 2 ** 31 - 1;

const hrtime = process.hrtime;
/** The monotonic clock's whole seconds when this module loaded: the origin of {@link monotonicNow}. */
const originS = hrtime()[0];

/**
 * The monotonic clock (CLOCK_MONOTONIC, which performance.now() reads too), in milliseconds since about when this
 * module loaded. Every delayed work's arm reads the time, and on Node 20 performance.now() costs some 225
 * instructions (a brand check through a wrapper that forwards its arguments), process.hrtime() about half that.
 * The whole seconds are taken relative to the origin first, so the sum stays small and exact to the nanosecond.
 *
 * @returns Milliseconds, with fractions.
 */
export function monotonicNow(): number {
  const t = hrtime();
  return (t[0] - originS) * 1e3 + t[1] / 1e6;
}

/**
 * A timer of the real clock. Node's timers wake in whole milliseconds (the loop polls with a millisecond
 * timeout) and may fire up to 1 ms before the monotonic clock says the delay has elapsed; finer than that takes
 * turns of the event loop (setImmediate hops, each of which keeps serving I/O), which cost CPU. So a real timer
 * waits on a Node timer for the whole milliseconds, and hops only through the last fraction, and only when that
 * fraction is more than SLACK_MS (a Node timer for the next whole millisecond would then be more than SLACK_MS
 * late): it is never early, at most about SLACK_MS late from the rounding, and hops at most SLACK_MS a time.
 */
interface RealTimer {
  /** monotonicNow() at which cb may run. */
  readonly at: number;
  readonly cb: () => void;
  readonly ref: boolean;
  /** The Node timer scheduled now, if any. */
  timeout: NodeJS.Timeout | null;
  /** The immediate scheduled now, if any (at most one of the two is set). */
  immediate: NodeJS.Immediate | null;
  readonly fire: () => void;
}

/** The lateness a real timer accepts from waking on a whole millisecond rather than hopping to the exact time. */
const SLACK_MS = 0.5;

/**
 * Schedules t's next step, left ms before it is due: a Node timer for the next whole millisecond if that is at
 * most SLACK_MS late, else one for the whole milliseconds before it, else (under a millisecond) an immediate.
 */
function schedule(t: RealTimer, left: number): void {
  const up = Math.max(Math.ceil(left), 1);
  const wait = up - left <= SLACK_MS ? up : Math.floor(left);
  if (wait > 0) {
    t.timeout = setTimeout(t.fire, Math.min(wait, TIMER_MAX_MS));
    if (!t.ref) t.timeout.unref();
  } else {
    t.immediate = setImmediate(t.fire);
    if (!t.ref) t.immediate.unref();
  }
}

/** The real clock: {@link monotonicNow} and Node timers. */
export const realClock: Clock = {
  now: monotonicNow,
  setTimer(cb, ms, ref) {
    const t: RealTimer = {
      at: monotonicNow() + ms,
      cb,
      ref,
      timeout: null,
      immediate: null,
      fire: () => {
        t.timeout = t.immediate = null;
        const left = t.at - monotonicNow();
        if (left <= 0) t.cb();
        else schedule(t, left);
      },
    };
    schedule(t, ms);
    return t;
  },
  clearTimer(handle) {
    const t = handle as RealTimer;
    if (t.timeout !== null) clearTimeout(t.timeout);
    if (t.immediate !== null) clearImmediate(t.immediate);
    t.timeout = t.immediate = null;
  },
};

interface ManualTimer {
  at: number;
  seq: number;
  cb: () => void;
  ref: boolean;
}

/**
 * A clock that moves only when told to, for tests: delays become exact and no test sleeps. advance(ms) fires every
 * timer that falls due, in time order, each at its own instant; tick(ms) does the same and then lets queued work
 * run (one macrotask turn). Install it with {@link workqueueInit} before queueing anything.
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * workqueueInit({ clock });
 * const dwork = new DelayedWork(() => console.log('fired'));
 * queueDelayedWork(systemWq, dwork, 100);
 * await clock.tick(99); // nothing yet
 * await clock.tick(1); // prints "fired"
 * ```
 */
export class ManualClock implements Clock {
  private time: number;
  private seq = 0;
  private timers: ManualTimer[] = [];

  /**
   * Makes a clock standing still at start.
   *
   * @param start - The time now() reports until the clock is moved, in milliseconds.
   */
  constructor(start = 0) {
    this.time = start;
  }

  /** @returns The clock's time: start plus every advance() so far, in milliseconds. */
  now(): number {
    return this.time;
  }

  /**
   * Arms a timer that fires when the clock has been moved past now() + ms (at least 1 ms later, as Node timers).
   *
   * @param cb - What to call when the timer fires.
   * @param ms - The delay in milliseconds.
   * @param ref - Whether a real timer would keep the process alive (counted in refedTimers).
   * @returns A handle for clearTimer().
   */
  setTimer(cb: () => void, ms: number, ref: boolean): TimerHandle {
    const t: ManualTimer = { at: this.time + Math.max(ms, 1), seq: this.seq++, cb, ref };
    this.timers.push(t);
    return t;
  }

  /**
   * Disarms a timer that has not fired.
   *
   * @param handle - What setTimer() returned; a fired or cleared one is ignored.
   */
  clearTimer(handle: TimerHandle): void {
    const i = this.timers.indexOf(handle as ManualTimer);
    if (i >= 0) this.timers.splice(i, 1);
  }

  /** Timers armed and not yet fired. */
  get pendingTimers(): number {
    return this.timers.length;
  }

  /** Timers that would keep a real process alive. */
  get refedTimers(): number {
    return this.timers.filter((t) => t.ref).length;
  }

  /**
   * Moves the clock forward, firing every timer that falls due on the way, earliest first (in arming order among
   * equals), with now() set to each timer's own time while its callback runs. Timers armed by a callback fire too
   * if they fall due within the same advance. Work the timers queued has not run yet when it returns.
   *
   * @param ms - How far to move, in milliseconds.
   */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let next: ManualTimer | undefined;
      for (const t of this.timers) {
        if (t.at <= end && (next === undefined || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      }
      if (next === undefined) break;
      this.timers.splice(this.timers.indexOf(next), 1);
      this.time = Math.max(this.time, next.at);
      next.cb();
    }
    this.time = end;
  }

  /**
   * advance(ms), then waits one macrotask turn so that the work it queued runs (async handlers may need more).
   *
   * @param ms - How far to move, in milliseconds; 0 (the default) just lets queued work run.
   * @returns A promise that resolves after that turn.
   */
  async tick(ms = 0): Promise<void> {
    this.advance(ms);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
