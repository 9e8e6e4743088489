/**
 * Thread pools: the threads behind a worker pool whose module works run on other threads, and the decisions
 * about them: which thread takes the next item (dispatch), when to start another one (the kernel's manager),
 * when to call the rescuers (mayday), when an idle thread retires, and what happens when one dies.
 *
 * An unbound pool has 0..maxWorkers threads; CPU k's pools (normal and highpri) share one thread pool holding
 * the single thread that is CPU k. The owner's worker pools keep the worklists; a thread pool is asked, item by
 * item, whether some thread can take a module work now (canTake) and then to send it there (assign).
 *
 * Dispatch: the least-loaded thread that is not running a long synchronous segment, and whose queue of items not
 * yet started is empty or would hold at most QUEUE_MS of work, by the measured cost of each function (the average
 * synchronous time of its last runs; a function not yet measured counts as QUEUE_MS). Tiny items go in deep
 * batches (one message carries hundreds), CPU-heavy ones one at a time, so that a thread stuck in a hog never
 * hoards items another thread could run, and the manager sees them waiting. A thread whose running segment will
 * not end soon (by its function's cost; a function never measured may be a hog) takes nothing; one whose segment
 * is predicted to end within QUEUE_MS may take the next item, so that a run of CPU-bound items leaves no gap on
 * the thread. The owner reads each thread's RUNNING flag, running function and started-count from shared
 * memory: no message asks.
 *
 * Manager: while work waits and no thread can take it, the pool re-checks (1, 2, 4 ... ms, at most 100): if
 * every thread is running a segment longer than the CPU-intensive threshold (a hog; none is merely asleep,
 * awaiting, or working through short items), it starts one more thread, one at a time, up to maxWorkers; a start
 * that fails cools down for CREATE_COOLDOWN_MS, as the kernel's create_worker() does. Work that has waited
 * MAYDAY_INITIAL_TIMEOUT_MS with no thread able to take it is handed to the rescuers of its workqueues
 * (WQ_MEM_RECLAIM), then again every MAYDAY_INTERVAL_MS.
 *
 * Giving up: after MAX_FAILED_STARTS starts in a row have failed and no thread is online (thread-main.js missing
 * from a bundle, a loader that cannot load in a worker), the pool gives up: the module works waiting for it whose
 * workqueue has no rescuer fail with ERR_WQ_THREAD_START (its cause is the last start's error) instead of waiting
 * forever, and so do those queued later. After each cool-down the next item tries one start again; the first
 * thread that comes online ends the give-up.
 *
 * Watchdog: while items are in flight, the pool looks at its threads every watchdogThreshS / 2: one whose
 * synchronous segment has lasted watchdogThreshS is reported as the kernel reports a stuck pool ("BUG: workqueue
 * lockup"), once per segment. The owner's loop is alive (it is the thread that looks); its own lockups are the
 * watchdog thread's (watchdog.ts).
 */
import { MAYDAY_INITIAL_TIMEOUT_MS } from '../base/constants.js';
import { chMayday, chStall, warn, workEvent } from '../core/tracepoints.js';
import { errorMessage, WorkqueueError } from '../base/errors.js';
import { config } from '../base/init.js';
import { moduleRef } from '../core/module-func.js';
import { type Executor, type ExecutorOptions, type Rescuer, S_FAILED } from '../core/executor.js';
import type { Payload } from '../core/payload.js';
import { Thread, type ThreadOwner } from './thread.js';
import { watchdogHooks } from '../core/heartbeat.js';
import type { Work } from '../core/work.js';
import { remoteWorkDone, type Worker } from '../core/worker.js';
import type { WorkerPool } from '../core/worker-pool.js';

/** A thread running a synchronous segment longer than this is busy: it takes no more work, and counts as running. */
export const RUN_LONG_MS = 1;
/** How much work not yet started (by each function's measured cost) a thread may hold. */
const QUEUE_MS = 2;
/** After a failed thread start, no other is tried for this long (the kernel's CREATE_COOLDOWN). */
export const CREATE_COOLDOWN_MS = 1000;
/** Failed thread starts in a row, with no thread online, after which waiting items fail (ERR_WQ_THREAD_START). */
export const MAX_FAILED_STARTS = 3;
/** Rescuers are called again this often while the pool stays stuck (the kernel's MAYDAY_INTERVAL). */
export const MAYDAY_INTERVAL_MS = 100;
const MAX_RECHECK_MS = 100;
/** Grow after a segment this long when CPU-hog detection is off (cpuIntensiveThreshMs 0). */
const GROW_AFTER_MS = 10;

/** The rescuer of the workqueue work is queued on, if it has one. */
function rescuerOf(work: Work<any>): Rescuer | null {
  return work._pwq!.wq.rescuer;
}

export class ThreadPool implements ThreadOwner, Executor {
  readonly threads: Thread[] = [];
  /** The worker pools whose module works run here. */
  readonly clients: WorkerPool[] = [];
  private starting = 0;
  private coolDownUntil = 0;
  /** Thread starts that failed since a thread last came online. */
  private failedStarts = 0;
  /** Set once the pool gives up (MAX_FAILED_STARTS): what items without a rescuer fail with. */
  private startError: WorkqueueError | null = null;
  /** Average synchronous milliseconds per call, by module function id (moving; undefined until measured). */
  private readonly costs: number[] = [];
  /** The thread canTake() chose for the item processOne() is about to assign, and that item's cost. */
  private next: Thread | null = null;
  private nextCost = 0;
  private recheckTimer: NodeJS.Timeout | null = null;
  private recheckMs = 1;
  private blockedSince = -1;
  private lastMayday = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  /** Items a dead thread had not started: they go out before anything else. */
  private readonly backlog: { worker: Worker; payload: Payload }[] = [];
  private nextIndex = 0;
  private freed = false;
  private watchTimer: NodeJS.Timeout | null = null;
  /** The segment start (epoch ms) last reported stuck, per thread. */
  private readonly reported = new WeakMap<Thread, number>();

  constructor(readonly options: ExecutorOptions) {}

  /** The measured cost of work's function (ms), QUEUE_MS until measured. */
  private costOf(work: Work<any>): number {
    return this.costs[moduleRef(work.func)!.id] ?? QUEUE_MS;
  }

  /** Whether some thread can take work (a module work) now; if not, the manager looks into it. */
  canTake(work: Work<any>): boolean {
    this.nextCost = this.costOf(work);
    this.next = this.pick(this.nextCost);
    if (this.next !== null) return true;
    if (this.failsAtOnce(work)) return true; // assign() fails it
    this.blocked();
    return false;
  }

  /**
   * Whether work, waiting for a thread, fails now: the pool has given up starting threads and work's workqueue
   * has no rescuer. Once the cool-down is over, one start is tried first (work waits for it, unless it fails at
   * once).
   */
  private failsAtOnce(work: Work<any>): boolean {
    if (this.startError === null || rescuerOf(work) !== null) return false;
    if (this.starting === 0 && Date.now() >= this.coolDownUntil) this.startThread();
    return this.startError !== null && this.starting === 0;
  }

  /** Sends worker's item to the thread canTake() chose (startRemoteWork calls this). */
  readonly assign = (worker: Worker, work: Work<any>): void => {
    let thread = this.next;
    if (thread === null && this.startError !== null && rescuerOf(work) === null && this.starting === 0) {
      remoteWorkDone(worker, S_FAILED, 0, this.startError);
      return;
    }
    if (thread === null) {
      this.nextCost = this.costOf(work);
      thread = this.pick(this.nextCost) ?? this.threads.find((t) => t.online && t.room > 0) ?? null;
      if (thread === null) throw new WorkqueueError('ERR_WQ_INVALID_ARG', 'internal: no thread to assign to');
    }
    this.next = null;
    thread.assign(worker, work, this.nextCost);
    if (this.watchTimer === null && config.watchdogThreshS > 0) this.armWatch();
  };

  private armWatch(): void {
    this.watchTimer = setInterval(this.watch, Math.max(50, config.watchdogThreshS * 500));
    this.watchTimer.unref();
  }

  /** Reports threads stuck in one synchronous segment for watchdogThreshS; stops when nothing is in flight. */
  private readonly watch = (): void => {
    let busy = false;
    for (const thread of this.threads) {
      if (thread.inflight === 0) continue;
      busy = true;
      const ms = thread.runningForMs();
      if (ms < config.watchdogThreshS * 1000 || this.reported.get(thread) === thread.since[0]) continue;
      this.reported.set(thread, thread.since[0]);
      const stuckS = Math.floor(ms / 1000);
      const where = this.options.role.kind === 'cpu' ? `cpus=${this.options.role.cpu}` : 'cpus=unbound';
      const inFlight = thread.startedFuncs().join(', ');
      if (chStall.hasSubscribers) chStall.publish({ stuckS, inFlight, threadId: thread.threadId });
      process.stderr.write(
        `BUG: workqueue lockup - pool ${where} thread ${thread.threadId} stuck for ${stuckS}s!\n  in-flight: ${inFlight}\n${watchdogHooks.stateText()}`,
      );
    }
    if (!busy && this.watchTimer !== null) {
      clearInterval(this.watchTimer);
      this.watchTimer = null;
    }
  };

  /**
   * The thread to take an item of cost ms: an idle one, else the least loaded of those that are not in a long
   * synchronous segment and would hold at most QUEUE_MS with it.
   */
  private pick(cost: number): Thread | null {
    let best: Thread | null = null;
    let bestQueued = 0;
    for (const thread of this.threads) {
      if (!thread.online || thread.room === 0) continue;
      const queued = thread.inflight > 0 ? thread.queuedMs : 0;
      // Its queue would hold more than QUEUE_MS (one item always fits an empty queue), or it is busy running.
      if (thread.inflight > 0 && ((queued > 0 && queued + cost > QUEUE_MS) || this.busyRunning(thread))) continue;
      if (best === null || queued < bestQueued || (queued === bestQueued && thread.inflight < best.inflight)) {
        best = thread;
        bestQueued = queued;
      }
    }
    return best;
  }

  /**
   * Whether thread is busy running: in a synchronous segment that will not end soon. By its function's measured
   * cost when there is one: busy unless the segment is predicted to end within QUEUE_MS (then the next item may
   * wait behind it, so that a run of CPU-bound items leaves the thread no gap); a segment that outlasts its cost by
   * RUN_LONG_MS is busy. A function never measured yet is busy from its first instant: it may be a hog.
   */
  private busyRunning(thread: Thread): boolean {
    const ms = thread.runningForMs();
    if (ms < 0) return false;
    const cost = this.costs[thread.runningFunc()];
    if (cost === undefined) return true;
    if (ms > cost) return ms - cost > RUN_LONG_MS;
    return cost - ms > QUEUE_MS;
  }

  /** Milliseconds until a running thread's segment is predicted to end within QUEUE_MS (Infinity: none is). */
  private untilPrefetch(): number {
    let soonest = Infinity;
    for (const thread of this.threads) {
      const ms = thread.runningForMs();
      const cost = ms > 0 ? this.costs[thread.runningFunc()] : undefined;
      if (cost !== undefined && ms < cost && thread.queuedMs === 0) soonest = Math.min(soonest, cost - QUEUE_MS - ms);
    }
    return soonest;
  }

  /** Work waits and no thread can take it: start the first thread at once; re-check until one can. */
  private blocked(): void {
    if (this.blockedSince < 0) this.blockedSince = Date.now();
    if (this.threads.length === 0 && this.starting === 0) this.manage();
    if (this.recheckTimer === null) {
      this.recheckMs = RUN_LONG_MS;
      this.recheckTimer = setTimeout(this.recheck, this.recheckMs);
    }
  }

  /** Something changed (a thread came up): look again shortly, the back-off starting over. */
  private recheckSoon(): void {
    if (this.recheckTimer === null) return;
    clearTimeout(this.recheckTimer);
    this.recheckMs = RUN_LONG_MS;
    this.recheckTimer = setTimeout(this.recheck, RUN_LONG_MS + 1);
  }

  private readonly recheck = (): void => {
    this.recheckTimer = null;
    if (this.freed || !this.hasWaitingWork()) {
      this.blockedSince = -1;
      return;
    }
    if (this.canTakeQuietly()) {
      this.blockedSince = -1;
      this.kickClients();
      return;
    }
    this.manage();
    const now = Date.now();
    const stuckFor = now - this.blockedSince;
    if (stuckFor >= MAYDAY_INITIAL_TIMEOUT_MS && now - this.lastMayday >= MAYDAY_INTERVAL_MS && this.cannotGrow()) {
      this.lastMayday = now;
      this.mayday();
    }
    this.recheckMs = Math.min(this.recheckMs * 2, MAX_RECHECK_MS);
    let delay = this.recheckMs;
    if (stuckFor < MAYDAY_INITIAL_TIMEOUT_MS) delay = Math.min(delay, MAYDAY_INITIAL_TIMEOUT_MS - stuckFor);
    this.recheckTimer = setTimeout(this.recheck, Math.max(1, Math.min(delay, this.untilPrefetch())));
  };

  private canTakeQuietly(): boolean {
    for (const pool of this.clients) {
      const head = pool.worklist.peek();
      if (head !== null && moduleRef(head.func) !== null && this.pick(this.costOf(head)) !== null) return true;
    }
    return this.backlog.length > 0 && this.pick(QUEUE_MS) !== null;
  }

  private hasWaitingWork(): boolean {
    if (this.backlog.length > 0) return true;
    for (const pool of this.clients) {
      const head = pool.worklist.peek();
      if (head !== null && moduleRef(head.func) !== null) return true;
    }
    return false;
  }

  /** Whether the pool can get no thread for its work: the last start failed, or it is at maxWorkers, all busy. */
  private cannotGrow(): boolean {
    if (Date.now() < this.coolDownUntil) return true;
    return this.threads.length >= this.options.maxWorkers && this.starting === 0;
  }

  /**
   * The manager: one more thread if every thread is busy running (or there is none) and the limit allows. Busy
   * running, for growing the pool, is a segment longer than the CPU-intensive threshold (10 ms by default): a GC
   * pause or a compile in a thread of tiny items does not make the pool grow (on 2 cores, a second thread there
   * only competes with the owner, which dispatches), while a hog does.
   */
  private manage(): void {
    if (this.starting > 0 || this.threads.length >= this.options.maxWorkers || Date.now() < this.coolDownUntil) return;
    const hogMs = config.cpuIntensiveThreshMs > 0 ? config.cpuIntensiveThreshMs : GROW_AFTER_MS;
    for (const thread of this.threads) if (!thread.online || !thread.runningLongerThan(hogMs)) return;
    this.startThread();
  }

  private startThread(): void {
    const thread = new Thread(this, this.options.role, this.nextIndex++, this.options.resourceLimits);
    this.threads.push(thread);
    this.starting++;
    try {
      thread.start();
    } catch (error) {
      this.starting--;
      this.threads.splice(this.threads.indexOf(thread), 1);
      this.startFailed(error);
    }
  }

  /**
   * A thread could not start: no other start for CREATE_COOLDOWN_MS, and say why. The MAX_FAILED_STARTS-th
   * failure in a row with no thread online gives up: what waits for a thread without a rescuer fails.
   */
  private startFailed(error: unknown): void {
    this.coolDownUntil = Date.now() + CREATE_COOLDOWN_MS;
    const pool = this.options.role.namePrefix.replace(/:$/, '');
    const why = errorMessage(error);
    warn(`workqueue: failed to start a thread for ${pool}: ${why}`);
    if (++this.failedStarts < MAX_FAILED_STARTS || this.threads.some((t) => t.online)) return;
    this.startError = new WorkqueueError(
      'ERR_WQ_THREAD_START',
      `workqueue: no thread for ${pool}: ${this.failedStarts} starts in a row failed (last: ${why}); ` +
        'module works without a rescuer (WQ_MEM_RECLAIM) fail until a thread starts',
      { cause: error },
    );
    this.failBacklog();
    this.kickClients();
  }

  /** Fails the items a dead thread had not started whose workqueue has no rescuer (the pool gave up). */
  private failBacklog(): void {
    const error = this.startError!;
    for (let i = 0; i < this.backlog.length; i++) {
      const { worker } = this.backlog[i];
      if (worker.currentPwq!.wq.rescuer !== null) continue; // the pwq it runs on, not its _pwq (see mayday())
      this.backlog.splice(i--, 1);
      remoteWorkDone(worker, S_FAILED, 0, error);
    }
  }

  /** Calls the rescuers of the workqueues whose module works wait here (the kernel's send_mayday). */
  private mayday(): void {
    for (let i = 0; i < this.backlog.length; i++) {
      const { worker, payload } = this.backlog[i];
      const work = worker.current!;
      const rescuer = worker.currentPwq!.wq.rescuer;
      if (rescuer === null) continue;
      const pwq = worker.currentPwq!; // not work._pwq: the running work may be queued or armed again meanwhile
      pwq.stats.mayday++;
      if (chMayday.hasSubscribers) chMayday.publish(workEvent(work, pwq, -1));
      if (rescuer.adopt(worker, payload)) this.backlog.splice(i--, 1);
    }
    for (const pool of this.clients) {
      const byRescuer = new Map<Rescuer, Work<any>[]>();
      for (const work of pool.worklist) {
        if (work._worker !== null || moduleRef(work.func) === null) continue;
        const rescuer = rescuerOf(work);
        if (rescuer === null) continue;
        let works = byRescuer.get(rescuer);
        if (works === undefined) byRescuer.set(rescuer, (works = []));
        works.push(work);
      }
      for (const [rescuer, works] of byRescuer) {
        const pwq = works[0]._pwq!;
        pwq.stats.mayday++;
        if (chMayday.hasSubscribers) chMayday.publish(workEvent(works[0], pwq, -1));
        rescuer.rescue(pool, works);
      }
    }
  }

  /** Makes the owner's run loop look at this pool's worklists again. */
  private kickClients(): void {
    for (const pool of this.clients) if (pool.worklist.length > 0) pool.loop.kick(pool);
  }

  online(thread: Thread): void {
    this.starting--;
    this.failedStarts = 0;
    this.startError = null;
    this.recheckSoon();
    this.flushBacklog();
    this.kickClients();
    if (this.freed) void thread.terminate();
  }

  done(thread: Thread, worker: Worker, status: number, cpuMs: number, value: unknown): void {
    // 0: no measurement (the item's thread died before reporting it).
    if (cpuMs > 0) {
      const id = moduleRef(worker.current!.func)!.id;
      const cost = this.costs[id];
      this.costs[id] = cost === undefined ? cpuMs : cost + (cpuMs - cost) / 8;
    }
    remoteWorkDone(worker, status, cpuMs, value);
    if (thread.inflight === 0) this.armIdleTimer();
    if (this.backlog.length > 0) this.flushBacklog();
    this.kickClients();
  }

  exited(thread: Thread, unstarted: { worker: Worker; payload: Payload }[], error: unknown): void {
    const index = this.threads.indexOf(thread);
    if (index >= 0) this.threads.splice(index, 1);
    if (this.next === thread) this.next = null;
    if (!thread.wasOnline) {
      this.starting--;
      if (!this.freed) this.startFailed(error);
    }
    this.backlog.push(...unstarted);
    if (this.freed) return;
    // A dead thread is replaced when work waits for it (at most one start at a time, as the manager).
    if (this.backlog.length > 0 || this.hasWaitingWork()) {
      if (this.starting === 0 && this.threads.length < this.options.maxWorkers && Date.now() >= this.coolDownUntil)
        this.startThread();
      this.flushBacklog();
      this.kickClients();
    }
  }

  private flushBacklog(): void {
    while (this.backlog.length > 0) {
      const thread = this.pick(QUEUE_MS) ?? this.threads.find((t) => t.online && t.room > 0) ?? null;
      if (thread === null) {
        if (this.threads.length === 0 && this.starting === 0 && Date.now() >= this.coolDownUntil) this.startThread();
        if (this.startError !== null && this.starting === 0) this.failBacklog();
        if (this.backlog.length > 0) this.blocked();
        return;
      }
      const { worker, payload } = this.backlog.shift()!;
      thread.assign(worker, worker.current!, QUEUE_MS, payload);
    }
  }

  private armIdleTimer(): void {
    if (this.idleTimer !== null || !Number.isFinite(this.options.idleTimeoutMs)) return;
    this.idleTimer = setTimeout(this.retireIdle, this.options.idleTimeoutMs);
    this.idleTimer.unref();
  }

  /** Threads idle for idleTimeoutMs retire (they never keep the process alive meanwhile: idle ones are unref'd). */
  private readonly retireIdle = (): void => {
    this.idleTimer = null;
    const now = Date.now();
    for (const thread of [...this.threads]) {
      if (thread.online && thread.inflight === 0 && now - thread.idleSince >= this.options.idleTimeoutMs) {
        this.threads.splice(this.threads.indexOf(thread), 1);
        if (this.next === thread) this.next = null;
        void thread.terminate();
      }
    }
    if (this.threads.some((t) => t.inflight === 0)) this.armIdleTimer();
  };

  /** The pool is freed: its threads end (they are idle: a pool is freed only when it has nothing left). */
  free(): Promise<void> {
    this.freed = true;
    if (this.recheckTimer !== null) clearTimeout(this.recheckTimer);
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    if (this.watchTimer !== null) clearInterval(this.watchTimer);
    const ended = Promise.all(this.threads.map((thread) => thread.terminate()));
    this.threads.length = 0;
    return ended.then(() => undefined);
  }

  /** Thread ids, for dumps. */
  threadIds(): number[] {
    return this.threads.filter((t) => t.threadId !== -1).map((t) => t.threadId);
  }
}
