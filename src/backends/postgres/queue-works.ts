/**
 * queueWorks(): batch queueing on a shared workqueue, cmwq/postgres's addition to the kernel's API. Producers
 * that queue many items at once pay one round trip and one commit for all of them instead of one per item.
 */
import { describe, invalidArg } from '../../base/errors.js';
import type { SharedQueueOptions, SharedWorkqueue } from '../../core/shared.js';
import type { Work } from '../../core/work.js';
import { PgSharedWorkqueue } from './shared-workqueue.js';

/**
 * Queues every work of works on the shared workqueue wq in one statement; each result is what queueWork() would
 * have returned for that work (true: now pending and committed).
 * @param wq a shared workqueue of this backend.
 * @param works module works with JSON data; a key given twice counts once.
 * @param options `{ tx }` to queue inside the caller's transaction.
 * @throws WorkqueueError (ERR_WQ_INVALID_ARG, ERR_WQ_NOT_PORTABLE, ERR_WQ_DATA_CLONE) before anything is queued.
 */
export function queueWorks(
  wq: SharedWorkqueue,
  works: readonly Work<any>[],
  options?: SharedQueueOptions,
): Promise<boolean[]> {
  if (!(wq instanceof PgSharedWorkqueue))
    invalidArg(`queueWorks: expected a PostgreSQL shared workqueue, got ${describe(wq)}`);
  return wq.queueWorks(works, options);
}
