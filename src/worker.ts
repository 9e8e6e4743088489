/**
 * Workers (the kernel's struct worker) and the execution of one work item (process_one_work).
 *
 * A worker is a logical execution slot of a pool, not a thread: every worker of a pool shares its CPU's event
 * loop. A worker is idle (on the pool's idle list), running (its handler's synchronous segment is executing; on
 * one loop at most one worker runs at a time) or sleeping (its handler returned a promise that has not settled).
 * When a handler goes to sleep the pool takes another worker for its next item: the concurrency-management
 * wake-up the kernel performs from the scheduler hook, here counted as cmWakeup.
 */
import { chExecuteEnd, chExecuteStart, reportFailure, workEvent } from './diagnostics.js';
import { WorkqueueError } from './errors.js';
import { running, workContext } from './current.js';
import type { FlushColor } from './flush.js';
import { flushersRunEnded, flushersStarted } from './flush.js';
import type { PoolWorkqueue } from './pool-workqueue.js';
import type { Work } from './work.js';
import { ASYNC, PENDING } from './work.js';
import type { WorkerPool } from './worker-pool.js';
import { ListKind, WorkList } from './worklist.js';

export const enum WorkerState {
  Idle = 'idle',
  Running = 'running',
  Sleeping = 'sleeping',
}

export class Worker {
  state: WorkerState = WorkerState.Idle;
  /** The work executing, its pool workqueue, and the flush color its instance counts in. */
  current: Work<any> | null = null;
  currentPwq: PoolWorkqueue | null = null;
  currentColor: FlushColor | null = null;
  /** Items queued again while their previous instance runs here; they run after it (the kernel's scheduled list). */
  readonly scheduled = new WorkList<Work<any>>(ListKind.Scheduled);
  /** The pool's idle generation when this worker last went idle (idle culling). */
  idleGen = 0;

  constructor(
    readonly pool: WorkerPool,
    readonly id: number,
    readonly name: string,
  ) {}
}

/**
 * Runs work on worker: the kernel's process_one_work. Clears the pending bit just before calling the handler;
 * a handler that returns a promise leaves the worker sleeping until it settles.
 */
export function processOneWork(worker: Worker, work: Work<any>): void {
  const pwq = work._pwq!;
  worker.current = work;
  worker.currentPwq = pwq;
  worker.currentColor = work._color;
  worker.state = WorkerState.Running;
  work._color = null;
  work._worker = worker;
  work._flags &= ~PENDING;
  if (work._flushers !== null) flushersStarted(work);
  pwq.stats.started++;
  if (chExecuteStart.hasSubscribers) chExecuteStart.publish(workEvent(work, pwq, -1));

  let ret: unknown;
  running.work = work;
  try {
    ret = (work._flags & ASYNC) !== 0 ? workContext.run(work, work.func, work) : work.func(work);
  } catch (error) {
    running.work = null;
    workDone(worker, error, true);
    return;
  }
  running.work = null;

  if (ret !== undefined && ret !== null && typeof (ret as PromiseLike<unknown>).then === 'function') {
    const pool = worker.pool;
    if (pool.bh) {
      const error = new WorkqueueError(
        'ERR_WQ_BH_ASYNC',
        `${work.funcName} returned a promise on BH workqueue ${pwq.wq.name}; BH work must be synchronous`,
      );
      // The promise's own outcome is not waited for; a later rejection must not become an unhandled one.
      (ret as PromiseLike<unknown>).then(undefined, () => {});
      workDone(worker, error, true);
      return;
    }
    worker.state = WorkerState.Sleeping;
    pool.nrSleeping++;
    if (pool.concurrencyManaged && pool.worklist.length > 0) pwq.stats.cmWakeup++;
    (ret as PromiseLike<unknown>).then(
      () => workDone(worker, undefined, false),
      (error: unknown) => workDone(worker, error, true),
    );
    return;
  }
  workDone(worker, undefined, false);
}

/** The handler on worker ended (failed tells whether it threw or rejected): the tail of process_one_work. */
function workDone(worker: Worker, error: unknown, failed: boolean): void {
  const work = worker.current;
  if (work === null) return; // a misbehaving thenable settled twice
  const pwq = worker.currentPwq!;
  const pool = worker.pool;
  const color = worker.currentColor;
  pwq.stats.completed++;
  if (failed) reportFailure(pwq, work, error);
  if (chExecuteEnd.hasSubscribers) {
    const event = workEvent(work, pwq, -1);
    if (failed) event.error = error;
    chExecuteEnd.publish(event);
  }
  work._worker = null;
  worker.current = null;
  worker.currentPwq = null;
  worker.currentColor = null;
  if (worker.state === WorkerState.Sleeping) pool.nrSleeping--;
  worker.state = WorkerState.Idle;
  if (work._flushers !== null) flushersRunEnded(work);
  if (worker.scheduled.length > 0) pool.requeueScheduled(worker);
  pool.workerIdle(worker);
  pwq.decActive(color);
}
