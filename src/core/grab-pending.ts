/**
 * grabPending() (the kernel's try_to_grab_pending): takes a pending instance back from wherever it is (timer,
 * inactive list, worklist, a worker's scheduled list) in O(1) and undoes what queueing counted. With worker.ts
 * (execution) it is the only place that clears PENDING.
 */
import { flushersPendingCancelled } from './barrier.js';
import type { DelayedWork } from './delayed-work.js';
import { putColor } from './flush-color.js';
import { dropPayload } from './payload.js';
import { takeSample } from './pool-workqueue.js';
import { delTimer } from './timers.js';
import { type Work, WorkFlag } from './work.js';
import { ListKind } from './worklist.js';

/** Takes back work's pending instance, if any. Returns whether it was pending. */
export function grabPending(work: Work<any>): boolean {
  if ((work._flags & WorkFlag.PENDING) === 0) return false;
  const list = work._list!;
  switch (list.kind) {
    case ListKind.Timer:
      delTimer(work as DelayedWork<any>); // armed: no flush color yet (its _pwq holds the expiry key)
      break;
    case ListKind.Inactive: {
      list.remove(work);
      putColor(work._pwq!.wq, work._color);
      break;
    }
    default:
      list.remove(work);
      work._pwq!.decActive(work._color);
  }
  const flags = work._flags & ~WorkFlag.PENDING;
  work._flags = flags;
  dropPayload(work);
  // Sampled and waited-for instances are rare: one test of the flags on the common path.
  if ((flags & (WorkFlag.SAMPLED | WorkFlag.FLUSHED)) !== 0) {
    if ((flags & WorkFlag.SAMPLED) !== 0) takeSample(work);
    if ((flags & WorkFlag.FLUSHED) !== 0) flushersPendingCancelled(work);
  }
  return true;
}
