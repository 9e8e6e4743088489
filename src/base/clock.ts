/**
 * The clock seam. Delays are measured on a Clock so that tests can drive time by hand (ManualClock) instead of
 * sleeping; the real clock is performance.now() plus Node timers. Only delayed work and idle-worker culling go
 * through it: loop-fairness budgets are real time by nature and always read performance.now().
 */
import { performance } from 'node:perf_hooks';

export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds on a monotonic scale (any origin). */
  now(): number;
  /** Calls cb once after at least ms milliseconds. A timer with ref false never keeps the process alive. */
  setTimer(cb: () => void, ms: number, ref: boolean): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

/** Node's own timers cannot wait longer than this; longer delays re-arm. */
export const TIMER_MAX_MS = 2 ** 31 - 1;

export const realClock: Clock = {
  now: () => performance.now(),
  setTimer(cb, ms, ref) {
    const t = setTimeout(cb, Math.min(Math.max(ms, 1), TIMER_MAX_MS));
    if (!ref) t.unref();
    return t;
  },
  clearTimer(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

interface ManualTimer {
  at: number;
  seq: number;
  cb: () => void;
  ref: boolean;
}

/**
 * A clock that moves only when told to. advance(ms) fires every timer that falls due, in time order, each at its
 * own instant; tick(ms) does the same and then lets queued work run (one macrotask turn).
 */
export class ManualClock implements Clock {
  private time: number;
  private seq = 0;
  private timers: ManualTimer[] = [];

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimer(cb: () => void, ms: number, ref: boolean): TimerHandle {
    const t: ManualTimer = { at: this.time + Math.max(ms, 1), seq: this.seq++, cb, ref };
    this.timers.push(t);
    return t;
  }

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

  /** advance(ms), then wait one macrotask turn so that the work it queued runs (async handlers may need more). */
  async tick(ms = 0): Promise<void> {
    this.advance(ms);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
