/**
 * pg-boss as a contender of the shared-workqueue benchmark. pg-boss 10 is the newest line that runs on Node 20
 * (11 and 12 need Node 22). It has no LISTEN/NOTIFY: each `work()` loop fetches up to `batchSize` jobs in one
 * query, runs the handler on the batch, completes the batch in one more, then waits out the rest of its polling
 * interval. Its documented batch settings used here: `batchSize` 1,000 and the smallest polling interval it
 * accepts (`pollingIntervalSeconds: 0.5`); the handler runs the batch's jobs concurrently. The producer queues a
 * batch with one `insert()` (one statement) and a single job with `send()`.
 *
 * Keyed runs use a 'stately' queue and `singletonKey`: pg-boss's de-duplication. Per key, at most one job waits
 * (created or retry) and at most one is active; a queueing that would make a second waiting job is dropped
 * (ON CONFLICT DO NOTHING). Completed jobs stay in the job table until maintenance archives them (after 12 hours
 * by default), then in the archive table until deleted (after 7 days).
 */
import PgBoss from 'pg-boss';
import type { JobData, RunMode, SharedContender } from './shared-protocol.js';

const SCHEMA = 'pgboss';
const QUEUE = 'bench';
const BATCH = 1000;
const POLL_S = 0.5;

/** pg-boss's adapter: one PgBoss instance per process; the producer creates the queue. */
export function pgBossContender(): SharedContender {
  let boss: PgBoss | undefined;
  let keyed = false;

  async function open(url: string): Promise<PgBoss> {
    const b = new PgBoss({ connectionString: url, schema: SCHEMA });
    b.on('error', (error) => console.error('pg-boss:', error));
    await b.start();
    return b;
  }
  const insertOf = (job: JobData) =>
    keyed ? { name: QUEUE, data: job, singletonKey: `k${job.k}` } : { name: QUEUE, data: job };

  return {
    async setup(url: string, mode: RunMode) {
      keyed = mode.keyed;
      boss = await open(url);
      await boss.createQueue(QUEUE, { name: QUEUE, policy: mode.keyed ? 'stately' : 'standard' });
    },
    async queueBatch(jobs: readonly JobData[]) {
      await boss!.insert(jobs.map(insertOf));
    },
    async queueOne(job: JobData) {
      await boss!.send(QUEUE, job, keyed ? { singletonKey: `k${job.k}` } : {});
    },
    async startWorker(url: string, mode: RunMode, onRun: (job: JobData) => void) {
      boss = await open(url);
      const ms = mode.handlerMs;
      await boss.work<JobData>(QUEUE, { batchSize: BATCH, pollingIntervalSeconds: POLL_S }, async (jobs) => {
        for (const job of jobs) onRun(job.data);
        if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
      });
    },
    async close() {
      await boss?.stop({ graceful: true, wait: true, timeout: 5000 });
    },
  };
}
