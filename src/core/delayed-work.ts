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
import type { TimerList } from './timer-list.js';
import { timerBase } from './timers.js';
import { Work, WorkFlag, type WorkFunc, type WorkOptions } from './work.js';
import { checkWorkqueue, type Workqueue } from './workqueue.js';
import { type SharedQueueOptions, SharedWorkqueue, sharedOf, type SharedWork } from './shared.js';

/**
 * A work item with a timer (the kernel's delayed_work): {@link queueDelayedWork} arms the timer, and its expiry
 * queues the item on the workqueue it was aimed at. It is pending from the moment the timer is armed, so a second
 * queueDelayedWork() returns false and leaves the expiry as it was; {@link modDelayedWork} moves the expiry
 * instead. Everything a {@link Work} does, a DelayedWork does too (it can be queued at once with queueWork()).
 *
 * @typeParam T - The type of `data`.
 *
 * @example
 * ```ts
 * // Polls every second until cancelled: the handler re-arms its own work.
 * const poll = new DelayedWork(function pollStatus(work) {
 *   checkStatus();
 *   queueDelayedWork(systemWq, work, 1000);
 * });
 * queueDelayedWork(systemWq, poll, 1000);
 * // ... at shutdown (it cannot re-arm while cancelDelayedWorkSync waits):
 * await cancelDelayedWorkSync(poll);
 * ```
 */
export class DelayedWork<T = unknown> extends Work<T> {
  // No fields of its own: while armed, _list names the workqueue and CPU the timer queues on (a TimerList), the
  // wheel slot links it through _next/_prev and _pwq holds its expiry, none of which an armed work otherwise uses.
  // So a DelayedWork is exactly as large as a Work.

  /** @internal The workqueue the armed timer queues on (valid while armed). */
  get _wq(): Workqueue {
    return (this._list as TimerList).wq;
  }

  /** @internal The CPU the armed timer queues on (valid while armed). */
  get _cpu(): number {
    return (this._list as TimerList).cpu;
  }

  /**
   * @internal The timer's expiry key (clock ms), valid while armed. Kept in _pwq, which an armed work does not
   * use: it names a pool workqueue only once its timer queues it (pwq.insert() sets it then), and the code that
   * reads a running item's pwq reads its worker's currentPwq, so re-arming a running work is safe.
   */
  get _expires(): number {
    return (this as unknown as ArmedWork)._pwq;
  }

  /** @internal */
  set _expires(key: number) {
    (this as unknown as ArmedWork)._pwq = key;
  }

  /**
   * Makes an idle delayed work; no timer is armed.
   *
   * @param func - The handler, called with this work (a plain function, or a module function from
   *   {@link workFunc}).
   * @param data - The payload, as `work.data`.
   * @param options - `priority`: see {@link WorkOptions}.
   * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if func is not a function or the priority is not a finite
   *   number.
   */
  constructor(func: WorkFunc<DelayedWork<T>>, data?: T, options?: WorkOptions) {
    super(func as WorkFunc<Work<T>>, data, options);
  }
}

/** An armed delayed work's view of its _pwq field: the expiry key (see DelayedWork._expires). */
interface ArmedWork {
  _pwq: number;
}

export function checkDelayedWork(dwork: unknown): asserts dwork is DelayedWork {
  // The test alone, the message in a function of its own: small enough that V8 always inlines it into the arm and
  // cancel paths, past its inlining budget.
  if (!(dwork instanceof DelayedWork)) notDelayedWork(dwork);
}

function notDelayedWork(dwork: unknown): never {
  invalidArg(`expected a DelayedWork, got ${describe(dwork)}`);
}

/**
 * Whether dwork is pending: armed on its timer, or queued. The same as {@link workPending}, for a DelayedWork.
 *
 * @param dwork - The delayed work.
 * @typeParam T - The type of the work's data.
 * @returns true while an instance waits to start.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if dwork is not a DelayedWork.
 */
export function delayedWorkPending<T>(dwork: SharedWork<T> & DelayedWork<T>): Promise<boolean>;
export function delayedWorkPending(dwork: DelayedWork<any>): boolean;
export function delayedWorkPending(dwork: DelayedWork<any>): boolean | Promise<boolean> {
  checkDelayedWork(dwork);
  const shared = sharedOf(dwork);
  if (shared !== null) return shared.workBusy(dwork).then((busy) => (busy & 1) !== 0);
  return (dwork._flags & WorkFlag.PENDING) !== 0;
}

/** Validates the arguments a shared workqueue's delayed queueing takes from the caller (the rest it checks itself). */
function checkSharedDelayed(cpu: number, dwork: DelayedWork<any>, delay: number): void {
  checkCpu(cpu);
  checkDelayedWork(dwork);
  checkDelay(delay);
}

/** Validates a delayed queueing's arguments but the CPU, already checked (what: the caller's name, for the error). */
function checkDelayedQueueing(cpu: number, wq: Workqueue, dwork: DelayedWork<any>, delay: number, what: string): void {
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
  dwork._flags |= WorkFlag.PENDING;
  if (payload !== null) keepPayload(dwork, payload);
  if (delay === 0) {
    insertWork(cpu, wq, dwork);
    return;
  }
  dwork._list = cpu === WORK_CPU_UNBOUND ? wq.timerList : wq.timerList.forCpu(cpu);
  wq.nrArmed++;
  timerBase.add(dwork, delay);
}

/**
 * {@link queueDelayedWork} aimed at a CPU: when the timer fires, dwork is queued on wq for that CPU (see
 * {@link queueWorkOn} for what a CPU means and which works may go to another one).
 *
 *
 * On a shared workqueue the delay runs on the database's clock.
 * @param cpu - 0..nrCpus-1, or {@link WORK_CPU_UNBOUND} (-1) for the CPU of the thread calling.
 * @param wq - The workqueue the timer will queue it on.
 * @param dwork - The delayed work.
 * @param delay - Milliseconds from now; 0 queues at once, with no timer.
 * @param options - Shared workqueues only: `{ tx }`, a database client inside the caller's open transaction; the
 *   item is queued if and only if that transaction commits.
 * @returns true if dwork was armed (or queued); false, changing nothing, if it was pending or is disabled.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` for a bad cpu, workqueue, work or delay;
 *   `ERR_WQ_DESTROYED` or `ERR_WQ_DRAINING` if wq is destroyed or draining (unless called from one of wq's own
 *   handlers); `ERR_WQ_NOT_PORTABLE` if a function work is aimed at another CPU; `ERR_WQ_DATA_CLONE` if a module
 *   work's data cannot be cloned for its thread. Nothing is armed then.
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
    checkSharedDelayed(cpu, dwork, delay);
    return wq.queueDelayedWork(dwork, delay, options);
  }
  checkCpu(cpu);
  return armDelayed(cpu, wq, dwork, delay);
}

/** queueDelayedWorkOn() on a local workqueue, once cpu is known to be valid. */
function armDelayed(cpu: number, wq: Workqueue, dwork: DelayedWork<any>, delay: number): boolean {
  checkDelayedQueueing(cpu, wq, dwork, delay, 'queueDelayedWork');
  // Pending or disabled, in one test.
  if ((dwork._flags & (WorkFlag.PENDING | WorkFlag.DISABLE_MASK)) !== 0) return false;
  queueDelayed(cpu, wq, dwork, delay, crossingPayload(cpu, wq, dwork));
  return true;
}

/**
 * Queues dwork on wq after delay milliseconds. The timer is armed now and dwork is pending from now on: until it
 * starts, every queue call on it returns false, and this one leaves a pending dwork (and its expiry) as it is.
 * Delay 0 queues it at once, with no timer. It never runs before the delay has elapsed.
 *
 * @param wq - The workqueue the timer will queue it on.
 * @param dwork - The delayed work.
 * @param delay - Milliseconds from now (0 or more; fractions allowed).
 * @param options - Shared workqueues only: `{ tx }`, a database client inside the caller's open transaction; the
 *   item is queued if and only if that transaction commits.
 * @returns true if dwork was armed (or queued); false, changing nothing, if it was pending or is disabled.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` for a bad workqueue, work or delay (negative, not finite);
 *   `ERR_WQ_DESTROYED` or `ERR_WQ_DRAINING` if wq is destroyed or draining (unless called from one of wq's own
 *   handlers); `ERR_WQ_DATA_CLONE` if a module work's data cannot be cloned for its thread. Nothing is armed then.
 *
 * @example
 * ```ts
 * const retry = new DelayedWork(function reconnect() {
 *   connect();
 * });
 * queueDelayedWork(systemWq, retry, 5000); // true: armed for 5 s from now
 * queueDelayedWork(systemWq, retry, 100); // false: still pending, the expiry stays at 5 s
 * ```
 */
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
  return armDelayed(WORK_CPU_UNBOUND, wq, dwork, delay);
}

/**
 * {@link modDelayedWork} aimed at a CPU (see {@link queueWorkOn} for what a CPU means).
 *
 * @param cpu - 0..nrCpus-1, or {@link WORK_CPU_UNBOUND} (-1) for the CPU of the thread calling.
 * @param wq - The workqueue the timer will queue it on.
 * @param dwork - The delayed work.
 * @param delay - Milliseconds from now; 0 queues at once.
 * @param options - Shared workqueues only: `{ tx }`, a database client inside the caller's open transaction; the
 *   item is queued if and only if that transaction commits.
 * @returns true if dwork was pending, false if it was idle; either way it is now armed, unless it is disabled.
 * @throws {@link WorkqueueError} as {@link queueDelayedWorkOn}, before anything changes.
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
    checkSharedDelayed(cpu, dwork, delay);
    return wq.modDelayedWork(dwork, delay, options);
  }
  checkCpu(cpu);
  checkDelayedQueueing(cpu, wq, dwork, delay, 'modDelayedWork');
  // A re-armed instance keeps the data it was queued with; an idle one is cloned now, before anything changes.
  const crossing = dwork._disable === 0 && crosses(cpu, wq, dwork);
  const payload = crossing ? (keptPayload(dwork) ?? clonePayload(dwork)) : null;
  const wasPending = grabPending(dwork);
  if (dwork._disable === 0) queueDelayed(cpu, wq, dwork, delay, payload);
  return wasPending;
}

/**
 * Arms dwork to be queued delay milliseconds from now, whatever its state: a pending dwork (armed, or queued and
 * not yet started) is taken back and re-armed with the new delay, earlier or later; an idle one is armed. Either
 * way it runs once, at the new expiry. Delay 0 queues it at once. A disabled dwork is only cancelled.
 *
 * A module work that crosses to another thread keeps the copy of its data taken when it was queued: re-arming a
 * pending one does not copy `data` again.
 *
 * @param wq - The workqueue the timer will queue it on.
 * @param dwork - The delayed work.
 * @param delay - Milliseconds from now (0 or more).
 * @param options - Shared workqueues only: `{ tx }`, a database client inside the caller's open transaction; the
 *   item is queued if and only if that transaction commits.
 * @returns true if dwork was pending, false if it was idle; either way it is now armed, unless it is disabled.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` for a bad workqueue, work or delay; `ERR_WQ_DESTROYED` or
 *   `ERR_WQ_DRAINING` if wq is destroyed or draining (unless called from one of wq's own handlers);
 *   `ERR_WQ_DATA_CLONE` if a module work's data cannot be cloned for its thread. Nothing changes then.
 *
 * @example
 * ```ts
 * // Debounce: one save, 200 ms after the last edit, however many edits.
 * const save = new DelayedWork(function saveDraft(work) {
 *   store(work.data.text);
 * }, { text: '' });
 *
 * function onInput(text: string): void {
 *   save.data.text = text;
 *   modDelayedWork(systemWq, save, 200); // pushes the expiry back on every call
 * }
 * ```
 */
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
