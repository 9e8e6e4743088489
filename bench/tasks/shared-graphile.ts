/**
 * graphile-worker as a contender of the shared-workqueue benchmark, in the configuration its performance page
 * documents for its quick stats: 24 concurrent jobs per worker instance, a pool of 25 connections, the local
 * queue (batches of up to 500 jobs fetched and locked in one query) and batched job completion
 * (`completeJobBatchDelay: 0`, `failJobBatchDelay: 0`). The producer queues a batch with one `addJobs` call
 * (one `add_jobs` statement) and a single job with `addJob`.
 *
 * Keyed runs set `jobKey`: graphile-worker's de-duplication. A job added with the key of a job that is still
 * waiting replaces it (so at most one waiting job per key); a job added while its key's job is running (locked)
 * becomes a new job, which another worker may start while the first still runs (no non-reentrancy per key
 * unless every key also gets its own `queueName`, which its docs advise against for many distinct values).
 */
import { Logger, makeWorkerUtils, type Runner, run, type WorkerUtils } from 'graphile-worker';
import type { JobData, RunMode, SharedContender } from './shared-protocol.js';

const SCHEMA = 'graphile_worker';
const TASK = 'bench';

/** Only errors are printed, cut to one line (the library logs every start and stop at info level). */
const logger = new Logger(() => (level, message) => {
  if (level === 'error') console.error(`graphile-worker: ${message.replace(/\s+/g, ' ').slice(0, 160)}`);
});

const workerPreset = {
  concurrentJobs: 24,
  maxPoolSize: 25,
  localQueue: { size: 500 },
  completeJobBatchDelay: 0,
  failJobBatchDelay: 0,
};

/** graphile-worker's adapter: one WorkerUtils for the producer, one runner for a worker. */
export function graphileContender(): SharedContender {
  let utils: WorkerUtils | undefined;
  let runner: Runner | undefined;
  let keyed = false;
  const spec = (job: JobData) =>
    keyed ? { identifier: TASK, payload: job, jobKey: `k${job.k}` } : { identifier: TASK, payload: job };

  return {
    async setup(url: string, mode: RunMode) {
      keyed = mode.keyed;
      utils = await makeWorkerUtils({ connectionString: url, schema: SCHEMA, logger });
      await utils.migrate();
    },
    async queueBatch(jobs: readonly JobData[]) {
      await utils!.addJobs(jobs.map(spec));
    },
    async queueOne(job: JobData) {
      const s = spec(job);
      await utils!.addJob(s.identifier, s.payload, s.jobKey === undefined ? {} : { jobKey: s.jobKey });
    },
    async startWorker(url: string, mode: RunMode, onRun: (job: JobData) => void) {
      const ms = mode.handlerMs;
      runner = await run({
        connectionString: url,
        schema: SCHEMA,
        logger,
        noHandleSignals: true,
        preset: { worker: workerPreset },
        taskList: {
          [TASK]: async (payload) => {
            onRun(payload as JobData);
            if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
          },
        },
      });
    },
    async close() {
      await runner?.stop();
      await utils?.release();
    },
  };
}
