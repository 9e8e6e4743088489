/**
 * CPUs: an event loop and the pools that run on it.
 *
 * In cmwq a CPU is an event loop. The loop's pools (BH highpri, BH, highpri, normal, and the unbound pools whose
 * function works run here) are served in that order by one run loop: it picks the first pool with work, runs its
 * items back to back, and goes back to the top whenever a higher-ranked pool gets work (preemption between items;
 * a handler's synchronous segment itself cannot be preempted). A pool that uses up a budget goes behind the other
 * pools of its rank, so a pool that never empties cannot starve its equals.
 *
 * The run loop starts in a microtask after the first item is queued (queueing never runs a handler
 * synchronously) and holds the loop for at most RUN_BUDGET_MS before it yields with setImmediate, so timers and
 * I/O keep running while a million items drain (§3.20). The clock is read every CHECK_EVERY items, or after
 * every item once items are slow, so the budget costs the hot path almost nothing.
 */
import { performance } from 'node:perf_hooks';
import { HB_PENDING, heartbeat, watchdogHooks } from './heartbeat.js';
import type { WorkerPool } from './worker-pool.js';

/** How long the run loop may hold the event loop before yielding to timers and I/O. */
export const RUN_BUDGET_MS = 2;
const CHECK_EVERY = 16;
/** Items slower than this (on average since the last check) make the loop check the clock after every item. */
const SLOW_ITEM_MS = 0.25;

export class Cpu {
  readonly pools: WorkerPool[] = [];
  private scheduled = false;
  private running = false;
  private runRank = 0;
  private preempt = false;
  /** Items between clock reads; kept from run to run, so a loop of slow items checks after every one. */
  private interval = CHECK_EVERY;

  constructor(readonly id: number) {}

  addPool(pool: WorkerPool): void {
    this.pools.push(pool);
    this.pools.sort((a, b) => a.rank - b.rank);
  }

  /** pool has work: make sure the run loop comes to it. */
  kick(pool: WorkerPool): void {
    if (this.running) {
      if (pool.rank < this.runRank) this.preempt = true;
      return;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      heartbeat[HB_PENDING] = 1;
      watchdogHooks.kick();
      queueMicrotask(this.run);
    }
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
    this.running = true;
    const start = performance.now();
    let lastCheck = start;
    let interval = this.interval;
    let countdown = interval;
    try {
      for (let pool = this.firstReady(); pool !== null; pool = this.firstReady()) {
        this.runRank = pool.rank;
        this.preempt = false;
        while (!this.preempt && (pool.threads === null ? pool.worklist.length > 0 : pool.ready())) {
          pool.processOne();
          if (--countdown === 0) {
            const now = performance.now();
            interval = now - lastCheck > SLOW_ITEM_MS * interval ? 1 : CHECK_EVERY;
            this.interval = interval;
            if (now - start >= RUN_BUDGET_MS) {
              this.rotate(pool);
              this.scheduled = true;
              setImmediate(this.run);
              return;
            }
            countdown = interval;
            lastCheck = now;
          }
        }
      }
      heartbeat[HB_PENDING] = 0;
    } finally {
      this.running = false;
    }
  };
}
