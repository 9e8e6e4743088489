/**
 * Carriers of one-shot jobs (queue-func.ts): Works of their own kind (ONESHOT in their flags) that hold a job's
 * function and data while it is pending and running, then come back here to be reused, as fastq reuses its task
 * objects. A separate file so that the worker (which recycles) and queueing (which takes) both reach it without
 * an import cycle.
 *
 * Invariants: a carrier is on the free list iff it is neither pending nor running, and then holds no function
 * and no data of a job; the free list never holds more than FREE_MAX carriers, so a burst of a million jobs does
 * not stay allocated once it has run.
 */
import { funcInfo } from './heartbeat.js';
import { funcFlags, Work, WorkFlag } from './work.js';

/**
 * A one-shot job's function: called with the job's data; may return a promise (its worker sleeps until it settles).
 * @typeParam T the type of the job's data.
 * @param data the data the job was queued with.
 */
export type JobFunc<T> = (data: T) => unknown;

/** Carriers kept for reuse at most (more are left to the GC). */
const FREE_MAX = 1024;
const free: Work<any>[] = [];

function noJob(): void {}

/**
 * A carrier for func and data: a recycled one if there is one, else a new Work made with func itself (its
 * constructor registers the name and computes the flags once). Not pending yet.
 */
export function takeCarrier<T>(func: JobFunc<T>, data: T): Work<T> {
  const work = free.pop();
  if (work === undefined) {
    // Made for func, not for a placeholder: funcInfo()'s one-entry cache then sees func alone, where a placeholder
    // made it alternate between two functions and look both names up in the map for every new carrier.
    const made = new Work<T>(func as never, data);
    made._flags |= WorkFlag.ONESHOT;
    return made;
  }
  (work as { func: unknown }).func = func;
  work.data = data;
  work._flags = WorkFlag.ONESHOT | funcFlags(func as never);
  funcInfo(func); // the name, for the watchdog thread (see Work's constructor)
  return work;
}

/** A carrier's job ended (or was refused): back on the free list, holding nothing. */
export function recycleCarrier(work: Work<any>): void {
  (work as { func: unknown }).func = noJob;
  work.data = undefined;
  work._pwq = null;
  if (free.length < FREE_MAX) free.push(work);
}
