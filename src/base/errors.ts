/**
 * Errors. Every error cmwq throws is a WorkqueueError with a stable `code` (§5). Misuse is thrown
 * synchronously, at the call that made the mistake, before anything is queued or changed.
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
  | 'ERR_WQ_BACKEND';

export class WorkqueueError extends Error {
  readonly code: WorkqueueErrorCode;

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
