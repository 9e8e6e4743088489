/**
 * The system-workqueue shorthands (schedule_work and friends) and workOnCpu().
 */
import { WORK_CPU_UNBOUND } from './constants.js';
import { describe, invalidArg, WorkqueueError } from './errors.js';
import { localCpu } from './init.js';
import { type DelayedWork, queueDelayedWork } from './delayed-work.js';
import { checkCpu, queueWork, queueWorkOn } from './queue.js';
import { systemWq } from './system-workqueues.js';
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
 * A JS function can only run on the caller's own CPU.
 */
export function workOnCpu<A, R>(cpu: number, fn: (arg: A) => R | PromiseLike<R>, arg: A): Promise<Awaited<R>> {
  checkCpu(cpu);
  if (typeof fn !== 'function') invalidArg(`workOnCpu: fn must be a function, got ${describe(fn)}`);
  if (cpu !== WORK_CPU_UNBOUND && cpu !== localCpu) {
    throw new WorkqueueError('ERR_WQ_NOT_PORTABLE', `workOnCpu: a function cannot run on CPU ${cpu}; functions cannot cross threads`);
  }
  return new Promise<Awaited<R>>((resolve, reject) => {
    const work = new Work(function workForCpuFn() {
      try {
        return Promise.resolve(fn(arg)).then(resolve, reject);
      } catch (error) {
        reject(error);
        return undefined;
      }
    });
    queueWorkOn(cpu, systemWq, work);
  });
}
