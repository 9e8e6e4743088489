/**
 * The protocol between a thread's owner (thread.ts) and the thread (thread-main.ts): the shared-memory layout,
 * the item flags, the message opcodes and the error records. Both sides import it; nothing here runs code.
 *
 * Shared state, one SharedArrayBuffer per thread:
 *   Int32 [ST_RUNNING]   1 while a handler's synchronous segment runs on the thread
 *   Int32 [ST_STARTED]   items started so far
 *   Int32 [ST_FUNC]      the module function id of the running segment
 *   Float64 at byte 16   when that segment began (epoch ms)
 *   Uint8 from byte 24   one byte per slot: SLOT_STARTED once its item started, SLOT_ENDED or SLOT_FAILED once it
 *                        ended (its report may still be in the thread's outbox when the thread dies)
 *
 * Messages are arrays: [OP_RUN, defs, items] with items flat (ITEM_FIELDS each: slot, fn id, flags, data) from
 * the owner; [OP_DONE, records] with records flat (RECORD_FIELDS each: slot, status, cpu ms, value) and
 * [OP_READY] from the thread; [OP_ABORT, slot] from the owner. Status bits are the executor's (core/executor.ts).
 */
import { WorkqueueError } from '../base/errors.js';
import type { ThreadRole } from '../base/init.js';

/** Items a thread may hold at once. */
export const SLOTS = 1024;
export const ST_RUNNING = 0;
export const ST_STARTED = 1;
export const ST_FUNC = 2;
export const SLOT_STARTED = 1;
export const SLOT_ENDED = 2;
export const SLOT_FAILED = 3;

/** Item flags (owner → thread). */
export const F_HIGHPRI = 1;
export const F_CALL_ARG = 2; // workOnCpu: call the export with the data, not with the work
export const F_WANT_RESULT = 4;
export const F_BH = 8;

/** Message opcodes. */
export const OP_RUN = 1; // owner → thread: [OP_RUN, defs, items], items flat: slot, fn id, flags, data
export const OP_ABORT = 2; // owner → thread: [OP_ABORT, slot]
export const OP_DONE = 3; // thread → owner: [OP_DONE, records], flat: slot, status, cpu ms, value
export const OP_READY = 4; // thread → owner: [OP_READY]
export const ITEM_FIELDS = 4;
export const RECORD_FIELDS = 4;

/** What the thread started as, besides its role (workerData[THREAD_ROLE]). */
export interface ThreadBoot extends ThreadRole {
  state: SharedArrayBuffer;
  nrCpus: number;
  cpuIntensiveThreshMs: number;
  asyncContext: boolean;
}

/** The views of a thread's shared state (the layout above). */
export interface ThreadState {
  readonly buffer: SharedArrayBuffer;
  /** [ST_RUNNING, ST_STARTED, ST_FUNC]. */
  readonly running: Int32Array;
  /** [0]: when the running segment began (epoch ms). */
  readonly since: Float64Array;
  /** One byte per slot: 0, SLOT_STARTED, SLOT_ENDED or SLOT_FAILED. */
  readonly started: Uint8Array;
}

const SINCE_OFFSET = 16;
const STARTED_OFFSET = 24;

/** Makes the views of a thread's shared state, over buffer, or over a new buffer when none is given. */
export function threadState(buffer = new SharedArrayBuffer(STARTED_OFFSET + SLOTS)): ThreadState {
  return {
    buffer,
    running: new Int32Array(buffer, 0, 3),
    since: new Float64Array(buffer, SINCE_OFFSET, 1),
    started: new Uint8Array(buffer, STARTED_OFFSET, SLOTS),
  };
}

/** Errors cross threads as plain records, so that their class and code survive (structured clone keeps neither). */
export interface ErrorRecord {
  __cmwqError: true;
  name: string;
  message: string;
  stack: string | undefined;
  code: unknown;
}

export function encodeError(value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  return {
    __cmwqError: true,
    name: value.name,
    message: value.message,
    stack: value.stack,
    code: (value as { code?: unknown }).code,
  };
}

export function decodeError(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || (value as ErrorRecord).__cmwqError !== true) return value;
  const record = value as ErrorRecord;
  const error =
    record.name === 'WorkqueueError' && typeof record.code === 'string'
      ? new WorkqueueError(record.code as WorkqueueError['code'], record.message)
      : new Error(record.message);
  if (record.name !== 'WorkqueueError') error.name = record.name;
  if (record.code !== undefined && !(error instanceof WorkqueueError)) (error as { code?: unknown }).code = record.code;
  if (record.stack !== undefined) error.stack = record.stack;
  return error;
}
