/**
 * Worker pools (the kernel's worker_pool): a worklist and the workers that execute it, on one CPU's event loop.
 *
 * Each CPU has a normal and a highpri pool, plus a BH pair for WQ_BH workqueues; unbound workqueues share pools
 * by attributes. The pool's CPU loop (cpu.ts) calls processOne() while the worklist is not empty and the loop's
 * budget lasts. Workers are taken from the idle list (LIFO, like the kernel's) or made on demand, so a pool has
 * as many workers as it has handlers asleep at once, plus one; the surplus idle ones are culled after
 * IDLE_WORKER_TIMEOUT, keeping two and one idle per four busy, as the kernel's too_many_workers().
 *
 * Who changes what: only queueing (via pool workqueues) pushes onto the worklist; only processOne() and cancel
 * take items off it; workers move between the idle list and busy only here and in worker.ts.
 */
import type { Clock, TimerHandle } from '../base/clock.js';
import { IDLE_WORKER_TIMEOUT_MS, MAX_IDLE_WORKERS_RATIO } from '../base/constants.js';
import type { Cpu } from './cpu.js';
import type { PoolWorkqueue } from './pool-workqueue.js';
import type { Work } from './work.js';
import { processOneWork, startRemoteWork, Worker, type WorkerState } from './worker.js';
import { moduleRef } from './module-func.js';
import { threadRole } from '../base/init.js';
import type { Executor } from './executor.js';
import { ListKind, PriorityWorklist } from './worklist.js';

export interface PoolKind {
  /** The CPU the pool belongs to, or -1 for an unbound pool. */
  cpu: number;
  highpri: boolean;
  bh: boolean;
}

let nextPoolId = 0;

export class WorkerPool {
  readonly id = nextPoolId++;
  readonly cpu: number;
  readonly highpri: boolean;
  readonly bh: boolean;
  /** Per-CPU pools are concurrency managed: a sleeping handler lets the next item start (counted as cmWakeup). */
  readonly concurrencyManaged: boolean;
  /** Service order on the CPU loop: BH highpri, BH, highpri, normal. */
  readonly rank: number;
  readonly worklist = new PriorityWorklist<Work<any>>(ListKind.Worklist);
  readonly workers = new Set<Worker>();
  private readonly idle: Worker[] = [];
  nrSleeping = 0;
  /** 1 while a handler's synchronous segment runs on this pool (the kernel's nr_running, on one loop). */
  nrRunning = 0;
  /** The threads module works of this pool run on (unbound pools, and other CPUs' pools); null: they run here. */
  threads: Executor | null = null;
  /** Set while the pool's last user is gone but it still has work: frees it once it is idle (pools.ts). */
  reap: (() => void) | null = null;
  /** Bumped each time the idle timer fires; workers idle since an older generation have idled a full period. */
  private idleGen = 0;
  private idleTimer: TimerHandle | null = null;

  constructor(
    kind: PoolKind,
    readonly loop: Cpu,
    /** Hash of the attributes an unbound pool was made for (empty for per-CPU pools). */
    readonly attrsKey: string,
    private readonly clock: () => Clock,
  ) {
    this.cpu = kind.cpu;
    this.highpri = kind.highpri;
    this.bh = kind.bh;
    this.concurrencyManaged = kind.cpu >= 0 && !kind.bh;
    this.rank = (kind.bh ? 0 : 2) + (kind.highpri ? 0 : 1);
  }

  /** Idle workers (the one running a synchronous segment sits on the idle list but is not idle). */
  get nrIdle(): number {
    return this.idle.length - this.nrRunning;
  }

  get nrWorkers(): number {
    return this.workers.size;
  }

  /** Puts an activated item on the worklist and makes sure the loop will come to it. */
  insertWork(work: Work<any>): void {
    this.worklist.push(work);
    this.loop.kick(this);
  }

  /**
   * Whether processOne() can run the next item now. Always, with work, for a pool whose items run here; a pool
   * with threads holds a module work back while no thread can take it (its threads call kick() when one can).
   */
  ready(): boolean {
    if (this.threads === null) return this.worklist.length > 0;
    const head = this.worklist.peek();
    return head !== null && (head._worker !== null || moduleRef(head.func) === null || this.threads.canTake(head));
  }

  /** Executes the next item of the worklist, on the most recently idle worker (here, or on one of the threads). */
  processOne(): void {
    const work = this.worklist.shift()!;
    const owner = work._worker;
    if (owner !== null) {
      // Its previous instance is running on another worker: run after it, there (never concurrently).
      owner.scheduled.push(work);
      return;
    }
    const worker = this.topIdle();
    if (this.threads !== null && moduleRef(work.func) !== null) startRemoteWork(worker, work, this.threads.assign);
    else processOneWork(worker, work);
  }

  /** Runs work, taken off the worklist out of turn, on another thread through assign (a rescuer's). */
  runOutOfTurn(work: Work<any>, assign: (worker: Worker, work: Work<any>) => void): void {
    work._list!.remove(work);
    startRemoteWork(this.topIdle(), work, assign);
  }

  /** The most recently idle worker (it stays on the idle list until its item sleeps), made if there is none. */
  private topIdle(): Worker {
    const idle = this.idle;
    return idle.length > 0 ? idle[idle.length - 1] : this.createWorker();
  }

  /** worker (the top of the idle list) went to sleep on pwq's item; cmWakeup if that lets the next item start. */
  workerSleeps(_worker: Worker, pwq: PoolWorkqueue, cmWakeup: boolean): void {
    this.idle.pop();
    this.nrSleeping++;
    this.loop.nrSleeping++;
    if (cmWakeup && this.worklist.length > 0) pwq.stats.cmWakeup++;
  }

  /** worker's instance ended: its scheduled items go back to the front of their worklists, in order. */
  requeueScheduled(worker: Worker): void {
    const items: Work<any>[] = [];
    for (let w = worker.scheduled.shift(); w !== null; w = worker.scheduled.shift()) items.push(w);
    for (let i = items.length - 1; i >= 0; i--) {
      const pool = items[i]._pwq!.pool;
      pool.worklist.unshift(items[i]);
      pool.loop.kick(pool);
    }
  }

  /** A sleeping worker's item settled (or its thread reported it done). */
  workerWakes(): void {
    this.nrSleeping--;
    this.loop.nrSleeping--;
  }

  /** A sleeping worker woke and finished: back on the idle list. */
  workerIdle(worker: Worker): void {
    worker.idleGen = this.idleGen;
    this.idle.push(worker);
    // A pool to free and a surplus of idle workers are rare: their code is a call away (idleChanged()).
    if (this.reap !== null || (this.idle.length > 2 && this.idleTimer === null)) this.idleChanged();
  }

  /**
   * workerIdle() for a pool that is to be freed once idle, or that may have more idle workers than it keeps: kept
   * out of workerIdle() so that the settle path, which inlines it, has V8's inlining budget left for the next item.
   */
  private idleChanged(): void {
    if (this.reap !== null && this.nrSleeping === 0) queueMicrotask(this.reap);
    if (this.idle.length > 2 && this.idleTimer === null && this.tooManyWorkers()) {
      this.idleTimer = this.clock().setTimer(this.onIdleTimer, IDLE_WORKER_TIMEOUT_MS, false);
    }
  }

  private tooManyWorkers(): boolean {
    const nrIdle = this.nrIdle;
    const nrBusy = this.workers.size - nrIdle;
    return nrIdle > 2 && (nrIdle - 2) * MAX_IDLE_WORKERS_RATIO >= nrBusy;
  }

  private createWorker(): Worker {
    const ids = new Set<number>();
    for (const w of this.workers) ids.add(w.id);
    let id = 0;
    while (ids.has(id)) id++;
    const worker = new Worker(this, id, this.workerName(id));
    this.workers.add(worker);
    worker.idleGen = this.idleGen;
    this.idle.push(worker);
    return worker;
  }

  private workerName(id: number): string {
    if (threadRole !== null && threadRole.kind !== 'cpu')
      return `${threadRole.namePrefix}${id}${this.highpri ? 'H' : ''}`;
    if (this.bh) return `ksoftirqd/${this.cpu}`;
    if (this.cpu < 0) return `kworker/u${this.id}:${id}`;
    return `kworker/${this.cpu}:${id}${this.highpri ? 'H' : ''}`;
  }

  /**
   * Culls workers that have been idle since before the previous firing (a whole period at least), oldest first,
   * while there are too many, and re-arms while there still are.
   */
  private readonly onIdleTimer = (): void => {
    this.idleTimer = null;
    const gen = this.idleGen++;
    // The idle list is LIFO, so its bottom holds the longest idle.
    while (this.tooManyWorkers() && this.idle[0].idleGen < gen) this.workers.delete(this.idle.shift()!);
    if (this.tooManyWorkers()) this.idleTimer = this.clock().setTimer(this.onIdleTimer, IDLE_WORKER_TIMEOUT_MS, false);
  };

  /** Workers by state, for dumps. */
  workersIn(state: `${WorkerState}`): Worker[] {
    return [...this.workers].filter((w) => w.state === state);
  }
}
