/**
 * Call works: the carrier of a workOnCpu() call that runs on another thread.
 */
import type { ModuleFunc } from './module-func.js';
import { Work } from './work.js';

/**
 * The carrier of a workOnCpu() call on another thread: its module function is called with the argument, not with
 * the work, and its outcome settles the caller's promise instead of being reported as a handler failure.
 */
export class CallWork extends Work<unknown> {
  constructor(
    func: ModuleFunc,
    arg: unknown,
    readonly resolve: (value: any) => void,
    readonly reject: (error: unknown) => void,
  ) {
    super(func, arg);
  }
}
