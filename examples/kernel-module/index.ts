/**
 * kernel-module: the smallest complete life of a work item, told as a kernel module.
 *
 * A kernel module that defers work has four moves:
 *
 *   1. declare a work item, bound to its function once (DECLARE_WORK / INIT_WORK);
 *   2. at load time ("init"), create a private workqueue (create_workqueue, today alloc_workqueue);
 *   3. queue the work on it (queue_work) whenever there is something to do;
 *   4. at unload time ("exit"), make sure the work is neither queued nor running (cancel_work_sync), then
 *      destroy the workqueue (destroy_workqueue). After that, the module's code may disappear safely.
 *
 * Here the same four moves are made with cmwq. The work function "sleeps" (awaits) in the middle of its job, and
 * the module is unloaded while it sleeps, with one more instance queued behind it: cancelWorkSync() takes the
 * queued instance back (it never runs) and waits for the running one to finish before it resolves.
 *
 * Run: npm run build && node dist/examples/kernel-module/index.js [--short]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  allocWorkqueue,
  cancelWorkSync,
  currentWork,
  destroyWorkqueue,
  queueWork,
  Work,
  WORK_BUSY_RUNNING,
  workBusy,
  workPending,
  WQ_MEM_RECLAIM,
  type Workqueue,
} from 'cmwq';
import { busyText, createLog, ms } from '../shared.js';

const log = createLog(12); // who-column width

// ─── The module ──────────────────────────────────────────────────────────────────────────────────────────────────

/** How many times the work function has started: the module's only statistic. */
let runs = 0;

/**
 * The work function. In the kernel it runs in process context on a kworker thread, so it may sleep (msleep, a
 * mutex, I/O). In cmwq, sleeping is awaiting: while this handler awaits, its worker sleeps and the pool is free to
 * run other items on another worker.
 */
async function myWorkFunc(work: Work<string>): Promise<void> {
  runs++;
  // The pending bit is cleared just before the handler is called, so from here on the work may be queued again.
  log(
    'my_work_func',
    `run #${runs}: executing task "${work.data}" (pending: ${workPending(work)}, currentWork() is my_work: ${currentWork() === work})`,
  );
  for (let step = 1; step <= 3; step++) {
    await sleep(ms(100)); // pretend to wait for the device
    log('my_work_func', `run #${runs}: step ${step}/3 done`);
  }
  log('my_work_func', `run #${runs}: finished`);
}

// DECLARE_WORK(my_work, my_work_func): one work item for the module's whole life. Its `data` is the payload.
const myWork = new Work(myWorkFunc, 'write the log buffer out');

// static struct workqueue_struct *my_wq;
let myWq: Workqueue | null = null;

/** module_init: create the workqueue and queue the work. Returns 0 or a negative errno, as init functions do. */
function myModuleInit(): number {
  log('insmod', 'my_module_init: loading');
  // create_workqueue("my_wq") is, in current kernels, alloc_workqueue("my_wq", WQ_MEM_RECLAIM | __WQ_LEGACY, 1):
  // a workqueue with a rescuer, running at most one item at a time per CPU. allocWorkqueue throws where the kernel
  // would return NULL.
  try {
    myWq = allocWorkqueue('my_wq', WQ_MEM_RECLAIM, 1);
  } catch (error) {
    log('insmod', `failed to create workqueue: ${(error as Error).message}`);
    return -12; // -ENOMEM
  }
  log('insmod', `created workqueue "${myWq.name}" (maxActive ${myWq.maxActive})`);

  // queue_work returns true if it queued the work, false if the work was already pending.
  const queued = queueWork(myWq, myWork);
  log('insmod', `queueWork(my_wq, my_work) = ${queued}; workBusy = ${busyText(workBusy(myWork))}`);
  // A second call before the work has started changes nothing: the pending bit says "already queued".
  const again = queueWork(myWq, myWork);
  log('insmod', `queueWork again before it starts = ${again} (already pending: it will run once)`);
  log('insmod', 'my_module_init: done, returning 0 (the work runs later, on a worker)');
  return 0;
}

/** module_exit: nothing of the module may run after this returns. */
async function myModuleExit(): Promise<void> {
  log('rmmod', `my_module_exit: workBusy = ${busyText(workBusy(myWork))}`);
  // cancel_work_sync: take back the queued instance if there is one, and wait for a running one to end. While it
  // waits, queueing my_work fails, so the work cannot sneak back in. It resolves with whether an instance was pending.
  const wasPending = await cancelWorkSync(myWork);
  log(
    'rmmod',
    `cancelWorkSync(my_work) = ${wasPending} (${wasPending ? 'a queued instance was taken back, it never ran' : 'nothing was queued'}); workBusy = ${busyText(workBusy(myWork))}`,
  );
  // destroy_workqueue: drains what is left (nothing, here) and frees the workqueue.
  await destroyWorkqueue(myWq!);
  log('rmmod', 'destroyWorkqueue(my_wq) done');
  myWq = null;
  log('rmmod', 'my_module_exit: unloaded');
}

// ─── The "system": load the module, poke it, unload it ──────────────────────────────────────────────────────────

if (myModuleInit() !== 0) process.exit(1);

// As soon as run #1 is under way (workBusy has the RUNNING bit; the handler is asleep in its first step),
// something asks the module for another round. The work is no longer pending (pending was cleared when run #1
// started), so this queueing succeeds and a second instance waits behind the first.
while ((workBusy(myWork) & WORK_BUSY_RUNNING) === 0) await sleep(1);
const requeued = queueWork(myWq!, myWork);
log('event', `queueWork while run #1 sleeps = ${requeued}; workBusy = ${busyText(workBusy(myWork))}`);

// Then, still during run #1, the module is unloaded.
await myModuleExit();
const runsAtExit = runs;

// Prove it: wait longer than a whole run, and count. The instance queued during run #1 was cancelled, so the
// function ran once, and not at all after exit returned.
await sleep(ms(400));
log(
  'check',
  `my_work_func ran ${runs} time(s) in all, ${runs - runsAtExit} after exit; nothing ran after exit: ${runs === runsAtExit}`,
);
