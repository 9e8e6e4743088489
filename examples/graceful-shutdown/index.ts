/**
 * graceful-shutdown: on SIGINT/SIGTERM, let the work in flight finish, start nothing new, and exit 0.
 *
 * The kernel has the same problem at system suspend: work must stop at a clean point, and nothing may be lost.
 * Workqueues that take part are created WQ_FREEZABLE; the freezer then sets their max_active to 0, so items
 * already running finish while items still queued stay queued (inactive) until the system thaws.
 *
 * A server can shut down the same way:
 *
 *   1. freezeWorkqueues()   no new activations on WQ_FREEZABLE workqueues; resolves once the work that was in
 *                           flight has finished. Queueing still succeeds meanwhile: nothing is dropped.
 *   2. whatever is still pending never started: take it back with cancelWork() (a real server would save it
 *      and queue it again on the next start);
 *   3. destroyWorkqueue()   drains the workqueue (it is empty by now) and releases it;
 *   4. exit 0, by itself: with nothing queued and no delayed work armed, cmwq holds nothing that keeps the
 *      process alive.
 *
 * The program is an upload service: a producer queues an upload job every PRODUCE_MS, on a freezable workqueue
 * that runs two at a time. A signal arrives mid-stream. With --short (and otherwise after a few seconds, if you
 * did not press Ctrl-C) the program sends itself SIGTERM.
 *
 * Run: npm run build && node dist/examples/graceful-shutdown/index.js [--short]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  allocWorkqueue,
  cancelWork,
  destroyWorkqueue,
  freezeWorkqueues,
  queueWork,
  thawWorkqueues,
  Work,
  workPending,
  WQ_FREEZABLE,
} from 'cmwq';
import { createLog, ms, SHORT } from '../shared.js';

const log = createLog(9); // who-column width

const PRODUCE_MS = ms(100);
const UPLOAD_MS = ms(300);
/** When the program signals itself: soon in --short mode, after a few seconds otherwise. */
const SELF_SIGNAL_MS = SHORT ? ms(650) : 1500;

interface Upload {
  id: number;
  state: 'queued' | 'running' | 'done' | 'never started';
  work: Work<Upload>;
}

// WQ_FREEZABLE: this workqueue takes part in freezing. At most two uploads run at once.
const uploadWq = allocWorkqueue('uploads', WQ_FREEZABLE, 2);
const uploads: Upload[] = [];

/** An upload: sleeps for UPLOAD_MS, as if waiting for the network. */
async function uploadFn(work: Work<Upload>): Promise<void> {
  const job = work.data;
  job.state = 'running';
  log(`upload ${job.id}`, 'starts');
  await sleep(UPLOAD_MS);
  job.state = 'done';
  log(`upload ${job.id}`, 'finished');
}

function submit(who = 'producer'): void {
  const job = { id: uploads.length + 1, state: 'queued' } as Upload;
  job.work = new Work(uploadFn, job);
  uploads.push(job);
  queueWork(uploadWq, job.work);
  log(who, `queued upload ${job.id}`);
}

// The producer: one upload every PRODUCE_MS, until shutdown.
const producer = setInterval(() => submit(), PRODUCE_MS);

let shuttingDown = false;

async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (shuttingDown) {
    log('shutdown', `second ${signal}: giving up on a clean exit`);
    process.exit(1);
  }
  shuttingDown = true;
  log('shutdown', `${signal} received`);
  clearInterval(producer); // no more uploads from the producer

  // 1. Freeze: nothing more is activated. What is in flight finishes: the uploads running now, and one that was
  // activated an instant ago but has not reached its handler yet (it starts after the signal, as in the kernel,
  // where an item already on a pool's worklist still runs). What waits inactive stays queued.
  const frozen = freezeWorkqueues();
  const running = uploads.filter((u) => u.state === 'running').map((u) => u.id);
  log('shutdown', `freezing: waiting for upload(s) ${running.join(', ') || '-'} in flight`);

  // A request that arrives during the freeze is still accepted (nothing is dropped); it just will not start.
  submit('late req');

  await frozen;
  // 2. Whatever is still pending never started, and will not while frozen. Take it back from the workqueue.
  const waiting = uploads.filter((u) => workPending(u.work)).map((u) => u.id);
  log('shutdown', `frozen: everything that was in flight has finished; ${waiting.join(', ') || 'none'} did not start`);
  for (const job of uploads) {
    if (workPending(job.work) && cancelWork(job.work)) job.state = 'never started';
  }

  // 3. Destroy the workqueue: nothing is left in it, so the drain is immediate.
  await destroyWorkqueue(uploadWq);
  thawWorkqueues(); // leave the freezer as it was (it is process-wide)
  log('shutdown', 'workqueue "uploads" destroyed');

  const done = uploads.filter((u) => u.state === 'done').map((u) => u.id);
  const never = uploads.filter((u) => u.state === 'never started').map((u) => u.id);
  log('summary', `finished: ${done.join(', ') || '-'}`);
  log('summary', `never started (saved for the next run): ${never.join(', ') || '-'}`);
  log('summary', `every upload accounted for: ${done.length + never.length === uploads.length}`);

  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  clearTimeout(selfSignal);
  process.exitCode = 0;
  // No process.exit(): with no work queued and no timers left, the process ends on its own.
}

const onSignal = (signal: NodeJS.Signals): void => void shutdown(signal);
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
process.on('exit', (code) => log('process', `exits by itself with code ${code}`));

log('main', `upload service started (pid ${process.pid}); press Ctrl-C to stop it`);
// Play the part of the operator: send SIGTERM to ourselves after SELF_SIGNAL_MS.
const selfSignal = setTimeout(() => {
  log('main', 'sending SIGTERM to itself');
  process.kill(process.pid, 'SIGTERM');
}, SELF_SIGNAL_MS);
