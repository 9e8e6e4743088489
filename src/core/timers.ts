/**
 * The timer base of this thread (timer-base.ts), wired to the configured clock and to the queueing of expired
 * delayed works: an expired DelayedWork is queued on the workqueue and CPU it was aimed at, with no further checks
 * (a draining workqueue accepts it: it was queued before the drain, only late). While armed, a delayed work's
 * `_list` is the TimerList naming that workqueue and CPU (timer-list.ts); it is cleared when the timer fires or
 * is cancelled.
 */
import { config } from '../base/init.js';
import type { DelayedWork } from './delayed-work.js';
import { insertWork } from './queue.js';
import { TimerBase } from './timer-base.js';
import type { TimerList } from './timer-list.js';

/** This thread's timer base. */
export const timerBase = new TimerBase<DelayedWork<any>>(
  () => config.clock,
  (dwork) => delayedWorkTimerFn(dwork),
);

/** The timer of dwork expired (it is off the wheel): queue it where its TimerList says it was aimed. */
export function delayedWorkTimerFn(dwork: DelayedWork<any>): void {
  const target = dwork._list as TimerList;
  dwork._list = null;
  target.wq.nrArmed--;
  insertWork(target.cpu, target.wq, dwork);
}

/** Disarms dwork's armed timer and queues it now, as if it had expired (flushDelayedWork, destroyWorkqueue). */
export function fireTimerNow(dwork: DelayedWork<any>): void {
  timerBase.remove(dwork);
  delayedWorkTimerFn(dwork);
}

/**
 * Disarms dwork's armed timer (a cancel): off the wheel, no longer armed, nothing queued. Its _pwq, which held the
 * expiry key, is cleared: it names no pool workqueue until the next queueing sets it.
 */
export function delTimer(dwork: DelayedWork<any>): void {
  timerBase.remove(dwork);
  const target = dwork._list as TimerList;
  dwork._list = null;
  dwork._pwq = null;
  target.wq.nrArmed--;
}
