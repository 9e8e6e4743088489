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
import { type SharedWork, sharedOf } from './shared.js';

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

/** Cancels a pending instance (an armed timer included). Never waits. Returns whether it was pending. */
export function cancelWork<T>(work: SharedWork<T>): Promise<boolean>;
export function cancelWork(work: Work<any>): boolean;
export function cancelWork(work: Work<any>): boolean | Promise<boolean> {
  checkWork(work);
  const shared = sharedOf(work);
  if (shared !== null) return shared.cancelWork(work);
  return grabPending(work);
}

/**
 * Cancels a pending instance and waits for a running one to end; meanwhile queueing the work fails. Afterwards
 * the work is idle and may be queued again. Resolves with whether it was pending.
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

/** Disables work (nesting up to 65535 deep) and cancels its pending instance. Returns whether it was pending. */
export function disableWork<T>(work: SharedWork<T>): Promise<boolean>;
export function disableWork(work: Work<any>): boolean;
export function disableWork(work: Work<any>): boolean | Promise<boolean> {
  checkWork(work);
  const shared = sharedOf(work);
  if (shared !== null) return shared.disableWork(work);
  disable(work);
  return grabPending(work);
}

/** disableWork(), then waits for a running instance to end. Resolves with whether it was pending. */
export function disableWorkSync(work: Work<any>): Promise<boolean> {
  checkWork(work);
  checkNotSelf(work, 'disableWorkSync');
  const wasPending = disableWork(work);
  const running = waitForWork(work);
  abortRunning(work);
  return running === null ? Promise.resolve(wasPending) : running.then(() => wasPending);
}

/** Undoes one disableWork(). Returns true when the work is enabled again (the depth reached 0). */
export function enableWork<T>(work: SharedWork<T>): Promise<boolean>;
export function enableWork(work: Work<any>): boolean;
export function enableWork(work: Work<any>): boolean | Promise<boolean> {
  checkWork(work);
  const shared = sharedOf(work);
  if (shared !== null) return shared.enableWork(work);
  if (work._disable === 0) invalidArg(`enableWork: ${work.funcName} is not disabled`);
  return --work._disable === 0;
}

/** enableWork(), and queueWork() if that enabled it. Returns whether it queued. */
export function enableAndQueueWork(wq: Workqueue, work: Work<any>): boolean {
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

export function cancelDelayedWork<T>(dwork: SharedWork<T> & DelayedWork<T>): Promise<boolean>;
export function cancelDelayedWork(dwork: DelayedWork<any>): boolean;
export function cancelDelayedWork(dwork: DelayedWork<any>): boolean | Promise<boolean> {
  checkDelayedWork(dwork);
  return cancelWork(dwork);
}

export function cancelDelayedWorkSync(dwork: DelayedWork<any>): Promise<boolean> {
  checkDelayedWork(dwork);
  return cancelWorkSync(dwork);
}

export function disableDelayedWork(dwork: DelayedWork<any>): boolean {
  checkDelayedWork(dwork);
  return disableWork(dwork);
}

export function disableDelayedWorkSync(dwork: DelayedWork<any>): Promise<boolean> {
  checkDelayedWork(dwork);
  return disableWorkSync(dwork);
}

export function enableDelayedWork(dwork: DelayedWork<any>): boolean {
  checkDelayedWork(dwork);
  return enableWork(dwork);
}
