/**
 * The list of every live workqueue (the kernel's `workqueues`), in allocation order: alloc.ts adds and removes
 * them; the freezer, the monitor and workqueueInit()'s busy check walk it.
 */
import type { Workqueue } from './workqueue.js';

/** Every live workqueue, in allocation order. */
export const workqueues = new Set<Workqueue>();

/**
 * Called with each workqueue destroyWorkqueue() releases, just before its pool workqueues go: the monitor keeps
 * its last counters for `cmwq top`'s exit report (observe/monitor.ts sets it).
 */
export const wqListHooks: { released: ((wq: Workqueue) => void) | null } = { released: null };
