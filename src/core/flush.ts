/**
 * Flushing: waiting for work to finish.
 *
 * flushWork(work) waits for one work item. The item keeps a list of waiters (null when there are none). A
 * waiter made while the item is pending waits for that queued instance: when it starts, the waiter moves on to
 * wait for it to end; if it is cancelled instead, the waiter waits for the running instance if there is one, or
 * is released. A waiter made while the item only runs waits for that run to end.
 *
 * flushWorkqueue(wq) waits for every instance queued before the call, with flush colors, the kernel's idea
 * without its 4-bit limit: each workqueue has a FIFO of colors (wq.colors, ids counting up from wq.colorBase);
 * every queued instance is counted in the newest color from queueing until its handler ends (or it is
 * cancelled); a flush closes the newest color and opens a fresh one, and is released when every color up to its
 * own has drained. Colors are released strictly in order,
 * so overlapping flushes resolve in the order they were made, and items queued after a flush (a self-requeuing
 * item included) count in a later color and never hold it up.
 */
import { currentWork } from './current.js';
import { WorkqueueError } from '../base/errors.js';
import { type DelayedWork, fireTimerNow } from './delayed-work.js';
import { timerBase } from './timers.js';
import { checkWork, FLUSHED, PENDING, type Work } from './work.js';
import { ListKind } from './worklist.js';
import { checkAlive, checkWorkqueue, type Workqueue } from './workqueue.js';

/** A flushWork()/cancel...Sync() waiter. `pending` is true while it still waits for the queued instance to start. */
export interface Flusher {
  pending: boolean;
  resolve: () => void;
}

/** The waiters of each work that has some (FLUSHED set). */
const flushers = new Map<Work<any>, Flusher[]>();

export class FlushColor {
  /** Instances counted in this color that have not ended. */
  count = 0;
  /** Flushers released when this color and every older one have drained. */
  readonly waiters: (() => void)[] = [];
}

/**
 * Counts a new instance in wq's newest color and returns the color's id. Items hold color ids (small integers),
 * not color objects: a million long-lived items pointing at a young object would make every scavenge walk them.
 */
export function takeColor(wq: Workqueue): number {
  const colors = wq.colors;
  colors[colors.length - 1].count++;
  return wq.colorBase + colors.length - 1;
}

/** An instance counted in color id ended or was cancelled. */
export function putColor(wq: Workqueue, id: number): void {
  if (--wq.colors[id - wq.colorBase].count === 0) flushColorDone(wq);
}

/** A color's count reached 0: release every flush whose colors have all drained, oldest first. */
function flushColorDone(wq: Workqueue): void {
  const colors = wq.colors;
  while (colors.length > 1 && colors[0].count === 0) {
    const done = colors.shift()!;
    wq.colorBase++;
    for (const resolve of done.waiters) resolve();
  }
}

/** Whether any instance queued on wq is pending (queued, not armed) or running. */
export function workqueueBusy(wq: Workqueue): boolean {
  return wq.colors.length > 1 || wq.colors[0].count !== 0;
}

/** Starts a flush of wq: a promise for the end of every instance queued so far. */
export function startFlushWorkqueue(wq: Workqueue): Promise<void> {
  if (!workqueueBusy(wq)) return Promise.resolve();
  const closed = wq.colors[wq.colors.length - 1];
  wq.colors.push(new FlushColor());
  const promise = new Promise<void>((resolve) => closed.waiters.push(resolve));
  if (closed.count === 0) flushColorDone(wq);
  return promise;
}

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
  const work = currentWork();
  if (work !== null && work._worker !== null && work._worker.currentPwq?.wq === wq) {
    throw new WorkqueueError(
      'ERR_WQ_DEADLOCK',
      `${what}(${wq.name}) called from ${work.funcName}, a handler of that workqueue, would wait for itself`,
    );
  }
}

/**
 * Adds a waiter for work: for the queued instance if there is one, else the running one; null when there is
 * neither. An instance still waiting on its timer does not count (as in the kernel, flushWork does not wait for
 * timers; flushDelayedWork fires them first).
 */
export function waitForWork(work: Work<any>): Promise<void> | null {
  const pending = (work._flags & PENDING) !== 0 && work._list?.kind !== ListKind.Timer;
  if (!pending && work._worker === null) return null;
  return new Promise<void>((resolve) => {
    const flusher: Flusher = { pending, resolve };
    const list = flushers.get(work);
    if (list !== undefined) list.push(flusher);
    else {
      flushers.set(work, [flusher]);
      work._flags |= FLUSHED;
    }
  });
}

/** The pending instance of work started: its waiters now wait for this run. */
export function flushersStarted(work: Work<any>): void {
  for (const f of flushers.get(work)!) f.pending = false;
}

/** A run of work ended: release the waiters that waited for it. */
export function flushersRunEnded(work: Work<any>): void {
  releaseFlushers(work, false);
}

/** The pending instance of work was cancelled: its waiters wait for the running instance, if any, or go. */
export function flushersPendingCancelled(work: Work<any>): void {
  if (work._worker !== null) {
    for (const f of flushers.get(work)!) f.pending = false;
  } else releaseFlushers(work, true);
}

function releaseFlushers(work: Work<any>, pending: boolean): void {
  const all = flushers.get(work)!;
  const keep = all.filter((f) => f.pending !== pending);
  if (keep.length > 0) flushers.set(work, keep);
  else {
    flushers.delete(work);
    work._flags &= ~FLUSHED;
  }
  for (const f of all) if (f.pending === pending) f.resolve();
}

/**
 * Waits for work's instance that is queued or running now. Resolves false at once if it is idle (or only armed
 * on its timer), true when that instance has ended (or, queued only, was cancelled).
 */
export function flushWork(work: Work<any>): Promise<boolean> {
  checkWork(work);
  checkNotSelf(work, 'flushWork');
  const wait = waitForWork(work);
  return wait === null ? Promise.resolve(false) : wait.then(() => true);
}

/**
 * Waits until every instance queued on wq before the call (inactive ones included) has ended. Items queued
 * after the call are not waited for. Overlapping flushes resolve in call order.
 */
export function flushWorkqueue(wq: Workqueue): Promise<void> {
  checkWorkqueue(wq);
  checkAlive(wq, 'flushWorkqueue');
  checkNotFromOwnHandler(wq, 'flushWorkqueue');
  return startFlushWorkqueue(wq);
}

/**
 * Flushes wq until it is empty. Meanwhile only its own handlers may queue on it (chained work); anyone else
 * gets ERR_WQ_DRAINING.
 */
export function drainWorkqueue(wq: Workqueue): Promise<void> {
  checkWorkqueue(wq);
  checkAlive(wq, 'drainWorkqueue');
  checkNotFromOwnHandler(wq, 'drainWorkqueue');
  return drain(wq, false);
}

/** @internal Drains wq; with fireTimers, its armed delayed works are fired first, each round (destroy). */
export async function drain(wq: Workqueue, fireTimers: boolean): Promise<void> {
  wq.draining++;
  try {
    for (;;) {
      if (fireTimers && wq.nrArmed > 0) fireArmedWork(wq);
      if (!workqueueBusy(wq) && !(fireTimers && wq.nrArmed > 0)) break;
      await startFlushWorkqueue(wq);
    }
  } finally {
    wq.draining--;
  }
}

/** Queues now every delayed work armed to be queued on wq. */
function fireArmedWork(wq: Workqueue): void {
  const armed: DelayedWork<any>[] = [];
  for (const dwork of timerBase.nodes()) if (dwork._wq === wq) armed.push(dwork);
  for (const dwork of armed) fireTimerNow(dwork);
}
