/**
 * Executors: the seam between a worker pool and the threads its module works run on.
 *
 * The core runs every item on its own loop, except a module work of a pool that has an executor behind it (an
 * unbound pool, or another CPU's pool): the pool asks the executor whether a thread can take the item now
 * (`canTake`), and hands it over (`assign`); for the loop the item's worker then sleeps until the executor calls
 * `remoteWorkDone` (worker.ts) with the item's status bits below. The core never imports the threads layer:
 * threads/ implements these interfaces and installs its factory in `executors`, from the public entry (index.ts).
 * Without a factory (the core on a thread cmwq started) pools have no executor and run everything here.
 */
import type { ThreadRole } from '../base/init.js';
import type { Payload } from './payload.js';
import type { Work } from './work.js';
import type { Worker } from './worker.js';
import type { WorkerPool } from './worker-pool.js';

/** Status bits of a remote item's outcome. */
/** The handler threw or rejected (the value is the error). */
export const S_FAILED = 1;
/** A synchronous segment of it ran longer than cpuIntensiveThreshMs. */
export const S_HOG = 2;
/** It slept while other items waited on its thread: a concurrency-management wake-up there. */
export const S_CMW = 4;

/** What a worker pool needs of the threads behind it. */
export interface Executor {
  /** The worker pools whose module works run here. */
  readonly clients: WorkerPool[];
  /** Whether a thread can take work now (it is the head of a client's worklist). */
  canTake(work: Work<any>): boolean;
  /** Sends worker's item to the thread canTake() chose. */
  readonly assign: (worker: Worker, work: Work<any>) => void;
  /** The ids of the threads running now. */
  threadIds(): number[];
  /** Ends the threads; resolves once they have exited. */
  free(): Promise<void>;
}

/** The thread running a remote item, as a canceller sees it. */
export interface RemoteThread {
  /** The thread's id (worker_threads threadId). */
  readonly threadId: number;
  /** Aborts the signal of the item in slot. */
  abort(slot: number): void;
}

/** A WQ_MEM_RECLAIM workqueue's rescuer, as the core sees it. */
export interface Rescuer {
  /** Its worker name, kworker/R-<workqueue>. */
  readonly name: string;
  /** Its thread's id, -1 until the thread is up. */
  readonly threadId: number;
  /** Runs works, waiting on pool's worklist, on the rescuer thread. */
  rescue(pool: WorkerPool, works: Work<any>[]): void;
  /** Runs an item already started here whose thread died before it began. */
  adopt(worker: Worker, payload: Payload): boolean;
  /** Ends the rescuer's thread; resolves once it has exited. */
  stop(): Promise<void>;
}

/** Options of an executor's threads. */
export interface ExecutorOptions {
  role: ThreadRole;
  maxWorkers: number;
  /** Idle threads retire after this long; Infinity for a CPU's thread. */
  idleTimeoutMs: number;
  resourceLimits?: object;
}

/** Makes executors and rescuers: installed by the threads layer. */
export interface ExecutorFactory {
  executor(options: ExecutorOptions): Executor;
  rescuer(workqueueName: string): Rescuer;
}

/** The installed factory (null: no threads, everything runs on this loop). */
export const executors: { factory: ExecutorFactory | null } = { factory: null };
