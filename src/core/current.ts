/**
 * The current work: which work item is executing "here".
 *
 * During a handler's synchronous segment the answer is a plain variable (`running.work`), set and cleared by the
 * worker around the call: nothing on the hot path pays for context propagation, and it is always exact. Across
 * awaits it takes async context: with workqueueInit({ asyncContext: true }) (the default only where the runtime
 * has AsyncContextFrame), handlers written as `async function`s also run inside an AsyncLocalStorage scope, so
 * that after an await the answer is still theirs while other handlers run in between. Without it, the store is
 * never even constructed: on Node 20 only run() turns on the process-wide promise hooks, but on Node 24 started
 * with --no-async-context-frame the constructor itself does, so workContext() makes the store on first use and
 * currentWork() reads it only if it exists. (A plain function that returns a promise is tracked during its
 * synchronous part only; see docs/design.md.)
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Work } from './work.js';
import type { Workqueue } from './workqueue.js';

/** The store async handlers run in, once async context has been used (null until then). */
export const asyncContextStore: { store: AsyncLocalStorage<Work<any>> | null } = { store: null };

/**
 * The store async handlers run in, made on first use: the workers call this only when async context is on, so a
 * program that never turns it on never constructs an AsyncLocalStorage (on some runtimes that alone turns on
 * promise hooks for the whole process).
 *
 * @returns The store.
 */
export function workContext(): AsyncLocalStorage<Work<any>> {
  asyncContextStore.store ??= new AsyncLocalStorage<Work<any>>();
  return asyncContextStore.store;
}

export const running: { work: Work<any> | null } = { work: null };

/**
 * The work item whose handler is executing here (the kernel's current_work()), or null outside any handler. It
 * holds during a handler's synchronous part always, and across the awaits of an `async function` handler while
 * the `asyncContext` option of {@link workqueueInit} is on (the default). A plain function that returns a promise
 * is tracked during its synchronous part only.
 *
 * @returns The executing work, or null.
 *
 * @example
 * ```ts
 * const work = new Work(async function fetchOne() {
 *   await fetch(url);
 *   console.log(currentWork() === work); // true
 * });
 * ```
 */
export function currentWork(): Work<any> | null {
  const work = running.work;
  if (work !== null) return work;
  const stored = asyncContextStore.store?.getStore();
  return stored !== undefined && stored._worker !== null ? stored : null;
}

/** The executing work if it is a handler of wq (its queueing is chained work, its waits on wq deadlocks), else null. */
export function currentWorkOf(wq: Workqueue): Work<any> | null {
  const work = currentWork();
  return work !== null && work._worker !== null && work._worker.currentPwq?.wq === wq ? work : null;
}
