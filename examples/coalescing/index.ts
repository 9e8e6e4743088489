/**
 * coalescing: the pending bit. However many times a pending work is queued, it runs once.
 *
 * A work item is not a message, it is a flag with a function attached: "this needs doing". queue_work() sets the
 * work's PENDING bit and queues it; while the bit is set, further queue calls return false and change nothing.
 * The bit is cleared just before the handler is called, so:
 *
 *   - 1000 queueWork() calls before the work starts  ->  1 run;
 *   - queueing while the handler runs                 ->  1 more run, after this one (never two at once);
 *   - the handler reads the *current* state, so nothing asked for is missed.
 *
 * workPending() reads the bit; workBusy() adds whether the handler is running: 0 idle, 1 PENDING, 2 RUNNING,
 * 3 PENDING|RUNNING. The example walks through each state, printing both.
 *
 * The scenario: a cache whose entries are marked dirty from many places; one work item writes out every dirty
 * entry. Marking an entry dirty always calls queueWork(): cheap, idempotent, and the writer runs as often as it
 * needs to, not once per mark.
 *
 * Run: npm run build && node dist/examples/coalescing/index.js [--short]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { allocWorkqueue, destroyWorkqueue, flushWork, queueWork, Work, workBusy, workPending } from 'cmwq';
import { busyText, createLog, ms } from '../shared.js';

const log = createLog(9); // who-column width

/** Prints the two views of the work's state. */
function state(who: string, when: string): void {
  log(who, `${when}: workPending = ${workPending(writeback)}, workBusy = ${busyText(workBusy(writeback))}`);
}

// ─── A dirty-tracking cache with one writeback work ─────────────────────────────────────────────────────────────

const dirty = new Set<string>();
let runs = 0;
let running = 0;
let maxConcurrent = 0;
/** Set by phase 3: the handler re-queues itself once from inside. */
let requeueFromInside = false;
/** Resolved each time the handler starts, so that main can act "while it runs" without guessing timings. */
let signalStarted: () => void = () => {};
function nextStart(): Promise<void> {
  return new Promise((resolve) => (signalStarted = resolve));
}

const wq = allocWorkqueue('writeback', 0, 0);

/** The writeback handler: writes every entry dirty *now*, then sleeps as if waiting for the disk. */
async function writebackFn(work: Work<null>): Promise<void> {
  runs++;
  running++;
  maxConcurrent = Math.max(maxConcurrent, running);
  const entries = [...dirty];
  dirty.clear();
  log('writeback', `run #${runs}: writing ${entries.length} dirty entr${entries.length === 1 ? 'y' : 'ies'}`);
  state('writeback', `  inside run #${runs}`);
  signalStarted();
  if (requeueFromInside) {
    requeueFromInside = false;
    // Pending was cleared before this handler started, so queueing from inside succeeds, and the new instance
    // runs after this one returns.
    log('writeback', `  queueWork from inside the handler = ${queueWork(wq, work)}`);
    state('writeback', '  after re-queueing itself');
  }
  await sleep(ms(100)); // the disk: the worker sleeps here
  running--;
}
const writeback = new Work(writebackFn, null);

/** Marks an entry dirty and makes sure a writeback will run. Returns what queueWork returned. */
function markDirty(key: string): boolean {
  dirty.add(key);
  return queueWork(wq, writeback);
}

/** Calls markDirty n times and reports how many queueWork calls succeeded. */
function markMany(n: number, prefix: string): void {
  let accepted = 0;
  for (let i = 0; i < n; i++) if (markDirty(`${prefix}${i % 50}`)) accepted++;
  log('main', `${n} queueWork calls: ${accepted} accepted, ${n - accepted} refused (already pending)`);
}

// ─── Phase 1: many calls before the work starts ──────────────────────────────────────────────────────────────────

log('main', 'phase 1: queue a lot before the handler gets to run');
state('main', 'idle');
markMany(1000, 'a');
state('main', 'after queueing');
await flushWork(writeback);
log('main', `phase 1 done: runs so far ${runs} (1000 queue calls, 1 run)`);

// ─── Phase 2: calls while the handler runs ───────────────────────────────────────────────────────────────────────

log('main', 'phase 2: queue while the handler runs (it sleeps on the "disk")');
let started = nextStart();
markDirty('b0');
await started; // the handler has started and is now asleep on the disk
state('main', 'while it runs');
markMany(1000, 'c');
state('main', 'after queueing');
// flushWork waits for the pending instance, which starts after the running one ends: both runs are done after it.
await flushWork(writeback);
log('main', `phase 2 done: runs so far ${runs} (the running instance, then 1 more for the 1000 calls made meanwhile)`);

// ─── Phase 3: the handler queues itself ──────────────────────────────────────────────────────────────────────────

log('main', 'phase 3: the handler re-queues itself once from inside');
requeueFromInside = true;
started = nextStart();
markDirty('d0');
await started;
await flushWork(writeback); // waits for the running instance and, since it is pending too, the next one
await flushWork(writeback); // nothing left: resolves false at once
state('main', 'at the end');

await destroyWorkqueue(wq);
log('result', `runs: ${runs} for 2003 queueWork calls; at most ${maxConcurrent} instance(s) ran at once`);
