/**
 * cmwq: the Linux kernel's concurrency-managed workqueue for Node.js. The public surface, and only it; and the
 * one place that wires the layers together (docs/design.md, "Layers"): the core reaches the watchdog and the
 * worker threads through hooks that the modules imported here install.
 */
import './observe/watchdog.js';
import './threads/index.js';
export {
  WQ_BH,
  WQ_UNBOUND,
  WQ_FREEZABLE,
  WQ_MEM_RECLAIM,
  WQ_HIGHPRI,
  WQ_CPU_INTENSIVE,
  WQ_SYSFS,
  WQ_POWER_EFFICIENT,
  WQ_MAX_ACTIVE,
  WQ_UNBOUND_MAX_ACTIVE,
  WQ_DFL_ACTIVE,
  WQ_DFL_MIN_ACTIVE,
  WORK_BUSY_PENDING,
  WORK_BUSY_RUNNING,
  WORK_CPU_UNBOUND,
} from './base/constants.js';
export { WorkqueueError, type WorkqueueErrorCode } from './base/errors.js';
export { type Clock, ManualClock } from './base/clock.js';
export { workqueueInit, type WorkqueueInitOptions } from './base/init.js';
export { Work, type WorkFunc, type WorkOptions, workPending, workBusy } from './core/work.js';
export { workFunc, type ModuleFunc } from './core/module-func.js';
export {
  SharedWorkqueue,
  type SharedWorkqueueAttrs,
  type SharedQueueOptions,
  type SharedRetry,
  type SharedWork,
  type SharedBackend,
  type SharedStats,
} from './core/shared.js';
export {
  DelayedWork,
  delayedWorkPending,
  queueDelayedWork,
  queueDelayedWorkOn,
  modDelayedWork,
  modDelayedWorkOn,
} from './core/delayed-work.js';
export { currentWork } from './core/current.js';
export { Workqueue, type WorkqueueAttrs } from './core/workqueue.js';
export {
  allocWorkqueue,
  allocOrderedWorkqueue,
  destroyWorkqueue,
  workqueueSetMaxActive,
  workqueueSetMinActive,
  applyWorkqueueAttrs,
  workqueueCongested,
} from './core/alloc.js';
export { queueWork, queueWorkOn } from './core/queue.js';
export { queueFunc, queueFuncOn, type JobFunc } from './core/queue-func.js';
export { scheduleWork, scheduleDelayedWork, workOnCpu, workOnWorkqueue } from './core/schedule.js';
export { flushWork, flushDelayedWork, flushWorkqueue, drainWorkqueue } from './core/flush.js';
export {
  cancelWork,
  cancelWorkSync,
  cancelDelayedWork,
  cancelDelayedWorkSync,
  disableWork,
  disableWorkSync,
  disableDelayedWork,
  disableDelayedWorkSync,
  enableWork,
  enableDelayedWork,
  enableAndQueueWork,
} from './core/cancel.js';
export {
  systemWq,
  systemHighpriWq,
  systemLongWq,
  systemUnboundWq,
  systemFreezableWq,
  systemPowerEfficientWq,
  systemFreezablePowerEfficientWq,
  systemBhWq,
  systemBhHighpriWq,
} from './core/system-workqueues.js';
export { freezeWorkqueuesBegin, freezeWorkqueuesBusy, thawWorkqueues, freezeWorkqueues } from './core/freezer.js';
export type { WorkEvent } from './core/tracepoints.js';
export {
  wqMonitor,
  wqDump,
  showAllWorkqueues,
  type WqMonitorRow,
  type WqDump,
  type WqDumpPool,
  type WqDumpWorkqueue,
} from './observe/monitor.js';
export { wqMetrics } from './observe/metrics.js';
export {
  wqTraceStart,
  wqTraceStop,
  wqTracing,
  type WqTrace,
  type WqTraceOptions,
  type TraceEvent,
} from './observe/trace.js';
export type {
  WebSnapshot,
  WebExec,
  WebWorker,
  WebPool,
  WebLogEntry,
  WebHistograms,
} from './observe/recorder.js';
// Side effect: this instance's readers join the process-wide list the monitor agent reads.
import './observe/registry.js';
