/**
 * The system-workqueue shorthands (schedule_work and friends) and workOnCpu().
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
    let call!: CallWork;
    const result = new Promise<Awaited<R>>(
      (resolve, reject) => (call = new CallWork(fn as ModuleFunc, arg, resolve, reject)),
    );
    queueWorkOn(cpu, systemWq, call);
    return result;
  }
  return new Promise<Awaited<R>>((resolve, reject) => {
    const work = new Work(function workForCpuFn() {
      try {
        return Promise.resolve((fn as (arg: A) => R)(arg)).then(resolve, reject);
      } catch (error) {
        reject(error);
        return undefined;
      }
    });
    queueWorkOn(cpu, systemWq, work);
  });
}
