/**
 * cmwq: the Linux kernel's concurrency-managed workqueue, for Node.js. This file holds the workqueue object; the
 * header below is the map of the whole core (src/core/). docs/design.md is the long version, with the layers.
 *
 * The model
 * ---------
 * A CPU is an event loop (cpu.ts). Work items (work.ts) are queued on workqueues; a workqueue reaches its worker
 * pools through pool workqueues (pool-workqueue.ts), one per pool it uses: per-CPU workqueues use their CPU's
 * normal, highpri or BH pool, unbound ones share a pool with every unbound workqueue of equal attributes
 * (pools.ts). A pool (worker-pool.ts) has a worklist and workers (worker.ts); a worker is an execution slot, not
 * a thread: it runs a handler's synchronous segment, and sleeps while the promise the handler returned is
 * pending, which lets the pool's next item start on another worker (concurrency management on an event loop).
 * Module works of a pool with an executor behind it (executor.ts: the threads layer's thread pools) run on
 * another thread; for the loop their worker sleeps until the executor reports the item done.
 *
 * Life of an item
 * ---------------
 *   queueWork()         pending bit set (queue.ts) ──► counted in the workqueue's newest flush color
 *                       (flush-color.ts) ──► pwq.insert(): active if nrActive < max_active, else inactive
 *   activation          onto the pool's worklist (priority order, FIFO among equals); the CPU loop is kicked
 *   processOneWork()    taken by an idle worker; pending cleared just before the call; if the item's previous
 *                       instance is still running (asleep) it waits on that worker's scheduled list instead
 *   handler ends        barrier waiters released (barrier.ts); pwq.decActive(): next inactive item activated,
 *                       flush color retired
 *   queueFunc()         a one-shot job: a recycled carrier Work (carrier.ts) takes the path above; its handler gets
 *                       the data, and the carrier goes back to the free list when the handler ends
 *   delayed work        armed on the timer wheel (timers.ts, timer-base.ts; pending from arming on); expiry queues
 *                       it, at most 256 per timer callback
 *   cancel              grabPending() (grab-pending.ts) unlinks it from wherever it is, in O(1), and undoes the
 *                       counts
 *
 * Invariants
 * ----------
 * - PENDING is set iff the item is on exactly one list: a timer wheel slot, an inactive list, a worklist or a
 *   worker's scheduled list (work._list says which). An item is never on two lists.
 * - A Work has eight fields (func, data, _flags, _pwq, _next, _prev, _list, _worker); its priority, disable
 *   depth, flush color and function record live in flag bits and side tables. A DelayedWork adds none: while
 *   armed, its _list is a TimerList (the workqueue and CPU its timer queues on) and _pwq holds its expiry.
 * - work._worker !== null iff its handler is executing; one pointer, so an item never runs twice at once, across
 *   every workqueue and pool of the thread.
 * - pwq.nrActive = items of the pwq on a worklist or a scheduled list or executing; it exceeds maxActive only
 *   when the limit was lowered under it.
 * - Every pending (not armed) or running instance is counted in exactly one flush color of its workqueue.
 * - Queueing never runs a handler synchronously; handlers run from the CPU loop (cpu.ts), or from a sleeper's
 *   settle callback through it, and the loop yields once a turn of the event loop has used its budget (2 ms).
 * - A carrier (carrier.ts) is on its free list iff it is neither pending nor running.
 *
 * Who may change what
 * -------------------
 * - The public functions validate everything first and throw WorkqueueError before changing anything.
 * - PENDING is set only where an instance begins: queue.ts (queueWork), queue-func.ts and delayed-work.ts
 *   (arming); it is cleared only in worker.ts (just before the handler) and grab-pending.ts (cancel).
 * - Items are linked and unlinked only through WorkList's methods (worklist.ts); the timer base keeps its own
 *   wheel slots (timer-base.ts).
 * - A worker's fields change only in worker.ts and worker-pool.ts; executors bind an item to their thread
 *   through worker.ts (bindRemote/unbindRemote).
 * - Flush colors change only in flush-color.ts, barrier waiters only in barrier.ts; max_active in force only
 *   through PoolWorkqueue.setMaxActive (alloc.ts, freezer.ts).
 * - The core imports only base/ and core/: the watchdog (observe/) and the threads (threads/) plug in through
 *   heartbeat.ts's hooks and executor.ts's factory, installed by the public entry (index.ts).
 *
 * Where Node and the kernel differ, docs/design.md says what cmwq does and why.
 */
import { __WQ_ORDERED, WORK_CPU_UNBOUND, WQ_BH, WQ_FREEZABLE, WQ_HIGHPRI, WQ_UNBOUND } from '../base/constants.js';
import { describe, invalidArg, WorkqueueError } from '../base/errors.js';
import type { Rescuer } from './executor.js';
import { FlushColor } from './flush-color.js';
import { freezer } from './freezer.js';
import { PoolWorkqueue } from './pool-workqueue.js';
import { cpuPool, getUnboundPool } from './pools.js';
import { SharedWorkqueue } from './shared.js';
import { TimerList } from './timer-list.js';
import type { Work } from './work.js';

/**
 * Workqueue attributes, given to {@link allocWorkqueue}, {@link allocOrderedWorkqueue} or
 * {@link applyWorkqueueAttrs}. onError applies to any workqueue; the others shape the pool of an unbound
 * workqueue and may only be given to one: unbound workqueues with equal pool attributes share a pool (and its
 * threads), different ones get different pools.
 */
export interface WorkqueueAttrs {
  /**
   * Receives every failure of this workqueue's handlers (a throw, a rejection, a dead thread, a module that
   * cannot load) as `onError(error, work)`, instead of a `CmwqWarning`. If it throws itself, both are reported as
   * warnings. Never part of the pool hash.
   *
   * @param error - What the handler threw or rejected with (a WorkqueueError for ERR_WQ_* failures).
   * @param work - The work item whose handler failed.
   */
  onError?: (error: unknown, work: Work<any>) => void;
  /** Unbound pools: the most threads the pool may run (an integer >= 1; default max(4, 2 x cores)). */
  maxWorkers?: number;
  /** Unbound pools: how long, in milliseconds, an idle thread lives before it exits (default 30000). */
  idleTimeoutMs?: number;
  /**
   * Unbound pools: the worker_threads resource limits of the pool's threads (as `new Worker(url, {
   * resourceLimits })`). A thread that runs out of memory dies; its item fails with `ERR_WQ_WORKER_EXITED`.
   */
  resourceLimits?: {
    /** The main heap's maximum size, in MB. */
    maxOldGenerationSizeMb?: number;
    /** The space for recently made objects, in MB. */
    maxYoungGenerationSizeMb?: number;
    /** The space for generated code, in MB. */
    codeRangeSizeMb?: number;
    /** The thread's stack size, in MB. */
    stackSizeMb?: number;
  };
}

/** The attributes that shape an unbound pool (and so its hash key). */
export const POOL_ATTRS = ['maxWorkers', 'idleTimeoutMs', 'resourceLimits'] as const;

/**
 * A workqueue: where work is queued, and the limits and order it runs with. Made by {@link allocWorkqueue} or
 * {@link allocOrderedWorkqueue} (or one of the system workqueues, such as {@link systemWq}), never constructed
 * directly; changed only through the workqueue functions (workqueueSetMaxActive(), applyWorkqueueAttrs(), ...).
 */
export class Workqueue {
  /** The name given at allocation; reports, warnings and worker names show it. */
  readonly name: string;
  /** The WQ_* flags it was allocated with (an ordered workqueue has WQ_UNBOUND and an internal bit added). */
  readonly flags: number;
  /** @internal max_active as set (the kernel's saved_max_active); pwqs apply it unless frozen. */
  _maxActive: number;
  /** @internal */
  _minActive = 0;
  /** @internal */
  _attrs: Readonly<WorkqueueAttrs>;
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
  /** @internal The `_list` of delayed works armed for this workqueue (timer-list.ts). */
  readonly timerList: TimerList = new TimerList(this, WORK_CPU_UNBOUND);
  /** System workqueues cannot be destroyed. */
  readonly system: boolean;
  /** @internal The rescuer of a WQ_MEM_RECLAIM workqueue (on the thread that owns the threads). */
  rescuer: Rescuer | null = null;

  /**
   * Not for use: allocWorkqueue() and allocOrderedWorkqueue() validate their arguments and make workqueues. Hidden
   * from the documentation, but kept in the published declarations so that they show its real parameters.
   *
   * @hidden
   */
  constructor(name: string, flags: number, maxActive: number, attrs: WorkqueueAttrs, system: boolean) {
    this.name = name;
    this.flags = flags;
    this.unbound = (flags & WQ_UNBOUND) !== 0;
    this._maxActive = maxActive;
    this._attrs = { ...attrs };
    this.onError = attrs.onError;
    this.system = system;
  }

  /** Whether it was allocated with {@link WQ_UNBOUND} (ordered workqueues are unbound too). */
  readonly unbound: boolean;

  /**
   * max_active as set (the kernel's saved_max_active): the most items in flight at once, per CPU for a per-CPU
   * workqueue, in the whole process for an unbound one. It stays as set while a freezable workqueue is frozen (it
   * then runs none). Changed only through {@link workqueueSetMaxActive}.
   */
  get maxActive(): number {
    return this._maxActive;
  }

  /** min_active as set; 0 until changed, only through {@link workqueueSetMinActive}. */
  get minActive(): number {
    return this._minActive;
  }

  /** The attributes in force, as given at allocation (a copy); changed only through {@link applyWorkqueueAttrs}. */
  get attrs(): Readonly<WorkqueueAttrs> {
    return this._attrs;
  }

  /** Whether it is an ordered workqueue ({@link allocOrderedWorkqueue}): one item at a time, in queueing order. */
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
export function unboundPoolKey(flags: number, attrs: WorkqueueAttrs): string {
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
  if (wq instanceof Workqueue) return;
  if (wq instanceof SharedWorkqueue) {
    throw new WorkqueueError(
      'ERR_WQ_SHARED_UNSUPPORTED',
      `${wq.name} is a shared workqueue and this call works on local workqueues only (it has no cluster-wide ` +
        'meaning; see "Every public call" in docs/shared-workqueues.md)',
    );
  }
  invalidArg(`expected a Workqueue, got ${describe(wq)}`);
}

/** Throws ERR_WQ_DESTROYED for a workqueue that is gone (or going). */
export function checkAlive(wq: Workqueue, what: string): void {
  if (wq.destroyed) throw new WorkqueueError('ERR_WQ_DESTROYED', `${what}: workqueue ${wq.name} has been destroyed`);
}
