/**
 * A shared workqueue on PostgreSQL: the public functions' cluster-wide meaning (queueWork, modDelayedWork,
 * cancelWorkSync, flushWorkqueue, ...), each one or a few short statements (statements.ts), and this node's
 * runner (claim.ts).
 *
 * Validation happens first and throws synchronously (WorkqueueError, nothing queued): the work must be a module
 * work (any node must be able to import it) and its data JSON. A keyless Work gets a unique key on its first
 * queueing, so `new Work()` per job behaves as a job queue's job, and its row is marked keyless: it is deleted
 * once the item has run (queueing the same Work again makes a new one); a keyed Work names the cluster's item.
 *
 * Waiting calls (flush, drain, cancelWorkSync) re-check on every `d:` (done) notification of the queue and on a
 * slow poll, since NOTIFY is lost while a listener reconnects.
 *
 * Draining is cluster-wide: the drainer holds the queue's drain lock (drain-lock.ts) and every queue statement
 * refuses, atomically, a call that does not come from a handler of this queue (chained work, on any node) while
 * it is held; the call rejects with ERR_WQ_DRAINING. On the draining node the refusal is also synchronous.
 */
import { randomBytes } from 'node:crypto';
import { WORK_BUSY_PENDING, WORK_BUSY_RUNNING, __WQ_ORDERED } from '../../base/constants.js';
import { describe, invalidArg, WorkqueueError } from '../../base/errors.js';
import { currentWork } from '../../core/current.js';
import { sharedOf } from '../../core/shared.js';
import type { DelayedWork } from '../../core/delayed-work.js';
import { moduleRef } from '../../core/module-func.js';
import {
  type SharedQueueOptions,
  type SharedRetry,
  type SharedStats,
  SharedWorkqueue,
  type SharedWorkqueueAttrs,
  sharedByLocal,
  sharedWorkqueues,
} from '../../core/shared.js';
import { checkWork, type Work } from '../../core/work.js';
import type { Workqueue } from '../../core/workqueue.js';
import type pg from 'pg';
import { keylessWorks, Runner, wrapped } from './claim.js';
import { backendError, run } from './connection.js';
import { DrainLock } from './drain-lock.js';
import * as sql from './statements.js';

/** This process's part of the keys it makes up: 72 random bits, so no two processes share it. */
const KEY_PREFIX = `~${randomBytes(9).toString('base64url')}.`;
let keysMade = 0;

/**
 * A key for a `new Work()` queued without one: unique in the cluster (this process's random prefix and a count),
 * short, and increasing within a process, so a producer's rows go next to each other in the primary key instead
 * of to random pages (a random UUID sent every insert, claim and completion to a leaf of its own).
 */
function madeUpKey(): string {
  return KEY_PREFIX + (keysMade++).toString(36).padStart(9, '0');
}

/** What a shared workqueue needs from its backend. */
export interface BackendContext {
  readonly pool: pg.Pool;
  readonly pollMs: number;
  attach(wq: PgSharedWorkqueue): void;
  detach(wq: PgSharedWorkqueue): void;
  /** Resolves when the listener has a connection again (or at once); waiters use it after a lost notify. */
  waitNotify(queue: string, timeoutMs: number): Promise<void>;
}

const ATTRS = ['backend', 'leaseMs', 'nodeMaxActive', 'minActive', 'retry', 'onError', 'pollMs'];

function checkSharedAttrs(attrs: SharedWorkqueueAttrs, maxActive: number): void {
  for (const key of Object.keys(attrs))
    if (!ATTRS.includes(key)) invalidArg(`unknown shared workqueue attribute ${key}`);
  const int = (name: string, value: unknown, min: number) => {
    if (value !== undefined && !(Number.isInteger(value) && (value as number) >= min))
      invalidArg(`attrs.${name} must be an integer >= ${min}, got ${describe(value)}`);
  };
  int('leaseMs', attrs.leaseMs, 100);
  int('nodeMaxActive', attrs.nodeMaxActive, 0);
  int('minActive', attrs.minActive, 0);
  if (attrs.minActive !== undefined && attrs.minActive > maxActive)
    invalidArg(`attrs.minActive ${attrs.minActive} is above maxActive ${maxActive}`);
  if (attrs.onError !== undefined && typeof attrs.onError !== 'function')
    invalidArg(`attrs.onError must be a function, got ${describe(attrs.onError)}`);
  const retry = attrs.retry as SharedRetry | undefined;
  if (retry !== undefined) {
    if (retry === null || typeof retry !== 'object')
      invalidArg(`attrs.retry must be an object, got ${describe(retry)}`);
    int('retry.attempts', retry.attempts, 1);
    if (retry.attempts === undefined) invalidArg('attrs.retry.attempts is required');
    int('retry.delayMs', retry.delayMs, 0);
    int('retry.maxDelayMs', retry.maxDelayMs, 0);
  }
}

/** Throws ERR_WQ_DATA_CLONE unless value is plain JSON (what any node reads back equals what was queued). */
function checkJson(value: unknown, path: string, seen: Set<object>): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return;
  } else if (typeof value === 'object') {
    if (seen.has(value)) throw new WorkqueueError('ERR_WQ_DATA_CLONE', `shared work data: ${path} is a cycle`);
    const proto = Object.getPrototypeOf(value);
    if (Array.isArray(value)) {
      seen.add(value);
      for (let i = 0; i < value.length; i++) checkJson(value[i], `${path}[${i}]`, seen);
      seen.delete(value);
      return;
    }
    if (proto === Object.prototype || proto === null) {
      seen.add(value);
      for (const [k, v] of Object.entries(value)) checkJson(v, `${path}.${k}`, seen);
      seen.delete(value);
      return;
    }
  }
  throw new WorkqueueError(
    'ERR_WQ_DATA_CLONE',
    `shared work data must be JSON (plain objects, arrays, strings, finite numbers, booleans, null): ` +
      `${path} is ${describe(value)}`,
  );
}

/** A workqueue shared through PostgreSQL; made by allocWorkqueue(name, WQ_UNBOUND, maxActive, { backend }). */
export class PgSharedWorkqueue extends SharedWorkqueue {
  readonly name: string;
  readonly flags: number;
  readonly ordered: boolean;
  /** How long a claim lasts without renewal, ms. */
  readonly leaseMs: number;
  /** How many items this node runs at once (0: a producer-only node). */
  readonly nodeMaxActive: number;
  private readonly runner: Runner;
  private readonly ready: Promise<void>;
  private cluster: SharedStats = { pending: 0, infl: 0 };
  private destroyed = false;
  /** When wqMonitor() last read the cluster figures: the poll refreshes them only while someone looks. */
  private viewed = 0;
  private draining = 0;
  private drainLock: DrainLock | null = null;
  private max: number;

  /** @hidden Made by allocWorkqueue() / allocOrderedWorkqueue() with `{ backend }`. */
  constructor(
    private readonly ctx: BackendContext,
    name: string,
    flags: number,
    maxActive: number,
    attrs: SharedWorkqueueAttrs,
  ) {
    super();
    this.ordered = (flags & __WQ_ORDERED) !== 0;
    checkSharedAttrs(attrs, maxActive);
    this.name = name;
    this.flags = flags;
    this.max = maxActive;
    this.leaseMs = attrs.leaseMs ?? 30_000;
    this.nodeMaxActive = attrs.nodeMaxActive ?? Math.min(maxActive, 16);
    this.runner = new Runner({
      queue: this,
      pool: ctx.pool,
      nodeMaxActive: this.nodeMaxActive,
      minActive: attrs.minActive ?? 0,
      leaseMs: this.leaseMs,
      pollMs: (attrs as { pollMs?: number }).pollMs ?? ctx.pollMs,
      retry: attrs.retry,
      onError: attrs.onError,
    });
    sharedByLocal.set(this.runner.local, this);
    sharedWorkqueues.add(this);
    ctx.attach(this);
    this.ready = run(ctx.pool, `allocWorkqueue ${name}`, sql.ENSURE_QUEUE, [name, maxActive, this.ordered]).then(() => {
      this.runner.kick();
    });
    this.ready.catch(() => undefined); // reported by the first call that needs it
  }

  get local(): Workqueue {
    return this.runner.local;
  }

  /** max_active for the whole cluster, as this node last set it (workqueueSetMaxActive, or its allocation). */
  get maxActive(): number {
    return this.max;
  }

  /** This node's id in lease records. */
  get node(): string {
    return this.runner.node;
  }

  /** This node's shared-only counters: claimed, completed, refused (fenced off), lost leases. */
  get nodeStats(): Readonly<{
    /** Items this node claimed. */
    claimed: number;
    /** Completions this node wrote. */
    completed: number;
    /** Completions refused because the lease had passed to another node (the fencing token moved on). */
    refused: number;
    /** Leases this node lost before its handler ended. */
    lost: number;
  }> {
    return this.runner.stats;
  }

  stats(): SharedStats {
    this.viewed = Date.now();
    return this.cluster;
  }

  /** Reads the cluster figures wqMonitor shows (refreshed on every poll; this makes it fresh now). */
  async refreshStats(): Promise<SharedStats> {
    const { rows } = await run<SharedStats>(this.ctx.pool, 'stats', sql.STATS, [this.name]);
    this.cluster = rows[0] ?? { pending: 0, infl: 0 };
    return this.cluster;
  }

  /** @internal A NOTIFY for this queue. */
  notified(kind: string, key: string | undefined): void {
    this.runner.notified(kind, key);
  }

  /** @internal The poll tick: claims, and refreshes the cluster figures. */
  poll(): void {
    this.runner.kick();
    if (Date.now() - this.viewed < 10_000) this.refreshStats().catch(() => undefined);
  }

  private checkAlive(what: string): void {
    if (this.destroyed)
      throw new WorkqueueError('ERR_WQ_DESTROYED', `${what}: shared workqueue ${this.name} has been detached`);
  }

  /** Whether the caller is a handler of this queue (on this node): its queueing is chained work. */
  private chained(): boolean {
    const current = currentWork();
    return current !== null && sharedOf(current) === this;
  }

  private drainingError(what: string): WorkqueueError {
    return new WorkqueueError('ERR_WQ_DRAINING', `${what}: shared workqueue ${this.name} is draining`);
  }

  private checkQueueable(
    work: Work<any>,
    what: string,
  ): { spec: string; exportName: string; key: string; keyless: boolean; fresh: boolean } {
    checkWork(work);
    this.checkAlive(what);
    if (this.draining > 0 && !this.chained()) throw this.drainingError(what);
    if (work._shared !== null && work._shared !== this)
      invalidArg(`${what}: this work belongs to shared workqueue ${work._shared.name}, not ${this.name}`);
    const ref = moduleRef(work.func) ?? moduleRef(wrapped.get(work.func) ?? (() => undefined));
    if (ref === null) {
      throw new WorkqueueError(
        'ERR_WQ_NOT_PORTABLE',
        `${what}: ${work.funcName} is a function work; a shared workqueue runs module works only, which any node ` +
          'can import (name it with workFunc(specifier, exportName))',
      );
    }
    checkJson(work.data ?? null, 'data', new Set());
    // fresh: the key is made up here, so no row can hold it yet (the batch statement inserts it without a probe).
    const fresh = work.key === undefined;
    const keyless = fresh || keylessWorks.has(work);
    return { spec: ref.specifier, exportName: ref.exportName, key: work.key ?? madeUpKey(), keyless, fresh };
  }

  private bind(work: Work<any>, key: string, keyless: boolean): void {
    if (keyless) keylessWorks.add(work);
    work.key = key;
    work._shared = this;
  }

  private keyOf(work: Work<any>, what: string): string {
    checkWork(work);
    if (work.key === undefined) invalidArg(`${what}: this work was never queued on ${this.name} and has no key`);
    return work.key;
  }

  /** The connection a call runs on (the caller's transaction, or the pool) once the queue's row exists. */
  private async db(tx: unknown): Promise<pg.Pool | pg.ClientBase> {
    if (tx !== undefined && (tx === null || typeof (tx as pg.ClientBase).query !== 'function'))
      invalidArg(`options.tx must be a pg client inside a transaction, got ${describe(tx)}`);
    await this.ready.catch((error) => {
      throw backendError(`shared workqueue ${this.name}`, error);
    });
    return tx !== undefined ? (tx as pg.ClientBase) : this.ctx.pool;
  }

  queueWork(work: Work<any>, options?: SharedQueueOptions): Promise<boolean> {
    return this.queueAfter(work, 0, options, 'queueWork');
  }

  queueDelayedWork(dwork: DelayedWork<any>, delay: number, options?: SharedQueueOptions): Promise<boolean> {
    return this.queueAfter(dwork, delay, options, 'queueDelayedWork');
  }

  private queueAfter(work: Work<any>, delay: number, options: SharedQueueOptions | undefined, what: string) {
    const { spec, exportName, key, keyless } = this.checkQueueable(work, what);
    const data = JSON.stringify(work.data ?? null);
    this.bind(work, key, keyless);
    const chained = this.chained();
    return this.db(options?.tx).then(async (db) => {
      const params = [this.name, key, spec, exportName, data, delay, `q:${this.name}`, keyless, chained];
      const { rows } = await run<{ queued: boolean }>(db, what, sql.QUEUE, params);
      if (rows[0]?.queued === false) throw this.drainingError(what);
      return rows.length > 0;
    });
  }

  /**
   * Queues many works in one statement (one round trip, one commit): what queueWork() does for each, in order.
   * A key given twice counts once (the later ones return false, as queueing a pending item does).
   * @param works - The works to queue (module works with JSON data).
   * @param options - `{ tx }`: queue inside the caller's open transaction.
   * @returns one boolean per work, as queueWork() would have returned.
   * @throws WorkqueueError for any bad work, before anything is queued.
   */
  queueWorks(works: readonly Work<any>[], options?: SharedQueueOptions): Promise<boolean[]> {
    if (!Array.isArray(works)) invalidArg(`queueWorks: works must be an array, got ${describe(works)}`);
    const checked = works.map((w) => this.checkQueueable(w, 'queueWorks'));
    const data = works.map((w) => JSON.stringify(w.data ?? null));
    const first = new Map<string, number>();
    checked.forEach((c, i) => {
      if (!first.has(c.key)) first.set(c.key, i);
    });
    works.forEach((w, i) => {
      this.bind(w, checked[i]!.key, checked[i]!.keyless);
    });
    const idx = [...first.values()];
    if (idx.length === 0) return Promise.resolve([]);
    const chained = this.chained();
    return this.db(options?.tx).then(async (db) => {
      const { rows } = await run<{ key: string | null }>(db, 'queueWorks', sql.QUEUE_BATCH, [
        this.name,
        idx.map((i) => checked[i]!.key),
        idx.map((i) => checked[i]!.spec),
        idx.map((i) => checked[i]!.exportName),
        idx.map((i) => data[i]),
        0,
        `q:${this.name}`,
        idx.map((i) => checked[i]!.keyless),
        chained,
        idx.map((i) => checked[i]!.fresh),
      ]);
      if (rows.some((r) => r.key === null)) throw this.drainingError('queueWorks');
      const queued = new Set(rows.map((r) => r.key));
      return checked.map((c, i) => first.get(c.key) === i && queued.has(c.key));
    });
  }

  modDelayedWork(dwork: DelayedWork<any>, delay: number, options?: SharedQueueOptions): Promise<boolean> {
    const { spec, exportName, key, keyless } = this.checkQueueable(dwork, 'modDelayedWork');
    const data = JSON.stringify(dwork.data ?? null);
    this.bind(dwork, key, keyless);
    const chained = this.chained();
    return this.db(options?.tx).then(async (db) => {
      const params = [this.name, key, spec, exportName, data, delay, `q:${this.name}`, keyless, chained];
      const { rows } = await run<{ was_pending: boolean | null; refused: boolean }>(
        db,
        'modDelayedWork',
        sql.MOD_DELAYED,
        params,
      );
      if (rows[0]?.refused === true) throw this.drainingError('modDelayedWork');
      return rows[0]?.was_pending === true;
    });
  }

  cancelWork(work: Work<any>): Promise<boolean> {
    const key = this.keyOf(work, 'cancelWork');
    return this.db(undefined).then(async (db) => {
      const { rows } = await run(db, 'cancelWork', sql.CANCEL, [this.name, key, `d:${this.name}`]);
      return rows.length > 0;
    });
  }

  cancelWorkSync(work: Work<any>): Promise<boolean> {
    const key = this.keyOf(work, 'cancelWorkSync');
    this.checkNotSelf(work, 'cancelWorkSync');
    return this.db(undefined).then((db) => this.cancelAndWait(db, key, 'cancelWorkSync'));
  }

  /**
   * Clears key's pending bit and, when an instance holds a lease (on any node), flags it and waits for it to end:
   * a running one has its work.signal aborted, one waiting in a node's backlog is skipped. Resolves whether an
   * instance was pending, which a backlog item was from the caller's view: it resolves true when the instance it
   * waited for ended with a completion written and no run counted (the row's `runs` as before, the lease gone),
   * which is what a skip writes; a run counts one, and a lease that expired (its node died) proves nothing.
   */
  private async cancelAndWait(db: pg.Pool | pg.ClientBase, key: string, what: string): Promise<boolean> {
    const { rows } = await run<{ was_pending: boolean; lease: string | null; runs: string; keyless: boolean }>(
      db,
      what,
      sql.CANCEL_SYNC,
      [this.name, key, `c:${this.name}:${key}`],
    );
    const row = rows[0];
    if (row === undefined) return false;
    if (row.lease === null) return row.was_pending;
    let ended: { live: boolean; held: boolean; runs: string } | undefined;
    await this.waitUntil(async () => {
      const now = await run<{ live: boolean; held: boolean; runs: string }>(db, what, sql.CANCEL_ENDED, [
        this.name,
        key,
        row.lease,
      ]);
      ended = now.rows[0];
      return ended === undefined || !ended.live;
    });
    if (row.keyless) await run(db, what, sql.CANCEL_KEYLESS_END, [this.name, key]);
    const skipped = ended !== undefined && !ended.held && ended.runs === row.runs;
    return row.was_pending || skipped;
  }

  private checkNotSelf(work: Work<any>, what: string): void {
    const current = currentWork();
    if (current !== null && current._shared === this && current.key === work.key)
      throw new WorkqueueError('ERR_WQ_DEADLOCK', `${what}: called from the handler of ${work.key} itself`);
  }

  disableWork(work: Work<any>): Promise<boolean> {
    const key = this.keyOf(work, 'disableWork');
    return this.db(undefined).then((db) => this.disable(db, work, key, 'disableWork'));
  }

  private async disable(db: pg.Pool | pg.ClientBase, work: Work<any>, key: string, what: string): Promise<boolean> {
    const ref = moduleRef(work.func) ?? moduleRef(wrapped.get(work.func) ?? (() => undefined));
    const { rows } = await run<{ was_pending: boolean }>(db, what, sql.DISABLE, [
      this.name,
      key,
      ref?.specifier ?? '',
      ref?.exportName ?? '',
    ]);
    return rows[0]?.was_pending === true;
  }

  /**
   * disableWork, then waits for the instance running on whichever node (its work.signal aborts). Disabled, the
   * item can be neither queued nor claimed again, so nothing slips in between the two statements.
   * @internal
   */
  disableWorkSync(work: Work<any>): Promise<boolean> {
    const key = this.keyOf(work, 'disableWorkSync');
    this.checkNotSelf(work, 'disableWorkSync');
    return this.db(undefined).then(async (db) => {
      const wasPending = await this.disable(db, work, key, 'disableWorkSync');
      // An instance waiting in a node's backlog was pending too, from the caller's view (cancelAndWait tells).
      const skipped = await this.cancelAndWait(db, key, 'disableWorkSync');
      return wasPending || skipped;
    });
  }

  enableWork(work: Work<any>): Promise<boolean> {
    const key = this.keyOf(work, 'enableWork');
    return this.db(undefined).then(async (db) => {
      const { rows } = await run<{ enabled: boolean }>(db, 'enableWork', sql.ENABLE, [this.name, key]);
      if (rows.length === 0) invalidArg(`enableWork: ${key} is not disabled`);
      if (rows[0]!.enabled) this.runner.kick();
      return rows[0]!.enabled;
    });
  }

  /**
   * enableWork and, if that enabled it, queueWork, in one transaction: a queueing that is refused (the queue is
   * draining) rolls the enable back too, so the work stays disabled as it was.
   * @internal
   */
  enableAndQueueWork(work: Work<any>): Promise<boolean> {
    const key = this.keyOf(work, 'enableAndQueueWork');
    const { spec, exportName, keyless } = this.checkQueueable(work, 'enableAndQueueWork');
    const data = JSON.stringify(work.data ?? null);
    const chained = this.chained();
    return this.db(undefined).then(async () => {
      const what = 'enableAndQueueWork';
      let client: pg.PoolClient;
      try {
        client = await this.ctx.pool.connect();
      } catch (error) {
        throw backendError(what, error);
      }
      let done = false;
      try {
        await run(client, what, 'BEGIN', []);
        const { rows } = await run<{ enabled: boolean }>(client, what, sql.ENABLE, [this.name, key]);
        if (rows.length === 0) invalidArg(`enableAndQueueWork: ${key} is not disabled`);
        if (rows[0]!.enabled) {
          const params = [this.name, key, spec, exportName, data, 0, `q:${this.name}`, keyless, chained];
          const queued = await run<{ queued: boolean }>(client, what, sql.QUEUE, params);
          if (queued.rows[0]?.queued === false) throw this.drainingError(what);
        }
        await run(client, what, 'COMMIT', []);
        done = true;
        return rows[0]!.enabled;
      } finally {
        if (!done) await client.query('ROLLBACK').catch(() => undefined);
        client.release();
      }
    });
  }

  /** @internal Sets the cluster-wide max_active; every node's next claim uses it (they are woken to claim now). */
  setMaxActive(maxActive: number): Promise<void> {
    this.checkAlive('workqueueSetMaxActive');
    return this.db(undefined).then(async (db) => {
      const { rows } = await run(db, 'workqueueSetMaxActive', sql.SET_MAX_ACTIVE, [
        this.name,
        maxActive,
        `q:${this.name}`,
      ]);
      if (rows.length === 0) invalidArg(`workqueueSetMaxActive: shared workqueue ${this.name} was removed`);
      this.max = maxActive;
    });
  }

  /** @internal Sets this node's min_active floor. */
  setMinActive(minActive: number): void {
    this.checkAlive('workqueueSetMinActive');
    this.runner.minActive = minActive;
    this.runner.kick();
  }

  /** @internal freezeWorkqueuesBegin(): this node stops claiming and hands its backlog back. */
  frozen(): void {
    this.runner.frozen();
  }

  /** @internal thawWorkqueues(): claims again at once. */
  thawed(): void {
    this.runner.kick();
  }

  workBusy(work: Work<any>): Promise<number> {
    const key = this.keyOf(work, 'workBusy');
    return this.db(undefined).then(async (db) => {
      const { rows } = await run<{ pending: boolean; running: boolean }>(db, 'workBusy', sql.BUSY, [this.name, key]);
      const row = rows[0];
      if (row === undefined) return 0;
      return (row.pending ? WORK_BUSY_PENDING : 0) | (row.running ? WORK_BUSY_RUNNING : 0);
    });
  }

  flushWork(work: Work<any>, fireTimer: boolean): Promise<boolean> {
    checkWork(work);
    if (work.key === undefined) return Promise.resolve(false);
    const key = work.key;
    this.checkNotSelf(work, 'flushWork');
    return this.db(undefined).then(async (db) => {
      if (fireTimer) await run(db, 'flushDelayedWork', sql.FIRE_NOW, [this.name, key, `q:${this.name}`]);
      const { rows } = await run<{ pending: boolean; running: boolean; seq: string; run_seq: string | null }>(
        db,
        'flushWork',
        sql.BUSY,
        [this.name, key],
      );
      const row = rows[0];
      if (row === undefined || !(row.pending || row.running)) return false;
      const mark = row.pending ? row.seq : row.run_seq;
      await this.waitUntil(async () => {
        const busy = await run(db, 'flushWork', sql.ITEM_BUSY_UPTO, [this.name, key, mark]);
        return busy.rows.length === 0;
      });
      return true;
    });
  }

  flushWorkqueue(): Promise<void> {
    this.checkAlive('flushWorkqueue');
    if (this.ordered && currentWork()?._shared === this)
      throw new WorkqueueError('ERR_WQ_DEADLOCK', `flushWorkqueue: called from a handler of ordered ${this.name}`);
    return this.db(undefined).then(async (db) => {
      const { rows } = await run<{ seq: string; at: string }>(db, 'flushWorkqueue', sql.FLUSH_MARK, []);
      const { seq, at } = rows[0]!;
      await this.waitUntil(async () => {
        const busy = await run(db, 'flushWorkqueue', sql.QUEUE_BUSY_UPTO, [this.name, seq, at]);
        return busy.rows.length === 0;
      });
    });
  }

  drainWorkqueue(): Promise<void> {
    this.checkAlive('drainWorkqueue');
    if (this.chained())
      throw new WorkqueueError('ERR_WQ_DEADLOCK', `drainWorkqueue: called from a handler of ${this.name}`);
    if (this.draining++ === 0) this.drainLock = new DrainLock(this.ctx.pool, this.name);
    const lock = this.drainLock!;
    return this.db(undefined)
      .then(async (db) => {
        await lock.hold();
        await this.waitUntil(async () => {
          await lock.hold(); // again, if its connection was lost
          const busy = await run(db, 'drainWorkqueue', sql.QUEUE_BUSY, [this.name]);
          return busy.rows.length === 0;
        });
      })
      .finally(async () => {
        if (--this.draining > 0) return;
        this.drainLock = null;
        await lock.release();
      });
  }

  /** Detaches this node: stops claiming, lets its running items finish and complete. The rows stay. */
  destroyWorkqueue(): Promise<void> {
    this.checkAlive('destroyWorkqueue');
    this.destroyed = true;
    sharedWorkqueues.delete(this);
    return this.runner.stop().finally(() => this.ctx.detach(this));
  }

  /**
   * Resolves once test() holds; tests again on each `d:` notification of this queue and on the poll. A failing
   * test (connection lost) is retried: the wait outlives an outage.
   */
  private async waitUntil(test: () => Promise<boolean>): Promise<void> {
    for (;;) {
      const notified = this.ctx.waitNotify(this.name, this.ctx.pollMs);
      try {
        if (await test()) return;
      } catch (error) {
        if (!(error instanceof WorkqueueError) || error.code !== 'ERR_WQ_BACKEND') throw error;
      }
      await notified;
      await new Promise((resolve) => setTimeout(resolve, 20)); // a burst of notifications costs one re-check
    }
  }
}
