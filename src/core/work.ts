/**
 * Work items: Work and DelayedWork (the kernel's work_struct and delayed_work).
 *
 * A work item is a function plus its data, owned by the caller and reused: queueing it sets its pending bit and
 * links it onto a list; nothing is allocated per queueing. Its state lives in six fields that only the workqueue
 * core changes (eight in all with func and data: 88 bytes; what most items never use, a priority, the disable
 * depth, the function's record, a shared-workqueue key and owner, lives in flag bits, side tables or a lookup):
 *
 *   _flags     PENDING while queued (armed, inactive, on a worklist or a worker's scheduled list); cleared just
 *              before the handler is called. ASYNC when func is an `async function` (its handler runs inside
 *              AsyncLocalStorage so that currentWork() holds across awaits). FLUSHED while flushWork()/cancel
 *              ...Sync() waiters wait for it (they live in a side table: rare, so no field on every item).
 *              SAMPLED while the pending instance is timed for statistics (its queueing time is in a side
 *              table too: one item in 64, and a field holding a fractional time would box a number per item).
 *              ONESHOT for a queueFunc() carrier; PRIORITY when the item has a non-zero priority (a side table).
 *              SHARED when the item has a shared-workqueue key or owner (`key`, `_shared`: a side table, since
 *              local items, nearly all of them, have neither). SIGNAL while the running instance has an abort
 *              controller (`controllers`: the end of a run tests the bit, not the table).
 *   _disable   disableWork() depth; while > 0 every queue call fails. Kept in bits 8-23 of _flags.
 *   _color     the flush color the queued instance counts in, as its id's low 6 bits (flush-color.ts keeps at
 *              most 64 colors alive, so they name it). Kept in bits 24-29 of _flags, meaningful while queued
 *              (pending, not armed): an armed delayed work uses bits 24-25 for its timer wheel level instead.
 *              Bits 30-31 stay clear, so _flags is a small integer (Smi) even with 31-bit Smis.
 *   _pwq       the pool workqueue it is queued on (valid while queued) or last ran on.
 *   _list      the list it is linked on, with _next/_prev; null when not linked.
 *   _worker    the worker executing it, null when not running. One pointer, so a work never runs twice at once.
 *
 * DelayedWork adds no fields: while armed, _list is a TimerList naming the workqueue and CPU its timer queues on,
 * _pwq holds its expiry key (a number, not a pool workqueue, until its timer queues it) and bits 24-25 of _flags
 * its timer wheel level (timer-list.ts, timer-base.ts). So code that reads the _pwq of an item that may not be
 * queued (a running one, say) reads its worker's currentPwq instead.
 */
import type { Transferable } from 'node:worker_threads';
import { WORK_BUSY_PENDING, WORK_BUSY_RUNNING } from '../base/constants.js';
import { describe, invalidArg } from '../base/errors.js';
import { moduleRef } from './module-func.js';
import type { PoolWorkqueue } from './pool-workqueue.js';
import { type FuncInfo, funcInfo } from './heartbeat.js';
import type { Worker } from './worker.js';
import type { WorkList } from './worklist.js';
import { type SharedWork, SharedWorkqueue, sharedOf } from './shared.js';

/**
 * A work function (handler): called with its work item, whose `data` is the payload. Its synchronous part is the
 * worker "running"; if it returns a promise (an `async function` does), the worker sleeps until the promise
 * settles and the pool starts the next item meanwhile. A throw or a rejection is the item's failure: reported,
 * counted, never fatal.
 *
 * @typeParam W - The work item type it receives (`Work<T>` or `DelayedWork<T>`).
 * @param work - The work item being run; `work.data` is its payload.
 * @returns Anything; a promise (any thenable) makes the worker sleep until it settles.
 */
export type WorkFunc<W> = (work: W) => unknown;

/** Options of a work item, given to the {@link Work} and {@link DelayedWork} constructors. */
export interface WorkOptions {
  /** Orders the item within its pool's worklist: higher runs first, FIFO among equals. Default 0. */
  priority?: number;
  /** Shared workqueues: the item's name in the cluster (a Work built with an existing key acts on that item). */
  key?: string;
  /** Shared workqueues: the one this item belongs to (default: the process's only shared workqueue). */
  workqueue?: SharedWorkqueue;
}

/**
 * The bits of `_flags` (see the header). A const enum, so that TypeScript writes every use as a literal: V8 loads
 * an imported `const` from its module cell and checks it for the hole (TDZ) at every use, some six instructions
 * each, and the hot path tests these bits a dozen times per item.
 */
export const enum WorkFlag {
  PENDING = 1,
  ASYNC = 2,
  FLUSHED = 4,
  SAMPLED = 8,
  /** A one-shot job's carrier (queue-func.ts): its handler gets data, and it is recycled when the handler ends. */
  ONESHOT = 16,
  /** The item has a non-zero priority, kept in `priorities` (most items have none: no field on every item). */
  PRIORITY = 32,
  /** The item has a shared-workqueue key or owner, kept in `sharedIdentities` (local items have neither). */
  SHARED = 64,
  /** The running instance has an abort controller in `controllers` (its handler asked for work.signal). */
  SIGNAL = 128,
  /** The disable depth's bits: queueing tests PENDING and these in one mask. */
  DISABLE_MASK = 0xffff00,
  /** Where the flush color of a queued instance starts (bits 24-29: COLOR_MASK). */
  COLOR_SHIFT = 24,
  /** The flush color's bits (a color id's low 6 bits; see flush-color.ts). */
  COLOR_MASK = 0x3f000000,
}

/** Where the disable depth starts in `_flags` (bits 8-23: WorkFlag.DISABLE_MASK). */
const DISABLE_SHIFT = 8;

// The same bits as plain constants, for the files off the hot path that name them so.
export const PENDING = WorkFlag.PENDING;
export const ASYNC = WorkFlag.ASYNC;
export const FLUSHED = WorkFlag.FLUSHED;
export const SAMPLED = WorkFlag.SAMPLED;
export const ONESHOT = WorkFlag.ONESHOT;
export const PRIORITY = WorkFlag.PRIORITY;

/** Priorities of the items that have one (PRIORITY set). */
const priorities = new WeakMap<Work<any>, number>();

/** A shared-workqueue item's name in the cluster and the shared workqueue it belongs to. */
interface SharedIdentity {
  key: string | undefined;
  shared: SharedWorkqueue | null;
}

/**
 * The shared identities of the items that have one (SHARED set): only shared-workqueue items, so the two fields
 * are not on every local item (16 bytes each, on a million pending items).
 */
const sharedIdentities = new WeakMap<Work<any>, SharedIdentity>();

function setSharedIdentity(work: Work<any>, key: string | undefined, shared: SharedWorkqueue | null): void {
  if (key === undefined && shared === null) {
    work._flags &= ~WorkFlag.SHARED;
    sharedIdentities.delete(work);
  } else {
    work._flags |= WorkFlag.SHARED;
    sharedIdentities.set(work, { key, shared });
  }
}

const AsyncFunction = (async () => {}).constructor;

/** The flags func gives its work: ASYNC for an async function, or a module export not known to be plain. */
export function funcFlags(func: WorkFunc<any>): number {
  const ref = moduleRef(func);
  // A module export may be async and is not known until loaded: run it as async unless known to be plain.
  return func instanceof AsyncFunction || (ref !== null && ref.async !== false) ? WorkFlag.ASYNC : 0;
}

/**
 * The abort controllers of running instances whose handler asked for work.signal: few, so they live in a side
 * table rather than in a field of every item. cancel...Sync and disable...Sync abort the running instance's.
 */
export const controllers = new Map<Work<any>, AbortController>();

/**
 * The abort controller of work's running instance, made and put in `controllers` on first need; WorkFlag.SIGNAL
 * says it is there (finishWork() tests the bit, then takes both away).
 */
function instanceController(work: Work<any>): AbortController {
  let controller = controllers.get(work);
  if (controller === undefined) {
    controllers.set(work, (controller = new AbortController()));
    work._flags |= WorkFlag.SIGNAL;
  }
  return controller;
}

/** Aborts the signal of work's running instance (made now if the handler has not asked for it yet). */
export function abortInstance(work: Work<any>): void {
  instanceController(work).abort();
}

/** Work ids, given on first read (Work.id). */
const workIds = new WeakMap<Work<any>, number>();
let nextWorkId = 1;

/**
 * A work item (the kernel's work_struct): a handler plus its data, made once and queued many times. Queueing sets
 * its pending bit; while it is pending every further queue call returns false, so one item stands for "this needs
 * doing" however often it is asked for. The bit is cleared just before the handler runs, so queueing it from its
 * own handler runs it once more afterwards. An item never runs concurrently with itself.
 *
 * Its function is fixed; `data` and `priority` are the caller's to change between runs.
 *
 * @typeParam T - The type of `data`.
 *
 * @example
 * ```ts
 * const flush = new Work(function flushLog(work) {
 *   writeFileSync('app.log', work.data.lines.splice(0).join('\n'), { flag: 'a' });
 * }, { lines: [] as string[] });
 *
 * function log(line: string): void {
 *   flush.data.lines.push(line);
 *   queueWork(systemWq, flush); // false if a flush is queued already: that run writes this line too
 * }
 * ```
 */
export class Work<T = unknown> {
  /** The handler. */
  readonly func: WorkFunc<any>;
  /**
   * The payload, free for the caller to use; the handler reads it as `work.data`. A module work that crosses to
   * another thread takes a copy at queue time, so later changes do not reach the instance already queued.
   */
  data: T;
  /**
   * Module works: ArrayBuffers (or MessagePorts) in data to move to the thread instead of copying, for the next
   * queueing. They are detached from this thread at queue time, and the list is cleared.
   */
  declare transfer?: Transferable[];
  /** Shared workqueues: the item's name in the cluster; a keyless work gets a unique one when first queued there. */
  get key(): string | undefined {
    return (this._flags & WorkFlag.SHARED) === 0 ? undefined : sharedIdentities.get(this)!.key;
  }

  /**
   * Names the item in a shared workqueue's cluster (the backend does, when it first queues a keyless work).
   * @param key the item's name; undefined for none.
   */
  set key(key: string | undefined) {
    setSharedIdentity(this, key, this._shared);
  }

  /** @internal The shared workqueue the item belongs to (sharedOf()), null for a local item. */
  get _shared(): SharedWorkqueue | null {
    return (this._flags & WorkFlag.SHARED) === 0 ? null : sharedIdentities.get(this)!.shared;
  }

  /** @internal */
  set _shared(shared: SharedWorkqueue | null) {
    setSharedIdentity(this, this.key, shared);
  }

  /**
   * The item's identity in this process: a small integer, the same for the work's whole life, given on first
   * read (kept in a side table, so items that are never asked for one pay nothing). `key` is its name across
   * processes on a shared workqueue.
   */
  get id(): number {
    let id = workIds.get(this);
    if (id === undefined) workIds.set(this, (id = nextWorkId++));
    return id;
  }

  /**
   * @internal PENDING, ASYNC, FLUSHED, SAMPLED, ONESHOT, PRIORITY, SHARED, SIGNAL; the disable depth in bits 8-23,
   * the flush color (queued) or the timer wheel level (armed) in bits 24-29.
   */
  _flags: number;
  /** @internal */ _pwq: PoolWorkqueue | null = null;
  /** @internal */ _next: Work<any> | null = null;
  /** @internal */ _prev: Work<any> | null = null;
  /** @internal */ _list: WorkList<any> | null = null;
  /** @internal */ _worker: Worker | null = null;

  /**
   * Makes an idle work item; nothing is queued.
   *
   * @param func - The handler, called with this work. A plain function runs on the thread that queued the item; a
   *   module function ({@link workFunc}) can run on any thread. An `async function` also keeps
   *   {@link currentWork} across its awaits.
   * @param data - The payload, as `work.data` (structured-cloned when a module work crosses to another thread).
   * @param options - `priority`: see {@link WorkOptions}.
   * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if func is not a function or the priority is not a finite
   *   number.
   */
  constructor(func: WorkFunc<Work<T>>, data?: T, options?: WorkOptions) {
    if (typeof func !== 'function') invalidArg(`work function must be a function, got ${describe(func)}`);
    this.func = func;
    this.data = data as T;
    this._flags = funcFlags(func);
    // Options are rare: their checks live in a function of their own, so that this constructor stays small enough
    // for V8 to inline where works are made per item (queueFunc's carriers, `queueWork(wq, new Work(fn))`).
    if (options !== undefined && options !== null) applyOptions(this, options);
    // Register the function's name now: the watchdog thread must know it before a first run that blocks the loop.
    funcInfo(func);
  }

  /** Worklist priority for the next queueing: higher runs first (cmwq's addition; see {@link WorkOptions}). Default 0. */
  get priority(): number {
    return (this._flags & WorkFlag.PRIORITY) === 0 ? 0 : priorities.get(this)!;
  }

  /**
   * Sets the worklist priority for the next queueing.
   * @param priority higher runs first; 0, the default, keeps no side-table entry.
   */
  set priority(priority: number) {
    if (priority === 0) {
      this._flags &= ~WorkFlag.PRIORITY;
      priorities.delete(this);
    } else {
      this._flags |= WorkFlag.PRIORITY;
      priorities.set(this, priority);
    }
  }

  /** @internal disableWork() depth (0-65535), kept in bits 8-23 of _flags: one field less on every item. */
  get _disable(): number {
    return (this._flags >>> DISABLE_SHIFT) & 0xffff;
  }

  /** @internal */
  set _disable(depth: number) {
    this._flags = (this._flags & ~WorkFlag.DISABLE_MASK) | (depth << DISABLE_SHIFT);
  }

  /**
   * @internal The flush color the queued instance counts in (takeColor()'s value: a color id's low 6 bits), kept in
   * bits 24-29 of _flags. Meaningful only while queued: an armed delayed work keeps its wheel level there.
   */
  get _color(): number {
    return (this._flags & WorkFlag.COLOR_MASK) >>> WorkFlag.COLOR_SHIFT;
  }

  /** @internal */
  set _color(color: number) {
    this._flags = (this._flags & ~WorkFlag.COLOR_MASK) | (color << WorkFlag.COLOR_SHIFT);
  }

  /** @internal The function's record (heartbeat id, CPU-hog count), looked up when needed, not kept. */
  get _fn(): FuncInfo {
    return funcInfo(this.func);
  }

  /**
   * Aborted when cancelWorkSync() or disableWorkSync() waits for the running instance: a long handler may watch it
   * and stop early (cmwq never interrupts a handler). A new signal for each instance that asks for one.
   */
  get signal(): AbortSignal {
    // Not running and never given one: a signal nothing will abort.
    if (this._worker === null && !controllers.has(this)) return new AbortController().signal;
    return instanceController(this).signal;
  }

  /** The handler's name, as tracepoints and reports print it. */
  get funcName(): string {
    return this.func.name || '<anonymous>';
  }
}

/** A new work's options: validated (throwing before the work is handed out), then applied. */
function applyOptions(work: Work<any>, options: WorkOptions): void {
  const priority = options.priority ?? 0;
  if (!Number.isFinite(priority)) invalidArg(`work priority must be a finite number, got ${describe(priority)}`);
  const key = options.key;
  if (key !== undefined && !(typeof key === 'string' && key.length > 0 && key.length <= 512))
    invalidArg(`work key must be a non-empty string of at most 512 characters, got ${describe(key)}`);
  const shared = options.workqueue;
  if (shared !== undefined && !(shared instanceof SharedWorkqueue))
    invalidArg(`work option workqueue must be a shared workqueue, got ${describe(shared)}`);
  if (key !== undefined || shared !== undefined) setSharedIdentity(work, key, shared ?? null);
  if (priority !== 0) work.priority = priority;
}

export function checkWork(work: unknown): asserts work is Work {
  if (!(work instanceof Work)) invalidArg(`expected a Work, got ${describe(work)}`);
}

/**
 * Whether work is pending: queued (active or inactive) or armed on its timer. It is not pending while its handler
 * runs, unless it was queued again meanwhile.
 *
 * @param work - The work item.
 * @typeParam T - The type of the work's data.
 * @returns true while an instance waits to start.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if work is not a Work.
 */
export function workPending<T>(work: SharedWork<T>): Promise<boolean>;
export function workPending(work: Work<any>): boolean;
export function workPending(work: Work<any>): boolean | Promise<boolean> {
  checkWork(work);
  const shared = sharedOf(work);
  if (shared !== null) return shared.workBusy(work).then((busy) => (busy & WORK_BUSY_PENDING) !== 0);
  return (work._flags & WorkFlag.PENDING) !== 0;
}

/**
 * What the work is doing now, as bits: {@link WORK_BUSY_PENDING} while an instance waits to start,
 * {@link WORK_BUSY_RUNNING} while its handler executes (running or asleep), both when it was queued again while
 * running, 0 when idle. A snapshot: it holds until the caller yields to the event loop.
 *
 * @param work - The work item.
 * @typeParam T - The type of the work's data.
 * @returns A combination of the WORK_BUSY_* bits.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if work is not a Work.
 */
export function workBusy<T>(work: SharedWork<T>): Promise<number>;
export function workBusy(work: Work<any>): number;
export function workBusy(work: Work<any>): number | Promise<number> {
  checkWork(work);
  const shared = sharedOf(work);
  if (shared !== null) return shared.workBusy(work);
  return (
    ((work._flags & WorkFlag.PENDING) !== 0 ? WORK_BUSY_PENDING : 0) | (work._worker !== null ? WORK_BUSY_RUNNING : 0)
  );
}
