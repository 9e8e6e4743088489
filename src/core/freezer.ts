/**
 * Freezing (system suspend in the kernel; a maintenance window or a snapshot here).
 *
 * freezeWorkqueuesBegin() sets every WQ_FREEZABLE workqueue's effective max_active to 0: items already active
 * finish, new ones wait inactive, nothing is dropped. freezeWorkqueuesBusy() tells whether freezable work is
 * still in flight; thawWorkqueues() restores max_active and activates what waited.
 *
 * A WQ_FREEZABLE shared workqueue freezes this node only: its node runs the items on a local WQ_FREEZABLE
 * workqueue (so what runs there counts as freezable work in flight) and does not claim while freezing; the other
 * nodes go on. Freezing also hands the items it claimed ahead and has not started back to the cluster (frozen()),
 * so they wait on no frozen node; thawing tells it to claim again at once (thawed()).
 */
import { WQ_FREEZABLE } from '../base/constants.js';
import { sharedWorkqueues } from './shared.js';
import { workqueues } from './wq-list.js';

export const freezer = {
  freezing: false,
  /** freezeWorkqueues() callers waiting for freezable work in flight to end. */
  waiters: [] as (() => void)[],
};

function eachFreezablePwq(fn: (pwq: import('./pool-workqueue.js').PoolWorkqueue) => boolean | undefined): boolean {
  for (const wq of workqueues) {
    if ((wq.flags & WQ_FREEZABLE) === 0) continue;
    for (const pwq of wq.pwqs) if (pwq !== undefined && fn(pwq) === true) return true;
  }
  return false;
}

/**
 * Starts freezing (the kernel's freeze_workqueues_begin): every {@link WQ_FREEZABLE} workqueue stops activating
 * items. Items already in flight finish; items queued meanwhile, and those that were waiting inactive, wait until
 * {@link thawWorkqueues}; nothing is dropped. Other workqueues are not affected. Calling it while frozen does
 * nothing.
 */
export function freezeWorkqueuesBegin(): void {
  if (freezer.freezing) return;
  freezer.freezing = true;
  eachFreezablePwq((pwq) => void pwq.setMaxActive(pwq.wq.effectiveMaxActive));
  for (const shared of sharedWorkqueues) if ((shared.flags & WQ_FREEZABLE) !== 0) shared.frozen();
}

/**
 * Whether freezable work is still in flight while freezing (the kernel's freeze_workqueues_busy): poll it after
 * {@link freezeWorkqueuesBegin}, or use {@link freezeWorkqueues} to wait.
 *
 * @returns true if freezing and some WQ_FREEZABLE workqueue still has items activated and not ended; false when
 *   not freezing.
 */
export function freezeWorkqueuesBusy(): boolean {
  return freezer.freezing && eachFreezablePwq((pwq) => pwq.nrActive > 0);
}

/**
 * Ends freezing (the kernel's thaw_workqueues): freezable workqueues get their max_active back and activate what
 * waited, in queueing order. Pending {@link freezeWorkqueues} promises resolve. Does nothing when not freezing.
 */
export function thawWorkqueues(): void {
  if (!freezer.freezing) return;
  freezer.freezing = false;
  eachFreezablePwq((pwq) => void pwq.setMaxActive(pwq.wq.effectiveMaxActive));
  for (const shared of sharedWorkqueues) if ((shared.flags & WQ_FREEZABLE) !== 0) shared.thawed();
  freezerCheck();
}

/**
 * {@link freezeWorkqueuesBegin}, and a promise that resolves once no freezable work is in flight (or when
 * {@link thawWorkqueues} is called first). cmwq's addition: the kernel polls freeze_workqueues_busy().
 *
 * @returns A promise that resolves when freezable work in flight has finished.
 *
 * @example
 * ```ts
 * await freezeWorkqueues(); // e.g. before taking a snapshot: nothing freezable runs now
 * takeSnapshot();
 * thawWorkqueues(); // what was queued meanwhile starts now
 * ```
 */
export function freezeWorkqueues(): Promise<void> {
  freezeWorkqueuesBegin();
  if (!freezeWorkqueuesBusy()) return Promise.resolve();
  return new Promise((resolve) => freezer.waiters.push(resolve));
}

/** Releases freezeWorkqueues() waiters once nothing freezable is in flight. */
export function freezerCheck(): void {
  if (freezer.waiters.length === 0 || freezeWorkqueuesBusy()) return;
  const waiters = freezer.waiters;
  freezer.waiters = [];
  for (const resolve of waiters) resolve();
}
