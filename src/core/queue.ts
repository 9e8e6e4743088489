/**
 * Queueing: queueWork, queueDelayedWork, modDelayedWork and their ...On and schedule... forms.
 *
 * Every call validates its arguments and the target workqueue first and throws before touching the item; then
 * it claims the pending bit (a pending or disabled item is left alone and the call returns false) and hands the
 * item to the workqueue (insertWork, the kernel's __queue_work) or arms its timer.
 */
import { WORK_CPU_UNBOUND } from '../base/constants.js';
import { currentWorkOf } from './current.js';
import { chQueueWork, workEvent } from './tracepoints.js';
import { describe, invalidArg, WorkqueueError } from '../base/errors.js';
import { takeColor } from './flush-color.js';
import { config, localCpu, ownsThreads } from '../base/init.js';
import { moduleRef } from './module-func.js';
import { clonePayload, keepPayload, type Payload } from './payload.js';
import { checkWork, type Work, WorkFlag } from './work.js';
import { checkAlive, checkWorkqueue, Workqueue } from './workqueue.js';
import { type SharedQueueOptions, SharedWorkqueue } from './shared.js';

/** Validates a CPU number: WORK_CPU_UNBOUND (-1) or 0..nrCpus-1. */
export function checkCpu(cpu: unknown): asserts cpu is number {
  if (!(Number.isInteger(cpu) && (cpu as number) >= WORK_CPU_UNBOUND && (cpu as number) < config.nrCpus)) {
    invalidArg(`cpu must be WORK_CPU_UNBOUND (-1) or an integer in 0..${config.nrCpus - 1}, got ${describe(cpu)}`);
  }
}

export function checkDelay(delay: unknown): asserts delay is number {
  if (typeof delay !== 'number' || !Number.isFinite(delay) || delay < 0) {
    invalidArg(`delay must be a finite number of milliseconds >= 0, got ${describe(delay)}`);
  }
}

/**
 * Throws unless work may be queued on wq at cpu by this caller: the workqueue is alive, not draining (unless
 * the caller is one of its handlers), and only a module work goes to another CPU, from the thread that owns the
 * threads.
 */
export function checkQueueable(cpu: number, wq: Workqueue, work: Work<any>, what: string): void {
  if (wq.draining > 0 || wq.destroyed) {
    checkAlive(wq, what);
    // Queueing from one of wq's own handlers is chained work, accepted while draining.
    if (currentWorkOf(wq) === null) {
      throw new WorkqueueError(
        'ERR_WQ_DRAINING',
        `${what}: workqueue ${wq.name} is draining; only its own handlers may queue on it`,
      );
    }
  }
  if (cpu !== WORK_CPU_UNBOUND && cpu !== localCpu && !wq.unbound) {
    if (moduleRef(work.func) === null) {
      throw new WorkqueueError(
        'ERR_WQ_NOT_PORTABLE',
        `${what}: ${work.funcName} is a function work and cannot run on CPU ${cpu}; functions cannot cross threads (name it with workFunc())`,
      );
    }
    if (!ownsThreads) {
      throw new WorkqueueError(
        'ERR_WQ_NOT_PORTABLE',
        `${what}: CPU ${localCpu} is a thread cmwq started; only the thread that owns the CPUs (CPU 0) queues on other CPUs`,
      );
    }
  }
}

/**
 * The payload of work if queueing it on wq at cpu sends it to another thread (a module work on an unbound
 * workqueue, or on another CPU), cloned now: throws ERR_WQ_DATA_CLONE before anything changes. Else null.
 */
export function crossingPayload(cpu: number, wq: Workqueue, work: Work<any>): Payload | null {
  return crosses(cpu, wq, work) ? clonePayload(work) : null;
}

/** Whether queueing work on wq at cpu sends it to another thread. */
export function crosses(cpu: number, wq: Workqueue, work: Work<any>): boolean {
  return (
    ownsThreads === true &&
    (wq.unbound === true || (cpu !== WORK_CPU_UNBOUND && cpu !== localCpu)) &&
    moduleRef(work.func) !== null
  );
}

/** Puts a pending item on wq (the kernel's __queue_work). The caller has set PENDING and validated everything. */
export function insertWork(reqCpu: number, wq: Workqueue, work: Work<any>): void {
  // The pwq for the requested CPU (this one for WORK_CPU_UNBOUND; the only one of an unbound workqueue).
  const cpu = reqCpu === WORK_CPU_UNBOUND ? localCpu : reqCpu;
  const pwq = wq.pwqs[wq.unbound === true ? 0 : cpu] ?? wq.pwqFor(cpu);
  work._color = takeColor(wq);
  pwq.sample(work);
  if (chQueueWork.hasSubscribers) {
    work._pwq = pwq;
    chQueueWork.publish(workEvent(work, pwq, reqCpu));
  }
  pwq.insert(work, reqCpu);
}

/**
 * Queues work on wq for a given CPU (the kernel's queue_work_on). A CPU is an event loop: CPU 0 is the thread
 * that loaded cmwq first, CPUs 1..nrCpus-1 are worker threads cmwq starts on first use. Only a module work
 * ({@link workFunc}) can go to another CPU's thread; on an unbound workqueue the CPU is only a hint, and the
 * item goes to the workqueue's pool as with {@link queueWork}.
 *
 *
 * On a shared workqueue (cpu ignored: it is unbound) it resolves once the database has the item; options.tx queues
 * inside the caller's transaction.
 * @param cpu - 0..nrCpus-1, or {@link WORK_CPU_UNBOUND} (-1) for the CPU of the thread calling.
 * @param wq - The workqueue.
 * @param work - The work item.
 * @param options - Shared workqueues only: `{ tx }`, a database client inside the caller's open transaction; the
 *   item is queued if and only if that transaction commits.
 * @returns true if work was queued; false, doing nothing, if it was already pending or is disabled.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` for a bad cpu, workqueue or work; `ERR_WQ_NOT_PORTABLE` if
 *   a function work is aimed at another CPU's thread, or the caller is a thread cmwq started and names another
 *   CPU; otherwise as {@link queueWork}. Nothing is queued then.
 *
 * @example
 * ```ts
 * const checksum = workFunc(new URL('./hash.js', import.meta.url), 'checksum');
 * queueWorkOn(1, systemWq, new Work(checksum, buffer)); // runs on CPU 1's thread; buffer is cloned
 * ```
 */
export function queueWorkOn(
  cpu: number,
  wq: SharedWorkqueue,
  work: Work<any>,
  options?: SharedQueueOptions,
): Promise<boolean>;
export function queueWorkOn(cpu: number, wq: Workqueue, work: Work<any>): boolean;
export function queueWorkOn(
  cpu: number,
  wq: Workqueue | SharedWorkqueue,
  work: Work<any>,
  options?: SharedQueueOptions,
): boolean | Promise<boolean> {
  checkCpu(cpu);
  if (wq instanceof Workqueue) return queue(cpu, wq, work);
  if (wq instanceof SharedWorkqueue) return wq.queueWork(work, options);
  checkWorkqueue(wq); // throws
  return queue(cpu, wq, work);
}

/**
 * Queues work on wq (the kernel's queue_work): sets its pending bit and puts it on the workqueue; the handler runs
 * later, from the event loop, never inside this call. On a per-CPU workqueue the item runs on the caller's CPU;
 * on an unbound one in the workqueue's pool (a module work on the pool's threads). Items over wq's max_active
 * wait, inactive, in queueing order.
 *
 * While work is pending, any further queue call (on any workqueue, delayed or not) returns false and changes
 * nothing; the pending bit clears just before the handler is called, so a queue call from the handler, or while it
 * runs, makes exactly one more run, after this one.
 *
 * @param wq - The workqueue.
 * @param work - The work item.
 * @param options - Shared workqueues only: `{ tx }`, a database client inside the caller's open transaction; the
 *   item is queued if and only if that transaction commits.
 * @returns true if work was queued; false, doing nothing, if it was already pending or is disabled.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if wq is not a Workqueue or work not a Work;
 *   `ERR_WQ_DESTROYED` if wq has been destroyed; `ERR_WQ_DRAINING` if wq is draining or being destroyed and the
 *   caller is not one of its own handlers; `ERR_WQ_DATA_CLONE` if a module work's data (or transfer list) cannot
 *   be structured-cloned for its thread. Nothing is queued then and the work stays reusable.
 *
 * @example
 * ```ts
 * const inbox: string[] = [];
 * const drain = new Work(function drainInbox() {
 *   for (const message of inbox.splice(0)) handle(message);
 * });
 * function post(message: string): boolean {
 *   inbox.push(message);
 *   return queueWork(systemWq, drain);
 * }
 * post('a'); // true: queued
 * post('b'); // false: already pending; its one run handles both messages
 * ```
 */
export function queueWork(wq: SharedWorkqueue, work: Work<any>, options?: SharedQueueOptions): Promise<boolean>;
export function queueWork(wq: Workqueue, work: Work<any>): boolean;
export function queueWork(
  wq: Workqueue | SharedWorkqueue,
  work: Work<any>,
  options?: SharedQueueOptions,
): boolean | Promise<boolean> {
  // The local workqueue first: it is the hot path, and one prototype check tells it.
  if (wq instanceof Workqueue) return queue(WORK_CPU_UNBOUND, wq, work);
  if (wq instanceof SharedWorkqueue) return wq.queueWork(work, options);
  checkWorkqueue(wq); // throws
  return queue(WORK_CPU_UNBOUND, wq, work);
}

/** queueWorkOn() once cpu is known to be valid and wq to be a local workqueue. */
function queue(cpu: number, wq: Workqueue, work: Work<any>): boolean {
  checkWork(work);
  // `=== true`, here and on the rest of the hot path: V8 compiles a boolean field's truthiness test as a generic
  // ToBoolean (about ten instructions), a strict comparison as one.
  if (wq.draining > 0 || wq.destroyed === true || (cpu !== WORK_CPU_UNBOUND && cpu !== localCpu))
    checkQueueable(cpu, wq, work, 'queueWork');
  // Pending or disabled (the disable depth is in _flags too): one test.
  if ((work._flags & (WorkFlag.PENDING | WorkFlag.DISABLE_MASK)) !== 0) return false;
  const payload = crossingPayload(cpu, wq, work);
  work._flags |= WorkFlag.PENDING;
  if (payload !== null) keepPayload(work, payload);
  insertWork(cpu, wq, work);
  return true;
}
