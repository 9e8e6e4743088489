/**
 * Cancelling and disabling: cancelWork(Sync), cancelDelayedWork(Sync), disableWork(Sync), enableWork,
 * enableAndQueueWork and their delayed forms.
 *
 * Each takes a pending instance back with grabPending() (grab-pending.ts). As in the kernel
 * since 6.10, cancel...Sync is disable + wait for the running instance + enable: while it waits, every queue call
 * on the item fails.
 */
import { WORK_OFFQ_DISABLE_MAX } from '../base/constants.js';
import { invalidArg } from '../base/errors.js';
import { waitForWork } from './barrier.js';
import { checkDelayedWork, type DelayedWork } from './delayed-work.js';
import { grabPending } from './grab-pending.js';
import { checkNotSelf } from './lockdep.js';
import { queueWork } from './queue.js';
import { abortInstance, checkWork, type Work } from './work.js';
import { checkWorkqueue, type Workqueue } from './workqueue.js';
import { type SharedWork, SharedWorkqueue, sharedOf } from './shared.js';

/** The canceller waits for work's running instance: abort its signal, here or on the thread running it. */
function abortRunning(work: Work<any>): void {
  const worker = work._worker;
  if (worker === null) return;
  if (worker.thread !== null) worker.thread.abort(worker.slot);
  else abortInstance(work);
}

function disable(work: Work<any>): void {
  if (work._disable >= WORK_OFFQ_DISABLE_MAX)
    invalidArg(`disableWork: ${work.funcName} is disabled ${WORK_OFFQ_DISABLE_MAX} deep already`);
  work._disable++;
}

/**
 * Takes back work's pending instance, wherever it waits (an armed timer, an inactive list, a worklist), so that it
 * does not run (the kernel's cancel_work). Never waits: a handler already running goes on; use
 * {@link cancelWorkSync} to wait for it too. The work stays enabled and may be queued again at once.
 *
 * @param work - The work item (a DelayedWork too).
 * @typeParam T - The type of the work's data.
 * @returns true if an instance was pending (and now will not run), false if there was none.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if work is not a Work.
 */
export function cancelWork<T>(work: SharedWork<T>): Promise<boolean>;
export function cancelWork(work: Work<any>): boolean;
export function cancelWork(work: Work<any>): boolean | Promise<boolean> {
  checkWork(work);
  const shared = sharedOf(work);
  if (shared !== null) return shared.cancelWork(work);
  return grabPending(work);
}

/**
 * Cancels work's pending instance and waits for a running one to end (the kernel's cancel_work_sync). While it
 * waits, every queue call on the work returns false, so a handler that re-queues itself cannot slip through; the
 * running instance's `work.signal` is aborted, for a handler that wants to stop early. Once it resolves the work
 * is neither pending nor running, and may be queued again.
 *
 * @param work - The work item (a DelayedWork too).
 * @returns A promise that resolves with whether an instance was pending, once no instance is running.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if work is not a Work or is already disabled 65535 deep;
 *   `ERR_WQ_DEADLOCK` if called from work's own handler (it would wait for itself).
 *
 * @example
 * ```ts
 * // Shutdown: stop a self-re-queueing work and be sure it is not running afterwards.
 * await cancelWorkSync(poller);
 * closeConnection(); // poller's handler cannot be using it now
 * ```
 */
export function cancelWorkSync(work: Work<any>): Promise<boolean> {
  checkWork(work);
  const shared = sharedOf(work);
  if (shared !== null) return shared.cancelWorkSync(work);
  checkNotSelf(work, 'cancelWorkSync');
  disable(work);
  const wasPending = grabPending(work);
  const running = waitForWork(work);
  abortRunning(work);
  if (running === null) {
    work._disable--;
    return Promise.resolve(wasPending);
  }
  return running.then(() => {
    work._disable--;
    return wasPending;
  });
}

/**
 * Disables work and cancels its pending instance (the kernel's disable_work): until it is enabled again every queue
 * call on it returns false. Disabling nests: it takes as many {@link enableWork} calls as disableWork calls. Never
 * waits for a running handler (see {@link disableWorkSync}).
 *
 * @param work - The work item (a DelayedWork too).
 * @typeParam T - The type of the work's data.
 * @returns true if an instance was pending (and now will not run), false if there was none.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if work is not a Work, or is disabled 65535 deep already.
 */
export function disableWork<T>(work: SharedWork<T>): Promise<boolean>;
export function disableWork(work: Work<any>): boolean;
export function disableWork(work: Work<any>): boolean | Promise<boolean> {
  checkWork(work);
  const shared = sharedOf(work);
  if (shared !== null) return shared.disableWork(work);
  disable(work);
  return grabPending(work);
}

/**
 * {@link disableWork}, then waits for a running instance to end (the kernel's disable_work_sync); the running
 * instance's `work.signal` is aborted. The work stays disabled afterwards.
 *
 * @param work - The work item (a DelayedWork too).
 * @returns A promise that resolves with whether an instance was pending, once no instance is running.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if work is not a Work or is disabled 65535 deep already;
 *   `ERR_WQ_DEADLOCK` if called from work's own handler.
 */
export function disableWorkSync(work: Work<any>): Promise<boolean> {
  checkWork(work);
  const shared = sharedOf(work);
  if (shared !== null) return shared.disableWorkSync(work);
  checkNotSelf(work, 'disableWorkSync');
  const wasPending = disableWork(work) as boolean;
  const running = waitForWork(work);
  abortRunning(work);
  return running === null ? Promise.resolve(wasPending) : running.then(() => wasPending);
}

/**
 * Undoes one {@link disableWork} (the kernel's enable_work). Nothing is queued: queue the work again if it is
 * needed, or use {@link enableAndQueueWork}.
 *
 * @param work - The work item (a DelayedWork too).
 * @typeParam T - The type of the work's data.
 * @returns true if the work is enabled now (the depth reached 0), false if it is still disabled.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if work is not a Work or is not disabled.
 */
export function enableWork<T>(work: SharedWork<T>): Promise<boolean>;
export function enableWork(work: Work<any>): boolean;
export function enableWork(work: Work<any>): boolean | Promise<boolean> {
  checkWork(work);
  const shared = sharedOf(work);
  if (shared !== null) return shared.enableWork(work);
  if (work._disable === 0) invalidArg(`enableWork: ${work.funcName} is not disabled`);
  return --work._disable === 0;
}

/**
 * {@link enableWork}, and {@link queueWork} on wq if that enabled it (the kernel's enable_and_queue_work). On a
 * shared workqueue both happen in one database transaction, and the promise resolves with the same answer.
 *
 * @param wq - The workqueue to queue it on.
 * @param work - The work item.
 * @returns true if work is enabled now and was queued (or was pending already), false if it is still disabled
 *   (nothing queued).
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if wq or work is not what it should be, or work is not
 *   disabled; as {@link queueWork} otherwise, in which case work stays disabled (one deep), as it was.
 *
 * @example
 * ```ts
 * disableWork(refresh); // refresh cannot be queued while the cache is rebuilt
 * rebuildCache();
 * enableAndQueueWork(systemWq, refresh); // enabled, and one refresh queued
 * ```
 */
export function enableAndQueueWork(wq: SharedWorkqueue, work: Work<any>): Promise<boolean>;
export function enableAndQueueWork(wq: Workqueue, work: Work<any>): boolean;
export function enableAndQueueWork(wq: Workqueue | SharedWorkqueue, work: Work<any>): boolean | Promise<boolean> {
  if (wq instanceof SharedWorkqueue) return wq.enableAndQueueWork(work);
  checkWorkqueue(wq);
  checkWork(work);
  if (work._disable === 0) invalidArg(`enableAndQueueWork: ${work.funcName} is not disabled`);
  if (work._disable > 1) {
    work._disable--;
    return false;
  }
  // Queue first so that a workqueue that refuses (draining, destroyed) leaves the work as it was.
  work._disable = 0;
  try {
    queueWork(wq, work);
  } catch (error) {
    work._disable = 1;
    throw error;
  }
  return true;
}

/**
 * {@link cancelWork} for a DelayedWork (the kernel's cancel_delayed_work): disarms its timer, or takes it off
 * the workqueue if the timer had fired. Never waits.
 *
 * @param dwork - The delayed work.
 * @typeParam T - The type of the work's data.
 * @returns true if an instance was pending (armed or queued), false if there was none.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if dwork is not a DelayedWork.
 */
export function cancelDelayedWork<T>(dwork: SharedWork<T> & DelayedWork<T>): Promise<boolean>;
export function cancelDelayedWork(dwork: DelayedWork<any>): boolean;
export function cancelDelayedWork(dwork: DelayedWork<any>): boolean | Promise<boolean> {
  checkDelayedWork(dwork);
  return cancelWork(dwork);
}

/**
 * {@link cancelWorkSync} for a DelayedWork (the kernel's cancel_delayed_work_sync): disarms or dequeues it and
 * waits for a running instance; meanwhile re-arming it fails (returns false).
 *
 * @param dwork - The delayed work.
 * @returns A promise that resolves with whether an instance was pending, once no instance is running.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if dwork is not a DelayedWork or is disabled 65535 deep;
 *   `ERR_WQ_DEADLOCK` if called from dwork's own handler.
 */
export function cancelDelayedWorkSync(dwork: DelayedWork<any>): Promise<boolean> {
  checkDelayedWork(dwork);
  return cancelWorkSync(dwork);
}

/**
 * {@link disableWork} for a DelayedWork (the kernel's disable_delayed_work).
 *
 * @param dwork - The delayed work.
 * @typeParam T - The type of the work's data.
 * @returns true if an instance was pending (armed or queued), false if there was none.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if dwork is not a DelayedWork or is disabled 65535 deep.
 */
export function disableDelayedWork<T>(dwork: SharedWork<T> & DelayedWork<T>): Promise<boolean>;
export function disableDelayedWork(dwork: DelayedWork<any>): boolean;
export function disableDelayedWork(dwork: DelayedWork<any>): boolean | Promise<boolean> {
  checkDelayedWork(dwork);
  return disableWork(dwork);
}

/**
 * {@link disableWorkSync} for a DelayedWork (the kernel's disable_delayed_work_sync).
 *
 * @param dwork - The delayed work.
 * @returns A promise that resolves with whether an instance was pending, once no instance is running.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if dwork is not a DelayedWork or is disabled 65535 deep;
 *   `ERR_WQ_DEADLOCK` if called from dwork's own handler.
 */
export function disableDelayedWorkSync(dwork: DelayedWork<any>): Promise<boolean> {
  checkDelayedWork(dwork);
  return disableWorkSync(dwork);
}

/**
 * {@link enableWork} for a DelayedWork (the kernel's enable_delayed_work). Nothing is armed.
 *
 * @param dwork - The delayed work.
 * @typeParam T - The type of the work's data.
 * @returns true if dwork is enabled now, false if it is still disabled.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if dwork is not a DelayedWork or is not disabled.
 */
export function enableDelayedWork<T>(dwork: SharedWork<T> & DelayedWork<T>): Promise<boolean>;
export function enableDelayedWork(dwork: DelayedWork<any>): boolean;
export function enableDelayedWork(dwork: DelayedWork<any>): boolean | Promise<boolean> {
  checkDelayedWork(dwork);
  return enableWork(dwork);
}
