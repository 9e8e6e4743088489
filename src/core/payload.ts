/**
 * Payloads: the copy of a module work's data that crosses to another thread.
 *
 * §2: the data is structured-cloned at queue time, so that data that cannot cross fails the queue call
 * (ERR_WQ_DATA_CLONE, nothing queued) and later changes to work.data do not reach the pending instance. The copy
 * waits in a side table until the item is dispatched (or cancelled); primitives need no copy. Buffers listed in
 * work.transfer are moved, not copied: they are detached from the caller at queue time.
 */
import type { Transferable } from 'node:worker_threads';
import { errorMessage, WorkqueueError } from '../base/errors.js';
import type { Work } from './work.js';

export interface Payload {
  data: unknown;
  transfer: Transferable[] | undefined;
}

const payloads = new Map<Work<any>, Payload>();

/** Clones work's data for another thread; throws ERR_WQ_DATA_CLONE (changing nothing) if it cannot be cloned. */
export function clonePayload(work: Work<any>): Payload {
  const data = work.data;
  const transfer = work.transfer;
  if (
    transfer === undefined &&
    (data === null || (typeof data !== 'object' && typeof data !== 'function' && typeof data !== 'symbol'))
  ) {
    return { data, transfer: undefined };
  }
  try {
    if (transfer === undefined) return { data: structuredClone(data), transfer };
    // Cloning with the transfer list detaches the caller's buffers and makes the copy own them; cloning the list
    // along with the data gives the copy's own buffers, which the dispatch then moves on to the thread.
    const moved = structuredClone({ data, transfer }, { transfer });
    return { data: moved.data, transfer: moved.transfer };
  } catch (error) {
    throw new WorkqueueError(
      'ERR_WQ_DATA_CLONE',
      `${work.funcName}: work data cannot be sent to another thread: ${errorMessage(error)}`,
      {
        cause: error,
      },
    );
  }
}

/** Keeps the pending instance's payload (set once PENDING is). */
export function keepPayload(work: Work<any>, payload: Payload): void {
  payloads.set(work, payload);
  if (payload.transfer !== undefined) work.transfer = undefined;
}

/** The pending instance starts: its payload, or undefined data if it had none (queued before it could cross). */
export function takePayload(work: Work<any>): Payload {
  const payload = payloads.get(work);
  if (payload === undefined) return { data: work.data, transfer: undefined };
  payloads.delete(work);
  return payload;
}

/** The payload the pending instance holds, if any (modDelayedWork re-arms it with the same data). */
export function keptPayload(work: Work<any>): Payload | undefined {
  return payloads.get(work);
}

/** The pending instance was cancelled. */
export function dropPayload(work: Work<any>): void {
  if (payloads.size > 0) payloads.delete(work);
}
