/**
 * What the shared-workqueue benchmark (bench/shared.ts) and its child processes (bench/tasks/shared-node.ts) say to
 * each other, and the one interface every contender (cmwq's shared workqueue, graphile-worker, pg-boss) implements
 * in those children.
 *
 * Each contender runs in processes of its own: one producer and two workers, forked per measured run, each
 * loading only its own contender's library. The parent never loads a contender; it only creates and drops the
 * contender's database, sends commands over the IPC channel and reads the figures the children send back.
 *
 * Invariants: a worker counts a run when its handler starts (the job's `t`, when set, is the producer's clock
 * just before the queue call, so `start - t` is the queue-to-start latency; both clocks are
 * `performance.timeOrigin + performance.now()` on the same machine). Workers report progress themselves, at most
 * every PROGRESS_MS, so that no per-job message crosses the channel.
 */

/** The payload of every benchmark job: JSON. */
export interface JobData {
  /** The key index (0..keys-1) for keyed runs; -1 for unkeyed jobs. */
  k: number;
  /** Epoch milliseconds (fractional) just before the queue call, for latency runs; 0 otherwise. */
  t: number;
}

/** How a contender's queue is set up for one run. */
export interface RunMode {
  /**
   * Keyed runs (coalescing and table size) name each job by its key: cmwq's `{ key }`, graphile-worker's `jobKey`,
   * pg-boss's `singletonKey` on a 'stately' queue. Unkeyed runs (throughput, latency) make every job unique.
   */
  keyed: boolean;
  /** Milliseconds each handler awaits before it returns (0: returns at once). */
  handlerMs: number;
}

/** One contender, as its producer and worker processes drive it. Each method is called in one process only. */
export interface SharedContender {
  /** Producer: creates or migrates the contender's schema and queues (before any worker starts). */
  setup(url: string, mode: RunMode): Promise<void>;
  /** Producer: queues the jobs as one batch (one call or round trip where the library has one). */
  queueBatch(jobs: readonly JobData[]): Promise<void>;
  /** Producer: queues one job on its own (the latency run). */
  queueOne(job: JobData): Promise<void>;
  /** Worker: starts running jobs; `onRun` is called as each handler starts. Resolves once it is claiming. */
  startWorker(url: string, mode: RunMode, onRun: (job: JobData) => void): Promise<void>;
  /** Either side: stops and closes every connection. */
  close(): Promise<void>;
}

/** The contenders' names, as the child's argv and the printed tables use them. */
export const CONTENDERS = ['cmwq', 'graphile-worker', 'pg-boss'] as const;
export type ContenderName = (typeof CONTENDERS)[number];
/** Every contender a child process can load: the PostgreSQL ones, and BullMQ (bench/bullmq.ts, on Redis). */
export type NodeContender = ContenderName | 'bullmq';

/** Loads a contender's adapter (only that contender's library gets imported). */
export async function loadContender(name: NodeContender): Promise<SharedContender> {
  switch (name) {
    case 'bullmq':
      return (await import('./shared-bullmq.js')).bullmqContender();
    case 'cmwq':
      return (await import('./shared-cmwq.js')).cmwqContender();
    case 'graphile-worker':
      return (await import('./shared-graphile.js')).graphileContender();
    case 'pg-boss':
      return (await import('./shared-pgboss.js')).pgBossContender();
  }
}

/** Epoch milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** How often a worker reports its count of runs while it is running jobs. */
export const PROGRESS_MS = 5;

/** Parent -> child. */
export type Command =
  | { op: 'setup'; url: string; mode: RunMode }
  | { op: 'start'; url: string; mode: RunMode }
  /** Producer: `n` unkeyed jobs, or `n` queueings of keys i % keys, in batches of `batch`. */
  | { op: 'burst'; n: number; batch: number; keys: number }
  /** Producer: `n` single queueings at `rate` per second, each stamped with its queue time. */
  | { op: 'steady'; n: number; rate: number }
  /** Worker: send every latency sample taken so far (and forget them). */
  | { op: 'latencies' }
  | { op: 'stop' };

/** Child -> parent. */
export type Reply =
  | { op: 'ready' }
  /**
   * Producer: a burst or steady run is queued; `t0`/`t1` epoch ms around it; `calls`: how long each queue call
   * took until its promise settled, ms (steady runs only).
   */
  | { op: 'queued'; t0: number; t1: number; calls: number[] }
  /** Worker: runs so far, and the epoch ms of the latest run's start. */
  | { op: 'progress'; runs: number; lastAt: number }
  | { op: 'latencies'; values: number[] }
  | { op: 'error'; message: string };
