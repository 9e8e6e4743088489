/**
 * One-shot jobs: queueFunc(wq, func, data), a function and its data queued without a Work handle.
 *
 * Most queueing in an application is fire-and-forget: a job nobody will cancel, flush or re-queue by itself. For
 * those, making a Work per job and keeping it is pure cost. queueFunc() takes a carrier (a Work of its own kind,
 * ONESHOT in its flags) from a small free list, fills in the function and the data, and queues it through the
 * ordinary path (queue.ts insertWork): validation, the draining and destroyed checks, flush colors, max_active,
 * freezing, tracepoints, statistics and error reporting are exactly a Work's. When the handler ends, the
 * carrier goes back on the free list (carrier.ts; worker.ts finishWork recycles it), as fastq recycles its task
 * objects.
 *
 * Invariant: nobody outside the core holds a carrier (the handler gets the data, not the carrier; currentWork()
 * inside the handler returns it, and it is valid only until the handler ends).
 */
export type { JobFunc } from './carrier.js';
import { WORK_CPU_UNBOUND } from '../base/constants.js';
import { describe, invalidArg } from '../base/errors.js';
import { localCpu } from '../base/init.js';
import { moduleRef } from './module-func.js';
import { checkCpu, checkQueueable, insertWork } from './queue.js';
import { type JobFunc, recycleCarrier, takeCarrier } from './carrier.js';
import { WorkFlag } from './work.js';
import { checkWorkqueue, type Workqueue } from './workqueue.js';

/**
 * Queues a one-shot job: `func(data)` runs once on wq, on cpu (WORK_CPU_UNBOUND: the caller's), with every
 * workqueue semantic of queueWork() (max_active, ordering, freezing, flushWorkqueue and drainWorkqueue count it,
 * tracepoints and wqMonitor see it) but no handle: it cannot be cancelled or flushed by itself. For a job that
 * must be, make a Work. It runs on this thread: a module function (workFunc()) is refused, queue it as a Work.
 * @typeParam T the type of the job's data.
 * @param cpu WORK_CPU_UNBOUND (-1) or a CPU number.
 * @param wq the workqueue.
 * @param func the job's function; it receives data.
 * @param data the job's payload.
 * @throws WorkqueueError ERR_WQ_INVALID_ARG for a bad argument, ERR_WQ_DRAINING or ERR_WQ_DESTROYED for a workqueue
 *   that does not accept it, ERR_WQ_NOT_PORTABLE for another CPU (functions cannot cross threads); nothing is queued then.
 */
export function queueFuncOn<T>(cpu: number, wq: Workqueue, func: JobFunc<T>, data?: T): void {
  checkCpu(cpu);
  checkWorkqueue(wq);
  if (typeof func !== 'function') invalidArg(`job function must be a function, got ${describe(func)}`);
  if (moduleRef(func) !== null) invalidArg('queueFunc() takes a JS function; queue a module function as a Work');
  const work = takeCarrier(func, data as T);
  if (wq.draining > 0 || wq.destroyed || (cpu !== WORK_CPU_UNBOUND && cpu !== localCpu)) {
    try {
      checkQueueable(cpu, wq, work, 'queueFunc');
    } catch (error) {
      recycleCarrier(work);
      throw error;
    }
  }
  work._flags |= WorkFlag.PENDING;
  insertWork(cpu, wq, work);
}

/**
 * Queues a one-shot job `func(data)` on wq, on the caller's CPU: queueFuncOn(WORK_CPU_UNBOUND, wq, func, data).
 * @typeParam T the type of the job's data.
 * @param wq the workqueue.
 * @param func the job's function; it receives data.
 * @param data the job's payload.
 * @throws WorkqueueError as queueFuncOn().
 */
export function queueFunc<T>(wq: Workqueue, func: JobFunc<T>, data?: T): void {
  queueFuncOn(WORK_CPU_UNBOUND, wq, func, data);
}
