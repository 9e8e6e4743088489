/**
 * completion-pipeline: a chain of stages, each a work item that queues the next stage when it is done.
 *
 * Kernel code often builds asynchronous pipelines this way: an I/O completes, its completion callback queues a
 * work item for the next step, that work queues the next one, and so on, each step on the workqueue that suits
 * it. Nobody blocks between steps. Someone who needs the result waits for it with a completion; here the
 * completion is flushWork().
 *
 * Three files go through three stages, each stage on its own workqueue:
 *
 *   read     on "io"      (per-CPU, maxActive 0 = default): awaits simulated disk I/O; many in flight at once;
 *   decode   on "decode"  (WQ_UNBOUND, maxActive 2): synchronous CPU work;
 *   store    on "store"   (ordered): one write at a time, in the order the files were decoded.
 *
 * The reads take different times, so the files leave the pipeline in a different order than they entered it.
 * The main program waits for each file with flushWork() on its stages in turn, and prints the order in which the
 * stages ran.
 *
 * Why flushWork() works as a completion here: flushWork(w) waits for the instance of w that is pending or running
 * when it is called, and resolves false at once if there is none. Each stage queues the next one *before* it
 * returns, so when flushWork(read) resolves, decode has been queued already: it is pending, running, or (if it
 * was quick) finished. In all three cases flushWork(decode) resolves once decode has finished. The same holds for
 * store. (If a stage could be queued again later, you would need a real completion: a promise of your own.)
 *
 * Run: npm run build && node dist/examples/completion-pipeline/index.js [--short]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { allocOrderedWorkqueue, allocWorkqueue, destroyWorkqueue, flushWork, queueWork, Work, WQ_UNBOUND } from 'cmwq';
import { createLog, ms } from '../shared.js';

const log = createLog(10); // who-column width

// One workqueue per kind of stage.
const ioWq = allocWorkqueue('io', 0, 0);
const decodeWq = allocWorkqueue('decode', WQ_UNBOUND, 2);
const storeWq = allocOrderedWorkqueue('store');

/** A file travelling through the pipeline, with one work item per stage (each work's data is the job). */
interface Job {
  name: string;
  readMs: number;
  raw?: string;
  words?: number;
  read: Work<Job>;
  decode: Work<Job>;
  store: Work<Job>;
}

/** The order in which stages started, as "file:stage". */
const trace: string[] = [];

/** Stage 1: read the file (I/O: the handler sleeps). When done, hand the file to the decode stage. */
async function readStage(work: Work<Job>): Promise<void> {
  const job = work.data;
  trace.push(`${job.name}:read`);
  log('read', `${job.name}: reading (${job.readMs} ms of I/O)`);
  await sleep(job.readMs);
  job.raw = `contents of ${job.name} `.repeat(1000);
  log('read', `${job.name}: done, queueing decode on "${decodeWq.name}"`);
  queueWork(decodeWq, job.decode); // the completion callback: queue the next stage, then return
}

/** Stage 2: decode (synchronous CPU work). When done, hand the file to the store stage. */
function decodeStage(work: Work<Job>): void {
  const job = work.data;
  trace.push(`${job.name}:decode`);
  job.words = job.raw!.split(/\s+/).filter(Boolean).length;
  log('decode', `${job.name}: ${job.words} words, queueing store on "${storeWq.name}"`);
  queueWork(storeWq, job.store);
}

/** Stage 3: store the result. The ordered workqueue runs one store at a time, in queueing order. */
async function storeStage(work: Work<Job>): Promise<void> {
  const job = work.data;
  trace.push(`${job.name}:store`);
  log('store', `${job.name}: writing the index`);
  await sleep(ms(80)); // long enough that the next file's store has to wait for this one
  log('store', `${job.name}: stored`);
}

function makeJob(name: string, readMs: number): Job {
  const job = { name, readMs } as Job;
  job.read = new Work(readStage, job);
  job.decode = new Work(decodeStage, job);
  job.store = new Work(storeStage, job);
  return job;
}

/** Waits for a job to leave the pipeline: flushWork() on each stage in turn (see the header for why). */
async function waitForJob(job: Job): Promise<void> {
  for (const stage of [job.read, job.decode, job.store]) await flushWork(stage);
}

// ─── main ────────────────────────────────────────────────────────────────────────────────────────────────────────

const jobs = [makeJob('a.txt', ms(300)), makeJob('b.txt', ms(100)), makeJob('c.txt', ms(130))];
const finished: string[] = [];

for (const job of jobs) {
  queueWork(ioWq, job.read);
  log('main', `${job.name}: queued on "${ioWq.name}"`);
}

await Promise.all(
  jobs.map(async (job) => {
    await waitForJob(job);
    finished.push(job.name);
    log('main', `completion: ${job.name} went through read -> decode -> store (${job.words} words)`);
  }),
);

// Every stage has finished, so the workqueues are empty: destroying them returns at once.
await Promise.all([destroyWorkqueue(ioWq), destroyWorkqueue(decodeWq), destroyWorkqueue(storeWq)]);
log('main', `queued in order:   ${jobs.map((j) => j.name).join(', ')}`);
log('main', `finished in order: ${finished.join(', ')}`);
log('main', `stage order: ${trace.join(' ')}`);
