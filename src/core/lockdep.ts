/**
 * Self-wait checks, where the kernel has lockdep: a wait that would wait for its own caller throws
 * ERR_WQ_DEADLOCK instead of hanging forever.
 */
import { WorkqueueError } from '../base/errors.js';
import { currentWork, currentWorkOf } from './current.js';
import type { Work } from './work.js';
import type { Workqueue } from './workqueue.js';

/** Throws ERR_WQ_DEADLOCK when called from work's own handler: waiting for it would wait for the caller. */
export function checkNotSelf(work: Work<any>, what: string): void {
  if (currentWork() === work) {
    throw new WorkqueueError(
      'ERR_WQ_DEADLOCK',
      `${what}(${work.funcName}) called from that work's own handler would wait for itself`,
    );
  }
}

/** Throws ERR_WQ_DEADLOCK when the caller is a handler of wq: the flush would wait for the caller itself. */
export function checkNotFromOwnHandler(wq: Workqueue, what: string): void {
  const work = currentWorkOf(wq);
  if (work !== null) {
    throw new WorkqueueError(
      'ERR_WQ_DEADLOCK',
      `${what}(${wq.name}) called from ${work.funcName}, a handler of that workqueue, would wait for itself`,
    );
  }
}
