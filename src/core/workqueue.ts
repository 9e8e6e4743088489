/**
 * cmwq: the Linux kernel's concurrency-managed workqueue, for Node.js. This file holds the workqueue object and
 * its life cycle; the header below is the map of the whole core.
 *
 * The model
 * ---------
 * A CPU is an event loop (cpu.ts). Work items (work.ts) are queued on workqueues; a workqueue reaches its worker
 * pools through pool workqueues (pool-workqueue.ts), one per pool it uses: per-CPU workqueues use their CPU's
 * normal, highpri or BH pool, unbound ones share a pool with every unbound workqueue of equal attributes
 * (pools.ts). A pool (worker-pool.ts) has a worklist and workers (worker.ts); a worker is an execution slot, not
 * a thread: it runs a handler's synchronous segment, and sleeps while the promise the handler returned is
 * pending, which lets the pool's next item start on another worker (concurrency management on an event loop).
 *
 * Life of an item
 * ---------------
 *   queueWork()         pending bit set (queue.ts) ──► counted in the workqueue's newest flush color (flush.ts)
 *                       ──► pwq.insert(): active if nrActive < max_active, else on the pwq's inactive list
 *   activation          onto the pool's worklist (priority order, FIFO among equals); the CPU loop is kicked
 *   processOneWork()    taken by an idle worker; pending cleared just before the call; if the item's previous
 *                       instance is still running (asleep) it waits on that worker's scheduled list instead
 *   handler ends        flushers released; pwq.decActive(): next inactive item activated, flush color retired
 *   delayed work        armed on the timer base (timer-base.ts, pending from arming on); expiry queues it
 *   cancel              grabPending() (cancel.ts) unlinks it from wherever it is, in O(1), and undoes the counts
 *
 * Invariants
 * ----------
 * - PENDING is set iff the item is on exactly one list: a timer bucket, an inactive list, a worklist or a
 *   worker's scheduled list (work._list says which). An item is never on two lists.
 * - work._worker !== null iff its handler is executing; one pointer, so an item never runs twice at once, across
 *   every workqueue and pool of the thread.
 * - pwq.nrActive = items of the pwq on a worklist or a scheduled list or executing; it exceeds maxActive only
 *   when the limit was lowered under it.
 * - Every pending (not armed) or running instance is counted in exactly one flush color of its workqueue.
 * - Queueing never runs a handler synchronously; handlers run from the CPU loop, which yields after a budget.
 *
 * Who may change what
 * -------------------
 * The public functions validate everything first and throw WorkqueueError before changing anything. The pending
 * bit is set only in queue.ts and cleared only in worker.ts (execution) and cancel.ts (grabbing). Lists are
 * touched through worklist.ts only. Workers change state only in worker.ts and worker-pool.ts. These are the
 * seams a shared backend (worklist and pending state in a database) and a dashboard will attach to.
 *
 * Where Node and the kernel differ, SPEC.md §4 and docs/design.md say what cmwq does and why.
 */
import {
  __WQ_ORDERED,
  WQ_BH,
  WQ_BH_ALLOWS,
  WQ_DFL_ACTIVE,
  WQ_FREEZABLE,
  WQ_HIGHPRI,
  WQ_MAX_ACTIVE,
  WQ_MEM_RECLAIM,
  WQ_UNBOUND,
  WQ_USER_FLAGS,
} from '../base/constants.js';
import { warn } from './tracepoints.js';
import { describe, invalidArg, WorkqueueError } from '../base/errors.js';
import { checkNotFromOwnHandler, drain, FlushColor, workqueueBusy } from './flush.js';
import { freezer } from './freezer.js';
import { busyProbe, localCpu, ownsThreads } from '../base/init.js';
import { Rescuer } from '../threads/rescuer.js';
import { timerBase } from './timers.js';
import { unregisterPwq } from '../observe/watchdog.js';
import { PoolWorkqueue } from './pool-workqueue.js';
import { cpuPool, getUnboundPool, putUnboundPool } from './pools.js';
import type { Work } from './work.js';

/** Workqueue attributes. onError applies to any workqueue; the rest shape an unbound workqueue's pool. */
export interface WorkqueueAttrs {
  /** Receives every failure of this workqueue's handlers, instead of a CmwqWarning. Never part of the pool hash. */
  onError?: (error: unknown, work: Work<any>) => void;
  /** Unbound pools: the most threads the pool may run. */
  maxWorkers?: number;
  /** Unbound pools: how long an idle thread lives. */
  idleTimeoutMs?: number;
  /** Unbound pools: worker_threads resource limits. */
  resourceLimits?: {
    maxOldGenerationSizeMb?: number;
    maxYoungGenerationSizeMb?: number;
    codeRangeSizeMb?: number;
    stackSizeMb?: number;
  };
}

const POOL_ATTRS = ['maxWorkers', 'idleTimeoutMs', 'resourceLimits'] as const;

/** Every live workqueue, in allocation order. */
export const workqueues = new Set<Workqueue>();

busyProbe.busy = () => timerBase.count > 0 || [...workqueues].some(workqueueBusy);

export class Workqueue {
  readonly name: string;
  readonly flags: number;
  /** max_active as set (the kernel's saved_max_active); pwqs apply it unless frozen. */
  maxActive: number;
  minActive = 0;
  attrs: Readonly<WorkqueueAttrs>;
  /** @internal */
  onError: WorkqueueAttrs['onError'];
  /** @internal Pool workqueues: per CPU for a per-CPU workqueue, one for an unbound workqueue. */
  readonly pwqs: PoolWorkqueue[] = [];
  /** @internal Flush colors, oldest to newest (flush.ts); colors[0] has id colorBase. */
  readonly colors: FlushColor[] = [new FlushColor()];
  /** @internal */
  colorBase = 0;
  /** @internal Nesting depth of drains in progress: only chained queueing is accepted while > 0. */
  draining = 0;
  /** @internal */
  destroying = false;
  /** @internal */
  destroyed = false;
  /** @internal Delayed works whose timer will queue them here. */
  nrArmed = 0;
  /** System workqueues cannot be destroyed. */
  readonly system: boolean;
  /** @internal The rescuer of a WQ_MEM_RECLAIM workqueue (on the thread that owns the threads). */
  rescuer: Rescuer | null = null;

  /** @internal Use allocWorkqueue(). */
  constructor(name: string, flags: number, maxActive: number, attrs: WorkqueueAttrs, system: boolean) {
    this.name = name;
    this.flags = flags;
    this.unbound = (flags & WQ_UNBOUND) !== 0;
    this.maxActive = maxActive;
    this.attrs = { ...attrs };
    this.onError = attrs.onError;
    this.system = system;
  }

  readonly unbound: boolean;

  get ordered(): boolean {
    return (this.flags & __WQ_ORDERED) !== 0;
  }

  /** @internal max_active in force now: 0 for a freezable workqueue while the system is frozen. */
  get effectiveMaxActive(): number {
    return freezer.freezing && (this.flags & WQ_FREEZABLE) !== 0 ? 0 : this.maxActive;
  }

  /** @internal The pool workqueue for cpu, made on first use. */
  pwqFor(cpu: number): PoolWorkqueue {
    const index = this.unbound ? 0 : cpu;
    let pwq = this.pwqs[index];
    if (pwq === undefined) {
      const pool = this.unbound
        ? getUnboundPool(unboundPoolKey(this.flags, this.attrs), (this.flags & WQ_HIGHPRI) !== 0, this.attrs)
        : cpuPool(cpu, (this.flags & WQ_HIGHPRI) !== 0, (this.flags & WQ_BH) !== 0);
      pwq = this.pwqs[index] = new PoolWorkqueue(this, pool, this.effectiveMaxActive);
    }
    return pwq;
  }
}

/** The unbound pool hash key: everything about a pool but onError. */
function unboundPoolKey(flags: number, attrs: WorkqueueAttrs): string {
  const key: Record<string, unknown> = { highpri: (flags & WQ_HIGHPRI) !== 0 };
  for (const name of POOL_ATTRS) if (attrs[name] !== undefined) key[name] = attrs[name];
  return stableStringify(key);
}

function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const record = value as Record<string, unknown>;
  return `{${Object.keys(record)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stableStringify(record[k])}`)
    .join(',')}}`;
}

export function checkWorkqueue(wq: unknown): asserts wq is Workqueue {
  if (!(wq instanceof Workqueue)) invalidArg(`expected a Workqueue, got ${describe(wq)}`);
}

/** Throws ERR_WQ_DESTROYED for a workqueue that is gone (or going). */
export function checkAlive(wq: Workqueue, what: string): void {
  if (wq.destroyed) throw new WorkqueueError('ERR_WQ_DESTROYED', `${what}: workqueue ${wq.name} has been destroyed`);
}

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
  if ((f & WQ_MEM_RECLAIM) !== 0 && ownsThreads) wq.rescuer = new Rescuer(name);
  workqueues.add(wq);
  return wq;
}

/**
 * Allocates a workqueue. flags are WQ_* bits; maxActive 0 means WQ_DFL_ACTIVE (per CPU for a per-CPU workqueue,
 * for the whole process for an unbound one). Invalid combinations throw ERR_WQ_INVALID_ARG.
 */
export function allocWorkqueue(name: string, flags = 0, maxActive = 0, attrs?: WorkqueueAttrs): Workqueue {
  if (Number.isInteger(flags) && (flags & __WQ_ORDERED) !== 0)
    invalidArg('use allocOrderedWorkqueue() for an ordered workqueue');
  return allocWorkqueueInternal(name, flags, maxActive, attrs, false);
}

/** Allocates an ordered workqueue: unbound, one item at a time, in queueing order. */
export function allocOrderedWorkqueue(name: string, flags = 0, attrs?: WorkqueueAttrs): Workqueue {
  if (!Number.isInteger(flags) || flags < 0 || (flags & ~WQ_USER_FLAGS) !== 0)
    invalidArg(`invalid workqueue flags ${describe(flags)}`);
  if ((flags & WQ_BH) !== 0) invalidArg('an ordered workqueue cannot be WQ_BH');
  return allocWorkqueueInternal(name, flags | WQ_UNBOUND | __WQ_ORDERED, 1, attrs, false);
}

/** Sets max_active (0 means WQ_DFL_ACTIVE); raising it activates waiting items at once. */
export function workqueueSetMaxActive(wq: Workqueue, maxActive: number): void {
  checkWorkqueue(wq);
  checkAlive(wq, 'workqueueSetMaxActive');
  if (wq.ordered) invalidArg(`workqueueSetMaxActive: ${wq.name} is ordered; its max_active is 1`);
  if ((wq.flags & WQ_BH) !== 0) invalidArg(`workqueueSetMaxActive: ${wq.name} is a BH workqueue`);
  wq.maxActive = resolveMaxActive(maxActive, wq.name);
  if (wq.minActive > wq.maxActive) wq.minActive = wq.maxActive;
  for (const pwq of wq.pwqs) if (pwq !== undefined) pwq.setMaxActive(wq.effectiveMaxActive);
}

/** Sets min_active of an unbound workqueue (kept for the kernel's API; one event loop has one node). */
export function workqueueSetMinActive(wq: Workqueue, minActive: number): void {
  checkWorkqueue(wq);
  checkAlive(wq, 'workqueueSetMinActive');
  if (!wq.unbound || wq.ordered) invalidArg(`workqueueSetMinActive: ${wq.name} is not a non-ordered unbound workqueue`);
  if (!(Number.isInteger(minActive) && minActive >= 0))
    invalidArg(`minActive must be a non-negative integer, got ${describe(minActive)}`);
  wq.minActive = Math.min(minActive, wq.maxActive);
}

/**
 * Replaces a workqueue's attributes. onError may change on any workqueue; pool attributes on unbound ones only,
 * which moves the workqueue to the pool for the new attributes (active items finish where they are).
 */
export function applyWorkqueueAttrs(wq: Workqueue, attrs: WorkqueueAttrs): void {
  checkWorkqueue(wq);
  checkAlive(wq, 'applyWorkqueueAttrs');
  checkAttrs(attrs, wq.unbound);
  const oldKey = unboundPoolKey(wq.flags, wq.attrs);
  wq.attrs = { ...attrs };
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

/** Whether cpu's pool workqueue of wq has items waiting over max_active. cpu -1 means this CPU. */
export function workqueueCongested(cpu: number, wq: Workqueue): boolean {
  checkWorkqueue(wq);
  if (!Number.isInteger(cpu) || cpu < -1) invalidArg(`cpu must be an integer >= -1, got ${describe(cpu)}`);
  const pwq = wq.pwqs[wq.unbound ? 0 : cpu === -1 ? localCpu : cpu];
  return pwq !== undefined && pwq.inactive.length > 0;
}

/** Called by destroyWorkqueue() once the workqueue is empty. Resolves once the threads it freed have exited. */
function releaseWorkqueue(wq: Workqueue): Promise<void> {
  wq.destroyed = true;
  workqueues.delete(wq);
  for (const pwq of wq.pwqs) if (pwq !== undefined) unregisterPwq(pwq);
  const ended: Promise<void>[] = [];
  if (wq.rescuer !== null) ended.push(wq.rescuer.stop());
  if (wq.unbound && wq.pwqs[0] !== undefined) ended.push(putUnboundPool(wq.pwqs[0].pool));
  return Promise.all(ended).then(() => undefined);
}

/**
 * Destroys a workqueue: fires its armed delayed works at once, drains it, and releases it. Queueing on it from
 * outside fails meanwhile (ERR_WQ_DRAINING) and afterwards (ERR_WQ_DESTROYED). Resolves once the threads it no
 * longer needs (its rescuer, its unbound pool's if it was the last user) have exited. System workqueues are not
 * destroyable.
 */
export function destroyWorkqueue(wq: Workqueue): Promise<void> {
  checkWorkqueue(wq);
  checkAlive(wq, 'destroyWorkqueue');
  if (wq.destroying)
    throw new WorkqueueError('ERR_WQ_DESTROYED', `destroyWorkqueue: workqueue ${wq.name} is being destroyed already`);
  if (wq.system) invalidArg(`destroyWorkqueue: ${wq.name} is a system workqueue`);
  checkNotFromOwnHandler(wq, 'destroyWorkqueue');
  wq.destroying = true;
  return drain(wq, true).then(() => releaseWorkqueue(wq));
}
