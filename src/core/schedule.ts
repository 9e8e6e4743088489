/**
 * The system-workqueue shorthands (schedule_work and friends), workOnCpu() and workOnWorkqueue(): a call whose
 * result comes back as a promise.
 */
import { WORK_CPU_UNBOUND } from '../base/constants.js';
import { describe, invalidArg, WorkqueueError } from '../base/errors.js';
import { localCpu } from '../base/init.js';
import { type DelayedWork, queueDelayedWork } from './delayed-work.js';
import { checkCpu, queueWork, queueWorkOn } from './queue.js';
import { systemWq } from './system-workqueues.js';
import { CallWork } from './call-work.js';
import { type ModuleFunc, moduleRef } from './module-func.js';
import { Work } from './work.js';
import { checkWorkqueue, type Workqueue } from './workqueue.js';

/** queueWork(systemWq, work). */
export function scheduleWork(work: Work<any>): boolean {
  return queueWork(systemWq, work);
}

/** queueDelayedWork(systemWq, dwork, delay). */
export function scheduleDelayedWork(dwork: DelayedWork<any>, delay: number): boolean {
  return queueDelayedWork(systemWq, dwork, delay);
}

/**
 * Calls fn(arg) on cpu, from a work item on systemWq, and resolves with its result (or rejects with its error).
 * On the caller's own CPU fn may be any function; on another CPU it must be a module function (workFunc()), and
 * arg and the result are structured-cloned.
 */
export function workOnCpu<A, R>(
  cpu: number,
  fn: ((arg: A) => R | PromiseLike<R>) | ModuleFunc,
  arg: A,
): Promise<Awaited<R>> {
  checkCpu(cpu);
  if (typeof fn !== 'function') invalidArg(`workOnCpu: fn must be a function, got ${describe(fn)}`);
  if (cpu !== WORK_CPU_UNBOUND && cpu !== localCpu) {
    if (moduleRef(fn) === null) {
      throw new WorkqueueError(
        'ERR_WQ_NOT_PORTABLE',
        `workOnCpu: ${fn.name || 'a function'} cannot run on CPU ${cpu}; functions cannot cross threads (name it with workFunc())`,
      );
    }
    return callOnThread(cpu, systemWq, fn as ModuleFunc, arg);
  }
  return callHere(cpu, systemWq, fn as (arg: A) => R, arg);
}

/**
 * Calls fn(arg) from a work item queued on wq and resolves with its result (or rejects with its error): a result
 * back from a module work. On an unbound workqueue a module function (workFunc()) runs on the pool's threads, arg
 * and the result structured-cloned (what piscina's run() does, with wq's max_active, flushes and monitors); any
 * other function, or any workqueue bound to this CPU, runs fn on this loop.
 * @param wq The workqueue to queue the call on.
 * @param fn A module function (workFunc(url, name)) or, to run here, any function.
 * @param arg Its argument (cloned to another thread).
 * @returns A promise for fn's result; a failure of fn rejects it (it is not reported as a handler failure).
 * @throws WorkqueueError ERR_WQ_INVALID_ARG (not a workqueue or function), ERR_WQ_DRAINING, ERR_WQ_DESTROYED,
 * ERR_WQ_DATA_CLONE (arg cannot be cloned), as queueWork() does.
 */
export function workOnWorkqueue<A, R>(
  wq: Workqueue,
  fn: ((arg: A) => R | PromiseLike<R>) | ModuleFunc,
  arg: A,
): Promise<Awaited<R>> {
  checkWorkqueue(wq);
  if (typeof fn !== 'function') invalidArg(`workOnWorkqueue: fn must be a function, got ${describe(fn)}`);
  if (wq.unbound && moduleRef(fn) !== null) return callOnThread(WORK_CPU_UNBOUND, wq, fn as ModuleFunc, arg);
  return callHere(WORK_CPU_UNBOUND, wq, fn as (arg: A) => R, arg);
}

/** Queues a call of module function fn on wq, aimed at cpu, to run on another thread. */
function callOnThread<R>(cpu: number, wq: Workqueue, fn: ModuleFunc, arg: unknown): Promise<R> {
  let call!: CallWork;
  const result = new Promise<R>((resolve, reject) => (call = new CallWork(fn, arg, resolve, reject)));
  queueWorkOn(cpu, wq, call);
  return result;
}

/** Queues a work on wq, aimed at cpu, that calls fn(arg) on this loop. Queueing errors throw here, synchronously. */
function callHere<A, R>(cpu: number, wq: Workqueue, fn: (arg: A) => R, arg: A): Promise<Awaited<R>> {
  let resolve!: (value: Awaited<R>) => void;
  let reject!: (error: unknown) => void;
  const result = new Promise<Awaited<R>>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const work = new Work(function workForCpuFn() {
    try {
      return Promise.resolve(fn(arg)).then(resolve, reject);
    } catch (error) {
      reject(error);
      return undefined;
    }
  });
  queueWorkOn(cpu, wq, work);
  return result;
}
