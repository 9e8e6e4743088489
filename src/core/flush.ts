/**
 * Flushing: waiting for work to finish. flushWork() and flushDelayedWork() wait for one item through its
 * barrier (barrier.ts); flushWorkqueue() and drainWorkqueue() wait for a workqueue through its flush colors
 * (flush-color.ts).
 */
import { waitForWork } from './barrier.js';
import { checkDelayedWork, type DelayedWork } from './delayed-work.js';
import { startFlushWorkqueue, workqueueBusy } from './flush-color.js';
import { checkNotFromOwnHandler, checkNotSelf } from './lockdep.js';
import { fireTimerNow, timerBase } from './timers.js';
import { checkWork, type Work } from './work.js';
import { ListKind } from './worklist.js';
import { checkAlive, checkWorkqueue, type Workqueue } from './workqueue.js';

/**
 * Waits for work's instance that is queued or running now. Resolves false at once if it is idle (or only armed
 * on its timer), true when that instance has ended (or, queued only, was cancelled).
 */
export function flushWork(work: Work<any>): Promise<boolean> {
  checkWork(work);
  checkNotSelf(work, 'flushWork');
  const wait = waitForWork(work);
  return wait === null ? Promise.resolve(false) : wait.then(() => true);
}

/**
 * Waits until every instance queued on wq before the call (inactive ones included) has ended. Items queued
 * after the call are not waited for. Overlapping flushes resolve in call order.
 */
export function flushWorkqueue(wq: Workqueue): Promise<void> {
  checkWorkqueue(wq);
  checkAlive(wq, 'flushWorkqueue');
  checkNotFromOwnHandler(wq, 'flushWorkqueue');
  return startFlushWorkqueue(wq);
}

/**
 * Flushes wq until it is empty. Meanwhile only its own handlers may queue on it (chained work); anyone else
 * gets ERR_WQ_DRAINING.
 */
export function drainWorkqueue(wq: Workqueue): Promise<void> {
  checkWorkqueue(wq);
  checkAlive(wq, 'drainWorkqueue');
  checkNotFromOwnHandler(wq, 'drainWorkqueue');
  return drain(wq, false);
}

/** @internal Drains wq; with fireTimers, its armed delayed works are fired first, each round (destroy). */
export async function drain(wq: Workqueue, fireTimers: boolean): Promise<void> {
  wq.draining++;
  try {
    for (;;) {
      if (fireTimers && wq.nrArmed > 0) fireArmedWork(wq);
      if (!workqueueBusy(wq) && !(fireTimers && wq.nrArmed > 0)) break;
      await startFlushWorkqueue(wq);
    }
  } finally {
    wq.draining--;
  }
}

/** Queues now every delayed work armed to be queued on wq. */
function fireArmedWork(wq: Workqueue): void {
  const armed: DelayedWork<any>[] = [];
  for (const dwork of timerBase.nodes()) if (dwork._wq === wq) armed.push(dwork);
  for (const dwork of armed) fireTimerNow(dwork);
}

/** Fires dwork's armed timer at once, then flushWork(). */
export function flushDelayedWork(dwork: DelayedWork<any>): Promise<boolean> {
  checkDelayedWork(dwork);
  checkNotSelf(dwork, 'flushDelayedWork');
  if (dwork._list?.kind === ListKind.Timer) fireTimerNow(dwork);
  return flushWork(dwork);
}
