/**
 * Workers (the kernel's struct worker) and the execution of one work item (process_one_work).
 *
 * A worker is a logical execution slot of a pool, not a thread: every worker of a pool shares its CPU's event
 * loop. A worker is idle (on the pool's idle list), running (its handler's synchronous segment is executing; on
 * one loop at most one worker runs at a time) or sleeping (its handler returned a promise that has not settled).
 * When a handler goes to sleep the pool takes another worker for its next item: the concurrency-management
 * wake-up the kernel performs from the scheduler hook, here counted as cmWakeup.
 */
import { chExecuteEnd, chExecuteStart, reportFailure, workEvent } from './tracepoints.js';
import { WorkqueueError } from '../base/errors.js';
import { running, workContext } from './current.js';
import { config } from '../base/init.js';
import { cpuHog } from './cpu-intensive.js';
import { funcInfo, Hb, heartbeat, registerWorker } from './heartbeat.js';
import { flushersRunEnded, flushersStarted } from './barrier.js';
import { type PoolWorkqueue, takeSample } from './pool-workqueue.js';
import type { Work } from './work.js';
import { controllers, WorkFlag } from './work.js';
import { recycleCarrier } from './carrier.js';
import type { WorkerPool } from './worker-pool.js';
import { type RemoteThread, S_CMW, S_FAILED, S_HOG } from './executor.js';
import { CallWork } from './call-work.js';
import { settleOnce } from './settle.js';
import { ListKind, WorkList } from './worklist.js';

export const enum WorkerState {
  Idle = 'idle',
  Running = 'running',
  Sleeping = 'sleeping',
}

export class Worker {
  /** The work executing (null when idle) and its pool workqueue (stale when idle). */
  current: Work<any> | null = null;
  currentPwq: PoolWorkqueue | null = null;
  /** The flush color of the instance this worker sleeps on (the running path keeps it in a local). */
  currentColor = -1;
  sleeping = false;
  /** When the sleeping instance started (clock ms), if it is sampled for statistics; else -1. */
  startedAt = -1;
  /** Items queued again while their previous instance sleeps here; they run after it (the kernel's scheduled list). */
  readonly scheduled = new WorkList<Work<any>>(ListKind.Scheduled);
  /** The pool's idle generation when this worker last went idle (idle culling). */
  idleGen = 0;

  /** The thread running its item, and the item's slot there, while the item runs on another thread. */
  thread: RemoteThread | null = null;
  slot = -1;

  /** The id the watchdog's heartbeat names this worker by. */
  readonly hbId: number;

  /** How the sleeping instance ended, for sleeperDone() (set by the settle callbacks just before it runs). */
  outcome: unknown = undefined;
  outcomeFailed = false;
  /**
   * The settle callbacks of a native promise, made once per worker: a native promise calls exactly one of them,
   * once, so unlike a hand-written thenable it needs no per-item closure to guard against a second call.
   */
  readonly onFulfilled = (): void => this.pool.loop.settled(finishFulfilled, this);
  readonly onRejected = (error: unknown): void => workerSettled(this, error, true);

  constructor(
    readonly pool: WorkerPool,
    readonly id: number,
    readonly name: string,
  ) {
    this.hbId = registerWorker(pool.id, id, name);
  }

  get state(): WorkerState {
    return this.current === null ? WorkerState.Idle : this.sleeping ? WorkerState.Sleeping : WorkerState.Running;
  }
}

/**
 * The head of process_one_work, shared by local and remote execution: the item becomes the worker's, its pending
 * bit is cleared, flushers learn it started, and it is counted, sampled and traced. Returns when it started
 * (clock ms) if sampled, else -1.
 */
function beginWork(worker: Worker, work: Work<any>, pwq: PoolWorkqueue): number {
  work._worker = worker;
  const flags = work._flags & ~WorkFlag.PENDING;
  work._flags = flags;
  worker.current = work;
  if (worker.currentPwq !== pwq) worker.currentPwq = pwq; // mostly the same: a comparison, not a barriered store
  pwq.started++;
  // Flushers waiting and sampling are rare: one test of the flags on the common path.
  const startedAt = (flags & (WorkFlag.FLUSHED | WorkFlag.SAMPLED)) === 0 ? -1 : beginMarked(work, pwq, flags);
  if (chExecuteStart.hasSubscribers) chExecuteStart.publish(workEvent(work, pwq, -1));
  return startedAt;
}

/** beginWork() for an item that has flushers waiting or is sampled: returns when it started if sampled, else -1. */
function beginMarked(work: Work<any>, pwq: PoolWorkqueue, flags: number): number {
  if ((flags & WorkFlag.FLUSHED) !== 0) flushersStarted(work);
  if ((flags & WorkFlag.SAMPLED) === 0) return -1;
  const queuedAt = takeSample(work);
  const startedAt = config.clock.now();
  if (queuedAt >= 0) pwq.waitHist.record(startedAt - queuedAt);
  return startedAt;
}

/** worker goes to sleep on its item (a pending promise, or an item running on another thread). */
function sleep(worker: Worker, pwq: PoolWorkqueue, color: number, startedAt: number, cmWakeup: boolean): void {
  worker.sleeping = true;
  worker.currentColor = color;
  worker.startedAt = startedAt;
  worker.pool.workerSleeps(worker, pwq, cmWakeup);
}

/**
 * Starts work on another thread (a module work on an unbound pool or on another CPU's pool): for this loop the
 * worker sleeps until the thread reports the item done (remoteWorkDone). Re-entrancy, flushes and cancels see a
 * running item, as for a local one.
 */
export function startRemoteWork(
  worker: Worker,
  work: Work<any>,
  assign: (worker: Worker, work: Work<any>) => void,
): void {
  const pwq = work._pwq!;
  const color = work._color;
  const startedAt = beginWork(worker, work, pwq);
  sleep(worker, pwq, color, startedAt, false);
  assign(worker, work);
}

/** An executor sent worker's item to thread, where it holds slot (called from Executor.assign). */
export function bindRemote(worker: Worker, thread: RemoteThread, slot: number): void {
  worker.thread = thread;
  worker.slot = slot;
}

/** worker's item left the thread it was sent to (the thread died): it is no longer there to abort. */
export function unbindRemote(worker: Worker): void {
  worker.thread = null;
}

/**
 * A remote item ended: status bits from its thread say whether it failed (value is then the error), hogged its
 * thread's CPU or went to sleep there while other items waited (a concurrency-management wake-up on that thread).
 */
export function remoteWorkDone(worker: Worker, status: number, cpuMs: number, value: unknown): void {
  const pwq = worker.currentPwq!;
  const work = worker.current!;
  let failed = (status & S_FAILED) !== 0;
  let error = failed ? value : undefined;
  if (work instanceof CallWork) {
    // workOnCpu(): the outcome is the caller's, not a handler failure.
    if (failed) work.reject(value);
    else work.resolve(value);
    error = undefined;
    failed = false;
  }
  pwq.stats.cpuTime += cpuMs;
  if ((status & S_CMW) !== 0) pwq.stats.cmWakeup++;
  if ((status & S_HOG) !== 0) cpuHog(work, pwq);
  worker.thread = null;
  workerSettled(worker, error, failed);
}

/**
 * Runs work on worker, which is the top of its pool's idle list: the kernel's process_one_work. Clears the
 * pending bit just before calling the handler. A handler that returns a promise takes the worker off the idle
 * list, asleep until the promise settles; one that returns anything else leaves it where it was, so the hot path
 * of synchronous handlers moves no worker.
 */
export function processOneWork(worker: Worker, work: Work<any>): void {
  const pwq = work._pwq!;
  const pool = worker.pool;
  pool.loop.account(pwq);
  const color = work._color;
  const startedAt = beginWork(worker, work, pwq);

  let ret: unknown;
  const hb = heartbeat;
  const seq = (hb[Hb.SEQ] + 1) | 0;
  const func = work.func;
  hb[Hb.FUNC] = funcInfo(func).id;
  hb[Hb.PWQ] = pwq.hbId;
  hb[Hb.WORKER] = worker.hbId;
  hb[Hb.SEQ] = seq;
  let then: unknown;
  let thrown: unknown;
  let threw = false;
  running.work = work;
  pool.nrRunning = 1;
  try {
    const arg = (work._flags & WorkFlag.ONESHOT) !== 0 ? work.data : work;
    ret =
      (work._flags & WorkFlag.ASYNC) !== 0 && config.asyncContext === true
        ? workContext().run(work, func, arg)
        : func(arg);
    // Reading `then` runs user code too (a getter): a throw there is the handler's failure, as await would see it.
    if (ret !== undefined && ret !== null) then = (ret as PromiseLike<unknown>).then;
  } catch (error) {
    thrown = error;
    threw = true;
  }
  running.work = null;
  pool.nrRunning = 0;
  hb[Hb.SEQ] = seq + 1;
  if (hb[Hb.HOG] === seq) cpuHog(work, pwq);

  if (threw) {
    finishWork(worker, work, pwq, color, thrown, true, startedAt);
    return;
  }
  if (typeof then !== 'function') {
    finishWork(worker, work, pwq, color, undefined, false, startedAt);
    return;
  }
  if (pool.bh === true) {
    const error = new WorkqueueError(
      'ERR_WQ_BH_ASYNC',
      `${work.funcName} returned a promise on BH workqueue ${pwq.wq.name}; BH work must be synchronous`,
    );
    // The promise's own outcome is not waited for; a later rejection must not become an unhandled one.
    Promise.resolve(ret).catch(() => {});
    finishWork(worker, work, pwq, color, error, true, startedAt);
    return;
  }
  // The worker goes to sleep; the pool's next item will take another one (a concurrency-management wake-up).
  sleep(worker, pwq, color, startedAt, pool.concurrencyManaged);
  if (then === nativeThen) {
    try {
      nativeThen.call(ret, worker.onFulfilled, worker.onRejected);
      return;
    } catch {
      // Not a real promise after all (a borrowed `then`): settle it as any thenable.
    }
  }
  // Only the thenable's first settlement counts, and only for this instance.
  settleOnce(ret, then, (failed, value) => workerSettled(worker, failed ? value : undefined, failed));
}

const nativeThen = Promise.prototype.then;

/** worker's sleeping item settled: finish it, and let its CPU run what that makes ready (cpu.ts settled()). */
function workerSettled(worker: Worker, error: unknown, failed: boolean): void {
  worker.outcome = error;
  worker.outcomeFailed = failed;
  worker.pool.loop.settled(finishSleeper, worker);
}

/** A sleeping worker's native promise fulfilled (the common case: no outcome to carry through the worker). */
function finishFulfilled(worker: Worker): void {
  sleeperDone(worker, undefined, false);
}

function finishSleeper(worker: Worker): void {
  const error = worker.outcome;
  worker.outcome = undefined;
  sleeperDone(worker, error, worker.outcomeFailed);
}

/** A sleeping worker's promise settled: finish its item and return it to the idle list. */
function sleeperDone(worker: Worker, error: unknown, failed: boolean): void {
  const work = worker.current!;
  const color = worker.currentColor;
  worker.currentColor = -1;
  worker.sleeping = false;
  worker.pool.workerWakes();
  finishWork(worker, work, worker.currentPwq!, color, error, failed, worker.startedAt);
  if (worker.scheduled.length > 0) worker.pool.requeueScheduled(worker);
  worker.pool.workerIdle(worker);
}

/** The handler of work on worker ended: the tail of process_one_work. */
function finishWork(
  worker: Worker,
  work: Work<any>,
  pwq: PoolWorkqueue,
  color: number,
  error: unknown,
  failed: boolean,
  startedAt: number,
): void {
  pwq.completed++;
  // A sampled run, a failure and a watched tracepoint are rare: one test, and their code stays out of this
  // function's bytecode, so that V8's cumulative inlining budget for the settle path (which inlines this) still
  // reaches decActive's shift of the next inactive item.
  if (startedAt >= 0 || failed === true || chExecuteEnd.hasSubscribers)
    endReported(work, pwq, error, failed, startedAt);
  work._worker = null;
  worker.current = null;
  // An abort controller and flushers waiting are rare: one test of the flags.
  const flags = work._flags;
  if ((flags & (WorkFlag.SIGNAL | WorkFlag.FLUSHED)) !== 0) endMarked(work, flags);
  if ((flags & WorkFlag.ONESHOT) !== 0) recycleCarrier(work);
  pwq.decActive(color);
}

/** finishWork() for a sampled run, a failed one, or while execute_end is watched: time it, report it, trace it. */
function endReported(work: Work<any>, pwq: PoolWorkqueue, error: unknown, failed: boolean, startedAt: number): void {
  if (startedAt >= 0) pwq.runHist.record(config.clock.now() - startedAt);
  if (failed) reportFailure(pwq, work, error);
  if (chExecuteEnd.hasSubscribers) {
    const event = workEvent(work, pwq, -1);
    if (failed) event.error = error;
    chExecuteEnd.publish(event);
  }
}

/** finishWork() for an item with an abort controller or flushers waiting. */
function endMarked(work: Work<any>, flags: number): void {
  if ((flags & WorkFlag.SIGNAL) !== 0) {
    work._flags &= ~WorkFlag.SIGNAL;
    controllers.delete(work);
  }
  if ((flags & WorkFlag.FLUSHED) !== 0) flushersRunEnded(work);
}
