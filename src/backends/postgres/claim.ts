/**
 * This node's side of a shared workqueue: claiming items in batches, running them on a local workqueue, renewing
 * their leases and reporting their completions (the kernel's worker_thread loop, with leases in place of a
 * spinlock held by one CPU).
 *
 * How:
 * - One round trip at a time (cycle()): cmwq.complete_claim() writes every completion gathered since the last
 *   one and, when this node wants items, claims the next batch, in one statement. Completions pile up while a
 *   round trip is on the wire, so the busier the node, the bigger the batches.
 * - Claim ahead: a node holds up to nodeMaxActive items running plus a local backlog sized to what it ran in the
 *   last AHEAD_MS (at most AHEAD_MAX), queued on the local workqueue's inactive list, so the next item starts
 *   the moment a slot frees instead of a round trip later. A node running slow items keeps (almost) no backlog,
 *   so items are not parked on a busy node while another is idle.
 * - max_active holds cluster-wide: every claimed item holds a lease and counts against max_active whether it runs
 *   or waits here; the database grants free slots first and a backlog only from the room left after another
 *   node's nodeMaxActive slots (half of it at most), so claiming ahead never starves the other nodes.
 * - A claimed item that has not started yet is the node's to give up: a cancel (`c:` notify or the renewal's
 *   cancel flag) drops it and reports it skipped (no run counted), a lost lease drops it silently (another node
 *   has it), and detaching (stop()) or freezing a WQ_FREEZABLE queue (frozen()) hands the backlog back (pending
 *   again, in its place in queueing order, announced with `q:`); a frozen node claims nothing until the thaw.
 * - Each claimed item runs as a local Work (its module function, its JSON data, its key) on a per-node local
 *   workqueue, so tracepoints, wqMonitor counters, onError and CmwqWarning behave as locally.
 * - Leases are renewed off the handlers' path, every leaseMs/3, in one statement for all of this node's items.
 *   A lease the renewal no longer finds (it expired and maybe went to another node), or one flagged for cancel,
 *   aborts that instance's work.signal; so does a renewal failing for longer than leaseMs.
 * - Completions carry the fencing token; the database refuses a token that is not the item's current lease. A
 *   round trip that fails (connection lost) keeps its completions for the next one, retried until accepted or
 *   refused; an item is reported done only after its handler settled.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { __WQ_ORDERED, WQ_FREEZABLE } from '../../base/constants.js';
import { freezer } from '../../core/freezer.js';
import { warn } from '../../core/tracepoints.js';
import { abortInstance, Work } from '../../core/work.js';
import { workFunc, type ModuleFunc } from '../../core/module-func.js';
import { allocWorkqueue, destroyWorkqueue } from '../../core/alloc.js';
import { grabPending } from '../../core/grab-pending.js';
import type { Workqueue } from '../../core/workqueue.js';
import { queueWork } from '../../core/queue.js';
import type { SharedRetry, SharedWorkqueue } from '../../core/shared.js';
import { CHANNEL, PinnedClient, run } from './connection.js';
import type pg from 'pg';
import { COMPLETE_CLAIM, NOTIFY, RENEW } from './statements.js';

/** At most one `d:` (done) notification per node and queue in this many ms; the last one is never dropped. */
const DONE_NOTIFY_MS = 25;
/** A node's backlog covers what it ran in this many ms (measured over windows of this length). */
const AHEAD_MS = 200;
/** The most items a node claims ahead of its free slots. */
const AHEAD_MAX = 500;

/** One claimed instance on this node: waiting in the local backlog, then running. */
interface Claimed {
  readonly key: string;
  readonly lease: string;
  readonly work: Work<any>;
  /** Its handler has started (a claimed item waits in the local backlog until then). */
  started: boolean;
  lost: boolean;
}

/** How an instance ended: r ran, s skipped (cancelled before it started), h handed back (node detached). */
type Outcome = 'r' | 's' | 'h';

/** An ended instance waiting for its completion to be written. */
interface Completion {
  readonly key: string;
  readonly lease: string;
  readonly error: string | null;
  readonly kind: Outcome;
}

/** A row of cmwq.complete_claim(). */
interface CycleRow {
  kind: 'a' | 'c' | 't';
  key: string | null;
  func: string;
  export: string;
  data: unknown;
  lease: string;
  keyless: boolean;
  due_ms: number | null;
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
/**
 * Works whose key cmwq made up (a `new Work()` queued without a key), and the works a node runs for such items:
 * queueing one again marks its row keyless too, so the row goes once the item has run.
 */
export const keylessWorks = new WeakSet<Work<any>>();
/** The runner of each running local work. */
const runnerOf = new WeakMap<Work<any>, { runner: Runner; claimed: Claimed }>();

function wrapperFor(func: ModuleFunc): (work: Work<any>) => Promise<unknown> {
  let wrapper = wrappers.get(func);
  if (wrapper === undefined) {
    const name = func.name;
    wrapper = {
      [name]: async (work: Work<any>): Promise<unknown> => {
        const entry = runnerOf.get(work)!;
        entry.claimed.started = true;
        try {
          const value = await func(work);
          entry.runner.finished(entry.claimed, null, 'r');
          return value;
        } catch (error) {
          entry.runner.finished(entry.claimed, error, 'r');
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
  /** The connection the round trips run on (one at a time), kept open and warm. */
  private readonly conn: PinnedClient;
  /** Every item this node holds a lease on (backlog and running), by lease. */
  private readonly claimed = new Map<string, Claimed>();
  /** A round trip is on the wire. */
  private busy = false;
  /** Another round trip is wanted after this one, claiming whenever a slot is free (minFree 1). */
  private again = false;
  /** The last claim left due items behind (max_active reached elsewhere): completions elsewhere wake it. */
  private starved = false;
  /** The last claim came back full or left due items behind: a completion's round trip claims too. */
  private backlogged = false;
  private stopped = false;
  private dueTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly pollTimer: NodeJS.Timeout | null = null;
  private readonly renewTimer: NodeJS.Timeout;
  private lastRenewOk = Date.now();
  private completions: Completion[] = [];
  private idleWaiters: (() => void)[] = [];
  private lastDoneNotify = 0;
  private doneTimer: NodeJS.Timeout | null = null;
  /** Handler runs ended, and the window they are counted in, for sizing the backlog. */
  private ended = 0;
  private windowAt = Date.now();
  private windowEnded = 0;
  private ahead = 0;
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
    this.conn = new PinnedClient(config.pool);
    if (config.nodeMaxActive > 0) {
      this.pollTimer = setInterval(() => this.kick(), config.pollMs);
      this.pollTimer.unref();
    }
    this.renewTimer = setInterval(() => void this.renew(), Math.max(10, Math.floor(config.leaseMs / 3)));
    this.renewTimer.unref();
  }

  /** Items this node holds a lease on (running, or waiting in its backlog). */
  get inFlight(): number {
    return this.claimed.size;
  }

  /** This node claims nothing now: it is detached, or it is WQ_FREEZABLE and freezing. */
  private get holdingOff(): boolean {
    return this.stopped || (this.freezable && freezer.freezing);
  }

  /** Claims now if this node has a free slot (coalesced: one round trip at a time, another after it if asked). */
  kick(): void {
    if (this.holdingOff || this.config.nodeMaxActive === 0) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.cycle(1);
  }

  /**
   * The backlog this node aims at: what it ran in the last window, capped. Slow items give a small one, so
   * a busy node does not hold items an idle node could run.
   */
  private aheadTarget(): number {
    const now = Date.now();
    if (now - this.windowAt >= AHEAD_MS) {
      const rate = (this.ended - this.windowEnded) / (now - this.windowAt);
      this.ahead = Math.min(AHEAD_MAX, Math.floor(rate * AHEAD_MS));
      this.windowAt = now;
      this.windowEnded = this.ended;
    }
    return this.ahead;
  }

  /**
   * One round trip: the completions gathered so far and, when at least minFree items are wanted (or a slot is
   * idle with no backlog), a claim. Does nothing when there is neither.
   */
  private cycle(minFree: number): void {
    const { nodeMaxActive } = this.config;
    let free = 0;
    let ahead = 0;
    if (!this.holdingOff && nodeMaxActive > 0) {
      const held = this.claimed.size;
      const target = this.aheadTarget();
      free = Math.max(0, nodeMaxActive - held);
      ahead = Math.max(0, target - Math.max(0, held - nodeMaxActive));
      // Below minFree only a slot idle with nothing waiting for it claims (never when minFree is infinite).
      const idle = free > 0 && held === this.running() && minFree !== Number.POSITIVE_INFINITY;
      if (free + ahead < minFree && !idle) free = ahead = 0;
    }
    if (free + ahead === 0 && this.completions.length === 0) return;
    this.busy = true;
    this.again = false;
    const batch = this.completions;
    this.completions = [];
    void this.roundTrip(batch, free, ahead).finally(() => {
      this.busy = false;
      if (this.again) this.kick();
      if (!this.busy && this.completions.length > 0) this.cycle(this.refill());
      if (!this.busy) this.settle();
    });
  }

  /**
   * After a completion, claim again only once a quarter of the slots and backlog is free: batches, not items;
   * and only when the last claim left due items behind (else new ones come with a `q:` notification). On
   * an ordered queue a completion claims nothing: its `d:` notification wakes every node's claim at once, so the
   * next item goes to whichever node asks first, not always to the one that ran the last.
   */
  private refill(): number {
    if (!this.backlogged || (this.config.queue.flags & __WQ_ORDERED) !== 0) return Number.POSITIVE_INFINITY;
    return Math.max(1, (this.config.nodeMaxActive + this.ahead) >> 2);
  }

  private running(): number {
    let n = 0;
    for (const c of this.claimed.values()) if (c.started) n++;
    return n;
  }

  private async roundTrip(batch: Completion[], free: number, ahead: number): Promise<void> {
    const { queue, leaseMs, nodeMaxActive } = this.config;
    const minActive = this.minActive;
    const retry = this.config.retry;
    // Completions wake flushers and starved nodes elsewhere; at high rates one notification per window does.
    const now = Date.now();
    const notifyNow = batch.length > 0 && now - this.lastDoneNotify >= DONE_NOTIFY_MS;
    if (notifyNow) this.lastDoneNotify = now;
    let rows: CycleRow[];
    try {
      ({ rows } = await this.conn.query<CycleRow>('claim', COMPLETE_CLAIM, [
        queue.name,
        this.node,
        batch.map((c) => c.key),
        batch.map((c) => c.lease),
        batch.map((c) => c.error),
        batch.map((c) => c.kind),
        retry?.attempts ?? 0,
        retry?.delayMs ?? 1000,
        retry?.maxDelayMs ?? 60_000,
        notifyNow ? `d:${queue.name}` : null,
        free,
        ahead,
        nodeMaxActive,
        minActive,
        leaseMs,
      ]));
    } catch {
      // Connection lost: keep the completions for the next try; the claim is retried by the poll.
      this.completions = batch.concat(this.completions);
      if (this.retryTimer === null) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          if (!this.busy) this.cycle(Number.POSITIVE_INFINITY);
        }, 200);
        this.retryTimer.unref();
      }
      return;
    }
    if (batch.length > 0 && !notifyNow) this.trailingDoneNotify();
    // Handed-back items are pending again: the other nodes claim them now, not at their next poll.
    if (batch.some((c) => c.kind === 'h'))
      await run(this.config.pool, 'notify', NOTIFY, [`q:${queue.name}`]).catch(() => undefined);
    const accepted = new Set<string>();
    let got = 0;
    let dueMs: number | null = null;
    let timer = false;
    for (const row of rows) {
      if (row.kind === 'a') accepted.add(String(row.lease));
      else if (row.kind === 'c') {
        got++;
        // Claimed while the round trip was on the wire, but this node stopped or froze meanwhile: hand it back.
        if (this.holdingOff) this.completions.push({ key: row.key!, lease: String(row.lease), error: null, kind: 'h' });
        else this.start(row.key!, row.func, row.export, row.data, String(row.lease), row.keyless);
      } else {
        timer = true;
        dueMs = row.due_ms;
      }
    }
    for (const c of batch) {
      if (accepted.has(c.lease)) {
        if (c.kind === 'r') this.stats.completed++;
      } else {
        this.stats.refused++;
        warn(
          `shared workqueue ${queue.name}: completion of ${c.key} refused: its lease expired and ` +
            'the item was claimed again (it may have run twice: at-least-once)',
        );
      }
    }
    if (!timer) return;
    this.armDue(dueMs);
    if (got === free + ahead && got > 0) this.again = true;
    this.backlogged = (got === free + ahead && got > 0) || (dueMs !== null && dueMs <= 0);
    // Items are due but too few could be had: max_active is reached elsewhere (or rows were locked). Only then
    // do other nodes' completions (`d:` notifications) matter to this node.
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

  private start(key: string, specifier: string, exportName: string, data: unknown, lease: string, keyless: boolean) {
    this.stats.claimed++;
    const func = workFunc(specifier, exportName);
    const work = new Work(wrapperFor(func), data, { key, workqueue: this.config.queue });
    if (keyless) keylessWorks.add(work);
    const claimed: Claimed = { key, lease, work, started: false, lost: false };
    this.claimed.set(lease, claimed);
    runnerOf.set(work, { runner: this, claimed });
    queueWork(this.local, work);
  }

  /** Called by the wrapper when a handler ended, and for a backlog item given up (skipped or handed back). */
  finished(claimed: Claimed, error: unknown, kind: Outcome): void {
    if (kind === 'r') this.ended++;
    if (this.claimed.get(claimed.lease) !== claimed) return; // its lease was lost before it started
    this.claimed.delete(claimed.lease);
    const text = error === null ? null : error instanceof Error ? (error.stack ?? error.message) : String(error);
    this.completions.push({ key: claimed.key, lease: claimed.lease, error: text, kind });
    if (!this.busy) this.cycle(this.refill());
  }

  /** Takes a claimed item that has not started off the local backlog; false when it has started (or ended). */
  private unqueue(claimed: Claimed): boolean {
    return !claimed.started && grabPending(claimed.work);
  }

  /** Resolves stop()'s wait once nothing is held, written or on the wire. */
  private settle(): void {
    if (this.claimed.size === 0 && this.completions.length === 0 && !this.busy)
      for (const w of this.idleWaiters.splice(0)) w();
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
    if (this.claimed.size === 0) {
      this.lastRenewOk = Date.now();
      return;
    }
    const leases = [...this.claimed.keys()];
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
        const claimed = this.claimed.get(lease);
        if (claimed === undefined) continue;
        const cancel = live.get(lease);
        if (cancel === undefined) this.lose(claimed);
        else if (cancel) this.cancel(claimed);
      }
    } catch {
      if (Date.now() - this.lastRenewOk >= this.config.leaseMs) for (const c of this.claimed.values()) this.lose(c);
    }
  }

  /** A lease this node no longer holds: a backlog item is dropped (another node has it), a running one aborted. */
  private lose(claimed: Claimed): void {
    if (claimed.lost) return;
    claimed.lost = true;
    this.stats.lost++;
    if (this.unqueue(claimed)) {
      this.claimed.delete(claimed.lease);
      this.settle();
    } else abortInstance(claimed.work);
  }

  /** A cancel of a held item: a backlog item is skipped (it never runs), a running one has its signal aborted. */
  private cancel(claimed: Claimed): void {
    if (this.unqueue(claimed)) this.finished(claimed, null, 's');
    else abortInstance(claimed.work);
  }

  /** A NOTIFY for this queue: `q` (queued), `d` (done), `c:<key>` (cancel a held instance). */
  notified(kind: string, key: string | undefined): void {
    if (kind === 'c') {
      for (const c of [...this.claimed.values()]) if (c.key === key) this.cancel(c);
      return;
    }
    if (kind === 'q' || this.starved) this.kick();
  }

  /**
   * Hands the backlog back: every held item that has not started is given up (pending again, in its place in
   * queueing order, announced with `q:` once written); running items go on.
   */
  private handBack(): void {
    for (const c of [...this.claimed.values()]) if (this.unqueue(c)) this.finished(c, null, 'h');
  }

  /**
   * freezeWorkqueues() began (WQ_FREEZABLE queues only): this node claims nothing more and hands its backlog back
   * to the cluster, so nothing waits frozen here that another node could run; what runs now finishes (and is
   * what freezeWorkqueues() waits for). thawWorkqueues() calls kick() to claim again.
   */
  frozen(): void {
    if (this.freezable && freezer.freezing && !this.stopped) this.handBack();
  }

  /**
   * Stops claiming, hands the backlog back (pending again, for other nodes), waits for this node's running items
   * and their completions, frees the local workqueue.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer !== null) clearInterval(this.pollTimer);
    if (this.dueTimer !== null) clearTimeout(this.dueTimer);
    this.handBack();
    if (this.claimed.size > 0 || this.completions.length > 0 || this.busy) {
      await new Promise<void>((resolve) => {
        this.idleWaiters.push(resolve);
        if (!this.busy && this.completions.length > 0) this.cycle(Number.POSITIVE_INFINITY);
      });
    }
    clearInterval(this.renewTimer);
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    if (this.doneTimer !== null) {
      clearTimeout(this.doneTimer);
      this.doneTimer = null;
      await run(this.config.pool, 'notify', NOTIFY, [`d:${this.config.queue.name}`]).catch(() => undefined);
    }
    this.conn.release();
    await destroyWorkqueue(this.local);
  }
}

export { CHANNEL };
