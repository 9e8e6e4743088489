/**
 * The PostgreSQL backend: a pool, the schema (migrated on creation), one LISTEN connection for every shared
 * workqueue of this process, and the slow poll.
 *
 * Notifications are dispatched by queue name to the attached workqueues; waiters (flush, cancelWorkSync) are
 * woken by a queue's `d:` notifications or, at the latest, after the poll interval. When the listener
 * reconnects, every attached workqueue claims again and every waiter re-checks, since NOTIFYs sent during the
 * outage are lost. The pool replaces broken connections by itself; its idle-client errors are absorbed (a lost
 * connection surfaces as ERR_WQ_BACKEND on the call that needed it).
 */
import pg from 'pg';
import type { SharedBackend, SharedWorkqueue, SharedWorkqueueAttrs } from '../../core/shared.js';
import { invalidArg, describe } from '../../base/errors.js';
import { backendError, Listener, run } from './connection.js';
import { migrate } from './schema.js';
import { PgSharedWorkqueue, type BackendContext } from './shared-workqueue.js';
import { ALL_STATS, CLUSTER_VIEW, ITEM_RECORD, REMOVE_QUEUE, RUNNING } from './statements.js';

/** Options of postgresBackend(): a connection string, or a pg Pool of the caller's (not ended by close()). */
export type PostgresBackendOptions = (
  | {
      /** A PostgreSQL connection string, e.g. `postgres://user:password@host:5432/db`. */
      connectionString: string;
    }
  | {
      /** A `pg` Pool of the caller's; close() leaves it open. */
      pool: pg.Pool;
    }
) & {
  /** The slow poll that backs up LISTEN/NOTIFY, ms (default 1000). */
  pollMs?: number;
  /**
   * Pool size when cmwq makes the pool (default 10). Each shared workqueue this process runs items of
   * (`nodeMaxActive > 0`) also has a connection of its own for its round trips, outside the pool, and a drain
   * holds one pool client while it drains.
   */
  max?: number;
};

/** A shared workqueue's row as `cmwq top --backend` shows it. */
export interface SharedQueueRow {
  /** The shared workqueue's name. */
  name: string;
  /** Its cluster-wide max_active. */
  maxActive: number;
  /** Whether it is ordered (one item at a time, in queueing order). */
  ordered: boolean;
  /** Items pending in the cluster (queued or armed, not running). */
  pending: number;
  /** Items running in the cluster (live leases). */
  infl: number;
  /** Runs completed, summed over its items. */
  runs: number;
  /** Failed runs, summed over its items. */
  failures: number;
  /** Rows (items) it has: one per key, whatever the traffic. */
  items: number;
}

/** An item running now somewhere in the cluster, as `cmwq web --backend` shows it. */
export interface SharedRunningItem {
  /** Its shared workqueue. */
  queue: string;
  /** Its key. */
  key: string;
  /** The export name of its module function. */
  func: string;
  /** The module specifier of its function. */
  module: string;
  /** Its lease (the fencing token): a new one for every run. */
  lease: string;
  /** The node running it (`host:pid:random`). */
  node: string;
}

/** The figures and the running items of a cluster, read from one snapshot (PostgresBackend.clusterView()). */
export interface SharedClusterView {
  /** Every shared workqueue with its cluster-wide figures, as queueStats() returns them. */
  queues: SharedQueueRow[];
  /** The items running now, oldest lease first, as runningItems() returns them. */
  running: SharedRunningItem[];
}

/** The failure record and state of one item. */
export interface SharedItemRecord {
  /** Whether an instance waits to start (queued or armed). */
  pending: boolean;
  /** Whether an instance runs now (under a live lease). */
  running: boolean;
  /** Runs completed. */
  runs: number;
  /** Failed runs in all. */
  failures: number;
  /** Failed runs of the current instance so far (retry). */
  attempt: number;
  /** The text of the last failure, or null. */
  lastError: string | null;
  /** When the last failure was recorded (database clock), or null. */
  lastErrorAt: Date | null;
}

/** A row of ALL_STATS as a SharedQueueRow (bigint sums arrive as strings, JSON numbers as numbers). */
function queueRow(r: Record<string, unknown>): SharedQueueRow {
  return {
    name: String(r.name),
    maxActive: Number(r.max_active),
    ordered: Boolean(r.ordered),
    pending: Number(r.pending),
    infl: Number(r.infl),
    runs: Number(r.runs),
    failures: Number(r.failures),
    items: Number(r.items),
  };
}

/** A row of RUNNING as a SharedRunningItem. */
function runningItem(r: Record<string, unknown>): SharedRunningItem {
  return {
    queue: String(r.queue),
    key: String(r.key),
    func: String(r.export),
    module: String(r.func),
    lease: String(r.lease),
    node: String(r.lease_node),
  };
}

/** Refuses a running-item limit that is not an integer >= 1. */
function checkLimit(limit: number): void {
  if (!(Number.isInteger(limit) && limit >= 1)) invalidArg(`limit must be an integer >= 1, got ${describe(limit)}`);
}

/** A PostgreSQL database holding shared workqueues. Pass it as `attrs.backend` to allocWorkqueue(). */
export class PostgresBackend implements SharedBackend {
  /** The pool every statement runs on. */
  readonly pool: pg.Pool;
  private readonly ownsPool: boolean;
  private readonly listener: Listener;
  private readonly queues = new Map<string, Set<PgSharedWorkqueue>>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly pollMs: number;
  private pollTimer: NodeJS.Timeout | null = null;
  private closed = false;

  /** @internal Use postgresBackend(). */
  constructor(pool: pg.Pool, ownsPool: boolean, pollMs: number) {
    this.pool = pool;
    this.ownsPool = ownsPool;
    this.pollMs = pollMs;
    pool.on('error', () => undefined); // an idle client lost its connection; the pool makes a new one
    this.listener = new Listener(
      pool.options as pg.ClientConfig,
      (payload) => this.dispatch(payload),
      () => this.wakeAll(),
    );
  }

  /** @internal */
  async open(): Promise<void> {
    try {
      await migrate(this.pool);
    } catch (error) {
      throw backendError('postgresBackend: migrating the schema', error);
    }
    await this.listener.start();
  }

  private dispatch(payload: string): void {
    const first = payload.indexOf(':');
    const kind = payload.slice(0, first);
    const rest = payload.slice(first + 1);
    let queue = rest;
    let key: string | undefined;
    if (kind === 'c') {
      // c:<queue>:<key>; a queue name may hold ':', so match attached names
      for (const name of this.queues.keys()) {
        if (rest.startsWith(`${name}:`)) {
          queue = name;
          key = rest.slice(name.length + 1);
        }
      }
    }
    for (const wq of this.queues.get(queue) ?? []) wq.notified(kind, key);
    if (kind === 'd') this.wake(queue);
  }

  private wake(queue: string): void {
    const set = this.waiters.get(queue);
    if (set === undefined) return;
    this.waiters.delete(queue);
    for (const w of set) w();
  }

  private wakeAll(): void {
    for (const set of this.queues.values()) for (const wq of set) wq.poll();
    for (const queue of [...this.waiters.keys()]) this.wake(queue);
  }

  private readonly ctx: BackendContext = {
    pool: undefined as unknown as pg.Pool,
    pollMs: 0,
    attach: (wq) => {
      let set = this.queues.get(wq.name);
      if (set === undefined) this.queues.set(wq.name, (set = new Set()));
      set.add(wq);
      if (this.pollTimer === null) {
        this.pollTimer = setInterval(() => {
          for (const s of this.queues.values()) for (const q of s) q.poll();
        }, this.pollMs);
        this.pollTimer.unref();
      }
    },
    detach: (wq) => {
      const set = this.queues.get(wq.name);
      set?.delete(wq);
      if (set?.size === 0) this.queues.delete(wq.name);
      if (this.queues.size === 0 && this.pollTimer !== null) {
        clearInterval(this.pollTimer);
        this.pollTimer = null;
      }
    },
    waitNotify: (queue, timeoutMs) =>
      new Promise<void>((resolve) => {
        let set = this.waiters.get(queue);
        if (set === undefined) this.waiters.set(queue, (set = new Set()));
        const timer = setTimeout(() => {
          set.delete(done);
          resolve();
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        set.add(done);
      }),
  };

  /** @internal Called by allocWorkqueue(name, WQ_UNBOUND, maxActive, { backend: this, ... }). */
  allocSharedWorkqueue(name: string, flags: number, maxActive: number, attrs: SharedWorkqueueAttrs): SharedWorkqueue {
    if (this.closed) invalidArg(`allocWorkqueue ${name}: the backend was closed`);
    (this.ctx as { pool: pg.Pool }).pool = this.pool;
    (this.ctx as { pollMs: number }).pollMs = this.pollMs;
    return new PgSharedWorkqueue(this.ctx, name, flags, maxActive, attrs);
  }

  /** Every shared workqueue in the database with its cluster-wide figures. */
  async queueStats(): Promise<SharedQueueRow[]> {
    const { rows } = await run<Record<string, unknown>>(this.pool, 'queueStats', ALL_STATS, []);
    return rows.map(queueRow);
  }

  /**
   * The items running now (live leases) in every shared workqueue of the database, oldest lease first.
   *
   * @param limit - The most rows to return (default 1000).
   * @returns One row per running item.
   * @throws WorkqueueError ERR_WQ_INVALID_ARG for a bad limit, at the call; the promise rejects with
   *   ERR_WQ_BACKEND when the database cannot be reached.
   */
  runningItems(limit = 1000): Promise<SharedRunningItem[]> {
    checkLimit(limit);
    return run<Record<string, unknown>>(this.pool, 'runningItems', RUNNING, [limit]).then(({ rows }) =>
      rows.map(runningItem),
    );
  }

  /**
   * queueStats() and runningItems() read together from one snapshot of the database, so the figures count
   * exactly the items listed as running (`cmwq web --backend` reads this).
   *
   * @param limit - The most running items to return (default 1000).
   * @returns The queues' figures and the items running, as queueStats() and runningItems() return them.
   * @throws WorkqueueError ERR_WQ_INVALID_ARG for a bad limit, at the call; the promise rejects with
   *   ERR_WQ_BACKEND when the database cannot be reached.
   */
  clusterView(limit = 1000): Promise<SharedClusterView> {
    checkLimit(limit);
    type Row = { queues: Record<string, unknown>[]; running: Record<string, unknown>[] };
    return run<Row>(this.pool, 'clusterView', CLUSTER_VIEW, [limit]).then(({ rows: [view] }) => ({
      queues: view!.queues.map(queueRow),
      running: view!.running.map(runningItem),
    }));
  }

  /**
   * The state and failure record of one item.
   *
   * @param queue - The shared workqueue's name.
   * @param key - The item's key.
   * @returns The record, or null when there is no such item.
   */
  async itemRecord(queue: string, key: string): Promise<SharedItemRecord | null> {
    const { rows } = await run<Record<string, unknown>>(this.pool, 'itemRecord', ITEM_RECORD, [queue, key]);
    const r = rows[0];
    if (r === undefined) return null;
    return {
      pending: Boolean(r.pending),
      running: Boolean(r.running),
      runs: Number(r.runs),
      failures: Number(r.failures),
      attempt: Number(r.attempt),
      lastError: (r.last_error as string | null) ?? null,
      lastErrorAt: (r.last_error_at as Date | null) ?? null,
    };
  }

  /**
   * Removes a shared workqueue's rows for good (the queue and every item, pending ones included). Nodes still
   * attached to it find nothing more to run. destroyWorkqueue() only detaches a node.
   *
   * @param name - The shared workqueue's name.
   * @returns whether the queue existed.
   */
  async removeSharedWorkqueue(name: string): Promise<boolean> {
    if (typeof name !== 'string' || name.length === 0) invalidArg(`queue name must be a string, got ${describe(name)}`);
    const { rowCount } = await run(this.pool, 'removeSharedWorkqueue', REMOVE_QUEUE, [name]);
    return (rowCount ?? 0) > 0;
  }

  /** Stops the poll and the listener and ends the pool (unless it was the caller's). Detach workqueues first. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.pollTimer !== null) clearInterval(this.pollTimer);
    await this.listener.close();
    if (this.ownsPool) await this.pool.end();
  }
}

/**
 * Connects to PostgreSQL and creates or migrates the shared-workqueue schema (safe from many processes at once).
 * @param options `{ connectionString }` or `{ pool }` (a pg Pool), and pollMs.
 * @returns the backend, to pass as `attrs.backend`.
 * @throws WorkqueueError ERR_WQ_INVALID_ARG for bad options, ERR_WQ_BACKEND when the database cannot be reached.
 */
export async function postgresBackend(options: PostgresBackendOptions): Promise<PostgresBackend> {
  if (options === null || typeof options !== 'object')
    invalidArg(`options must be an object, got ${describe(options)}`);
  const pollMs = options.pollMs ?? 1000;
  if (!(Number.isInteger(pollMs) && pollMs >= 10))
    invalidArg(`pollMs must be an integer >= 10, got ${describe(pollMs)}`);
  let pool: pg.Pool;
  let owns = false;
  if ('pool' in options && options.pool !== undefined) {
    if (!(options.pool instanceof pg.Pool)) invalidArg(`options.pool must be a pg Pool, got ${describe(options.pool)}`);
    pool = options.pool;
  } else if ('connectionString' in options && typeof options.connectionString === 'string') {
    pool = new pg.Pool({ connectionString: options.connectionString, max: options.max ?? 10 });
    owns = true;
  } else {
    invalidArg('postgresBackend needs { connectionString } or { pool }');
  }
  const backend = new PostgresBackend(pool, owns, pollMs);
  try {
    await backend.open();
  } catch (error) {
    await backend.close().catch(() => undefined);
    throw error;
  }
  return backend;
}
