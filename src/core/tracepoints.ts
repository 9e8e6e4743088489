/**
 * Tracepoints and reports.
 *
 * Tracepoints are node:diagnostics_channel channels named as the kernel's workqueue tracepoints. Each is built
 * once; callers test `hasSubscribers` before building a payload, so an unwatched tracepoint costs one property
 * read. Handler failures are never silent: they go to the workqueue's onError attribute or, without one, to a
 * process warning of type CmwqWarning.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { inspect } from 'node:util';
import type { PoolWorkqueue } from './pool-workqueue.js';
import type { Work } from './work.js';

export const chQueueWork = diagnosticsChannel.channel('cmwq:workqueue_queue_work');
export const chActivateWork = diagnosticsChannel.channel('cmwq:workqueue_activate_work');
export const chExecuteStart = diagnosticsChannel.channel('cmwq:workqueue_execute_start');
export const chExecuteEnd = diagnosticsChannel.channel('cmwq:workqueue_execute_end');
export const chCpuIntensive = diagnosticsChannel.channel('cmwq:workqueue_cpu_intensive');
export const chMayday = diagnosticsChannel.channel('cmwq:workqueue_mayday');
export const chRescued = diagnosticsChannel.channel('cmwq:workqueue_rescued');
export const chStall = diagnosticsChannel.channel('cmwq:workqueue_stall');

/**
 * The message of every per-item tracepoint: the `node:diagnostics_channel` channels `cmwq:workqueue_queue_work`,
 * `cmwq:workqueue_activate_work`, `cmwq:workqueue_execute_start`, `cmwq:workqueue_execute_end` (per item in that
 * order), `cmwq:workqueue_cpu_intensive`, `cmwq:workqueue_mayday` and `cmwq:workqueue_rescued`. Messages are
 * built only while a channel has subscribers. Field names follow the kernel's tracepoints.
 *
 * @example
 * ```ts
 * diagnosticsChannel.subscribe('cmwq:workqueue_execute_end', (message) => {
 *   const event = message as WorkEvent;
 *   if ('error' in event) console.error(`${event.workqueue}/${event.function} failed:`, event.error);
 * });
 * ```
 */
export interface WorkEvent {
  /** The work item (on a worker thread, the stand-in that carries its data there). */
  work: Work<any>;
  /** The handler's name (`work.funcName`). */
  function: string;
  /** The workqueue's name. */
  workqueue: string;
  /**
   * The CPU the caller asked for: the `cpu` argument of the ...On call, -1 ({@link WORK_CPU_UNBOUND}) when none was
   * named. The queue event carries it, and the activate event of an item activated at once; the others have -1.
   */
  req_cpu: number;
  /** The CPU of the pool the item runs in, -1 for an unbound pool. */
  cpu: number;
  /** execute_end only, and only when the handler failed: what it threw or rejected with. */
  error?: unknown;
}

export function workEvent(work: Work<any>, pwq: PoolWorkqueue, reqCpu: number): WorkEvent {
  return { work, function: work.funcName, workqueue: pwq.wq.name, req_cpu: reqCpu, cpu: pwq.pool.cpu };
}

/** Emits a CmwqWarning (process.emitWarning prints it once per distinct message unless warnings are off). */
export function warn(message: string, detail?: string): void {
  process.emitWarning(message, { type: 'CmwqWarning', detail });
}

/** Reports a handler failure: to onError when the workqueue has one, else as a CmwqWarning. Never throws. */
export function reportFailure(pwq: PoolWorkqueue, work: Work<any>, error: unknown): void {
  pwq.stats.failed++;
  const onError = pwq.wq.onError;
  if (onError !== undefined) {
    try {
      onError(error, work);
      return;
    } catch (onErrorFailure) {
      warn(
        `workqueue ${pwq.wq.name}: onError threw while reporting a failure of ${work.funcName}`,
        safeString(onErrorFailure, true),
      );
    }
  }
  warn(
    `workqueue ${pwq.wq.name}: work function ${work.funcName} failed: ${safeString(error, false)}`,
    safeString(error, true),
  );
}

/** A value as text for a report, whatever it is (an object without toString, or whose toString throws). */
function safeString(value: unknown, stack: boolean): string {
  try {
    if (value instanceof Error) return stack ? (value.stack ?? String(value)) : value.message;
    return typeof value === 'string' ? value : inspect(value, { depth: 2 });
  } catch {
    return inspect(value, { depth: 0, customInspect: false });
  }
}
