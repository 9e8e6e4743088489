/**
 * This node's side of a shared workqueue: claiming items in batches, running them on a local workqueue, renewing
 * their leases and reporting their completions (the kernel's worker_thread loop, with leases in place of a
 * spinlock held by one CPU).
 *
 * How:
 * - kick() claims when this node has free slots: one cmwq.claim() call leases up to `free` items (a batch) and
 *   tells when the next armed item comes due; a full batch claims again at once, else the node waits for a
 *   NOTIFY, the due timer (a delay computed by the database, so node clocks never matter) or the slow poll.
 * - Each claimed item runs as a local Work (its module function, its JSON data, its key) on a per-node local
 *   workqueue, so tracepoints, wqMonitor counters, onError and CmwqWarning behave as locally.
 * - Leases are renewed off the handlers' path, every leaseMs/3, in one statement for all of this node's items.
 *   A lease the renewal no longer finds (it expired and maybe went to another node), or one flagged for cancel,
 *   aborts that instance's work.signal; so does a renewal failing for longer than leaseMs.
 * - Completions are batched (one statement per event-loop turn) and carry the fencing token; the database
 *   refuses a token that is not the item's current lease. A completion that fails (connection lost) is retried
 *   until accepted or refused.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { WQ_FREEZABLE } from '../../base/constants.js';
import { freezer } from '../../core/freezer.js';
import { warn } from '../../core/tracepoints.js';
import { abortInstance, Work } from '../../core/work.js';
import { workFunc, type ModuleFunc } from '../../core/module-func.js';
import { allocWorkqueue, destroyWorkqueue } from '../../core/alloc.js';
import type { Workqueue } from '../../core/workqueue.js';
import { queueWork } from '../../core/queue.js';
import type { SharedRetry, SharedWorkqueue } from '../../core/shared.js';
import { CHANNEL, run } from './connection.js';
import type pg from 'pg';
import { COMPLETE, NOTIFY, RENEW } from './statements.js';

/** At most one `d:` (done) notification per node and queue in this many ms; the last one is never dropped. */
const DONE_NOTIFY_MS = 25;

/** One claimed instance running on this node. */
interface Claimed {
  readonly key: string;
  readonly lease: string;
  readonly work: Work<any>;
  lost: boolean;
}

/** A finished instance waiting for its completion to be written. */
interface Completion {
  readonly key: string;
  readonly lease: string;
  readonly error: string | null;
}

/** What the runner needs from its shared workqueue. */
export interface RunnerConfig {
  readonly queue: SharedWorkqueue;
  readonly pool: pg.Pool;
  readonly nodeMaxActive: number;
  readonly minActive: number;
  readonly leaseMs: number;
  readonly pollMs: number;
  readonly retry: SharedRetry | undefined;
  readonly onError: ((error: unknown, work: Work<any>) => void) | undefined;
}

/** This node's counters (wqMonitor shows the local workqueue's; these are the shared-only ones). */
export interface RunnerStats {
  claimed: number;
  completed: number;
  /** Completions the database refused: the lease had expired and the item was claimed again. */
  refused: number;
  /** Leases found lost by the renewal (their signal aborted). */
  lost: number;
}

/** A unique node id: host, pid and a random part (a restarted process is a new node). */
export function nodeId(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/** The wrapper function that runs a module export for claimed items (one per module function, named after it). */
const wrappers = new Map<ModuleFunc, (work: Work<any>) => Promise<unknown>>();
/** The module function behind a wrapper (a handler that re-queues currentWork() queues the item it runs). */
export const wrapped = new WeakMap<(...args: never) => unknown, ModuleFunc>();
/** The runner of each running local work. */
const runnerOf = new WeakMap<Work<any>, { runner: Runner; claimed: Claimed }>();

function wrapperFor(func: ModuleFunc): (work: Work<any>) => Promise<unknown> {
  let wrapper = wrappers.get(func);
  if (wrapper === undefined) {
    const name = func.name;
    wrapper = {
      [name]: async (work: Work<any>): Promise<unknown> => {
        const entry = runnerOf.get(work)!;
        try {
          const value = await func(work);
          entry.runner.finished(entry.claimed, null);
          return value;
        } catch (error) {
          entry.runner.finished(entry.claimed, error);
          throw error;
        }
      },
    }[name]!;
    wrappers.set(func, wrapper);
    wrapped.set(wrapper, func);
  }
  return wrapper;
}

/** Claims, runs, renews and completes the items of one shared workqueue on this node. */
export class Runner {
  readonly node = nodeId();
  readonly stats: RunnerStats = { claimed: 0, completed: 0, refused: 0, lost: 0 };
  /** The local workqueue the items run on. */
  readonly local: Workqueue;
  private readonly running = new Map<string, Claimed>();
  private claiming = false;
  /** The last claim left due items behind (max_active reached elsewhere): completions elsewhere wake it. */
  private starved = false;
  private again = false;
  private stopped = false;
  private dueTimer: NodeJS.Timeout | null = null;
  private readonly pollTimer: NodeJS.Timeout | null = null;
  private readonly renewTimer: NodeJS.Timeout;
  private lastRenewOk = Date.now();
  private completions: Completion[] = [];
  private writing = false;
  private idleWaiters: (() => void)[] = [];
  private lastDoneNotify = 0;
  private doneTimer: NodeJS.Timeout | null = null;
  /** This node's floor (workqueueSetMinActive changes it). */
  minActive: number;
  private readonly freezable: boolean;

  constructor(private readonly config: RunnerConfig) {
    this.minActive = config.minActive;
    // Per-CPU on purpose: the items run on this loop, concurrency-managed (module works would go to the unbound
    // pool's threads, but the runner wraps them to report completions). WQ_FREEZABLE carries over, so that the
    // items running here count as freezable work in flight (freezeWorkqueues() waits for them).
    this.freezable = (config.queue.flags & WQ_FREEZABLE) !== 0;
    this.local = allocWorkqueue(
      config.queue.name,
      config.queue.flags & WQ_FREEZABLE,
      Math.max(1, config.nodeMaxActive),
      {
        onError: config.onError,
      },
    );
    if (config.nodeMaxActive > 0) {
      this.pollTimer = setInterval(() => this.kick(), config.pollMs);
      this.pollTimer.unref();
    }
    this.renewTimer = setInterval(() => void this.renew(), Math.max(10, Math.floor(config.leaseMs / 3)));
    this.renewTimer.unref();
  }

  /** Items running on this node now. */
  get inFlight(): number {
    return this.running.size;
  }

  /**
   * Claims now if this node has free slots (coalesced: one claim at a time, another after it if asked). After a
   * completion (minFree > 1) it waits until a quarter of the slots are free, so that one claim takes a batch and
   * claimers do not queue on the queue's row lock one item at a time; wake-ups and the poll claim any free slot.
   */
  kick(minFree = 1): void {
    if (this.stopped || this.config.nodeMaxActive === 0 || (this.freezable && freezer.freezing)) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    const free = this.config.nodeMaxActive - this.running.size;
    if (free <= 0 || (free < minFree && this.running.size > 0)) return;
    this.claiming = true;
    this.again = false;
    void this.claim(free).finally(() => {
      this.claiming = false;
      if (this.again) this.kick();
    });
  }

  private async claim(free: number): Promise<void> {
    const { queue, pool, leaseMs } = this.config;
    const minActive = this.minActive;
    let rows: { key: string | null; func: string; export: string; data: unknown; lease: string; due_ms: number }[];
    try {
      ({ rows } = await run<(typeof rows)[number]>(pool, 'claim', 'SELECT * FROM cmwq.claim($1, $2, $3, $4, $5)', [
        queue.name,
        this.node,
        free,
        minActive,
        leaseMs,
      ]));
    } catch {
      return; // the poll (or a reconnection) tries again
    }
    let got = 0;
    let dueMs: number | null = null;
    for (const row of rows) {
      if (row.key === null) {
        dueMs = row.due_ms;
        this.armDue(row.due_ms);
        continue;
      }
      got++;
      this.start(row.key, row.func, row.export, row.data, row.lease);
    }
    if (got === free) this.again = true;
    // Items are due but none (or too few) could be had: max_active is reached elsewhere (or rows were locked).
    // Only then do other nodes' completions (`d:` notifications) matter to this node.
    this.starved = got < free && dueMs !== null && dueMs <= 0;
  }

  private armDue(dueMs: number | null): void {
    if (this.dueTimer !== null) clearTimeout(this.dueTimer);
    this.dueTimer = null;
    if (dueMs === null || this.stopped) return;
    // +1: the database compares run_at <= now(), so waking a hair early would find nothing due.
    this.dueTimer = setTimeout(() => this.kick(), Math.max(0, Math.ceil(dueMs)) + 1);
    this.dueTimer.unref();
  }

  private start(key: string, specifier: string, exportName: string, data: unknown, lease: string): void {
    this.stats.claimed++;
    const func = workFunc(specifier, exportName);
    const work = new Work(wrapperFor(func), data, { key, workqueue: this.config.queue });
    const claimed: Claimed = { key, lease, work, lost: false };
    this.running.set(lease, claimed);
    runnerOf.set(work, { runner: this, claimed });
    queueWork(this.local, work);
  }

  /** Called by the wrapper when a handler ended. */
  finished(claimed: Claimed, error: unknown): void {
    this.running.delete(claimed.lease);
    const text = error === null ? null : error instanceof Error ? (error.stack ?? error.message) : String(error);
    this.completions.push({ key: claimed.key, lease: claimed.lease, error: text });
    if (!this.writing) setImmediate(() => void this.writeCompletions());
    this.kick(Math.max(1, this.config.nodeMaxActive >> 2));
  }

  private async writeCompletions(): Promise<void> {
    if (this.writing || this.completions.length === 0) return;
    this.writing = true;
    const batch = this.completions;
    this.completions = [];
    const retry = this.config.retry;
    // Completions wake flushers and starved nodes elsewhere; at high rates one notification per window does.
    const now = Date.now();
    const notifyNow = now - this.lastDoneNotify >= DONE_NOTIFY_MS;
    if (notifyNow) this.lastDoneNotify = now;
    try {
      const { rows } = await run<{ lease: string }>(this.config.pool, 'complete', COMPLETE, [
        this.config.queue.name,
        batch.map((c) => c.key),
        batch.map((c) => c.lease),
        batch.map((c) => c.error),
        retry?.attempts ?? 0,
        retry?.delayMs ?? 1000,
        retry?.maxDelayMs ?? 60_000,
        notifyNow ? `d:${this.config.queue.name}` : null,
      ]);
      if (!notifyNow) this.trailingDoneNotify();
      const accepted = new Set(rows.map((r) => String(r.lease)));
      for (const c of batch) {
        if (accepted.has(c.lease)) this.stats.completed++;
        else {
          this.stats.refused++;
          warn(
            `shared workqueue ${this.config.queue.name}: completion of ${c.key} refused: its lease expired and ` +
              'the item was claimed again (it may have run twice: at-least-once)',
          );
        }
      }
    } catch {
      this.completions = batch.concat(this.completions); // connection lost: keep them for the next try
      this.writing = false;
      const t = setTimeout(() => void this.writeCompletions(), 200);
      t.unref();
      return;
    }
    this.writing = false;
    if (this.completions.length > 0) void this.writeCompletions();
    else if (this.running.size === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Sends the `d:` notification a throttled completion skipped, at the end of the window. */
  private trailingDoneNotify(): void {
    if (this.doneTimer !== null) return;
    const wait = Math.max(0, this.lastDoneNotify + DONE_NOTIFY_MS - Date.now());
    this.doneTimer = setTimeout(() => {
      this.doneTimer = null;
      this.lastDoneNotify = Date.now();
      run(this.config.pool, 'notify', NOTIFY, [`d:${this.config.queue.name}`]).catch(() => undefined);
    }, wait);
  }

  private async renew(): Promise<void> {
    if (this.running.size === 0) {
      this.lastRenewOk = Date.now();
      return;
    }
    const leases = [...this.running.keys()];
    try {
      const { rows } = await run<{ lease: string; cancel: boolean }>(this.config.pool, 'renew', RENEW, [
        this.config.queue.name,
        this.node,
        leases,
        this.config.leaseMs,
      ]);
      this.lastRenewOk = Date.now();
      const live = new Map(rows.map((r) => [String(r.lease), r.cancel]));
      for (const lease of leases) {
        const claimed = this.running.get(lease);
        if (claimed === undefined) continue;
        const cancel = live.get(lease);
        if (cancel === undefined) this.lose(claimed);
        else if (cancel) abortInstance(claimed.work);
      }
    } catch {
      if (Date.now() - this.lastRenewOk >= this.config.leaseMs) for (const c of this.running.values()) this.lose(c);
    }
  }

  private lose(claimed: Claimed): void {
    if (claimed.lost) return;
    claimed.lost = true;
    this.stats.lost++;
    abortInstance(claimed.work);
  }

  /** A NOTIFY for this queue: `q` (queued), `d` (done), `c:<key>` (cancel a running instance). */
  notified(kind: string, key: string | undefined): void {
    if (kind === 'c') {
      for (const c of this.running.values()) if (c.key === key) abortInstance(c.work);
      return;
    }
    if (kind === 'q' || this.starved) this.kick();
  }

  /** Stops claiming, waits for this node's running items and their completions, frees the local workqueue. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer !== null) clearInterval(this.pollTimer);
    if (this.dueTimer !== null) clearTimeout(this.dueTimer);
    while (this.claiming) await new Promise((r) => setTimeout(r, 5));
    if (this.running.size > 0 || this.completions.length > 0 || this.writing) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
    clearInterval(this.renewTimer);
    if (this.doneTimer !== null) {
      clearTimeout(this.doneTimer);
      this.doneTimer = null;
      await run(this.config.pool, 'notify', NOTIFY, [`d:${this.config.queue.name}`]).catch(() => undefined);
    }
    await destroyWorkqueue(this.local);
  }
}

export { CHANNEL };
