/**
 * Pool workqueues (the kernel's pool_workqueue): the link between one workqueue and one worker pool.
 *
 * A pwq enforces its workqueue's max_active: an item queued while nrActive < maxActive is activated (put on the
 * pool's worklist and counted in nrActive until its handler ends); otherwise it waits on the pwq's inactive list
 * and is activated, FIFO, when an active item ends, the limit rises, or the workqueue thaws. A frozen freezable
 * workqueue has an effective limit of 0. The pwq also keeps the workqueue's per-pool statistics.
 */
import { chActivateWork, workEvent } from './tracepoints.js';
import { putColor } from './flush-color.js';
import { Histogram } from '../base/histogram.js';
import { registerPwq } from './heartbeat.js';
import { freezer, freezerCheck } from './freezer.js';
import { config } from '../base/init.js';
import { type Work, WorkFlag } from './work.js';
import type { WorkerPool } from './worker-pool.js';
import type { Workqueue } from './workqueue.js';
import { ListKind, WorkList } from './worklist.js';

/** When each SAMPLED pending instance was queued (clock ms). */
const queuedAt = new Map<Work<any>, number>();

/** A SAMPLED instance starts (the wait it had, or -1 if it was unsampled on the way) or is cancelled. */
export function takeSample(work: Work<any>): number {
  work._flags &= ~WorkFlag.SAMPLED;
  const at = queuedAt.get(work);
  queuedAt.delete(work);
  return at ?? -1;
}

/** The first items of a pool workqueue are all timed; then one in SAMPLE_EVERY (a power of two). */
const SAMPLE_ALL_FIRST = 256;
const SAMPLE_EVERY = 64;

/**
 * The counters only observers read (wqMonitor) and the item path rarely changes. The two it changes on every item,
 * started and completed, are fields of the pwq itself: one object less touched per item.
 */
export interface PwqStats {
  /** Items whose handler threw or rejected. */
  failed: number;
  /** Concurrency-management wake-ups: a handler went to sleep and another worker took the next item. */
  cmWakeup: number;
  /** Synchronous segments longer than cpuIntensiveThreshMs. */
  cpuIntensive: number;
  /** Milliseconds spent in handlers' synchronous segments, where measured. */
  cpuTime: number;
  mayday: number;
  rescued: number;
}

export class PoolWorkqueue {
  /** Active items: on the pool's worklist, on a worker's scheduled list, or executing. */
  nrActive = 0;
  /** max_active in force (0 while frozen). */
  maxActive: number;
  readonly inactive = new WorkList<Work<any>>(ListKind.Inactive);
  /** Items whose handler started (wq_monitor "total"). */
  started = 0;
  /** Items whose handler ended (infl = started - completed). */
  completed = 0;
  readonly stats: PwqStats = {
    failed: 0,
    cmWakeup: 0,
    cpuIntensive: 0,
    cpuTime: 0,
    mayday: 0,
    rescued: 0,
  };

  /** Queue-wait and run-time samples (ms). */
  readonly waitHist = new Histogram();
  readonly runHist = new Histogram();
  /** Every (sampleMask + 1)th queueing is timed: all of them at first, one in SAMPLE_EVERY once busy. */
  sampleTick = 0;
  sampleMask = 0;
  /** The id the watchdog's heartbeat names this pwq by. */
  readonly hbId: number;

  constructor(
    readonly wq: Workqueue,
    /** The pool items are activated on; applyWorkqueueAttrs() may repoint it (active items finish where they are). */
    public pool: WorkerPool,
    maxActive: number,
  ) {
    this.maxActive = maxActive;
    this.hbId = registerPwq(this);
  }

  /**
   * Times this queueing of work if it is one of the sampled ones (queue wait and run time are sampled, never
   * measured on every item): all of a pwq's first SAMPLE_ALL_FIRST, then one in SAMPLE_EVERY.
   */
  sample(work: Work<any>): void {
    if ((++this.sampleTick & this.sampleMask) !== 0) return;
    if (this.sampleTick >= SAMPLE_ALL_FIRST) this.sampleMask = SAMPLE_EVERY - 1;
    work._flags |= WorkFlag.SAMPLED;
    queuedAt.set(work, config.clock.now());
  }

  /** Queues a pending work: activates it if max_active allows, else parks it inactive. */
  insert(work: Work<any>, reqCpu: number): void {
    // A reused item is mostly queued on the pwq it last ran on: a comparison is cheaper than a barriered store.
    if (work._pwq !== this) work._pwq = this;
    if (this.nrActive < this.maxActive && this.inactive.length === 0) this.activate(work, reqCpu);
    else this.inactive.push(work);
  }

  private activate(work: Work<any>, reqCpu: number): void {
    this.nrActive++;
    if (chActivateWork.hasSubscribers) chActivateWork.publish(workEvent(work, this, reqCpu));
    this.pool.insertWork(work);
  }

  /** Activates inactive items, oldest first, while max_active allows. */
  activateInactive(): void {
    while (this.inactive.length > 0 && this.nrActive < this.maxActive) this.activate(this.inactive.shift()!, -1);
  }

  /** Sets the max_active in force and activates what it now allows. */
  setMaxActive(maxActive: number): void {
    this.maxActive = maxActive;
    this.activateInactive();
  }

  /**
   * An active instance is gone (its handler ended, or it was cancelled while active): the kernel's
   * pwq_dec_nr_in_flight. Activates the next inactive item and retires the instance's flush color.
   */
  decActive(color: number): void {
    // One slot is free: at most one inactive item can take it (setMaxActive() activates for a raised limit).
    if (--this.nrActive < this.maxActive && this.inactive.length > 0) this.activate(this.inactive.shift()!, -1);
    putColor(this.wq, color);
    if (this.nrActive === 0 && freezer.waiters.length > 0) freezerCheck();
  }
}
