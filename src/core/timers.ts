/**
 * The timer base of this thread (timer-base.ts), wired to the configured clock and to the queueing of expired
 * delayed works: an expired DelayedWork is queued on the workqueue and CPU it was aimed at, with no further checks
 * (a draining workqueue accepts it: it was queued before the drain, only late).
 */
import { config } from '../base/init.js';
import type { DelayedWork } from './delayed-work.js';
import { insertWork } from './queue.js';
import { TimerBase } from './timer-base.js';

/** This thread's timer base. */
export const timerBase = new TimerBase<DelayedWork<any>>(
  () => config.clock,
  (dwork) => delayedWorkTimerFn(dwork),
);

/** The timer of dwork expired: queue it where it was aimed. */
export function delayedWorkTimerFn(dwork: DelayedWork<any>): void {
  const wq = dwork._wq!;
  wq.nrArmed--;
  insertWork(dwork._cpu, wq, dwork);
}

/** Disarms dwork's armed timer and queues it now, as if it had expired (flushDelayedWork, destroyWorkqueue). */
export function fireTimerNow(dwork: DelayedWork<any>): void {
  timerBase.remove(dwork);
  delayedWorkTimerFn(dwork);
}
