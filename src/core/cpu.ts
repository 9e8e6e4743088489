/**
 * CPUs: an event loop and the pools that run on it.
 *
 * In cmwq a CPU is an event loop. The loop's pools (BH highpri, BH, highpri, normal, and the unbound pools whose
 * function works run here) are served in that order by one run loop: it picks the first pool with work, runs its
 * items back to back, and goes back to the top whenever a higher-ranked pool gets work (preemption between items;
 * a handler's synchronous segment itself cannot be preempted). A pool that uses up a budget goes behind the other
 * pools of its rank, so a pool that never empties cannot starve its equals.
 *
 * Where the run loop runs
 * -----------------------
 * Queueing never runs a handler synchronously: the first kick() schedules the loop with a resolved promise's
 * `then` (not queueMicrotask, which on Node 20 makes an async resource per call). A sleeping item that settles
 * runs the items it made ready right there, from its settle callback (`settled()`): no extra hop per item.
 *
 * The budget is per loop turn
 * ---------------------------
 * Handlers that resolve at once never give the event loop back by themselves: each settle runs the next item from
 * a microtask, and microtasks run until there are none. So the budget, RUN_BUDGET_MS, counts from the first item
 * of a macrotask turn (`turnStart`), across every run of the loop and every settle in that turn, until a
 * setImmediate (`endTurn`) sees that the turn is over. Once it is spent the loop yields (`yielded`): items stay on
 * their worklists, timers and I/O run, and a setImmediate resumes. The clock is read every CHECK_EVERY items, after
 * every item once items are slow, and after the first item of a turn.
 *
 * CPU time
 * --------
 * The same clock reads measure CPU time (wq_monitor's CPUtime): the time between two reads is charged to the pool
 * workqueue whose items ran in between (`acct`). A read is forced when the pool workqueue changes, when the loop
 * goes idle (nothing ready, nothing asleep) and when the turn ends, so an interval never spans idle time or two
 * pool workqueues, and a 1 ms segment is measured to a few microseconds. Tiny items pay one comparison each.
 */
import { performance } from 'node:perf_hooks';
import { Hb, heartbeat, kickWatchdog } from './heartbeat.js';
import type { PoolWorkqueue } from './pool-workqueue.js';
import type { WorkerPool } from './worker-pool.js';

/** How long the run loop may hold the event loop per turn before yielding to timers and I/O. */
export const RUN_BUDGET_MS = 2;
const CHECK_EVERY = 16;
/** Items slower than this (on average since the last check) make the loop check the clock after every item. */
const SLOW_ITEM_MS = 0.25;

const resolved = Promise.resolve();

export class Cpu {
  readonly pools: WorkerPool[] = [];
  /** Workers of this CPU's pools that are asleep (the pools' nrSleeping summed; kept by worker-pool.ts). */
  nrSleeping = 0;
  /** A run is scheduled (a microtask, or the setImmediate after a yield). */
  private scheduled = false;
  /** The turn's budget is spent; the setImmediate `resume` continues. */
  private yielded = false;
  private running = false;
  /** A sleeper's settle callback is finishing its item (see settled()): kicks wait for it. */
  private settling = false;
  private settleKicked = false;
  private runRank = 0;
  private preempt = false;
  /** Items between clock reads; kept from run to run, so a loop of slow items checks after every one. */
  private interval = CHECK_EVERY;
  private countdown = CHECK_EVERY;
  /** When this turn's first item ran (performance.now()); -1 when no turn is open. */
  private turnStart = -1;
  private endTurnPending = false;
  /** The pool workqueue charged for the time since lastCheck; null when no interval is open. */
  private acct: PoolWorkqueue | null = null;
  private lastCheck = 0;

  constructor(readonly id: number) {}

  addPool(pool: WorkerPool): void {
    this.pools.push(pool);
    this.pools.sort((a, b) => a.rank - b.rank);
  }

  /** pool has work: make sure the run loop comes to it. */
  kick(pool: WorkerPool): void {
    // Strict comparisons of the flags: see queue.ts (a boolean field's truthiness costs a generic ToBoolean).
    if (this.running === true) {
      if (pool.rank < this.runRank) this.preempt = true;
      return;
    }
    if (this.settling === true) {
      this.settleKicked = true;
      return;
    }
    if (this.scheduled === false) {
      this.scheduled = true;
      heartbeat[Hb.PENDING] = 1;
      kickWatchdog();
      void resolved.then(this.run);
    }
  }

  /**
   * A sleeping item of this CPU settled: finish(worker) finishes it, and the items that makes ready run here,
   * within the turn's budget, instead of one microtask later.
   */
  settled<W>(finish: (worker: W) => void, worker: W): void {
    if (this.running === true || this.settling === true) {
      finish(worker);
      return;
    }
    this.settling = true;
    try {
      finish(worker);
    } finally {
      this.settling = false;
    }
    if (this.settleKicked === true) {
      this.settleKicked = false;
      if (this.scheduled === false) {
        heartbeat[Hb.PENDING] = 1;
        kickWatchdog();
        this.loop();
      }
    }
  }

  /** An item of pwq is about to run: a new pool workqueue closes the interval of the previous one. */
  account(pwq: PoolWorkqueue): void {
    if (this.acct === pwq) return;
    const now = performance.now();
    if (this.acct !== null) this.acct.stats.cpuTime += now - this.lastCheck;
    else if (this.turnStart < 0) this.openTurn(now);
    this.acct = pwq;
    this.lastCheck = now;
  }

  private openTurn(now: number): void {
    this.turnStart = now;
    // Check the clock after the first item of the turn: it may be a slow one.
    this.countdown = 1;
    if (!this.endTurnPending) {
      this.endTurnPending = true;
      setImmediate(this.endTurn);
    }
  }

  /** The macrotask turn the budget counted in is over. */
  private readonly endTurn = (): void => {
    this.endTurnPending = false;
    this.turnStart = -1;
    if (this.acct !== null && !this.running) this.closeInterval(performance.now());
  };

  private closeInterval(now: number): void {
    this.acct!.stats.cpuTime += now - this.lastCheck;
    this.acct = null;
  }

  /** pool used up a budget: it goes behind the other pools of its rank, so that none of them starves. */
  private rotate(pool: WorkerPool): void {
    const pools = this.pools;
    let i = pools.indexOf(pool);
    if (i < 0) return; // freed meanwhile
    while (i + 1 < pools.length && pools[i + 1].rank === pool.rank) {
      pools[i] = pools[i + 1];
      i++;
    }
    pools[i] = pool;
  }

  private firstReady(): WorkerPool | null {
    for (const pool of this.pools) if (pool.ready()) return pool;
    return null;
  }

  private readonly run = (): void => {
    this.scheduled = false;
    this.loop();
  };

  private readonly resume = (): void => {
    this.scheduled = false;
    this.yielded = false;
    this.turnStart = -1;
    this.loop();
  };

  /** Reads the clock after items ran: CPU time, slow items, the budget. Returns true if the loop must yield. */
  private check(pool: WorkerPool): boolean {
    const now = performance.now();
    // Remote dispatches run no handler here and open no interval: only local items say whether items are slow.
    const since = this.acct !== null ? now - this.lastCheck : 0;
    this.interval = since > SLOW_ITEM_MS * this.interval ? 1 : CHECK_EVERY;
    this.countdown = this.interval;
    if (this.acct !== null) this.acct.stats.cpuTime += since;
    this.lastCheck = now;
    if (this.turnStart < 0) this.openTurn(now);
    else if (now - this.turnStart >= RUN_BUDGET_MS) {
      this.rotate(pool);
      this.acct = null;
      this.yielded = true;
      this.scheduled = true;
      setImmediate(this.resume);
      return true;
    }
    return false;
  }

  private loop(): void {
    if (this.yielded === true) return;
    this.running = true;
    try {
      for (let pool = this.firstReady(); pool !== null; pool = this.firstReady()) {
        this.runRank = pool.rank;
        this.preempt = false;
        while (this.preempt === false && (pool.threads === null ? pool.worklist.length > 0 : pool.ready())) {
          pool.processOne();
          if (--this.countdown <= 0 && this.check(pool)) return;
        }
      }
      heartbeat[Hb.PENDING] = 0;
      // While a handler is asleep the interval stays open, until the turn ends.
      if (this.acct !== null && this.nrSleeping === 0) this.closeInterval(performance.now());
    } finally {
      this.running = false;
    }
  }
}
