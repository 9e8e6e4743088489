/**
 * A workqueue's life: allocWorkqueue() and allocOrderedWorkqueue() validate everything and make it;
 * workqueueSetMaxActive(), workqueueSetMinActive() and applyWorkqueueAttrs() change it; destroyWorkqueue()
 * fires its armed delayed works, drains it and releases its pools and rescuer.
 */
import {
  __WQ_ORDERED,
  WQ_BH,
  WQ_BH_ALLOWS,
  WQ_DFL_ACTIVE,
  WQ_HIGHPRI,
  WQ_MAX_ACTIVE,
  WQ_MEM_RECLAIM,
  WQ_UNBOUND,
  WQ_USER_FLAGS,
} from '../base/constants.js';
import { describe, invalidArg, WorkqueueError } from '../base/errors.js';
import { busyProbe, localCpu, ownsThreads } from '../base/init.js';
import { executors } from './executor.js';
import { drain } from './flush.js';
import { workqueueBusy } from './flush-color.js';
import { unregisterPwq } from './heartbeat.js';
import { checkNotFromOwnHandler } from './lockdep.js';
import { getUnboundPool, putUnboundPool } from './pools.js';
import { timerBase } from './timers.js';
import { warn } from './tracepoints.js';
import { workqueues, wqListHooks } from './wq-list.js';
import { checkAlive, checkWorkqueue, POOL_ATTRS, unboundPoolKey, Workqueue, type WorkqueueAttrs } from './workqueue.js';
import { SharedWorkqueue, type SharedWorkqueueAttrs } from './shared.js';

busyProbe.busy = () => timerBase.count > 0 || [...workqueues].some(workqueueBusy);

function checkAttrs(attrs: unknown, unbound: boolean): asserts attrs is WorkqueueAttrs {
  if (attrs === null || typeof attrs !== 'object')
    invalidArg(`workqueue attrs must be an object, got ${describe(attrs)}`);
  const a = attrs as Record<string, unknown>;
  for (const key of Object.keys(a)) {
    if (key !== 'onError' && !(POOL_ATTRS as readonly string[]).includes(key))
      invalidArg(`unknown workqueue attribute ${JSON.stringify(key)}`);
    if (key !== 'onError' && a[key] !== undefined && !unbound)
      invalidArg(`attribute ${key} applies to unbound workqueues only`);
  }
  if (a.onError !== undefined && typeof a.onError !== 'function')
    invalidArg(`attrs.onError must be a function, got ${describe(a.onError)}`);
  if (a.maxWorkers !== undefined && !(Number.isInteger(a.maxWorkers) && (a.maxWorkers as number) >= 1)) {
    invalidArg(`attrs.maxWorkers must be an integer >= 1, got ${describe(a.maxWorkers)}`);
  }
  if (a.idleTimeoutMs !== undefined && !(Number.isFinite(a.idleTimeoutMs) && (a.idleTimeoutMs as number) >= 0)) {
    invalidArg(`attrs.idleTimeoutMs must be a number >= 0, got ${describe(a.idleTimeoutMs)}`);
  }
  if (a.resourceLimits !== undefined && (a.resourceLimits === null || typeof a.resourceLimits !== 'object')) {
    invalidArg(`attrs.resourceLimits must be an object, got ${describe(a.resourceLimits)}`);
  }
}

/** Validates a max_active value: 0 means the default, above WQ_MAX_ACTIVE clamps with a warning. */
function resolveMaxActive(maxActive: unknown, name: string): number {
  if (!(Number.isInteger(maxActive) && (maxActive as number) >= 0)) {
    invalidArg(`maxActive must be a non-negative integer, got ${describe(maxActive)}`);
  }
  const n = maxActive as number;
  if (n === 0) return WQ_DFL_ACTIVE;
  if (n > WQ_MAX_ACTIVE) {
    warn(`workqueue: max_active ${n} requested for ${name} is out of range, clamping between 1 and ${WQ_MAX_ACTIVE}`);
    return WQ_MAX_ACTIVE;
  }
  return n;
}

/** @internal allocWorkqueue() without the user-flag check, for ordered and system workqueues. */
export function allocWorkqueueInternal(
  name: unknown,
  flags: unknown,
  maxActive: unknown,
  attrs: unknown,
  system: boolean,
): Workqueue {
  if (typeof name !== 'string' || name.length === 0)
    invalidArg(`workqueue name must be a non-empty string, got ${describe(name)}`);
  if (!Number.isInteger(flags) || (flags as number) < 0)
    invalidArg(`workqueue flags must be a non-negative integer, got ${describe(flags)}`);
  const f = flags as number;
  if ((f & ~(WQ_USER_FLAGS | __WQ_ORDERED)) !== 0)
    invalidArg(`unknown workqueue flags 0x${(f & ~WQ_USER_FLAGS).toString(16)} for ${name}`);
  if ((f & WQ_BH) !== 0) {
    if ((f & ~WQ_BH_ALLOWS) !== 0) invalidArg(`WQ_BH workqueue ${name} may carry only WQ_HIGHPRI besides WQ_BH`);
    if (maxActive !== 0) invalidArg(`WQ_BH workqueue ${name} must have maxActive 0`);
  }
  const max = resolveMaxActive(maxActive, name);
  if (attrs === undefined) attrs = {};
  checkAttrs(attrs, (f & WQ_UNBOUND) !== 0);
  const wq = new Workqueue(name, f, max, attrs, system);
  if ((f & WQ_MEM_RECLAIM) !== 0 && ownsThreads) wq.rescuer = executors.factory?.rescuer(name) ?? null;
  workqueues.add(wq);
  return wq;
}

/**
 * Allocates a workqueue (the kernel's alloc_workqueue). Without {@link WQ_UNBOUND} it is per-CPU: items run on
 * the CPU (event loop) they are queued on, with concurrency management: a handler that awaits lets the next item
 * start. Its pools and workers are made when work is first queued.
 *
 * @param name - A non-empty name, shown in reports, warnings and tracepoints (not required to be unique).
 * @param flags - WQ_* bits ({@link WQ_UNBOUND}, {@link WQ_HIGHPRI}, {@link WQ_FREEZABLE}, {@link WQ_MEM_RECLAIM},
 *   {@link WQ_BH}, ...), 0 for none.
 * @param maxActive - The most items in flight at once (running or asleep): per CPU for a per-CPU workqueue, in
 *   the whole process for an unbound one. Items over it wait inactive and start in queueing order. 0 means
 *   {@link WQ_DFL_ACTIVE}; above {@link WQ_MAX_ACTIVE} it is clamped, with a `CmwqWarning`.
 * @param attrs - `onError`, and for an unbound workqueue its pool attributes; see {@link WorkqueueAttrs}.
 * @returns The new workqueue.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` for a name that is not a non-empty string, unknown flags,
 *   WQ_BH with anything but WQ_HIGHPRI or with a maxActive other than 0, a maxActive that is not a non-negative
 *   integer, unknown or invalid attributes, pool attributes on a per-CPU workqueue, or the ordered bit (use
 *   allocOrderedWorkqueue()).
 *
 * @example
 * ```ts
 * // At most four downloads in flight; the rest wait their turn, FIFO.
 * const downloads = allocWorkqueue('downloads', 0, 4, {
 *   onError: (error, work) => console.error(`${work.funcName} failed`, error),
 * });
 * queueWork(downloads, new Work(async (work) => save(await fetch(work.data)), url));
 * ```
 */
export function allocWorkqueue(
  name: string,
  flags: number,
  maxActive: number,
  attrs: SharedWorkqueueAttrs,
): SharedWorkqueue;
export function allocWorkqueue(name: string, flags?: number, maxActive?: number, attrs?: WorkqueueAttrs): Workqueue;
export function allocWorkqueue(
  name: string,
  flags = 0,
  maxActive = 0,
  attrs?: WorkqueueAttrs | SharedWorkqueueAttrs,
): Workqueue | SharedWorkqueue {
  if (Number.isInteger(flags) && (flags & __WQ_ORDERED) !== 0)
    invalidArg('use allocOrderedWorkqueue() for an ordered workqueue');
  if (attrs !== undefined && attrs !== null && 'backend' in attrs) return allocShared(name, flags, maxActive, attrs);
  return allocWorkqueueInternal(name, flags, maxActive, attrs, false);
}

/**
 * Allocates an ordered workqueue (the kernel's alloc_ordered_workqueue): unbound, max_active 1, running one item
 * at a time, strictly in queueing order, whichever thread queued them. Its max_active cannot be changed.
 *
 * @param name - A non-empty name, shown in reports, warnings and tracepoints.
 * @param flags - WQ_* bits besides WQ_UNBOUND, which is implied (e.g. {@link WQ_FREEZABLE},
 *   {@link WQ_MEM_RECLAIM}); never {@link WQ_BH}.
 * @param attrs - `onError` and pool attributes; see {@link WorkqueueAttrs}.
 * @returns The new workqueue.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` for a name that is not a non-empty string, unknown flags or
 *   WQ_BH, or invalid attributes.
 *
 * @example
 * ```ts
 * const journal = allocOrderedWorkqueue('journal');
 * for (const entry of entries) queueWork(journal, new Work((work) => append(work.data), entry));
 * await flushWorkqueue(journal); // appended one at a time, in this order
 * ```
 */
export function allocOrderedWorkqueue(name: string, flags: number, attrs: SharedWorkqueueAttrs): SharedWorkqueue;
export function allocOrderedWorkqueue(name: string, flags?: number, attrs?: WorkqueueAttrs): Workqueue;
export function allocOrderedWorkqueue(
  name: string,
  flags = 0,
  attrs?: WorkqueueAttrs | SharedWorkqueueAttrs,
): Workqueue | SharedWorkqueue {
  if (!Number.isInteger(flags) || flags < 0 || (flags & ~WQ_USER_FLAGS) !== 0)
    invalidArg(`invalid workqueue flags ${describe(flags)}`);
  if ((flags & WQ_BH) !== 0) invalidArg('an ordered workqueue cannot be WQ_BH');
  if (attrs !== undefined && attrs !== null && 'backend' in attrs)
    return allocShared(name, flags | WQ_UNBOUND | __WQ_ORDERED, 1, attrs);
  return allocWorkqueueInternal(name, flags | WQ_UNBOUND | __WQ_ORDERED, 1, attrs, false);
}

function allocShared(name: unknown, flags: unknown, maxActive: unknown, attrs: SharedWorkqueueAttrs): SharedWorkqueue {
  if (typeof name !== 'string' || name.length === 0)
    invalidArg(`workqueue name must be a non-empty string, got ${describe(name)}`);
  if (!Number.isInteger(flags) || ((flags as number) & WQ_UNBOUND) === 0)
    invalidArg(`shared workqueue ${name} must be WQ_UNBOUND (it spans processes), got flags ${describe(flags)}`);
  if (((flags as number) & (WQ_BH | WQ_MEM_RECLAIM | WQ_HIGHPRI)) !== 0)
    invalidArg(`shared workqueue ${name}: WQ_BH, WQ_MEM_RECLAIM and WQ_HIGHPRI do not apply across processes`);
  const backend = attrs.backend as Partial<SharedWorkqueueAttrs['backend']> | null;
  if (backend === null || typeof backend !== 'object' || typeof backend.allocSharedWorkqueue !== 'function')
    invalidArg(`attrs.backend must be a backend (e.g. await postgresBackend(...)), got ${describe(backend)}`);
  return attrs.backend.allocSharedWorkqueue(name, flags as number, resolveMaxActive(maxActive, name), attrs);
}

/**
 * Changes a workqueue's max_active. Raising it activates waiting (inactive) items at once, oldest first; lowering
 * it lets the items in flight finish and holds back the next ones until the count is under the new limit.
 * minActive is lowered with it if it would exceed it.
 *
 * On a shared workqueue the limit is the cluster's: one statement changes it for every node (the next claims
 * anywhere use it; items running over a lowered limit finish), and the promise resolves once it is committed.
 * Each node's own `nodeMaxActive` stays as it was allocated.
 *
 * @param wq - The workqueue; not an ordered or WQ_BH one.
 * @param maxActive - The new limit: 0 means {@link WQ_DFL_ACTIVE}; above {@link WQ_MAX_ACTIVE} it is clamped
 *   with a `CmwqWarning`.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if wq is not a workqueue, is ordered or WQ_BH, or maxActive
 *   is not a non-negative integer; `ERR_WQ_DESTROYED` if wq has been destroyed (detached, for a shared one);
 *   a shared workqueue's promise rejects with `ERR_WQ_BACKEND` when the database cannot be reached.
 */
export function workqueueSetMaxActive(wq: SharedWorkqueue, maxActive: number): Promise<void>;
export function workqueueSetMaxActive(wq: Workqueue, maxActive: number): void;
export function workqueueSetMaxActive(wq: Workqueue | SharedWorkqueue, maxActive: number): void | Promise<void> {
  if (wq instanceof SharedWorkqueue) {
    if (wq.ordered) invalidArg(`workqueueSetMaxActive: ${wq.name} is ordered; its max_active is 1`);
    return wq.setMaxActive(resolveMaxActive(maxActive, wq.name));
  }
  checkWorkqueue(wq);
  checkAlive(wq, 'workqueueSetMaxActive');
  if (wq.ordered) invalidArg(`workqueueSetMaxActive: ${wq.name} is ordered; its max_active is 1`);
  if ((wq.flags & WQ_BH) !== 0) invalidArg(`workqueueSetMaxActive: ${wq.name} is a BH workqueue`);
  wq._maxActive = resolveMaxActive(maxActive, wq.name);
  if (wq._minActive > wq._maxActive) wq._minActive = wq._maxActive;
  for (const pwq of wq.pwqs) if (pwq !== undefined) pwq.setMaxActive(wq.effectiveMaxActive);
}

/**
 * Sets min_active of an unbound workqueue. Kept for the kernel's API: min_active guarantees each NUMA node some
 * concurrency, and a process here is a single node, so the value is recorded (and reported by {@link wqDump})
 * but changes no scheduling. On a shared workqueue, where a process is a node, it is this node's floor (the
 * `minActive` attribute): this node may claim that many items even while max_active is reached elsewhere.
 *
 * @param wq - A non-ordered unbound workqueue.
 * @param minActive - A non-negative integer; values above wq's maxActive are lowered to it.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if wq is not a workqueue, is per-CPU or ordered, or
 *   minActive is not a non-negative integer; `ERR_WQ_DESTROYED` if wq has been destroyed.
 */
export function workqueueSetMinActive(wq: Workqueue | SharedWorkqueue, minActive: number): void {
  if (wq instanceof SharedWorkqueue) {
    if (wq.ordered) invalidArg(`workqueueSetMinActive: ${wq.name} is not a non-ordered unbound workqueue`);
    if (!(Number.isInteger(minActive) && minActive >= 0))
      invalidArg(`minActive must be a non-negative integer, got ${describe(minActive)}`);
    wq.setMinActive(Math.min(minActive, wq.maxActive));
    return;
  }
  checkWorkqueue(wq);
  checkAlive(wq, 'workqueueSetMinActive');
  if (!wq.unbound || wq.ordered) invalidArg(`workqueueSetMinActive: ${wq.name} is not a non-ordered unbound workqueue`);
  if (!(Number.isInteger(minActive) && minActive >= 0))
    invalidArg(`minActive must be a non-negative integer, got ${describe(minActive)}`);
  wq._minActive = Math.min(minActive, wq._maxActive);
}

/**
 * Replaces a workqueue's attributes as a whole (attributes left out return to their defaults). onError may change
 * on any workqueue; pool attributes on unbound ones only: new pool attributes move the workqueue to the pool for
 * them (shared with other workqueues of equal attributes), and items already active finish where they are.
 *
 * @param wq - The workqueue.
 * @param attrs - The new attributes; see {@link WorkqueueAttrs}.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if wq is not a workqueue, attrs is not an object or holds an
 *   unknown or invalid attribute, or a pool attribute is given for a per-CPU workqueue; `ERR_WQ_DESTROYED` if wq
 *   has been destroyed. Nothing changes then.
 */
export function applyWorkqueueAttrs(wq: Workqueue, attrs: WorkqueueAttrs): void {
  checkWorkqueue(wq);
  checkAlive(wq, 'applyWorkqueueAttrs');
  checkAttrs(attrs, wq.unbound);
  const oldKey = unboundPoolKey(wq.flags, wq.attrs);
  wq._attrs = { ...attrs };
  wq.onError = attrs.onError;
  const pwq = wq.pwqs[0];
  if (wq.unbound && pwq !== undefined) {
    const key = unboundPoolKey(wq.flags, wq.attrs);
    if (key !== oldKey) {
      const old = pwq.pool;
      pwq.pool = getUnboundPool(key, (wq.flags & WQ_HIGHPRI) !== 0, wq.attrs);
      void putUnboundPool(old);
    }
  }
}

/**
 * Whether wq is congested on a CPU: items wait there, inactive, because max_active items are in flight. A hint for
 * callers that would rather not add more; nothing is changed.
 *
 * @param cpu - The CPU, or -1 ({@link WORK_CPU_UNBOUND}) for the caller's own; ignored for an unbound workqueue,
 *   which has one limit for the whole process.
 * @param wq - The workqueue.
 * @returns true if items are waiting over max_active.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if wq is not a workqueue or cpu is not an integer >= -1.
 */
export function workqueueCongested(cpu: number, wq: Workqueue): boolean {
  checkWorkqueue(wq);
  if (!Number.isInteger(cpu) || cpu < -1) invalidArg(`cpu must be an integer >= -1, got ${describe(cpu)}`);
  const pwq = wq.pwqs[wq.unbound ? 0 : cpu === -1 ? localCpu : cpu];
  return pwq !== undefined && pwq.inactive.length > 0;
}

/** Called by destroyWorkqueue() once the workqueue is empty. Resolves once the threads it freed have exited. */
function releaseWorkqueue(wq: Workqueue): Promise<void> {
  wq.destroyed = true;
  wqListHooks.released?.(wq);
  workqueues.delete(wq);
  for (const pwq of wq.pwqs) if (pwq !== undefined) unregisterPwq(pwq);
  const ended: Promise<void>[] = [];
  if (wq.rescuer !== null) ended.push(wq.rescuer.stop());
  if (wq.unbound && wq.pwqs[0] !== undefined) ended.push(putUnboundPool(wq.pwqs[0].pool));
  return Promise.all(ended).then(() => undefined);
}

/**
 * Destroys a workqueue: fires its armed delayed works at once (nothing armed is lost; a delayed work that keeps
 * re-arming itself is fired at most 10 times, then cancelled with a `CmwqWarning`), drains it (its handlers may
 * still queue on it, as in {@link drainWorkqueue}), and releases it. Queueing on it from outside fails
 * meanwhile (`ERR_WQ_DRAINING`) and afterwards (`ERR_WQ_DESTROYED`).
 *
 * A frozen {@link WQ_FREEZABLE} workqueue is destroyed only once {@link thawWorkqueues} lets its inactive items
 * run; cancel the ones that must not run first.
 *
 * @param wq - The workqueue; not a system workqueue.
 * @returns A promise that resolves once every item has finished and the threads wq no longer needs (its
 *   rescuer; its unbound pool's, if it was the pool's last user) have exited.
 * @throws {@link WorkqueueError} `ERR_WQ_INVALID_ARG` if wq is not a workqueue or is a system workqueue;
 *   `ERR_WQ_DESTROYED` if it is destroyed or being destroyed already; `ERR_WQ_DEADLOCK` if called from one of wq's
 *   own handlers (it would wait for itself).
 *
 * @example
 * ```ts
 * const wq = allocWorkqueue('import');
 * queueWork(wq, new Work(importBatch));
 * await destroyWorkqueue(wq); // importBatch ran, and wq is gone
 * ```
 */
export function destroyWorkqueue(wq: Workqueue | SharedWorkqueue): Promise<void> {
  if (wq instanceof SharedWorkqueue) return wq.destroyWorkqueue();
  checkWorkqueue(wq);
  checkAlive(wq, 'destroyWorkqueue');
  if (wq.destroying)
    throw new WorkqueueError('ERR_WQ_DESTROYED', `destroyWorkqueue: workqueue ${wq.name} is being destroyed already`);
  if (wq.system) invalidArg(`destroyWorkqueue: ${wq.name} is a system workqueue`);
  checkNotFromOwnHandler(wq, 'destroyWorkqueue');
  wq.destroying = true;
  return drain(wq, true).then(() => releaseWorkqueue(wq));
}
