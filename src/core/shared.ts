/**
 * The seam between the core and shared workqueues (a workqueue whose pending bits, worklist, timers and
 * max_active count live in a database, so that many processes are nodes of one workqueue).
 *
 * The core knows no backend. A backend (e.g. cmwq/postgres) subclasses SharedWorkqueue and hands an
 * allocation function to allocWorkqueue() through attrs.backend; the public functions (queueWork, flushWork,
 * cancelWorkSync, ...) check `wq instanceof SharedWorkqueue` (or sharedOf(work) for calls that take only a work)
 * and delegate to the workqueue's methods, which return promises because they must ask the database.
 *
 * Invariants: this file imports no other core module at run time (only types), so every core file may import it
 * without a cycle; a Work belongs to at most one shared workqueue (work._shared, set by its options or by the
 * first shared queueing).
 */
import type { DelayedWork } from './delayed-work.js';
import type { Work } from './work.js';
import type { Workqueue } from './workqueue.js';

/** Options of a queue call on a shared workqueue. */
export interface SharedQueueOptions {
  /**
   * A database client inside the caller's own open transaction (for PostgreSQL: a `pg` client after `BEGIN`):
   * the item is queued if and only if that transaction commits (the outbox pattern).
   */
  tx?: unknown;
}

/** What allocWorkqueue() needs from a backend to make a shared workqueue. */
export interface SharedBackend {
  /** @internal Makes the shared workqueue; called by allocWorkqueue() after it has checked the name and flags. */
  allocSharedWorkqueue(name: string, flags: number, maxActive: number, attrs: SharedWorkqueueAttrs): SharedWorkqueue;
}

/** Retry policy of a shared workqueue: failed instances are queued again, up to `attempts` runs in all. */
export interface SharedRetry {
  /** Runs in all, the first included (>= 1). */
  attempts: number;
  /** Delay before the first retry, ms (default 1000); doubles at each retry up to maxDelayMs. */
  delayMs?: number;
  /** Upper bound of the back-off, ms (default 60000). */
  maxDelayMs?: number;
}

/** Attributes of a shared workqueue (allocWorkqueue's 4th argument with a `backend`). */
export interface SharedWorkqueueAttrs {
  /** The backend whose database holds the workqueue (e.g. `await postgresBackend({ connectionString })`). */
  backend: SharedBackend;
  /** How long a claim lasts without renewal, ms (default 30000). */
  leaseMs?: number;
  /** How many items this node runs at once (default min(maxActive, 16)); 0 makes a producer-only node. */
  nodeMaxActive?: number;
  /** The kernel's per-node floor: this node may run that many items even when max_active is reached elsewhere. */
  minActive?: number;
  /** Opt-in retry of failed instances with exponential back-off; without it a failure is recorded, not retried. */
  retry?: SharedRetry;
  /**
   * Receives every handler failure on this node, instead of a CmwqWarning.
   *
   * @param error - What the handler threw or rejected with.
   * @param work - The work item whose handler failed.
   */
  onError?: (error: unknown, work: Work<any>) => void;
}

/** This node's figures and the cluster's, as wqMonitor() shows a shared workqueue. */
export interface SharedStats {
  /** Items pending in the whole cluster (queued or armed, not running). */
  pending: number;
  /** Items running in the whole cluster (live leases). */
  infl: number;
}

/**
 * A workqueue shared by every process that allocates it with the same name on the same database. The public
 * functions delegate to these methods; each returns a promise of what the local call returns.
 */
export abstract class SharedWorkqueue {
  /** The workqueue's name, the same on every node. */
  abstract readonly name: string;
  /** WQ_* flags (WQ_UNBOUND always). */
  abstract readonly flags: number;
  /** max_active, for the whole cluster (as this node last set or read it). */
  abstract readonly maxActive: number;
  /** Whether this is an ordered workqueue (one item at a time in the cluster, in queueing order). */
  abstract readonly ordered: boolean;
  /** @internal The local workqueue this node runs the items on (its counters are this node's), if any. */
  abstract readonly local: Workqueue | null;
  /** @internal The cluster-wide figures last read from the database. */
  abstract stats(): SharedStats;
  /** @internal */ abstract queueWork(work: Work<any>, options?: SharedQueueOptions): Promise<boolean>;
  /** @internal */ abstract queueDelayedWork(
    dwork: DelayedWork<any>,
    delay: number,
    options?: SharedQueueOptions,
  ): Promise<boolean>;
  /** @internal */ abstract modDelayedWork(
    dwork: DelayedWork<any>,
    delay: number,
    options?: SharedQueueOptions,
  ): Promise<boolean>;
  /** @internal */ abstract cancelWork(work: Work<any>): Promise<boolean>;
  /** @internal */ abstract cancelWorkSync(work: Work<any>): Promise<boolean>;
  /** @internal */ abstract disableWork(work: Work<any>): Promise<boolean>;
  /** @internal */ abstract disableWorkSync(work: Work<any>): Promise<boolean>;
  /** @internal */ abstract enableWork(work: Work<any>): Promise<boolean>;
  /** @internal */ abstract enableAndQueueWork(work: Work<any>): Promise<boolean>;
  /** @internal Changes the cluster-wide max_active (workqueueSetMaxActive). */
  abstract setMaxActive(maxActive: number): Promise<void>;
  /** @internal Changes this node's min_active floor (workqueueSetMinActive). */
  abstract setMinActive(minActive: number): void;
  /** @internal Called by freezeWorkqueuesBegin(): a WQ_FREEZABLE shared workqueue stops claiming on this node. */
  abstract frozen(): void;
  /** @internal Called by thawWorkqueues(): a WQ_FREEZABLE shared workqueue claims again at once. */
  abstract thawed(): void;
  /** @internal */ abstract flushWork(work: Work<any>, fireTimer: boolean): Promise<boolean>;
  /** @internal */ abstract workBusy(work: Work<any>): Promise<number>;
  /** @internal */ abstract flushWorkqueue(): Promise<void>;
  /** @internal */ abstract drainWorkqueue(): Promise<void>;
  /** @internal */ abstract destroyWorkqueue(): Promise<void>;
}

/**
 * A Work that names an item of a shared workqueue (made with `{ key }` or `{ workqueue }`): the public functions
 * return promises for it.
 *
 * @typeParam T - The type of the work's data.
 */
export type SharedWork<T = unknown> = Work<T> & {
  /** The item's name in the cluster. */
  readonly key: string;
  /** @internal */
  readonly _shared: SharedWorkqueue;
};

/** Every shared workqueue this process has allocated and not destroyed. */
export const sharedWorkqueues = new Set<SharedWorkqueue>();

/**
 * The shared workqueue work belongs to: the one it was made or last queued for, else (for a keyed work) the
 * process's only shared workqueue; null for a local work.
 */
export function sharedOf(work: Work<any>): SharedWorkqueue | null {
  if (work._shared !== null) return work._shared;
  if (work.key === undefined || sharedWorkqueues.size !== 1) return null;
  return sharedWorkqueues.values().next().value as SharedWorkqueue;
}

/** The shared workqueue whose items a local workqueue runs on this node (wqMonitor shows cluster figures). */
export const sharedByLocal = new WeakMap<Workqueue, SharedWorkqueue>();
