/**
 * Flushing: waiting for work to finish. flushWork() and flushDelayedWork() wait for one item through its
 * barrier (barrier.ts); flushWorkqueue() and drainWorkqueue() wait for a workqueue through its flush colors
 * (flush-color.ts).
 */
import { DESTROY_MAX_FIRES } from '../base/constants.js';
import { waitForWork } from './barrier.js';
import { checkDelayedWork, type DelayedWork } from './delayed-work.js';
import { startFlushWorkqueue, workqueueBusy } from './flush-color.js';
import { grabPending } from './grab-pending.js';
import { checkNotFromOwnHandler, checkNotSelf } from './lockdep.js';
import { fireTimerNow, timerBase } from './timers.js';
import { warn } from './tracepoints.js';
import { checkWork, type Work } from './work.js';
import { ListKind } from './worklist.js';
import { SharedWorkqueue, sharedOf } from './shared.js';
import { checkAlive, checkWorkqueue, type Workqueue } from './workqueue.js';

/**
 * Waits for work's instance that is queued or running now. Resolves false at once if it is idle (or only armed
 * on its timer), true when that instance has ended (or, queued only, was cancelled).
 */
export function flushWork(work: Work<any>): Promise<boolean> {
  checkWork(work);
  const shared = sharedOf(work);
  if (shared !== null) return shared.flushWork(work, false);
  checkNotSelf(work, 'flushWork');
  const wait = waitForWork(work);
  return wait === null ? Promise.resolve(false) : wait.then(() => true);
}

/**
 * Waits until every instance queued on wq before the call (inactive ones included) has ended. Items queued
 * after the call are not waited for. Overlapping flushes resolve in call order.
 */
export function flushWorkqueue(wq: Workqueue | SharedWorkqueue): Promise<void> {
  if (wq instanceof SharedWorkqueue) return wq.flushWorkqueue();
  checkWorkqueue(wq);
  checkAlive(wq, 'flushWorkqueue');
  checkNotFromOwnHandler(wq, 'flushWorkqueue');
  return startFlushWorkqueue(wq);
}

/**
 * Flushes wq until it is empty. Meanwhile only its own handlers may queue on it (chained work); anyone else
 * gets ERR_WQ_DRAINING.
 */
export function drainWorkqueue(wq: Workqueue | SharedWorkqueue): Promise<void> {
  if (wq instanceof SharedWorkqueue) return wq.drainWorkqueue();
  checkWorkqueue(wq);
  checkAlive(wq, 'drainWorkqueue');
  checkNotFromOwnHandler(wq, 'drainWorkqueue');
  return drain(wq, false);
}

/**
 * @internal Drains wq. With fireTimers (destroy), the delayed works armed on wq are fired at once each round, each
 * at most DESTROY_MAX_FIRES times: one armed again after that (a periodic work re-arming itself from its handler,
 * never cancelled) is cancelled instead, with a CmwqWarning, so that the drain ends (firing it every round ran it
 * back to back, forever, and the loop never got a turn).
 */
export async function drain(wq: Workqueue, fireTimers: boolean): Promise<void> {
  wq.draining++;
  const fired = fireTimers ? new Map<DelayedWork<any>, number>() : null;
  try {
    for (;;) {
      if (fired !== null && wq.nrArmed > 0) fireArmedWork(wq, fired);
      if (!workqueueBusy(wq) && !(fired !== null && wq.nrArmed > 0)) break;
      await startFlushWorkqueue(wq);
    }
  } finally {
    wq.draining--;
  }
}

/** Queues now every delayed work armed on wq; cancels, with a warning, those fired DESTROY_MAX_FIRES times. */
function fireArmedWork(wq: Workqueue, fired: Map<DelayedWork<any>, number>): void {
  const armed: DelayedWork<any>[] = [];
  for (const dwork of timerBase.nodes()) if (dwork._wq === wq) armed.push(dwork);
  for (const dwork of armed) {
    const times = fired.get(dwork) ?? 0;
    if (times < DESTROY_MAX_FIRES) {
      fired.set(dwork, times + 1);
      fireTimerNow(dwork);
      continue;
    }
    grabPending(dwork);
    warn(
      `workqueue ${wq.name}: destroyWorkqueue() cancelled delayed work ${dwork.funcName}, which re-armed itself ` +
        `${times} times during the destroy; cancel it (cancelDelayedWorkSync) before destroying its workqueue`,
    );
  }
}

/** Fires dwork's armed timer at once, then flushWork(). */
export function flushDelayedWork(dwork: DelayedWork<any>): Promise<boolean> {
  checkDelayedWork(dwork);
  const shared = sharedOf(dwork);
  if (shared !== null) return shared.flushWork(dwork, true);
  checkNotSelf(dwork, 'flushDelayedWork');
  if (dwork._list?.kind === ListKind.Timer) fireTimerNow(dwork);
  return flushWork(dwork);
}
