/**
 * Errors. Every error cmwq throws is a WorkqueueError with a stable `code` (§5). Misuse is thrown synchronously,
 * at the call that made the mistake, before anything is queued or changed.
 */

/**
 * The `code` of a {@link WorkqueueError}: stable, so that callers can test it instead of the message.
 *
 * - `ERR_WQ_INVALID_ARG`: a bad argument or state, e.g. not a `Work` or `Workqueue`, a negative delay, an unknown
 *   flag or a bad combination, an invalid `maxActive` or attribute, `enableWork` on a work that is not disabled,
 *   `workqueueInit` while work is queued.
 * - `ERR_WQ_DRAINING`: queueing from outside on a workqueue that is being drained or destroyed (only its own
 *   handlers may queue on it meanwhile).
 * - `ERR_WQ_DESTROYED`: using a destroyed workqueue, or destroying one twice.
 * - `ERR_WQ_DEADLOCK`: a wait that would wait for its own caller, e.g. `flushWorkqueue(wq)` from a handler of `wq`,
 *   or `cancelWorkSync(w)` from `w`'s own handler.
 * - `ERR_WQ_NOT_PORTABLE`: a function work (or a `workOnCpu` function) aimed at another CPU's thread; only module
 *   functions ({@link workFunc}) cross threads. Also: queueing on another CPU from a thread cmwq started.
 * - `ERR_WQ_DATA_CLONE`: a module work's `data` (or `transfer` list) cannot be structured-cloned to the thread
 *   that runs it; thrown by the queue call, with nothing queued.
 * - `ERR_WQ_WORKER_EXITED`: the thread running an item died; that item fails with it (never thrown by a call).
 * - `ERR_WQ_MODULE`: a module work's module cannot be loaded or has no such function export; that item fails
 *   with it (never thrown by a call).
 * - `ERR_WQ_THREAD_START`: a pool could start no thread (several starts in a row failed, none online); the module
 *   works waiting for it on a workqueue without a rescuer ({@link WQ_MEM_RECLAIM}) fail with it, the last start's
 *   error as its `cause` (never thrown by a call).
 * - `ERR_WQ_BH_ASYNC`: a handler on a {@link WQ_BH} workqueue returned a promise; that item fails with it
 *   (never thrown by a call).
 * - `ERR_WQ_BACKEND`: a shared workqueue's database call failed (the connection was lost, the server is down);
 *   the node reconnects by itself.
 * - `ERR_WQ_SHARED_UNSUPPORTED`: a call that has no cluster-wide meaning was given a shared workqueue (e.g.
 *   `queueFunc`, which queues a closure no other process can run, or `applyWorkqueueAttrs`, whose attributes
 *   are fixed when a node allocates the workqueue); nothing is changed.
 *
 * An item's failure goes to its workqueue's `onError` attribute ({@link WorkqueueAttrs}), or else to a
 * `CmwqWarning`; for {@link workOnCpu} it rejects the returned promise.
 */
export type WorkqueueErrorCode =
  | 'ERR_WQ_INVALID_ARG'
  | 'ERR_WQ_DRAINING'
  | 'ERR_WQ_DESTROYED'
  | 'ERR_WQ_DEADLOCK'
  | 'ERR_WQ_NOT_PORTABLE'
  | 'ERR_WQ_DATA_CLONE'
  | 'ERR_WQ_WORKER_EXITED'
  | 'ERR_WQ_MODULE'
  | 'ERR_WQ_THREAD_START'
  | 'ERR_WQ_BH_ASYNC'
  | 'ERR_WQ_BACKEND'
  | 'ERR_WQ_SHARED_UNSUPPORTED';

/**
 * The one error class cmwq throws (and fails items with). Test `code`, not the message: codes are stable.
 *
 * @example
 * ```ts
 * try {
 *   queueWork(wq, work);
 * } catch (error) {
 *   if (error instanceof WorkqueueError && error.code === 'ERR_WQ_DRAINING') {
 *     // wq is shutting down: the work is untouched and may be queued elsewhere
 *   } else throw error;
 * }
 * ```
 */
export class WorkqueueError extends Error {
  /** What went wrong, as one of a fixed set of codes (see {@link WorkqueueErrorCode}). */
  readonly code: WorkqueueErrorCode;

  /**
   * Makes an error; cmwq makes all of them, and callers normally only catch them.
   *
   * @param code - The error's code.
   * @param message - A human-readable description naming the call and the value at fault.
   * @param options - `cause`: the underlying error (a failed import, a failed structured clone), if any.
   */
  constructor(code: WorkqueueErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WorkqueueError';
    this.code = code;
  }
}

/** Throws ERR_WQ_INVALID_ARG; a helper so validation reads as one line. */
export function invalidArg(message: string): never {
  throw new WorkqueueError('ERR_WQ_INVALID_ARG', message);
}

/** The message of a caught value: its `message` when it has one (an Error), else the value as text. */
export function errorMessage(error: unknown): string {
  const message = (error as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' ? message : String(error);
}

/** A short description of a value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}
