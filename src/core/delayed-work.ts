/**
 * Delayed work (the kernel's delayed_work): a work item plus the timer that queues it.
 *
 * A DelayedWork is pending from the moment its timer is armed: queueing it again fails until it has started,
 * and cancel takes it back from the timer as easily as from a worklist. The timer lives on the timer base
 * (timers.ts); when it expires the item is queued on the workqueue and CPU it was aimed at. flushDelayedWork()
 * is with the other flushes (flush.ts), cancelDelayedWork() with the cancels (cancel.ts).
 */
import { WORK_CPU_UNBOUND } from '../base/constants.js';
import { describe, invalidArg } from '../base/errors.js';
import { grabPending } from './grab-pending.js';
import { checkCpu, checkDelay, checkQueueable, crosses, crossingPayload, insertWork } from './queue.js';
import { clonePayload, keepPayload, keptPayload, type Payload } from './payload.js';
import { timerBase } from './timers.js';
import { PENDING, Work, type WorkFunc, type WorkOptions } from './work.js';
import { checkWorkqueue, type Workqueue } from './workqueue.js';
import { type SharedQueueOptions, SharedWorkqueue, sharedOf, type SharedWork } from './shared.js';

export class DelayedWork<T = unknown> extends Work<T> {
  /** @internal The workqueue the timer queues on. */ _wq: Workqueue | null = null;
  /** @internal The CPU the timer queues on. */ _cpu = -1;
  /** @internal The timer's expiry (clock ms), valid while armed. */ _expires = 0;

  constructor(func: WorkFunc<DelayedWork<T>>, data?: T, options?: WorkOptions) {
    super(func as WorkFunc<Work<T>>, data, options);
  }
}

export function checkDelayedWork(dwork: unknown): asserts dwork is DelayedWork {
  if (!(dwork instanceof DelayedWork)) invalidArg(`expected a DelayedWork, got ${describe(dwork)}`);
}

export function delayedWorkPending<T>(dwork: SharedWork<T> & DelayedWork<T>): Promise<boolean>;
export function delayedWorkPending(dwork: DelayedWork<any>): boolean;
export function delayedWorkPending(dwork: DelayedWork<any>): boolean | Promise<boolean> {
  checkDelayedWork(dwork);
  const shared = sharedOf(dwork);
  if (shared !== null) return shared.workBusy(dwork).then((busy) => (busy & 1) !== 0);
  return (dwork._flags & PENDING) !== 0;
}

/** Validates a delayed queueing's arguments (what: the caller's name, for the error). */
function checkDelayedQueueing(cpu: number, wq: Workqueue, dwork: DelayedWork<any>, delay: number, what: string): void {
  checkCpu(cpu);
  checkWorkqueue(wq);
  checkDelayedWork(dwork);
  checkDelay(delay);
  checkQueueable(cpu, wq, dwork, what);
}

/**
 * Sets dwork's pending bit, with the payload it carries to another thread if any, and arms its timer to queue it
 * on wq at cpu after delay ms; delay 0 queues at once.
 */
function queueDelayed(
  cpu: number,
  wq: Workqueue,
  dwork: DelayedWork<any>,
  delay: number,
  payload: Payload | null,
): void {
  dwork._flags |= PENDING;
  if (payload !== null) keepPayload(dwork, payload);
  dwork._wq = wq;
  dwork._cpu = cpu;
  if (delay === 0) {
    insertWork(cpu, wq, dwork);
    return;
  }
  wq.nrArmed++;
  timerBase.add(dwork, delay);
}

/**
 * Queues dwork on wq, on cpu, after delay ms (0: at once, with no timer). A pending dwork is left as it is. On a
 * shared workqueue the delay runs on the database's clock.
 */
export function queueDelayedWorkOn(
  cpu: number,
  wq: SharedWorkqueue,
  dwork: DelayedWork<any>,
  delay: number,
  options?: SharedQueueOptions,
): Promise<boolean>;
export function queueDelayedWorkOn(cpu: number, wq: Workqueue, dwork: DelayedWork<any>, delay: number): boolean;
export function queueDelayedWorkOn(
  cpu: number,
  wq: Workqueue | SharedWorkqueue,
  dwork: DelayedWork<any>,
  delay: number,
  options?: SharedQueueOptions,
): boolean | Promise<boolean> {
  if (wq instanceof SharedWorkqueue) {
    checkCpu(cpu);
    checkDelayedWork(dwork);
    checkDelay(delay);
    return wq.queueDelayedWork(dwork, delay, options);
  }
  checkDelayedQueueing(cpu, wq, dwork, delay, 'queueDelayedWork');
  if ((dwork._flags & PENDING) !== 0 || dwork._disable !== 0) return false;
  queueDelayed(cpu, wq, dwork, delay, crossingPayload(cpu, wq, dwork));
  return true;
}

/** queueDelayedWorkOn() on the caller's CPU. */
export function queueDelayedWork(
  wq: SharedWorkqueue,
  dwork: DelayedWork<any>,
  delay: number,
  options?: SharedQueueOptions,
): Promise<boolean>;
export function queueDelayedWork(wq: Workqueue, dwork: DelayedWork<any>, delay: number): boolean;
export function queueDelayedWork(
  wq: Workqueue | SharedWorkqueue,
  dwork: DelayedWork<any>,
  delay: number,
  options?: SharedQueueOptions,
): boolean | Promise<boolean> {
  if (wq instanceof SharedWorkqueue) return queueDelayedWorkOn(WORK_CPU_UNBOUND, wq, dwork, delay, options);
  return queueDelayedWorkOn(WORK_CPU_UNBOUND, wq, dwork, delay);
}

/**
 * Queues dwork to run delay ms from now whatever its state: a pending dwork (armed or already queued) is taken
 * back and re-armed. Returns true if it was pending, false if it was idle. A disabled dwork is only cancelled.
 */
export function modDelayedWorkOn(
  cpu: number,
  wq: SharedWorkqueue,
  dwork: DelayedWork<any>,
  delay: number,
  options?: SharedQueueOptions,
): Promise<boolean>;
export function modDelayedWorkOn(cpu: number, wq: Workqueue, dwork: DelayedWork<any>, delay: number): boolean;
export function modDelayedWorkOn(
  cpu: number,
  wq: Workqueue | SharedWorkqueue,
  dwork: DelayedWork<any>,
  delay: number,
  options?: SharedQueueOptions,
): boolean | Promise<boolean> {
  if (wq instanceof SharedWorkqueue) {
    checkCpu(cpu);
    checkDelayedWork(dwork);
    checkDelay(delay);
    return wq.modDelayedWork(dwork, delay, options);
  }
  checkDelayedQueueing(cpu, wq, dwork, delay, 'modDelayedWork');
  // A re-armed instance keeps the data it was queued with; an idle one is cloned now, before anything changes.
  const crossing = dwork._disable === 0 && crosses(cpu, wq, dwork);
  const payload = crossing ? (keptPayload(dwork) ?? clonePayload(dwork)) : null;
  const wasPending = grabPending(dwork);
  if (dwork._disable === 0) queueDelayed(cpu, wq, dwork, delay, payload);
  return wasPending;
}

/** modDelayedWorkOn() on the caller's CPU. */
export function modDelayedWork(
  wq: SharedWorkqueue,
  dwork: DelayedWork<any>,
  delay: number,
  options?: SharedQueueOptions,
): Promise<boolean>;
export function modDelayedWork(wq: Workqueue, dwork: DelayedWork<any>, delay: number): boolean;
export function modDelayedWork(
  wq: Workqueue | SharedWorkqueue,
  dwork: DelayedWork<any>,
  delay: number,
  options?: SharedQueueOptions,
): boolean | Promise<boolean> {
  if (wq instanceof SharedWorkqueue) return modDelayedWorkOn(WORK_CPU_UNBOUND, wq, dwork, delay, options);
  return modDelayedWorkOn(WORK_CPU_UNBOUND, wq, dwork, delay);
}
