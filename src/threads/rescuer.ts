/**
 * Rescuers: the thread a WQ_MEM_RECLAIM workqueue reserves at allocation (kworker/R-<name>), so that its work
 * makes progress when its pool cannot get a thread: the start failed, or the pool is at maxWorkers with every
 * thread busy running. The pool's manager calls for it (mayday, thread-pool.ts) once work has waited
 * MAYDAY_INITIAL_TIMEOUT_MS; the rescuer takes that workqueue's waiting module works off the pool's worklist and
 * runs them on its own thread, counted in the pwq's mayday and rescued. Like the kernel's, it is idle otherwise,
 * and an idle thread never keeps the process alive.
 */
import { chRescued, warn, workEvent } from '../core/tracepoints.js';
import { errorMessage, WorkqueueError } from '../base/errors.js';
import { localCpu } from '../base/init.js';
import type { Payload } from '../core/payload.js';
import { type Rescuer as RescuerHandle, S_FAILED } from '../core/executor.js';
import { Thread, type ThreadOwner } from './thread.js';
import type { Work } from '../core/work.js';
import { remoteWorkDone, type Worker } from '../core/worker.js';
import type { WorkerPool } from '../core/worker-pool.js';

export class Rescuer implements ThreadOwner, RescuerHandle {
  private thread: Thread | null = null;
  private stopped = false;

  constructor(readonly wqName: string) {
    this.startThread();
  }

  get name(): string {
    return `kworker/R-${this.wqName}`;
  }

  /** The rescuer thread's id, or -1 while it has none. */
  get threadId(): number {
    return this.thread?.threadId ?? -1;
  }

  private startThread(): boolean {
    const thread = new Thread(this, { kind: 'rescuer', cpu: localCpu, namePrefix: this.name }, 0);
    try {
      thread.start();
    } catch (error) {
      warn(`workqueue: failed to start rescuer ${this.name}: ${errorMessage(error)}`);
      return false;
    }
    this.thread = thread;
    return true;
  }

  /** Runs works (waiting on pool's worklist, all of this rescuer's workqueue) on the rescuer thread. */
  rescue(pool: WorkerPool, works: Work<any>[]): void {
    if (this.stopped || (this.thread === null && !this.startThread())) return;
    const thread = this.thread!;
    for (const work of works) {
      if (thread.room === 0) break;
      const pwq = work._pwq!;
      pool.runOutOfTurn(work, this.assign);
      pwq.stats.rescued++;
      if (chRescued.hasSubscribers) chRescued.publish(workEvent(work, pwq, -1));
    }
  }

  adopt(worker: Worker, payload: Payload): boolean {
    if (this.stopped || (this.thread === null && !this.startThread()) || this.thread!.room === 0) return false;
    const work = worker.current!;
    this.thread!.assign(worker, work, 0, payload);
    const pwq = worker.currentPwq!; // not work._pwq: the running work may be queued or armed again meanwhile
    pwq.stats.rescued++;
    if (chRescued.hasSubscribers) chRescued.publish(workEvent(work, pwq, -1));
    return true;
  }

  private readonly assign = (worker: Worker, work: Work<any>): void => {
    this.thread!.assign(worker, work, 0);
  };

  online(): void {}

  done(_thread: Thread, worker: Worker, status: number, cpuMs: number, value: unknown): void {
    remoteWorkDone(worker, status, cpuMs, value);
  }

  exited(thread: Thread, unstarted: { worker: Worker; payload: Payload }[], error: unknown): void {
    if (this.thread === thread) this.thread = null;
    if (this.stopped) return;
    // A new rescuer for the next emergency; what the old one had not started goes to it.
    if (!this.startThread()) {
      for (const { worker } of unstarted)
        remoteWorkDone(
          worker,
          S_FAILED,
          0,
          new WorkqueueError('ERR_WQ_WORKER_EXITED', `rescuer ${this.name} exited`, { cause: error }),
        );
      return;
    }
    for (const { worker, payload } of unstarted) this.thread!.assign(worker, worker.current!, 0, payload);
  }

  /** The workqueue is destroyed (and drained): the rescuer thread ends. */
  stop(): Promise<void> {
    this.stopped = true;
    return this.thread?.terminate() ?? Promise.resolve();
  }
}
