/**
 * Barriers: the waiters of one work item (flushWork() and cancel...Sync()), the kernel's wq_barrier.
 *
 * An item keeps its waiters in a side table (FLUSHED is set while it has some: few items ever do, so no field
 * on every item). A waiter made while the item is pending waits for that queued instance: when it starts, the
 * waiter moves on to wait for it to end; if it is cancelled instead, the waiter waits for the running instance if
 * there is one, or is released. A waiter made while the item only runs waits for that run to end.
 *
 * Who may change what: worker.ts reports starts and ends, grab-pending.ts reports cancels; flush.ts and cancel.ts
 * add waiters.
 */
import { FLUSHED, PENDING, type Work } from './work.js';
import { ListKind } from './worklist.js';

/** A flushWork()/cancel...Sync() waiter. `pending` is true while it still waits for the queued instance to start. */
export interface Flusher {
  pending: boolean;
  resolve: () => void;
}

/** The waiters of each work that has some (FLUSHED set). */
const flushers = new Map<Work<any>, Flusher[]>();

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
