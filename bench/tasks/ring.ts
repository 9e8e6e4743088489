/**
 * What both sides of the shared-memory rings of signalling.ts agree on: the SharedArrayBuffer layout and the
 * workerData of bench/tasks/signal-worker.ts. (A module of its own: the worker script cannot be imported by the
 * parent, it starts listening on parentPort when loaded.)
 *
 * Layout, in Int32 words: CTRL_WORDS control words (each counter on a 64-byte line of its own), then the
 * submission ring, then the completion ring, `size` slots each. Counters only grow (wrapping as int32); a slot is
 * `counter & (size - 1)`.
 */
export const RingLayout = {
  /** Items the parent has written (parent writes, worker reads). */
  SUB_TAIL: 0,
  /** Completions the worker has written (worker writes, parent reads). */
  COMP_TAIL: 16,
  /** Set to 1 by the parent to end the worker's loop. */
  STOP: 32,
  CTRL_WORDS: 48,
} as const;

export function ringBytes(size: number): number {
  return (RingLayout.CTRL_WORDS + 2 * size) * 4;
}

export interface SignalWorkerData {
  mode: 'message' | 'ring-wait' | 'ring-poll';
  /** Ring modes: the shared buffer, ringBytes(size) long. */
  sab?: SharedArrayBuffer;
  /** Ring modes: slots per ring, a power of two. */
  size?: number;
  /** ring-poll: how long to keep polling an empty ring before waiting, in microseconds. */
  pollUs?: number;
}

type WaitAsyncResult =
  | { async: false; value: 'not-equal' | 'timed-out' }
  | { async: true; value: Promise<'ok' | 'timed-out'> };

/** Atomics.waitAsync (Node 16+; not in the ES2022 lib this project compiles against). */
export const waitAsync = (
  Atomics as unknown as { waitAsync(ta: Int32Array, index: number, value: number, timeout?: number): WaitAsyncResult }
).waitAsync.bind(Atomics);
