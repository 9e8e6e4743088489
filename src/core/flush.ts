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
 * Waits for the instance of work that is queued or running now to finish (the kernel's flush_work). Instances
 * queued after the call are not waited for. A delayed work that is only armed on its timer is not waited for
 * either: use {@link flushDelayedWork} for that.
 *
 * @param work - The work item.
 * @returns A promise that resolves false at once if work was idle (or only armed), and true once the instance
 *   that was pending or running has ended, successfully or not (or, if it was only queued, has been cancelled).
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if work is not a Work; `ERR_WQ_DEADLOCK` if called from
 *   work's own handler (it would wait for itself).
 *
 * @example
 * ```ts
 * queueWork(systemWq, save);
 * await flushWork(save); // save's handler has run (and ended, even if it failed)
 * ```
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
 * Waits until every instance queued on wq before the call (inactive ones included) has finished (the kernel's
 * flush_workqueue). Items queued after the call are not waited for, so an item that keeps re-queueing itself
 * cannot hold it up forever. Overlapping flushes resolve in call order. Delayed works still armed on their timers
 * are not waited for.
 *
 * @param wq - The workqueue.
 * @returns A promise that resolves once those instances have ended (whether their handlers failed or not).
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if wq is not a workqueue; `ERR_WQ_DESTROYED` if it has been
 *   destroyed; `ERR_WQ_DEADLOCK` if called from one of wq's own handlers (it would wait for itself).
 *
 * @example
 * ```ts
 * for (const file of files) queueWork(uploads, new Work(upload, file));
 * await flushWorkqueue(uploads); // every upload queued above has finished
 * ```
 */
export function flushWorkqueue(wq: Workqueue | SharedWorkqueue): Promise<void> {
  if (wq instanceof SharedWorkqueue) return wq.flushWorkqueue();
  checkWorkqueue(wq);
  checkAlive(wq, 'flushWorkqueue');
  checkNotFromOwnHandler(wq, 'flushWorkqueue');
  return startFlushWorkqueue(wq);
}

/**
 * Flushes wq until it is empty (the kernel's drain_workqueue), including the work its handlers queue on it
 * meanwhile (chained work). While it drains, only wq's own handlers (and the timers of delayed works aimed at it)
 * may queue on it; any other caller gets `ERR_WQ_DRAINING`. Delayed works still armed on their timers are not
 * waited for ({@link destroyWorkqueue} fires them first). A frozen {@link WQ_FREEZABLE} workqueue drains only once
 * {@link thawWorkqueues} lets its inactive items run. Afterwards wq accepts work again.
 *
 * @param wq - The workqueue.
 * @returns A promise that resolves once wq has nothing queued or running.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if wq is not a workqueue; `ERR_WQ_DESTROYED` if it has been
 *   destroyed; `ERR_WQ_DEADLOCK` if called from one of wq's own handlers.
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

/**
 * Fires dwork's armed timer at once (queueing it now, on the workqueue it was aimed at), then waits for it as
 * {@link flushWork} does (the kernel's flush_delayed_work).
 *
 * @param dwork - The delayed work.
 * @returns A promise that resolves false at once if dwork was idle, and true once the instance that was armed,
 *   queued or running has ended.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if dwork is not a DelayedWork; `ERR_WQ_DEADLOCK` if called
 *   from dwork's own handler.
 *
 * @example
 * ```ts
 * modDelayedWork(systemWq, save, 200); // debounced save
 * // ... at exit, do not wait 200 ms and do not lose it:
 * await flushDelayedWork(save);
 * ```
 */
export function flushDelayedWork(dwork: DelayedWork<any>): Promise<boolean> {
  checkDelayedWork(dwork);
  const shared = sharedOf(dwork);
  if (shared !== null) return shared.flushWork(dwork, true);
  checkNotSelf(dwork, 'flushDelayedWork');
  if (dwork._list?.kind === ListKind.Timer) fireTimerNow(dwork);
  return flushWork(dwork);
}
