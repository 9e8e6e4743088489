/**
 * BullMQ (on Redis) as a contender beside cmwq's shared workqueue: the adapter that bench/tasks/shared-node.ts
 * loads when bench/bullmq.ts forks it as `bullmq`. The `url` it is given is the benchmark's own redis-server
 * (`redis://127.0.0.1:<port>`), flushed before and after every run, so no run sees another's keys.
 *
 * BullMQ's documented settings for speed are used: jobs are queued in batches with `Queue.addBulk` (one MULTI of
 * Lua calls), finished jobs are removed at once (`removeOnComplete` / `removeOnFail`: Redis keeps no completed
 * set to grow), and each worker process runs one `Worker` with `concurrency` 24 (graphile-worker's and cmwq's
 * per-process limit in the shared scenario). A worker's blocking connection waits on the queue's marker
 * (BZPOPMIN), so a job added to an empty queue is fetched without polling. Worker connections set
 * `maxRetriesPerRequest: null`, as BullMQ requires of them.
 *
 * Keyed runs use `deduplication: { id, keepLastIfActive: true }`: while a job with that id waits, a queueing
 * adds nothing; while it is active, the last queueing is kept and becomes one new job once the active one ends.
 * BullMQ documents that as at most 2 jobs per id (1 active, 1 waiting) and no parallel runs of one id, which is
 * the guarantee of cmwq's pending bit. (A fixed `jobId` would instead drop a queueing made while the job runs.)
 */
import { type ConnectionOptions, Queue, Worker } from 'bullmq';
import type { JobData, RunMode, SharedContender } from './shared-protocol.js';

const QUEUE = 'bench';
const CONCURRENCY = 24;

/** BullMQ's connection options for the benchmark's redis-server at `url`. */
function connectionOf(url: string, worker: boolean): ConnectionOptions {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port), ...(worker ? { maxRetriesPerRequest: null } : {}) };
}

/** BullMQ's adapter: a Queue in the producer, a Worker in each worker process. */
export function bullmqContender(): SharedContender {
  let queue: Queue<JobData> | undefined;
  let worker: Worker<JobData> | undefined;
  let keyed = false;
  const optsOf = (job: JobData) =>
    keyed
      ? { removeOnComplete: true, removeOnFail: true, deduplication: { id: `k${job.k}`, keepLastIfActive: true } }
      : { removeOnComplete: true, removeOnFail: true };

  return {
    async setup(url: string, mode: RunMode) {
      keyed = mode.keyed;
      queue = new Queue<JobData>(QUEUE, { connection: connectionOf(url, false) });
      queue.on('error', (error) => console.error('bullmq queue:', error));
      await queue.waitUntilReady();
    },
    async queueBatch(jobs: readonly JobData[]) {
      await queue!.addBulk(jobs.map((data) => ({ name: 'j', data, opts: optsOf(data) })));
    },
    async queueOne(job: JobData) {
      await queue!.add('j', job, optsOf(job));
    },
    async startWorker(url: string, mode: RunMode, onRun: (job: JobData) => void) {
      const ms = mode.handlerMs;
      worker = new Worker<JobData>(
        QUEUE,
        async (job) => {
          onRun(job.data);
          if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
        },
        {
          connection: connectionOf(url, true),
          concurrency: CONCURRENCY,
          removeOnComplete: { count: 0 },
          removeOnFail: { count: 0 },
        },
      );
      worker.on('error', (error) => console.error('bullmq worker:', error));
      await worker.waitUntilReady();
    },
    async close() {
      await worker?.close();
      await queue?.close();
    },
  };
}
