/**
 * cmwq's shared workqueue (cmwq/postgres) as a contender of the shared-workqueue benchmark. One shared workqueue,
 * `allocWorkqueue('bench', WQ_UNBOUND, 512, { backend, nodeMaxActive })`: the producer is a producer-only node
 * (`nodeMaxActive: 0`), each worker process a node running up to 24 items at once (graphile-worker's
 * concurrency here). max_active bounds the items claimed cluster-wide, running or in a node's backlog: 512 (the
 * most a workqueue takes) lets the nodes claim a few hundred ahead (as graphile-worker's local queue of 500
 * fetches ahead), while at most 48 handlers run at once. Items are module works (shared-cmwq-job.ts) with JSON data. A batch is one
 * `queueWorks` call (cmwq/postgres's batch queueing: one statement for the batch), a single job one `queueWork`.
 *
 * Keyed runs give each Work its key (`new Work(fn, data, { key })`): the pending bit. Of the queueings of a key
 * that is already pending, none adds a run; one made while it runs adds exactly one run after it, never
 * concurrent with it (the lease).
 */
import { allocWorkqueue, destroyWorkqueue, queueWork, type SharedWorkqueue, Work, WQ_UNBOUND, workFunc } from 'cmwq';
import { type PostgresBackend, postgresBackend, queueWorks } from 'cmwq/postgres';
import { setBenchJob } from './shared-cmwq-job.js';
import type { JobData, RunMode, SharedContender } from './shared-protocol.js';

const QUEUE = 'bench';
const MAX_ACTIVE = 512;
const NODE_MAX_ACTIVE = 24;
const JOB = workFunc(new URL('./shared-cmwq-job.js', import.meta.url), 'benchJob');

/** cmwq's adapter: one backend and one shared workqueue per process (producer-only for the producer). */
export function cmwqContender(): SharedContender {
  let backend: PostgresBackend | undefined;
  let wq: SharedWorkqueue | undefined;
  let keyed = false;
  const workOf = (job: JobData): Work<JobData> =>
    keyed ? new Work(JOB, job, { key: `k${job.k}` }) : new Work(JOB, job);
  async function open(url: string, nodeMaxActive: number): Promise<void> {
    backend = await postgresBackend({ connectionString: url });
    wq = allocWorkqueue(QUEUE, WQ_UNBOUND, MAX_ACTIVE, { backend, nodeMaxActive });
  }

  return {
    async setup(url: string, mode: RunMode) {
      keyed = mode.keyed;
      await open(url, 0);
    },
    async queueBatch(jobs: readonly JobData[]) {
      await queueWorks(wq!, jobs.map(workOf));
    },
    async queueOne(job: JobData) {
      await queueWork(wq!, workOf(job));
    },
    async startWorker(url: string, mode: RunMode, onRun: (job: JobData) => void) {
      setBenchJob(onRun, mode.handlerMs);
      await open(url, NODE_MAX_ACTIVE);
    },
    async close() {
      if (wq !== undefined) await destroyWorkqueue(wq);
      await backend?.close();
    },
  };
}
