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

/**
 * Queues work on {@link systemWq} (the kernel's schedule_work): the same as `queueWork(systemWq, work)`.
 *
 * @param work - The work item.
 * @returns true if work was queued; false, doing nothing, if it was already pending or is disabled.
 * @throws {@link WorkqueueError} as {@link queueWork}.
 */
export function scheduleWork(work: Work<any>): boolean {
  return queueWork(systemWq, work);
}

/**
 * Arms dwork to be queued on {@link systemWq} after delay milliseconds (the kernel's schedule_delayed_work): the
 * same as `queueDelayedWork(systemWq, dwork, delay)`.
 *
 * @param dwork - The delayed work.
 * @param delay - Milliseconds from now; 0 queues at once.
 * @returns true if dwork was armed (or queued); false, changing nothing, if it was pending or is disabled.
 * @throws {@link WorkqueueError} as {@link queueDelayedWork}.
 */
export function scheduleDelayedWork(dwork: DelayedWork<any>, delay: number): boolean {
  return queueDelayedWork(systemWq, dwork, delay);
}

/**
 * Calls fn(arg) on a CPU, from a work item on {@link systemWq}, and resolves with its result (the kernel's
 * work_on_cpu). On the caller's own CPU fn may be any function; on another CPU it must be a module function
 * ({@link workFunc}), and arg and the result are structured-cloned. An error fn throws (or a promise it returns
 * rejects with) rejects the returned promise and is not reported as a handler failure.
 *
 * @typeParam A - The argument's type.
 * @typeParam R - What fn returns (or what its promise resolves with).
 * @param cpu - 0..nrCpus-1, or {@link WORK_CPU_UNBOUND} (-1) for the caller's own CPU.
 * @param fn - The function to call: a module function for another CPU.
 * @param arg - Its argument.
 * @returns A promise of fn's result. It rejects with fn's error; for a module function also with
 *   `ERR_WQ_MODULE` (module or export not found), `ERR_WQ_DATA_CLONE` (a result that cannot be cloned back),
 *   `ERR_WQ_WORKER_EXITED` (the thread died) or `ERR_WQ_THREAD_START` (no thread could be started).
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` for a bad cpu or an fn that is not a function;
 *   `ERR_WQ_NOT_PORTABLE` if a plain function is aimed at another CPU, or a thread cmwq started names another
 *   CPU; `ERR_WQ_DATA_CLONE` if arg cannot be cloned for the thread.
 *
 * @example
 * ```ts
 * const parse = workFunc(new URL('./parse.js', import.meta.url), 'parse');
 * const ast = await workOnCpu(1, parse, sourceText); // parse(sourceText) on CPU 1's thread
 * ```
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
 * back from a module work. On an unbound workqueue a module function ({@link workFunc}) runs on the pool's threads,
 * arg and the result structured-cloned (what piscina's run() does, with wq's max_active, flushes and monitors); any
 * other function, or any workqueue bound to this CPU, runs fn on this loop.
 *
 * @typeParam A - The argument's type.
 * @typeParam R - What fn returns (or what its promise resolves with).
 * @param wq - The workqueue to queue the call on.
 * @param fn - A module function (workFunc(url, name)) or, to run here, any function.
 * @param arg - Its argument (cloned to another thread).
 * @returns A promise for fn's result; a failure of fn rejects it (it is not reported as a handler failure), and
 *   so do `ERR_WQ_MODULE`, `ERR_WQ_WORKER_EXITED` and `ERR_WQ_THREAD_START` for a module function.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if wq is not a workqueue or fn not a function;
 *   `ERR_WQ_DESTROYED` or `ERR_WQ_DRAINING` if wq is destroyed or draining (unless called from one of wq's own
 *   handlers); `ERR_WQ_DATA_CLONE` if arg cannot be cloned for the thread. Nothing is queued then.
 *
 * @example
 * ```ts
 * const thumbnails = allocWorkqueue('thumbnails', WQ_UNBOUND, 4);
 * const thumbnail = workFunc(new URL('./images.js', import.meta.url), 'thumbnail');
 * const png = await workOnWorkqueue(thumbnails, thumbnail, { path: 'a.jpg', width: 128 }); // on a pool thread
 * ```
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
